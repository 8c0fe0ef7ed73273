import Foundation
import GatewayTestKit
import GatewayContracts
import Testing
import GatewayJSON

@Suite("Contracts: report schema, catalogue, semantic rules")
struct ContractTests {
    let contracts: ContractSet
    let rules: SemanticRules

    init() throws {
        contracts = try ContractSet.load(from: repositoryRoot.appendingPathComponent("Contracts"))
        rules = SemanticRules(catalogue: contracts.catalogue, province: "14")
    }

    var good: Observation {
        Observation(
            indicator: "HSCV_DIEN_TU", province: "14", level: .commune, area: "03646", period: "2026-Q3", value: 62.5,
            unit: "percent", numerator: 625, denominator: 1000, sourceSystem: "qlvb", collectedAt: "2026-11-22T04:00:00.000Z")
    }

    func reasons(_ change: (inout Observation) -> Void) throws -> [QuarantineReason] {
        var observation = good
        change(&observation)
        switch contracts.check(try JSONValue(encoding: observation), rules: rules) {
        case .success: return []
        case .failure(let failure): return failure.reasons
        }
    }

    @Test("jsonValue, built directly for speed, is exactly what Codable gives, with and without optional fields")
    func directJSONMatchesCodable() throws {
        var bare = good
        (bare.numerator, bare.denominator, bare.sourceRecordID) = (nil, nil, nil)
        var traced = good
        traced.sourceRecordID = "QLVB/03646/2026-Q3 — Sơn La"
        traced.value = 1e-7
        for observation in [good, bare, traced] {
            #expect(observation.jsonValue == (try JSONValue(encoding: observation)))
            #expect(try Observation(json: observation.jsonValue) == observation)
            #expect(try Observation(json: observation.jsonValue) == (try observation.jsonValue.decode(as: Observation.self)))
        }
        guard case .object(var members) = good.jsonValue else { return }
        members["value"] = .string("62,5")
        #expect(throws: ObservationDecodingError.self) { try Observation(json: .object(members)) }
        let envelope = ReportEnvelope(
            contractVersion: "1.0", reportID: "0193a1b2-0000-8000-8000-000000000000", gatewayID: "son-la-gw-01", province: "14",
            adapter: "qlvb-documents", createdAt: "2026-11-22T04:00:00.000Z", observations: [good, bare, traced])
        #expect(envelope.jsonValue == (try JSONValue(encoding: envelope)))
        #expect(try envelope.jsonValue.canonicalData() == (try JSONValue(encoding: envelope).canonicalData()))
    }

    @Test("an observation is read from its members in any order, as Codable reads it, and a fault names its field")
    func observationReadInOnePass() throws {
        var revised = good
        (revised.sourceRecordID, revised.revision) = ("R-1", 2)
        revised.replaces = .init(revision: 1, reportID: "0193a1b2-0000-8000-8000-000000000000")
        guard case .object(let original) = revised.jsonValue else {
            Issue.record("not an object")
            return
        }
        var members = Array(original.reversed())
        members.insert((key: "comment", value: .string("a member the contract does not know")), at: 3)
        func object(_ members: [(key: String, value: JSONValue)]) -> JSONValue {
            var object = JSONObject()
            for member in members { object.updateValue(member.value, forKey: member.key) }
            return .object(object)
        }
        let shuffled = object(members)
        let text = Data(try shuffled.canonicalData())
        #expect(try Observation(json: shuffled) == revised)
        #expect(try Observation(json: shuffled) == (try JSONDecoder().decode(Observation.self, from: text)))
        let nulls = object(
            members.map {
                ["numerator", "denominator", "source_record_id", "revision", "replaces"].contains($0.key) ? ($0.key, .null) : $0
            })
        var bare = revised
        (bare.numerator, bare.denominator, bare.sourceRecordID, bare.revision, bare.replaces) = (nil, nil, nil, nil, nil)
        #expect(try Observation(json: nulls) == bare)
        let faults: [(String, JSONValue?, field: String)] = [
            ("unit", nil, "unit"), ("value", .string("62,5"), "value"), ("level", .string("huyện"), "level"),
            ("numerator", .bool(true), "numerator"), ("revision", .number(0), "revision"),
            ("replaces", .object(["revision": .number(1)]), "replaces/report_id"), ("collected_at", .number(1), "collected_at"),
        ]
        for (name, value, field) in faults {
            var changed = original
            changed[name] = value
            let error = #expect(throws: ObservationDecodingError.self) { try Observation(json: .object(changed)) }
            #expect(error?.field == field, "\(name)")
        }
    }

    @Test("report ids hash exactly the bytes JSONEncoder wrote, written without it, or say they cannot")
    func identityBytesMatchJSONEncoder() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var bare = good
        (bare.numerator, bare.denominator, bare.sourceRecordID) = (nil, nil, nil)
        var tricky = good
        tricky.sourceRecordID = "QLVB/03646 \"Sơn La\" \\ \n\t\r\u{08}\u{0C}\u{01}\u{1F}\u{7F} é"
        tricky.collectedAt = ""
        var observations = [good, bare, tricky]
        for value in [0, 1, 600, -3, -1000, 61.67, 0.1, 1e-5, 1.5e-7, 2.0 / 3, -42.25, 999_999_999_999_999, 99_999_999_999_999.98] {
            var observation = good
            (observation.value, observation.numerator) = (value, value)
            observations.append(observation)
        }
        for observation in observations {
            var bytes: [UInt8] = [7]
            #expect(observation.sortedKeysJSONEncoderBytes(into: &bytes))
            #expect(bytes == [7] + [UInt8](try encoder.encode(observation)), "\(observation)")
        }
        var leftToJSONEncoder: [Observation] = []
        for value in [-0.0, 1e15, -3e20, .infinity, .nan] {
            var observation = good
            observation.value = value
            var bytes: [UInt8] = []
            #expect(!observation.sortedKeysJSONEncoderBytes(into: &bytes), "\(value) must be left to JSONEncoder")
            if value.isFinite { leftToJSONEncoder.append(observation) }
        }
        // A report's identity: each observation, collection time blanked, after a zero byte.
        let reported = observations + leftToJSONEncoder
        var expected: [UInt8] = []
        for var observation in reported {
            observation.collectedAt = ""
            expected += [0] + [UInt8](try encoder.encode(observation))
        }
        #expect(Observation.identityBytes(of: reported) == expected)
    }

    @Test("a report's signed bytes, written straight from it, are its JSON value's canonical bytes")
    func envelopeCanonicalBytesMatchTheTree() throws {
        var observations: [Observation] = []
        var bare = good
        (bare.numerator, bare.denominator, bare.sourceRecordID) = (nil, nil, nil)
        var tricky = good
        tricky.sourceRecordID = "QLVB/03646 \"Sơn La\" \\ \n\t\r\u{08}\u{0C}\u{01}\u{1F}\u{7F} é 𝔸"
        tricky.sourceSystem = "a/b"
        var revised = good
        (revised.revision, revised.replaces) = (3, .init(revision: 2, reportID: "0193a1b2-0000-8000-8000-00000000000a"))
        var first = good
        first.revision = 1
        observations += [good, bare, tricky, revised, first]
        for value in [0, -0.0, 1, -3, 61.67, 0.1, 1e-5, 1.5e-7, 2.0 / 3, 1e15, -3e20, 999_999_999_999_999, 99_999_999_999_999.98] {
            var observation = good
            (observation.value, observation.numerator, observation.denominator) = (value, value, -value)
            observations.append(observation)
        }
        for adapter in ["qlvb-documents", "dịch vụ \"công\"/1"] {
            let envelope = ReportEnvelope(
                contractVersion: "1.2", reportID: "0193a1b2-0000-8000-8000-000000000000", gatewayID: "son-la-gw-01", province: "14",
                adapter: adapter, createdAt: "2026-11-22T04:00:00.000Z", observations: observations)
            #expect(envelope.canonicalData() == (try envelope.jsonValue.canonicalData()))
            #expect(try JSONValue.parse(envelope.canonicalData()) == envelope.jsonValue)
        }
    }

    @Test("a correct observation passes schema and rules")
    func goodObservation() throws {
        #expect(try reasons { _ in }.isEmpty)
    }

    @Test(
        "each semantic rule quarantines with its pointer and name",
        arguments: [
            ("indicator.known", "/indicator"), ("indicator.range", "/value"), ("indicator.unit", "/unit"),
            ("ratio.numerator-le-denominator", "/numerator"), ("ratio.value-matches", "/value"),
            ("level.district-abolished", "/level"), ("indicator.level", "/level"), ("indicator.periodicity", "/period"),
            ("province.matches-gateway", "/province"), ("area.matches-level", "/area"), ("province.in-force", "/province"),
        ])
    func rule(name: String, pointer: String) throws {
        let found = try reasons { observation in
            switch name {
            case "indicator.known": observation.indicator = "DVC_MD3"
            case "indicator.range":
                observation.value = 130
                observation.numerator = nil
                observation.denominator = nil
            case "indicator.unit": observation.unit = "ratio"
            case "ratio.numerator-le-denominator": observation.numerator = 1200
            case "ratio.value-matches": observation.value = 70
            case "level.district-abolished":
                observation.level = .district
                observation.area = "116"
            case "indicator.level":
                observation.indicator = "KTS_GRDP"
                observation.period = "2026"
                observation.numerator = nil
                observation.denominator = nil
            case "indicator.periodicity":
                // Accepted by year, half and quarter (a province may follow it by quarter), never by month.
                observation.indicator = "KTS_GRDP"
                observation.period = "2026-07"
                observation.level = .province
                observation.area = "14"
                observation.numerator = nil
                observation.denominator = nil
            case "province.matches-gateway":
                observation.province = "56"
            case "area.matches-level":
                observation.area = "036"
            case "province.in-force":
                // Hòa Bình (17) exists only before 1 July 2025; this gateway reporting as 17 for 2026 is wrong twice.
                observation.province = "17"
            default: Issue.record("no case for \(name)")
            }
        }
        let match = found.first { $0.rule == name }
        #expect(match != nil, "expected \(name) among \(found)")
        #expect(match?.pointer == pointer)
    }

    @Test("a district-level figure is still valid for a period before 1 July 2025")
    func districtBeforeReorganisation() throws {
        let found = try reasons { observation in
            observation.level = .district
            observation.area = "116"
            observation.period = "2025-Q2"
        }
        #expect(!found.contains { $0.rule == "level.district-abolished" })
    }

    @Test("the schema catches shape errors with JSON Pointers before the rules run")
    func schemaErrors() throws {
        var record = try JSONValue(encoding: good).objectValue!
        record["period"] = .string("Quý 3/2025")
        record["value"] = .string("62,5")
        record.removeValue(forKey: "unit")
        guard case .failure(let failure) = contracts.check(.object(record), rules: rules) else {
            Issue.record("expected a failure")
            return
        }
        let pointers = Set(failure.reasons.map(\.pointer))
        #expect(pointers == ["/period", "/value", ""])
        #expect(failure.reasons.contains { $0.rule == "schema.required" && $0.message.contains("unit") })
    }

    @Test("periods: the four forms parse, others do not")
    func periods() {
        #expect(ReportingPeriod("2025")?.kind == .year)
        #expect(ReportingPeriod("2025-H1")?.kind == .half)
        #expect(ReportingPeriod("2025-Q3")?.months == 7...9)
        #expect(ReportingPeriod("2025-11")?.startDay == "2025-11-01")
        for bad in ["2025-Q5", "2025-13", "25-Q1", "2025-H3", "2025-1", "Q3-2025"] { #expect(ReportingPeriod(bad) == nil, "\(bad)") }
    }

    @Test("every catalogue quote is found word for word in the seed it names, with the figure the target states")
    func catalogueTracesToSeeds() throws {
        func normalized(_ text: String) -> String { text.split(whereSeparator: \.isWhitespace).joined(separator: " ") }
        let seeds = try FileManager.default.contentsOfDirectory(atPath: seedsDirectory.path).filter { $0.hasSuffix(".txt") }
        #expect(seeds.count == 5)
        var checked = 0
        var provincesWithTargets = Set<String>()
        for indicator in contracts.catalogue.indicators {
            #expect(!indicator.targets.isEmpty, "\(indicator.code) has no target or baseline")
            for source in [indicator.source] + indicator.targets.map(\.source) {
                let seed = try String(contentsOf: seedsDirectory.appendingPathComponent(source.seed), encoding: .utf8)
                #expect(normalized(seed).contains(normalized(source.quote)), "\(indicator.code): \(source.quote) not in \(source.seed)")
                checked += 1
            }
            for target in indicator.targets {
                provincesWithTargets.insert(target.province)
                let figures = target.comparator == "range" ? [target.min, target.max] : [target.value]
                for figure in figures {
                    let value = try #require(figure, "\(indicator.code) \(target.province) \(target.year): no figure")
                    // Vietnamese writes 37,87 for 37.87.
                    let written = value.rounded() == value ? String(Int(value)) : String(value).replacingOccurrences(of: ".", with: ",")
                    #expect(target.source.quote.contains(written), "\(indicator.code): \(written) is not in \"\(target.source.quote)\"")
                    #expect(indicator.range.min <= value && value <= indicator.range.max, "\(indicator.code): \(value) outside its range")
                }
                #expect(["=", ">", ">=", "<", "<=", "range", "about", "top"].contains(target.comparator))
                if let level = target.level { #expect(indicator.levels.contains(level), "\(indicator.code): level \(level)") }
            }
        }
        #expect(checked >= 150)
        #expect(provincesWithTargets == ["Sơn La", "Hòa Bình", "Lạng Sơn", "Thái Bình", "Khánh Hòa"])
    }

    @Test("one definition per indicator however provinces word it: the e-payment share of Sơn La, Lạng Sơn, Thái Bình and Khánh Hòa")
    func sharedDefinitions() throws {
        let codes = contracts.catalogue.indicators.map(\.code)
        #expect(Set(codes).count == codes.count)
        let payments = try #require(contracts.catalogue.indicator("TK_THANH_TOAN_DT"))
        #expect(Set(payments.targets.map(\.province)) == ["Sơn La", "Lạng Sơn", "Thái Bình", "Khánh Hòa"])
        let digitalEconomy = try #require(contracts.catalogue.indicator("KTS_GRDP"))
        #expect(Set(digitalEconomy.targets.map(\.province)).count == 5)
    }

    @Test("a province code is in force exactly when the catalogue's code list says so, for every code and period")
    func provinceInForceFollowsTheCodeList() throws {
        let catalogue = contracts.catalogue
        for code in Set(catalogue.provinces.map(\.code)).sorted() + ["99"] {
            let rules = SemanticRules(catalogue: catalogue, province: code)
            for period in ["2024", "2025-Q2", "2025-06", "2025-07", "2025-Q3", "2026"] {
                var observation = good
                (observation.province, observation.area, observation.level, observation.period) = (code, code, .province, period)
                let flagged = rules.check(observation).contains { $0.rule == "province.in-force" }
                let startDay = try #require(ReportingPeriod(period)).startDay
                #expect(flagged == (catalogue.province(code, on: startDay) == nil), "\(code) for \(period)")
            }
        }
    }

    @Test("63 provinces before 1 July 2025, 34 after, and a series followed across the merger")
    func provinceLists() throws {
        let catalogue = contracts.catalogue
        let before = catalogue.provinces.filter { $0.isValid(on: "2025-06-30") }
        let after = catalogue.provinces.filter { $0.isValid(on: "2025-07-01") }
        #expect(before.count == 63)
        #expect(after.count == 34)
        #expect(Set(before.map(\.code)).count == 63 && Set(after.map(\.code)).count == 34)
        for entry in before where entry.validTo != nil {
            let successor = try #require(entry.successor, "\(entry.name) ends without a successor")
            #expect(catalogue.province(successor, on: "2025-07-01") != nil, "\(entry.name) → \(successor)")
        }
        for entry in after where entry.validFrom != nil {
            #expect(entry.mergedFrom?.isEmpty == false, "\(entry.name) says nothing of what it was formed from")
        }
        // The issue's examples.
        #expect(catalogue.continuation(of: "17", from: "2024-01-01", to: "2025-07-01") == "25")  // Hòa Bình → Phú Thọ
        #expect(catalogue.continuation(of: "26", from: "2024-01-01", to: "2026-01-01") == "25")  // Vĩnh Phúc → Phú Thọ
        #expect(catalogue.continuation(of: "34", from: "2023-01-01", to: "2025-09-30") == "33")  // Thái Bình → Hưng Yên
        #expect(catalogue.continuation(of: "58", from: "2024-01-01", to: "2025-07-01") == "56")  // Ninh Thuận → Khánh Hòa
        #expect(catalogue.continuation(of: "14", from: "2024-01-01", to: "2026-01-01") == "14")  // Sơn La unchanged
        #expect(catalogue.continuation(of: "20", from: "2024-01-01", to: "2026-01-01") == "20")  // Lạng Sơn unchanged
        #expect(catalogue.continuation(of: "17", from: "2025-08-01", to: "2026-01-01") == nil)  // no Hòa Bình after the merger
        #expect(Set(try #require(catalogue.province("25", on: "2025-07-01")).mergedFrom ?? []) == ["17", "25", "26"])
    }

    @Test("every indicator the shipped adapters map to is in the catalogue")
    func adaptersMapToCatalogue() throws {
        let codes = Set(contracts.catalogue.indicators.map(\.code))
        for code in ["DVC_TOAN_TRINH", "HS_TRUC_TUYEN", "HSCV_DIEN_TU"] { #expect(codes.contains(code)) }
    }
}

@Suite("Contract versions")
struct ContractVersionTests {
    let library: ContractLibrary

    init() throws {
        library = try ContractLibrary.load(from: repositoryRoot.appendingPathComponent("Contracts"))
    }

    func report(version: String, indicator: String, province: String = "14") -> JSONValue {
        .object([
            "contract": .string("lgsp-indicator-report"), "contract_version": .string(version),
            "report_id": .string("0193a1b2-0000-8000-8000-000000000000"), "gateway_id": .string("son-la-gw-01"),
            "province": .string(province), "adapter": .string("qlvb"), "created_at": .string("2026-11-22T08:00:00+07:00"),
            "observations": .array([
                .object([
                    "indicator": .string(indicator), "province": .string(province), "level": .string("province"), "area": .string(province),
                    "period": .string("2025"), "value": .number(55), "unit": .string("percent"), "numerator": .number(55),
                    "denominator": .number(100), "source_system": .string("qlvb"), "collected_at": .string("2026-11-22T08:00:00+07:00"),
                ])
            ]),
        ])
    }

    @Test("every version the manifest lists loads, and the current one is the newest")
    func versionsLoad() {
        #expect(library.sets.keys.sorted() == ["1.0", "1.1", "1.2"])
        #expect(library.current == "1.2")
        #expect(library.sets["1.0"]!.catalogue.indicators.count < library.sets["1.1"]!.catalogue.indicators.count)
    }

    @Test("a report is checked against the version it names, and an older version stays checkable")
    func checkedAgainstNamedVersion() {
        // HSCV_DIEN_TU is in both versions; KIEM_TRA_SO only from 1.1.
        #expect(library.problems(in: report(version: "1.0", indicator: "HSCV_DIEN_TU")).isEmpty)
        #expect(library.problems(in: report(version: "1.1", indicator: "HSCV_DIEN_TU")).isEmpty)
        #expect(library.problems(in: report(version: "1.1", indicator: "KIEM_TRA_SO")).isEmpty)
        let old = library.problems(in: report(version: "1.0", indicator: "KIEM_TRA_SO"))
        #expect(old.count == 1 && old[0].contains("indicator.known"), "\(old)")
        let unknown = library.problems(in: report(version: "9.9", indicator: "HSCV_DIEN_TU"))
        #expect(unknown == ["the report names contract version 9.9, which is not one of 1.0, 1.1, 1.2"])
        // Version 1.1 knows every province of the 63: Bắc Kạn (06) in 2025 before the merger.
        #expect(library.problems(in: report(version: "1.1", indicator: "HSCV_DIEN_TU", province: "06")).isEmpty)
    }
}
