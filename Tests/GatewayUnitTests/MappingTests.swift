import Foundation
import GatewayAdapters
import GatewayConfig
import GatewayContracts
import Logging
import Testing
import GatewayJSON
import GatewayTestKit

@Suite("Adapter mapping")
struct MappingTests {
    @Test(
        "period forms people type become contract periods",
        arguments: [
            ("Quý 3/2025", "2025-Q3"), ("quý 4/2025", "2025-Q4"), ("Q3-2025", "2025-Q3"), ("Q1/2026", "2026-Q1"),
            ("11/2025", "2025-11"), ("Tháng 2/2026", "2026-02"), ("2025", "2025"), ("Năm 2025", "2025"),
            ("6 tháng đầu năm 2025", "2025-H1"), ("2025-Q3", "2025-Q3"), ("2025-11", "2025-11"), (" \u{A0}Quý 2/2025\t", "2025-Q2"),
            ("6 tháng cuối năm 2025", "2025-H2"), ("Tháng 12/2025", "2025-12"),
        ])
    func periods(text: String, expected: String) {
        #expect(PeriodNormalizer.normalize(text) == expected)
    }

    @Test("impossible or ambiguous periods are refused", arguments: ["Quý 5/2025", "13/2025", "Q0-2025", "mùa thu 2025", "", "3/2025/1"])
    func badPeriods(text: String) {
        #expect(PeriodNormalizer.normalize(text) == nil)
    }

    @Test(
        "numbers written the Vietnamese way",
        arguments: [
            ("37,87", 37.87), ("1.234,5", 1234.5), ("1,234.5", 1234.5), ("100", 100.0), ("88,5 %", 88.5), (" 88,5\u{A0}%\t", 88.5),
            ("-3,5", -3.5), ("1.234.567,25", 1_234_567.25), ("1e3", 1000), ("+7", 7), ("1,5E-2", 0.015), ("1.234.567", 1_234_567),
            ("1,234,567", 1_234_567), ("0012", 12),
        ])
    func numbers(text: String, expected: Double) {
        #expect(NumberParsing.parse(text) == expected)
    }

    @Test(
        "text that is not a number by the strict grammar is refused",
        arguments: [
            "", " ", "%", "abc", "1.234.5", "1,2,3", "12 34", "inf", "nan", "1e999", "٣", "%12", "0x1Fp1", "0X3E", "6%4%", "12%%", "1e",
            "1e+",
            ".5", "1.", "+-1", "--1", "1,23,456", "12.34.56", "1.234,5.6", "1 %2", "١٢", "Infinity", "1_000", "٫5", "1e3.5", "\u{0}1",
            "1\u{0}",
        ])
    func badNumbers(text: String) {
        #expect(NumberParsing.parse(text) == nil)
    }

    @Test(
        "a declared number format reads the marks one way only",
        arguments: [
            ("1.234", NumberFormat.vietnamese, 1234.0), ("1.234", .english, 1.234), ("1.234", .inferred, 1.234),
            ("37,87", .vietnamese, 37.87), ("1,234", .english, 1234), ("1.234.567,5", .vietnamese, 1_234_567.5),
        ])
    func declaredFormats(text: String, format: NumberFormat, expected: Double) {
        #expect(NumberParsing.parse(text, format: format)?.value == expected)
    }

    @Test(
        "a format refuses the other's marks",
        arguments: [("1,234.5", NumberFormat.vietnamese), ("1.234,5", .english), ("37.87,1", .vietnamese)])
    func wrongFormat(text: String, format: NumberFormat) {
        #expect(NumberParsing.parse(text, format: format) == nil)
    }

    @Test("a percent sign belongs to a percentage's value only")
    func percentSigns() throws {
        var counted = mapping
        counted.fields["unit"] = FieldRule(origin: .constant("households"), type: .string)
        let record = try JSONValue.parse(
            Data(#"{"chiTieu":"HSCV","donVi":{"ma":"03646","cap":"xa"},"ky":"Quý 3/2026","tyLe":"45%","dienTu":"12%"}"#.utf8))
        guard case .failed(_, let reasons) = counted.map(record, context: context) else {
            Issue.record("a figure with a percent sign was signed as a count")
            return
        }
        #expect(reasons.map(\.pointer).sorted() == ["/numerator", "/value"])
        #expect(reasons.allSatisfy { $0.rule == "mapping.convert" && $0.message.contains("percent sign") }, "\(reasons)")
        // Where the unit is percent, the value may carry it.
        let percentage = try JSONValue.parse(
            Data(#"{"chiTieu":"HSCV","donVi":{"ma":"03646","cap":"xa"},"ky":"Quý 3/2026","tyLe":"45,5 %"}"#.utf8))
        guard case .mapped(let observation, _) = mapping.map(percentage, context: context) else {
            Issue.record("a percentage's value with a percent sign was refused")
            return
        }
        #expect(observation["value"] == .number(45.5))
    }

    @Test("record paths select nested fields and indices")
    func paths() throws {
        let document = try JSONValue.parse(Data(#"{"duLieu":{"banGhi":[{"a":1},{"a":{"b":"x"}}]}}"#.utf8))
        #expect(RecordPath("$.duLieu.banGhi")?.select(in: document)?.arrayValue?.count == 2)
        #expect(RecordPath("duLieu.banGhi[1].a.b")?.select(in: document) == .string("x"))
        #expect(RecordPath("duLieu.banGhi[2]")?.select(in: document) == nil)
        #expect(RecordPath("a..b") == nil)
        #expect(RecordPath("a[x]") == nil)
    }

    var mapping: RecordMapping {
        RecordMapping(
            fields: [
                "indicator": FieldRule(
                    origin: .path(RecordPath("chiTieu")!), type: .string, lookup: ["HSCV": "HSCV_DIEN_TU"], keepUnmatched: false),
                "level": FieldRule(origin: .path(RecordPath("donVi.cap")!), type: .string, lookup: ["xa": "commune", "tinh": "province"]),
                "area": FieldRule(origin: .path(RecordPath("donVi.ma")!), type: .string),
                "period": FieldRule(origin: .path(RecordPath("ky")!), type: .period),
                "value": FieldRule(origin: .path(RecordPath("tyLe")!), type: .number),
                "unit": FieldRule(origin: .constant("percent"), type: .string),
                "numerator": FieldRule(origin: .path(RecordPath("dienTu")!), type: .number, optional: true),
            ], sourceSystem: "qlvb")
    }

    let context = PullContext(province: "14", collectedAt: Date(timeIntervalSince1970: 1_790_000_000))

    @Test("a source record maps to the observation's JSON form")
    func mapsRecord() throws {
        let record = try JSONValue.parse(
            Data(#"{"chiTieu":"HSCV","donVi":{"ma":"03646","cap":"xa"},"ky":"Quý 3/2026","tyLe":"53,33","dienTu":480}"#.utf8))
        guard case .mapped(let observation, _) = mapping.map(record, context: context) else {
            Issue.record("expected a mapped record")
            return
        }
        #expect(observation["indicator"] == .string("HSCV_DIEN_TU"))
        #expect(observation["level"] == .string("commune"))
        #expect(observation["area"] == .string("03646"))
        #expect(observation["period"] == .string("2026-Q3"))
        #expect(observation["value"] == .number(53.33))
        #expect(observation["numerator"] == .number(480))
        #expect(observation["province"] == .string("14"))
        #expect(observation["source_system"] == .string("qlvb"))
        #expect(observation["collected_at"] == .string(Timestamps.format(context.collectedAt)))
    }

    @Test("every mapping failure of a record is reported, each on its field")
    func failures() throws {
        let record = try JSONValue.parse(Data(#"{"chiTieu":"XYZ","donVi":{"ma":"03646","cap":"xa"},"ky":"Quý 5/2026"}"#.utf8))
        guard case .failed(let raw, let reasons) = mapping.map(record, context: context) else {
            Issue.record("expected a failed record")
            return
        }
        #expect(raw == record)
        #expect(Set(reasons.map(\.pointer)) == ["/indicator", "/period", "/value"])
        #expect(reasons.first { $0.pointer == "/indicator" }?.rule == "mapping.convert")
        #expect(reasons.first { $0.pointer == "/period" }?.rule == "mapping.period")
        #expect(reasons.first { $0.pointer == "/value" }?.rule == "mapping.missing")
    }
}

@Suite("A program's standard error, as the log")
struct ExecStandardErrorTests {
    @Test(
        "a JSON line says its level and message; any other line is progress, at info",
        arguments: [
            (#"{"level":"error","message":"CSDL không trả lời"}"#, Logger.Level.error, "CSDL không trả lời"),
            (#"{"level":"warn","msg":"chậm"}"#, .warning, "chậm"),
            (#"{"level":"debug","message":"trang 2"}"#, .debug, "trang 2"),
            (#"{"message":"no level"}"#, .info, "no level"),
            ("đã đọc 120 bản ghi", .info, "đã đọc 120 bản ghi"),
            (#"{"level":"error"}"#, .info, #"{"level":"error"}"#),
        ])
    func levels(line: String, level: Logger.Level, message: String) {
        let (found, text) = ExecAdapter.standardErrorLine(line)
        #expect(found == level && text == message)
    }
}

@Suite("Codes an adapter skips")
struct SkippedCodeTests {
    static let file = """
        name: vien-thong
        schedule: { every: 1h }
        source: { base_url: "https://127.0.0.1:1" }
        request: { path: /x }
        response: { records: $.x }
        mapping:
          indicator: { path: ma, lookup: { FTTH_HO: CAP_QUANG_HO_GD }, skip: [TB_DI_DONG], unmatched: SKIP_MODE }
          level: { const: province }
          area: tinh
          period: ky
          value: giaTri
          unit: { const: percent }
        """

    static func mapping(unmatched: String) throws -> RecordMapping {
        let spec = try AdapterLoader.definition(
            file: "a.yaml", text: file.replacingOccurrences(of: "SKIP_MODE", with: unmatched),
            environment: ConfigEnvironment(variables: [:]))
        guard case .http(let definition) = spec else { throw MockError("not an HTTP adapter") }
        return definition.mapping
    }

    static func record(_ code: String) throws -> JSONValue {
        try JSONValue.parse(Data(#"{"ma":"\#(code)","tinh":"14","ky":"Quý 3/2026","giaTri":61.5}"#.utf8))
    }

    @Test("a listed code is skipped, naming the field and value; unmatched: skip skips what the table lacks, fail quarantines it")
    func skipped() throws {
        let context = PullContext(province: "14", collectedAt: Date())
        let skipping = try Self.mapping(unmatched: "skip")
        #expect(skipping.map(try Self.record("TB_DI_DONG"), context: context) == .skipped(field: "indicator", value: "TB_DI_DONG"))
        #expect(skipping.map(try Self.record("KHAC"), context: context) == .skipped(field: "indicator", value: "KHAC"))
        guard case .mapped(let mapped, _) = skipping.map(try Self.record("FTTH_HO"), context: context) else {
            Issue.record("a code in the table was not mapped")
            return
        }
        #expect(mapped["indicator"] == .string("CAP_QUANG_HO_GD"))
        let failing = try Self.mapping(unmatched: "fail")
        #expect(failing.map(try Self.record("TB_DI_DONG"), context: context) == .skipped(field: "indicator", value: "TB_DI_DONG"))
        guard case .failed(_, let reasons) = failing.map(try Self.record("KHAC"), context: context) else {
            Issue.record("an unmatched code was not quarantined under unmatched: fail")
            return
        }
        #expect(reasons.map(\.rule) == ["mapping.convert"])
    }

    @Test("a code both mapped and skipped, and unmatched without a table, are errors in the file")
    func contradictions() {
        let both = Self.file.replacingOccurrences(of: "skip: [TB_DI_DONG]", with: "skip: [FTTH_HO]").replacingOccurrences(
            of: "SKIP_MODE", with: "skip")
        #expect(throws: ConfigIssues.self) {
            _ = try AdapterLoader.definition(file: "a.yaml", text: both, environment: ConfigEnvironment(variables: [:]))
        }
        do {
            _ = try AdapterLoader.definition(file: "a.yaml", text: both, environment: ConfigEnvironment(variables: [:]))
        } catch {
            #expect(
                error.issues.contains {
                    $0.field == "mapping.indicator.skip" && $0.message.contains("both in the lookup table and skipped")
                })
        }
        let noTable = Self.file.replacingOccurrences(
            of: "{ path: ma, lookup: { FTTH_HO: CAP_QUANG_HO_GD }, skip: [TB_DI_DONG], unmatched: SKIP_MODE }",
            with: "{ path: ma, unmatched: skip }")
        do {
            _ = try AdapterLoader.definition(file: "a.yaml", text: noTable, environment: ConfigEnvironment(variables: [:]))
            Issue.record("unmatched without a lookup table was accepted")
        } catch {
            #expect(error.issues.contains { $0.field == "mapping.indicator.unmatched" && $0.message.contains("applies to a lookup table") })
        }
    }
}

@Suite("Several figures per record")
struct WideRecordTests {
    static let file = """
        name: so-y-te
        schedule: { every: 1h }
        source: { base_url: "https://127.0.0.1:1" }
        request: { path: /x }
        response: { records: $.x }
        mapping:
          level: { const: province }
          area: maTinh
          period: ky
          unit: { const: percent }
          source_record_id: ma
          observations:
            - { indicator: { const: BENH_VIEN_KHAM_TU_XA }, value: tyLeKhamTuXa }
            - { indicator: { const: HO_SO_SUC_KHOE_DT }, value: tyLeHoSoSucKhoe, numerator: soHoSo, denominator: danSo }
        """

    @Test("one wide row makes one observation per listed column, shared fields written once; each is mapped or failed on its own")
    func wide() throws {
        let spec = try AdapterLoader.definition(file: "a.yaml", text: Self.file, environment: ConfigEnvironment(variables: [:]))
        guard case .http(let definition) = spec else { throw MockError("not an HTTP adapter") }
        let row = try JSONValue.parse(
            Data(
                #"{"ma":"SYT-2026-Q2","maTinh":"14","ky":"Quý 2/2026","tyLeKhamTuXa":"42,5","tyLeHoSoSucKhoe":"abc","soHoSo":1,"danSo":2}"#
                    .utf8))
        let made = definition.mapping.mapAll(row, context: PullContext(province: "14", collectedAt: Date()))
        #expect(made.count == 2)
        guard case .mapped(let first, _) = made[0], case .failed(_, let reasons) = made[1] else {
            Issue.record("expected one mapped and one failed observation: \(made)")
            return
        }
        #expect(first["indicator"] == .string("BENH_VIEN_KHAM_TU_XA") && first["value"] == .number(42.5))
        #expect(
            first["period"] == .string("2026-Q2") && first["area"] == .string("14") && first["source_record_id"] == .string("SYT-2026-Q2"))
        #expect(reasons.map(\.pointer) == ["/value"] && reasons.map(\.rule) == ["mapping.convert"])
    }

    @Test("an entry that lacks a required field, here or shared, is an error at its line")
    func missingField() {
        let broken = Self.file.replacingOccurrences(
            of: "    - { indicator: { const: BENH_VIEN_KHAM_TU_XA }, value: tyLeKhamTuXa }\n",
            with: "    - { indicator: { const: BENH_VIEN_KHAM_TU_XA } }\n")
        do {
            _ = try AdapterLoader.definition(file: "a.yaml", text: broken, environment: ConfigEnvironment(variables: [:]))
            Issue.record("an observation without a value was accepted")
        } catch {
            #expect(
                error.issues.contains {
                    $0.line == 13 && $0.field == "mapping.observations[0]" && $0.message.contains("value, here or shared")
                },
                "\(error.issues)")
        }
    }
}
