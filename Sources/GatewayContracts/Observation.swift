import Foundation
import GatewayJSON

/// Administrative levels an indicator can be reported at. Vietnam has had no district level
/// since 1 July 2025 (Resolution 202/2025/QH15); `district` remains for earlier periods.
public enum AdministrativeLevel: String, Sendable, Codable, CaseIterable {
    case province, district, commune
}

/// One measured value of one indicator, for one area and one period: the unit of reporting.
public struct Observation: Sendable, Hashable, Codable {
    /// Catalogue code, e.g. `DVC_TOAN_TRINH`.
    public var indicator: String
    /// Province code of the reporting province (Decision 19/2025/QĐ-TTg), e.g. `14` for Sơn La.
    public var province: String
    public var level: AdministrativeLevel
    /// The area the value is about: the province code at province level, a commune code at commune level.
    public var area: String
    /// `2025`, `2025-H1`, `2025-Q3` or `2025-11`.
    public var period: String
    public var value: Double
    /// The catalogue unit, e.g. `percent`.
    public var unit: String
    public var numerator: Double?
    public var denominator: Double?
    /// Which provincial system the figure came from (the adapter's `source_system`).
    public var sourceSystem: String
    /// The source's own identifier of the record, so a figure can be traced back.
    public var sourceRecordID: String?
    /// When the gateway collected the figure, RFC 3339.
    public var collectedAt: String
    /// Which value of its figure this is, from 1 (contract 1.2): the centre keeps the highest.
    /// Nil in reports of earlier contracts, which do not carry it.
    public var revision: Int?
    /// For a revision after the first, the one it replaces and the report that carried that one.
    public var replaces: Replaced?

    /// The revision an observation replaces: its number and the report it came in.
    public struct Replaced: Sendable, Hashable, Codable {
        public var revision: Int
        public var reportID: String

        public init(revision: Int, reportID: String) {
            self.revision = revision
            self.reportID = reportID
        }

        enum CodingKeys: String, CodingKey {
            case revision
            case reportID = "report_id"
        }
    }

    public init(
        indicator: String, province: String, level: AdministrativeLevel, area: String, period: String, value: Double,
        unit: String, numerator: Double? = nil, denominator: Double? = nil, sourceSystem: String,
        sourceRecordID: String? = nil, collectedAt: String, revision: Int? = nil, replaces: Replaced? = nil
    ) {
        self.indicator = indicator
        self.province = province
        self.level = level
        self.area = area
        self.period = period
        self.value = value
        self.unit = unit
        self.numerator = numerator
        self.denominator = denominator
        self.sourceSystem = sourceSystem
        self.sourceRecordID = sourceRecordID
        self.collectedAt = collectedAt
        self.revision = revision
        self.replaces = replaces
    }

    enum CodingKeys: String, CodingKey {
        case indicator, province, level, area, period, value, unit, numerator, denominator, revision, replaces
        case sourceSystem = "source_system"
        case sourceRecordID = "source_record_id"
        case collectedAt = "collected_at"
    }

    /// 128 bits that differ between any two observations that differ in anything but their
    /// collection time: for telling a record a pull met twice (a page served again, offset pages
    /// that shifted under the pull) without keeping every observation of the pull.
    public struct Fingerprint: Hashable, Sendable {
        let high: Int
        let low: Int
    }

    public var fingerprint: Fingerprint {
        func add(_ hasher: inout Hasher) {
            hasher.combine(indicator)
            hasher.combine(province)
            hasher.combine(level)
            hasher.combine(area)
            hasher.combine(period)
            hasher.combine(value)
            hasher.combine(unit)
            hasher.combine(numerator)
            hasher.combine(denominator)
            hasher.combine(sourceSystem)
            hasher.combine(sourceRecordID)
        }
        // Two halves from two differently started hashers: the process's random seed keys both.
        var high = Hasher(), low = Hasher()
        low.combine(0x9E37_79B9)
        add(&high)
        add(&low)
        return Fingerprint(high: high.finalize(), low: low.finalize())
    }

    /// What the central side counts as "the same figure": the same indicator, area and period.
    public var factKey: String { "\(indicator)|\(level.rawValue)|\(area)|\(period)" }

    /// Reads what `jsonValue` writes, as `Codable` would (null or absent optionals are nil, other
    /// members are ignored), without a round trip through JSON text; throws naming the first field,
    /// in the object's order, that is mistyped, or else the first that is missing.
    public init(json: JSONValue) throws(ObservationDecodingError) {
        guard case .object(let object) = json else { throw ObservationDecodingError(field: "", expected: "an object") }
        func string(_ value: JSONValue, _ field: String) throws(ObservationDecodingError) -> String {
            guard case .string(let text) = value else { throw ObservationDecodingError(field: field, expected: "a string") }
            return text
        }
        func number(_ value: JSONValue, _ field: String) throws(ObservationDecodingError) -> Double? {
            switch value {
            case .null: return nil
            case .number(let number): return number
            default: throw ObservationDecodingError(field: field, expected: "a number")
            }
        }
        func revisionNumber(_ value: JSONValue?, field: String) throws(ObservationDecodingError) -> Int? {
            switch value {
            case nil, .null?: return nil
            case .number(let number)? where number >= 1 && number <= Double(Int32.max) && number.rounded() == number: return Int(number)
            default: throw ObservationDecodingError(field: field, expected: "a whole number from 1")
            }
        }
        var indicator: String?, province: String?, level: AdministrativeLevel?, area: String?, period: String?
        var value: Double?, unit: String?, numerator: Double?, denominator: Double?, sourceSystem: String?
        var sourceRecordID: String?, collectedAt: String?, revision: Int?, replaces: Replaced?
        // Each member taken once, as it comes: looking each of fourteen names up in turn was most
        // of what reading an observation cost, in the gateway's checks and at the centre. The
        // names are ASCII letters and `_`, which no other text is canonically equivalent to, so
        // `String`'s equality is JSON's code-point equality here.
        for member in object.members {
            switch member.key {
            case "indicator": indicator = try string(member.value, "indicator")
            case "province": province = try string(member.value, "province")
            case "level":
                guard let named = AdministrativeLevel(rawValue: try string(member.value, "level")) else {
                    throw ObservationDecodingError(field: "level", expected: "province, district or commune")
                }
                level = named
            case "area": area = try string(member.value, "area")
            case "period": period = try string(member.value, "period")
            case "value":
                guard case .number(let number) = member.value else { throw ObservationDecodingError(field: "value", expected: "a number") }
                value = number
            case "unit": unit = try string(member.value, "unit")
            case "numerator": numerator = try number(member.value, "numerator")
            case "denominator": denominator = try number(member.value, "denominator")
            case "source_system": sourceSystem = try string(member.value, "source_system")
            case "source_record_id":
                if case .null = member.value { break }
                sourceRecordID = try string(member.value, "source_record_id")
            case "collected_at": collectedAt = try string(member.value, "collected_at")
            case "revision": revision = try revisionNumber(member.value, field: "revision")
            case "replaces":
                switch member.value {
                case .null: break
                case .object(let replaced):
                    guard let number = try revisionNumber(replaced["revision"], field: "replaces/revision") else {
                        throw ObservationDecodingError(field: "replaces/revision", expected: "a whole number from 1")
                    }
                    guard case .string(let reportID)? = replaced["report_id"] else {
                        throw ObservationDecodingError(field: "replaces/report_id", expected: "a string")
                    }
                    replaces = Replaced(revision: number, reportID: reportID)
                default: throw ObservationDecodingError(field: "replaces", expected: "an object")
                }
            default: continue
            }
        }
        func required<T>(_ value: T?, _ field: String, _ expected: String) throws(ObservationDecodingError) -> T {
            guard let value else { throw ObservationDecodingError(field: field, expected: expected) }
            return value
        }
        self.init(
            indicator: try required(indicator, "indicator", "a string"), province: try required(province, "province", "a string"),
            level: try required(level, "level", "a string"), area: try required(area, "area", "a string"),
            period: try required(period, "period", "a string"), value: try required(value, "value", "a number"),
            unit: try required(unit, "unit", "a string"), numerator: numerator, denominator: denominator,
            sourceSystem: try required(sourceSystem, "source_system", "a string"), sourceRecordID: sourceRecordID,
            collectedAt: try required(collectedAt, "collected_at", "a string"), revision: revision, replaces: replaces)
    }

    /// What a report id hashes: each observation as `JSONEncoder` with `.sortedKeys` writes it,
    /// with `collected_at` blank and a zero byte before it.
    public static func identityBytes(of observations: [Observation]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(observations.count * 320)
        // Each observation is still copied before it is written (a retain and a release of each
        // of its strings): the compiler did so however it was read here, by the array's subscript,
        // the buffer, a pointer or a `borrowing` parameter, and in the caller's module as well.
        observations.withUnsafeBufferPointer { observations in
            for position in observations.indices {
                bytes.append(0)
                if !observations[position].sortedKeysJSONEncoderBytes(into: &bytes, collectedAt: "") {
                    bytes += observations[position].identityFromJSONEncoder()
                }
            }
        }
        return bytes
    }

    @inline(never)
    private func identityFromJSONEncoder() -> Data {
        var identity = self
        identity.collectedAt = ""
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(identity)) ?? Data(identity.factKey.utf8)
    }

    /// The bytes `JSONEncoder` with `.sortedKeys` writes for this observation, written directly
    /// (report ids hash them, so they must stay exactly what they were); nil when a number is one
    /// whose text `JSONEncoder` might write differently (-0, beyond ±10¹⁵, not finite), for the
    /// caller to use `JSONEncoder` itself.
    // Inlined into a report id's loop, which runs it for every observation of every report.
    @inline(__always)
    public func sortedKeysJSONEncoderBytes(into output: inout [UInt8], collectedAt collectedAtShown: String? = nil) -> Bool {
        func writable(_ number: Double) -> Bool { number.isFinite && abs(number) < 1e15 && !(number == 0 && number.sign == .minus) }
        guard writable(value), writable(numerator ?? 0), writable(denominator ?? 0) else { return false }
        var writer = CanonicalJSONWriter(escapesSlash: true)
        // Writes into the caller's buffer, whose capacity it reuses for every observation.
        swap(&writer.output, &output)
        defer { swap(&writer.output, &output) }
        write(into: &writer, collectedAt: collectedAtShown ?? collectedAt)
        return true
    }

    /// The observation's members in key order, as the canonical writer writes its `jsonValue`
    /// (and, with `escapesSlash`, as `JSONEncoder` with `.sortedKeys` does).
    @inline(__always)
    func write(into writer: inout CanonicalJSONWriter, collectedAt collectedAtShown: String) {
        // Names with their quotes, colon and leading comma, written as they are: they need no
        // escaping, and scanning a dozen names per observation was a fifth of the id's cost.
        writer.writeRaw(#"{"area":"#); writer.writeString(area)
        writer.writeRaw(#","collected_at":"#); writer.writeString(collectedAtShown)
        if let denominator { writer.writeRaw(#","denominator":"#); writer.writeNumber(denominator) }
        writer.writeRaw(#","indicator":"#); writer.writeString(indicator)
        writer.writeRaw(#","level":"#); writer.writeString(level.rawValue)
        if let numerator { writer.writeRaw(#","numerator":"#); writer.writeNumber(numerator) }
        writer.writeRaw(#","period":"#); writer.writeString(period)
        writer.writeRaw(#","province":"#); writer.writeString(province)
        if let replaces {
            writer.writeRaw(#","replaces":{"report_id":"#); writer.writeString(replaces.reportID)
            writer.writeRaw(#","revision":"#); writer.writeInteger(Int64(replaces.revision))
            writer.output.append(UInt8(ascii: "}"))
        }
        if let revision { writer.writeRaw(#","revision":"#); writer.writeInteger(Int64(revision)) }
        if let sourceRecordID { writer.writeRaw(#","source_record_id":"#); writer.writeString(sourceRecordID) }
        writer.writeRaw(#","source_system":"#); writer.writeString(sourceSystem)
        writer.writeRaw(#","unit":"#); writer.writeString(unit)
        writer.writeRaw(#","value":"#); writer.writeNumber(value)
        writer.output.append(UInt8(ascii: "}"))
    }

    /// The same value `Codable` gives (absent optionals left out), built directly: signing a
    /// report went through JSON text and back, the largest cost of the signing stage. Members go
    /// in key order, so the canonical writer finds them sorted and sorts no copy.
    public var jsonValue: JSONValue {
        // The object's own members, with name keys computed once: an array of pairs converted
        // into members took as long as the writing of them afterwards.
        var members: [JSONObject.Member] = []
        members.reserveCapacity(14)
        members.append(MemberNames.area(.string(area)))
        members.append(MemberNames.collectedAt(.string(collectedAt)))
        if let denominator { members.append(MemberNames.denominator(.number(denominator))) }
        members.append(MemberNames.indicator(.string(indicator)))
        members.append(MemberNames.level(.string(level.rawValue)))
        if let numerator { members.append(MemberNames.numerator(.number(numerator))) }
        members.append(MemberNames.period(.string(period)))
        members.append(MemberNames.province(.string(province)))
        if let replaces {
            members.append(
                MemberNames.replaces(
                    .object(["report_id": .string(replaces.reportID), "revision": .number(Double(replaces.revision))])))
        }
        if let revision { members.append(MemberNames.revision(.number(Double(revision)))) }
        if let sourceRecordID { members.append(MemberNames.sourceRecordID(.string(sourceRecordID))) }
        members.append(MemberNames.sourceSystem(.string(sourceSystem)))
        members.append(MemberNames.unit(.string(unit)))
        members.append(MemberNames.value(.number(value)))
        return .object(JSONObject(uniqueMembers: members))
    }

    private enum MemberNames {
        struct Name {
            let text: String
            let key: UInt32
            init(_ text: String) { (self.text, self.key) = (text, JSONObject.nameKey(text)) }
            func callAsFunction(_ value: JSONValue) -> JSONObject.Member { .init(key: text, value: value, nameKey: key) }
        }
        static let area = Name("area"), collectedAt = Name("collected_at"), denominator = Name("denominator")
        static let indicator = Name("indicator"), level = Name("level"), numerator = Name("numerator"), period = Name("period")
        static let province = Name("province"), sourceRecordID = Name("source_record_id"), sourceSystem = Name("source_system")
        static let replaces = Name("replaces"), revision = Name("revision")
        static let unit = Name("unit"), value = Name("value")
    }
}

public struct ObservationDecodingError: Error, Sendable, CustomStringConvertible {
    public let field: String
    public let expected: String
    public var description: String { field.isEmpty ? "an observation must be \(expected)" : "\(field) must be \(expected)" }
}

/// The signed unit sent to the central endpoint: a batch of valid observations from one pull.
public struct ReportEnvelope: Sendable, Hashable, Codable {
    public static let contractName = "lgsp-indicator-report"

    public var contract: String
    public var contractVersion: String
    /// Stable identifier, also the `Idempotency-Key`: derived from the content, so the same
    /// observations reported again carry the same id and the centre keeps them once.
    public var reportID: String
    public var gatewayID: String
    public var province: String
    public var adapter: String
    public var createdAt: String
    public var observations: [Observation]

    public init(
        contractVersion: String, reportID: String, gatewayID: String, province: String, adapter: String,
        createdAt: String, observations: [Observation]
    ) {
        self.contract = Self.contractName
        self.contractVersion = contractVersion
        self.reportID = reportID
        self.gatewayID = gatewayID
        self.province = province
        self.adapter = adapter
        self.createdAt = createdAt
        self.observations = observations
    }

    /// Reads what `jsonValue` writes, as `Codable` would, without a round trip through JSON text.
    public init(json: JSONValue) throws(ObservationDecodingError) {
        guard case .object(let members) = json else { throw ObservationDecodingError(field: "", expected: "an object") }
        func string(_ key: String) throws(ObservationDecodingError) -> String {
            guard case .string(let text)? = members[key] else { throw ObservationDecodingError(field: key, expected: "a string") }
            return text
        }
        guard case .array(let observations)? = members["observations"] else {
            throw ObservationDecodingError(field: "observations", expected: "an array")
        }
        var decoded: [Observation] = []
        decoded.reserveCapacity(observations.count)
        for (index, observation) in observations.enumerated() {
            do { decoded.append(try Observation(json: observation)) } catch {
                throw ObservationDecodingError(field: "observations/\(index)/\(error.field)", expected: error.expected)
            }
        }
        self.init(
            contractVersion: try string("contract_version"), reportID: try string("report_id"), gatewayID: try string("gateway_id"),
            province: try string("province"), adapter: try string("adapter"), createdAt: try string("created_at"), observations: decoded)
        contract = try string("contract")
    }

    /// `jsonValue.canonicalData()`, written straight from the envelope: building the tree of a
    /// report's observations only to write it out was a third of what signing cost.
    public func canonicalData() -> Data {
        var writer = CanonicalJSONWriter()
        writer.output.reserveCapacity(256 + observations.count * 320)
        writer.writeRaw(#"{"adapter":"#); writer.writeString(adapter)
        writer.writeRaw(#","contract":"#); writer.writeString(contract)
        writer.writeRaw(#","contract_version":"#); writer.writeString(contractVersion)
        writer.writeRaw(#","created_at":"#); writer.writeString(createdAt)
        writer.writeRaw(#","gateway_id":"#); writer.writeString(gatewayID)
        writer.writeRaw(#","observations":["#)
        observations.withUnsafeBufferPointer { observations in
            for position in observations.indices {
                if position > 0 { writer.output.append(UInt8(ascii: ",")) }
                observations[position].write(into: &writer, collectedAt: observations[position].collectedAt)
            }
        }
        writer.writeRaw(#"],"province":"#); writer.writeString(province)
        writer.writeRaw(#","report_id":"#); writer.writeString(reportID)
        writer.output.append(UInt8(ascii: "}"))
        return Data(writer.output)
    }

    /// The same value `Codable` gives, built directly (see `Observation.jsonValue`).
    public var jsonValue: JSONValue {
        // In key order, as for observations.
        .object([
            "adapter": .string(adapter), "contract": .string(contract), "contract_version": .string(contractVersion),
            "created_at": .string(createdAt), "gateway_id": .string(gatewayID), "observations": .array(observations.map(\.jsonValue)),
            "province": .string(province), "report_id": .string(reportID),
        ])
    }

    enum CodingKeys: String, CodingKey {
        case contract
        case contractVersion = "contract_version"
        case reportID = "report_id"
        case gatewayID = "gateway_id"
        case province, adapter
        case createdAt = "created_at"
        case observations
    }
}
