import Foundation
import GatewayContracts
import Synchronization

/// Path expressions over a source's JSON: `$.duLieu.banGhi`, `items[0].value`, `data.rows`.
public struct RecordPath: Sendable, Equatable, CustomStringConvertible {
    enum Step: Sendable, Equatable {
        /// A member name, and its lookup key computed once rather than at every record.
        case key(String, nameKey: UInt32)
        case index(Int)
    }

    let steps: [Step]
    public let description: String

    public init?(_ text: String) {
        description = text
        var body = Substring(text)
        if body.hasPrefix("$") { body = body.dropFirst() }
        if body.hasPrefix(".") { body = body.dropFirst() }
        var steps: [Step] = []
        for segment in body.split(separator: ".", omittingEmptySubsequences: false) where !(segment.isEmpty && body.isEmpty) {
            var rest = segment
            let name = rest.prefix { $0 != "[" }
            if name.isEmpty && !rest.hasPrefix("[") { return nil }
            if !name.isEmpty { steps.append(.key(String(name), nameKey: JSONObject.nameKey(String(name)))) }
            rest = rest.dropFirst(name.count)
            while rest.hasPrefix("[") {
                guard let close = rest.firstIndex(of: "]"), let index = Int(rest[rest.index(after: rest.startIndex)..<close]), index >= 0 else {
                    return nil
                }
                steps.append(.index(index))
                rest = rest[rest.index(after: close)...]
            }
            if !rest.isEmpty { return nil }
        }
        self.steps = steps
    }

    public func select(in value: JSONValue) -> JSONValue? {
        // Switched on the step alone, with the value read by position: a tuple of the step and
        // the value, and the member read as a pair, retained each name and value once more.
        var current = value
        for position in steps.indices {
            switch steps[position] {
            case .key(let key, let nameKey):
                guard case .object(let members) = current, let found = members.index(forKey: key, nameKey: nameKey) else { return nil }
                current = members.value(at: found)
            case .index(let index):
                guard case .array(let items) = current, items.indices.contains(index) else { return nil }
                current = items[index]
            }
        }
        return current
    }
}

/// How one observation field is taken from a source record.
public struct FieldRule: Sendable, Equatable {
    public enum Origin: Sendable, Equatable {
        case path(RecordPath)
        case constant(String)
    }

    public enum ValueType: String, Sendable, Equatable {
        case string, number, period
    }

    public var origin: Origin
    public var type: ValueType
    /// The source's own codes to catalogue codes.
    public var lookup: [String: String]?
    /// When the lookup has no entry: keep the source value (and let the contracts judge it) or fail.
    public var keepUnmatched: Bool
    /// Multiplies numbers, for unit conversion (e.g. 100 for a fraction to a percentage).
    public var scale: Double?
    public var optional: Bool

    public init(origin: Origin, type: ValueType, lookup: [String: String]? = nil, keepUnmatched: Bool = false, scale: Double? = nil, optional: Bool = false) {
        self.origin = origin
        self.type = type
        self.lookup = lookup
        self.keepUnmatched = keepUnmatched
        self.scale = scale
        self.optional = optional
    }
}

/// Maps a source record to an observation's JSON form, field by field, collecting every failure.
public struct RecordMapping: Sendable, Equatable {
    /// Observation field (as the contract names it) → rule.
    public var fields: [String: FieldRule] {
        didSet { orderedFields = Self.ordered(fields) }
    }
    public var sourceSystem: String
    /// `fields` in name order, so failures are listed the same way every time; sorted once, not per record.
    private var orderedFields: [OrderedField]

    /// A field with its name's lookup key, computed once. A class: walking an array of the rules
    /// themselves copied each rule (its strings and tables) for every record.
    private final class OrderedField: Sendable {
        let name: String
        let nameKey: UInt32
        let rule: FieldRule

        init(name: String, rule: FieldRule) {
            self.name = name
            self.nameKey = JSONObject.nameKey(name)
            self.rule = rule
        }
    }

    private static let provinceKey = JSONObject.nameKey("province")
    private static let sourceSystemKey = JSONObject.nameKey("source_system")
    private static let collectedAtKey = JSONObject.nameKey("collected_at")

    private static func ordered(_ fields: [String: FieldRule]) -> [OrderedField] {
        fields.sorted { $0.key < $1.key }.map { OrderedField(name: $0.key, rule: $0.value) }
    }

    public static let mappableFields: [String: FieldRule.ValueType] = [
        "indicator": .string, "province": .string, "level": .string, "area": .string, "period": .period,
        "value": .number, "unit": .string, "numerator": .number, "denominator": .number, "source_record_id": .string,
    ]
    public static let requiredFields: Set<String> = ["indicator", "level", "area", "period", "value", "unit"]

    public init(fields: [String: FieldRule], sourceSystem: String) {
        self.fields = fields
        self.sourceSystem = sourceSystem
        self.orderedFields = Self.ordered(fields)
    }

    public static func == (lhs: RecordMapping, rhs: RecordMapping) -> Bool {
        lhs.fields == rhs.fields && lhs.sourceSystem == rhs.sourceSystem
    }

    public func map(_ record: JSONValue, context: PullContext) -> PulledRecord {
        // Built member by member with keys computed once: a dictionary literal and a copy of each
        // field's rule per record were a third of mapping's cost.
        var output = JSONObject()
        output.reserveCapacity(3 + orderedFields.count)
        output.updateValue(.string(context.province), forKey: "province", nameKey: Self.provinceKey)
        output.updateValue(.string(sourceSystem), forKey: "source_system", nameKey: Self.sourceSystemKey)
        output.updateValue(.string(context.collectedAtText), forKey: "collected_at", nameKey: Self.collectedAtKey)
        var reasons: [QuarantineReason] = []
        for field in orderedFields {
            switch extract(field, from: record) {
            case .success(let value?): output.updateValue(value, forKey: field.name, nameKey: field.nameKey)
            case .success(nil):
                if !field.rule.optional {
                    reasons.append(.init(
                        pointer: "/\(field.name)", rule: "mapping.missing",
                        message: "the source record has no value for \(field.name) at \(Self.describe(field.rule.origin))"))
                }
            case .failure(let message):
                reasons.append(.init(pointer: "/\(field.name)", rule: "mapping.\(field.rule.type == .period ? "period" : "convert")", message: message))
            }
        }
        return reasons.isEmpty ? .mapped(.object(output)) : .failed(record: record, reasons: reasons)
    }

    enum Extracted {
        case success(JSONValue?)
        case failure(String)
    }

    /// Reads the rule where the field holds it: passed by value, the rule (its path, lookup table
    /// and strings) was copied for every field of every record.
    private func extract(_ field: OrderedField, from record: JSONValue) -> Extracted {
        let raw: JSONValue
        switch field.rule.origin {
        case .constant(let text): raw = .string(text)
        case .path(let path):
            guard let found = path.select(in: record) else { return .success(nil) }
            if case .null = found { return .success(nil) }
            raw = found
        }
        if field.rule.lookup == nil {
            // The common cases need no text form of the value.
            switch (field.rule.type, raw) {
            case (.number, .number(let n)): return .success(.number(n * (field.rule.scale ?? 1)))
            case (.string, .string): return .success(raw)
            default: break
            }
        }
        var text: String?
        switch raw {
        case .string(let s): text = s
        case .number(let n): text = n.rounded() == n && abs(n) < 1e15 ? String(Int64(n)) : String(n)
        case .bool(let b): text = String(b)
        default: text = nil
        }
        if let lookup = field.rule.lookup, let key = text {
            if let mapped = lookup[key] {
                text = mapped
            } else if !field.rule.keepUnmatched {
                return .failure("\"\(key)\" has no entry in the lookup table")
            }
        }
        switch field.rule.type {
        case .string:
            guard let text else { return .failure("expected text, found \(raw.kindName)") }
            return .success(.string(text))
        case .number:
            var number: Double?
            if case .number(let n) = raw, field.rule.lookup == nil { number = n } else if let text { number = NumberParsing.parse(text) }
            guard let number else { return .failure("\(Self.show(raw)) is not a number") }
            return .success(.number(number * (field.rule.scale ?? 1)))
        case .period:
            guard let text, let period = PeriodNormalizer.normalize(text) else {
                return .failure("\(Self.show(raw)) is not a recognised period (2025, 6 tháng đầu năm 2025, Quý 3/2025, Q3-2025, 11/2025)")
            }
            return .success(.string(period))
        }
    }

    static func describe(_ origin: FieldRule.Origin) -> String {
        switch origin {
        case .path(let path): path.description
        case .constant(let text): "constant \(text)"
        }
    }

    static func show(_ value: JSONValue) -> String {
        (try? value.canonicalData()).map { String(decoding: $0, as: UTF8.self) } ?? value.kindName
    }
}

/// Numbers as Vietnamese sources write them: `37,87`, `1.234,5`, and plain `1234.5`.
public enum NumberParsing {
    /// Works on the UTF-8 bytes: Foundation's trimming and replacing bridge through NSString and
    /// were most of the cost of mapping a record whose figures are written `37,87`. The bytes are
    /// cleaned in a buffer on the stack: arrays here cost two allocations per figure.
    public static func parse(_ text: String) -> Double? {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: text.utf8.count) { bytes in
            var count = 0
            var commas = 0, dots = 0, lastComma = -1, lastDot = -1
            for byte in text.utf8 where byte != UInt8(ascii: "%") {
                if byte == UInt8(ascii: ",") { commas += 1; lastComma = count }
                if byte == UInt8(ascii: ".") { dots += 1; lastDot = count }
                bytes[count] = byte
                count += 1
            }
            // Spaces, tabs and no-break spaces (U+00A0, as spreadsheets write them) around the figure.
            func isSpace(at index: Int) -> Int {
                if bytes[index] == 0x20 || bytes[index] == 0x09 { return 1 }
                if bytes[index] == 0xA0, index > 0, bytes[index - 1] == 0xC2 { return 2 }
                if bytes[index] == 0xC2, index + 1 < count, bytes[index + 1] == 0xA0 { return 2 }
                return 0
            }
            var start = 0, end = count
            while start < end, case let width = isSpace(at: start), width > 0 { start += width }
            while end > start, case let width = isSpace(at: end - 1), width > 0 { end -= width }
            if commas > 0 && dots > 0 {
                // The later of the two separators is the decimal one; the other groups thousands.
                let (grouping, decimal) = lastComma > lastDot ? (UInt8(ascii: "."), UInt8(ascii: ",")) : (UInt8(ascii: ","), UInt8(ascii: "."))
                var kept = start
                for index in start..<end where bytes[index] != grouping {
                    bytes[kept] = bytes[index] == decimal ? UInt8(ascii: ".") : bytes[index]
                    kept += 1
                }
                end = kept
            } else if commas > 0 {
                for index in start..<end where bytes[index] == UInt8(ascii: ",") { bytes[index] = UInt8(ascii: ".") }
            }
            let figure = UnsafeBufferPointer(rebasing: bytes[start..<end])
            guard !figure.isEmpty, figure.allSatisfy({ $0 < 0x80 }), let value = Double(String(decoding: figure, as: UTF8.self)), value.isFinite else {
                return nil
            }
            return value
        }
    }
}

/// Turns the period forms provincial systems use into the contract's forms.
public enum PeriodNormalizer {
    /// `Quý 3/2025`, `Q3-2025`, `Q3/2025`, `2025-Q3` → `2025-Q3`; `11/2025`, `Tháng 11/2025`, `2025-11` → `2025-11`;
    /// `6 tháng đầu năm 2025`, `H1-2025`, `2025-H1` → `2025-H1`; `Năm 2025`, `2025` → `2025`.
    public static func normalize(_ text: String) -> String? {
        // Already in the contract's form: no trimming or case mapping needed.
        if ReportingPeriod(text) != nil { return text }
        // A source writes its few periods the same way on every record, and reading a typed form
        // (case mapping, grapheme splitting) was most of the cost of mapping a record; answers are
        // kept for the texts seen first, up to a bound, so a source of odd texts costs no memory.
        if let known = remembered.withLock({ $0[text] }) { return known }
        let answer = read(text)
        remembered.withLock { if $0.count < rememberedLimit { $0[text] = answer } }
        return answer
    }

    static let rememberedLimit = 4096
    private static let remembered = Mutex<[String: String?]>([:])

    static func read(_ text: String) -> String? {
        let trimmed = text.trimmingHorizontalSpace
        let lowered = trimmed.lowercased()
        if let period = ReportingPeriod(trimmed.uppercased()) { return period.description }
        let numbers = lowered.split { !$0.isNumber }.compactMap { Int($0) }
        let year = numbers.first { $0 >= 1900 && $0 <= 2200 }
        guard let year else { return nil }
        let others = numbers.filter { $0 != year || numbers.filter { $0 == year }.count > 1 }
        func build(_ text: String) -> String? { ReportingPeriod(text)?.description }
        if lowered.hasPrefix("quý") || lowered.hasPrefix("quy") || lowered.hasPrefix("q") {
            guard others.count == 1 else { return nil }
            return build("\(year)-Q\(others[0])")
        }
        if lowered.contains("6 tháng đầu") || lowered.hasPrefix("h1") { return build("\(year)-H1") }
        if lowered.contains("6 tháng cuối") || lowered.hasPrefix("h2") { return build("\(year)-H2") }
        if lowered.hasPrefix("năm") || lowered.hasPrefix("nam") {
            return others.isEmpty ? build(String(year)) : nil
        }
        if lowered.hasPrefix("tháng") || lowered.first?.isNumber == true {
            guard others.count == 1, lowered.contains("/") || lowered.contains("-") else { return nil }
            return build(String(format: "%04d-%02d", year, others[0]))
        }
        return nil
    }
}

extension String {
    /// Without the spaces and tabs at either end (what `CharacterSet.whitespaces` holds: tab and
    /// Unicode's space separators), without bridging to NSString.
    var trimmingHorizontalSpace: String {
        let scalars = unicodeScalars
        func isSpace(_ scalar: Unicode.Scalar) -> Bool { scalar == "\t" || scalar.properties.generalCategory == .spaceSeparator }
        guard let first = scalars.firstIndex(where: { !isSpace($0) }), let last = scalars.lastIndex(where: { !isSpace($0) }) else { return "" }
        if first == scalars.startIndex, last == scalars.index(before: scalars.endIndex) { return self }
        return String(scalars[first...last])
    }
}
