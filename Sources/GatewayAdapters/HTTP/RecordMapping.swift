import Foundation
import GatewayContracts
import Synchronization
import GatewayJSON

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
                guard let close = rest.firstIndex(of: "]"), let index = Int(rest[rest.index(after: rest.startIndex)..<close]), index >= 0
                else {
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
    /// Source values whose records are skipped, counted but neither sent nor quarantined: codes
    /// the department has not agreed to report.
    public var skip: Set<String> = []
    /// A value the lookup has no entry for is skipped too (`unmatched: skip`).
    public var skipUnmatched = false
    /// Multiplies numbers, for unit conversion (e.g. 100 for a fraction to a percentage).
    public var scale: Double?
    public var optional: Bool

    public init(
        origin: Origin, type: ValueType, lookup: [String: String]? = nil, keepUnmatched: Bool = false, scale: Double? = nil,
        optional: Bool = false
    ) {
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
    /// How the source writes the separators of figures given as text.
    public var numberFormat: NumberFormat
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

    /// For a wide record (one row, one column per indicator): the observations it makes, each the
    /// shared `fields` with its own written over them. Empty: one observation per record.
    public private(set) var perRecord: [RecordMapping] = []

    public init(fields: [String: FieldRule], sourceSystem: String, numberFormat: NumberFormat = .inferred) {
        self.fields = fields
        self.sourceSystem = sourceSystem
        self.numberFormat = numberFormat
        self.orderedFields = Self.ordered(fields)
    }

    /// A wide record's mapping: `shared` for every observation, and one set of fields per observation.
    public init(
        shared: [String: FieldRule], observations: [[String: FieldRule]], sourceSystem: String, numberFormat: NumberFormat = .inferred
    ) {
        self.init(fields: shared, sourceSystem: sourceSystem, numberFormat: numberFormat)
        perRecord = observations.map {
            RecordMapping(fields: shared.merging($0) { $1 }, sourceSystem: sourceSystem, numberFormat: numberFormat)
        }
    }

    public static func == (lhs: RecordMapping, rhs: RecordMapping) -> Bool {
        lhs.fields == rhs.fields && lhs.sourceSystem == rhs.sourceSystem && lhs.numberFormat == rhs.numberFormat
            && lhs.perRecord == rhs.perRecord
    }

    /// Every observation `record` makes: one, or one per entry of a wide mapping, each mapped,
    /// skipped or failed on its own.
    public func mapAll(_ record: JSONValue, context: PullContext) -> [PulledRecord] {
        perRecord.isEmpty ? [map(record, context: context)] : perRecord.map { $0.map(record, context: context) }
    }

    static let percentUnit = JSONValue.string("percent")

    public func map(_ record: JSONValue, context: PullContext) -> PulledRecord {
        // Built member by member with keys computed once: a dictionary literal and a copy of each
        // field's rule per record were a third of mapping's cost.
        var output = JSONObject()
        output.reserveCapacity(3 + orderedFields.count)
        output.updateValue(.string(context.province), forKey: "province", nameKey: Self.provinceKey)
        output.updateValue(.string(sourceSystem), forKey: "source_system", nameKey: Self.sourceSystemKey)
        output.updateValue(.string(context.collectedAtText), forKey: "collected_at", nameKey: Self.collectedAtKey)
        var reasons: [QuarantineReason] = []
        var percentSigns: [(field: OrderedField, raw: JSONValue)] = []
        for field in orderedFields {
            switch extract(field, from: record) {
            case .skip(let value): return .skipped(field: field.name, value: value)
            case .success(let value?): output.updateValue(value, forKey: field.name, nameKey: field.nameKey)
            case .percentage(let value, let raw):
                output.updateValue(value, forKey: field.name, nameKey: field.nameKey)
                percentSigns.append((field, raw))
            case .success(nil):
                if !field.rule.optional {
                    reasons.append(
                        .init(
                            pointer: "/\(field.name)", rule: "mapping.missing",
                            message: "the source record has no value for \(field.name) at \(Self.describe(field.rule.origin))"))
                }
            case .failure(let message):
                reasons.append(
                    .init(pointer: "/\(field.name)", rule: "mapping.\(field.rule.type == .period ? "period" : "convert")", message: message)
                )
            }
        }
        // A percent sign is a unit, and only a percentage's value may carry it: `45%` read as 45
        // beside a unit of `households` would be signed as a count.
        for (field, raw) in percentSigns where field.name != "value" || output["unit"] != Self.percentUnit {
            reasons.append(
                .init(
                    pointer: "/\(field.name)", rule: "mapping.convert",
                    message:
                        "\(Self.show(raw)) carries a percent sign, but \(field.name == "value" ? "the unit is \(output["unit"].map(Self.show) ?? "not given"), not percent" : "only a percentage's value may")"
                ))
        }
        return reasons.isEmpty ? .mapped(.object(output), source: record) : .failed(record: record, reasons: reasons)
    }

    enum Extracted {
        case success(JSONValue?)
        /// A figure written with a trailing `%`, read from `raw`.
        case percentage(JSONValue, raw: JSONValue)
        case failure(String)
        /// A value the rule says to skip the record for.
        case skip(String)
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
        if field.rule.lookup == nil && field.rule.skip.isEmpty {
            // The common cases need no text form of the value.
            switch (field.rule.type, raw) {
            case (.number, .number(let n)): return Self.scaled(n, by: field.rule.scale, raw: raw)
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
        if let key = text, field.rule.skip.contains(key) { return .skip(key) }
        if let lookup = field.rule.lookup, let key = text {
            if let mapped = lookup[key] {
                text = mapped
            } else if field.rule.skipUnmatched {
                return .skip(key)
            } else if !field.rule.keepUnmatched {
                return .failure("\"\(key)\" has no entry in the lookup table")
            }
        }
        switch field.rule.type {
        case .string:
            guard let text else { return .failure("expected text, found \(raw.kindName)") }
            return .success(.string(text))
        case .number:
            if case .number(let n) = raw, field.rule.lookup == nil { return Self.scaled(n, by: field.rule.scale, raw: raw) }
            guard let text, let parsed = NumberParsing.parse(text, format: numberFormat) else {
                return .failure("\(Self.show(raw)) is not a number as this source writes them (\(numberFormat.example))")
            }
            let scaled = Self.scaled(parsed.value, by: field.rule.scale, raw: raw)
            guard parsed.percent, case .success(let number?) = scaled else { return scaled }
            return .percentage(number, raw: raw)
        case .period:
            guard let text, let period = PeriodNormalizer.normalize(text) else {
                return .failure("\(Self.show(raw)) is not a recognised period (2025, 6 tháng đầu năm 2025, Quý 3/2025, Q3-2025, 11/2025)")
            }
            return .success(.string(period))
        }
    }

    /// `value × scale`, unless that leaves the numbers a `Double` holds.
    static func scaled(_ value: Double, by scale: Double?, raw: JSONValue) -> Extracted {
        let scaled = value * (scale ?? 1)
        return scaled.isFinite ? .success(.number(scaled)) : .failure("\(show(raw)) scaled by \(scale ?? 1) is too large to be a figure")
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

/// How a source writes the separators of its figures: declared by the adapter
/// (`response.number_format`), or inferred from each figure.
public enum NumberFormat: String, Sendable, Equatable, CaseIterable {
    /// Vietnamese: `1.234.567,25` (a point groups thousands, a comma is the decimal mark).
    case vietnamese = "vi"
    /// English: `1,234,567.25`.
    case english = "en"
    /// Each figure on its own: with both marks the later one is decimal; with one mark written
    /// once it is decimal (`37,87`, `37.87`); written more than once, it groups (`1.234.567`).
    case inferred = "auto"
}

extension NumberFormat {
    /// How figures look in this format, for messages.
    var example: String {
        switch self {
        case .vietnamese: "number_format vi: 1.234,5 or 37,87"
        case .english: "number_format en: 1,234.5 or 37.87"
        case .inferred: "digits with an optional sign, separators, decimal part, exponent and one trailing %"
        }
    }
}

/// A figure read from a source's text, and whether it carried a trailing `%`.
public struct ParsedNumber: Sendable, Equatable {
    public let value: Double
    public let percent: Bool
}

/// Numbers as provincial sources write them, by one strict grammar:
///
/// ```
/// figure   = *space [ "+" / "-" ] integer [ decimal fraction ] [ exponent ] *space [ "%" ] *space
/// integer  = 1*DIGIT / 1*3DIGIT 1*( group 3DIGIT )       ; groups only as the format allows
/// exponent = ( "e" / "E" ) [ "+" / "-" ] 1*DIGIT
/// ```
///
/// Spaces are ASCII spaces, tabs and no-break spaces (U+00A0, as spreadsheets write them).
/// Anything else is refused: hexadecimal (`0x1Fp1`, which `Double(String)` would read as 62),
/// `inf`, `nan`, two percent signs, letters, digits of other scripts.
public enum NumberParsing {
    public static func parse(_ text: String) -> Double? { parse(text, format: .inferred)?.value }

    /// Works on the UTF-8 bytes in a buffer on the stack: Foundation's trimming and replacing
    /// bridge through NSString, and arrays here cost two allocations per figure.
    public static func parse(_ text: String, format: NumberFormat) -> ParsedNumber? {
        let count = text.utf8.count
        guard count > 0, count <= 64 else { return nil }
        // The text's bytes in the first half, the figure as Swift's parser reads it in the second.
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 2 * count) { buffer -> ParsedNumber? in
            let raw = UnsafeMutableBufferPointer(rebasing: buffer[0..<count])
            let clean = UnsafeMutableBufferPointer(rebasing: buffer[count..<(2 * count)])
            let filled = raw.initialize(fromContentsOf: text.utf8)
            // The figure's bytes without surrounding space and its one trailing percent sign.
            var source = (start: 0, end: 0)
            func spaceWidth(at index: Int, backwards: Bool) -> Int {
                let byte = raw[index]
                if byte == 0x20 || byte == 0x09 { return 1 }
                if backwards, byte == 0xA0, index > 0, raw[index - 1] == 0xC2 { return 2 }
                if !backwards, byte == 0xC2, index + 1 < filled, raw[index + 1] == 0xA0 { return 2 }
                return 0
            }
            source.end = filled
            while source.start < source.end, case let width = spaceWidth(at: source.start, backwards: false), width > 0 {
                source.start += width
            }
            while source.end > source.start, case let width = spaceWidth(at: source.end - 1, backwards: true), width > 0 {
                source.end -= width
            }
            var percent = false
            if source.end > source.start, raw[source.end - 1] == UInt8(ascii: "%") {
                percent = true
                source.end -= 1
                while source.end > source.start, case let width = spaceWidth(at: source.end - 1, backwards: true), width > 0 {
                    source.end -= width
                }
            }
            guard source.end > source.start else { return nil }
            let figure = UnsafeBufferPointer(rebasing: raw[source.start..<source.end])
            guard let (grouping, decimal) = marks(in: figure, format: format) else { return nil }
            // Sign, digits, point and exponent, as Swift's parser reads them.
            var written = 0
            var position = 0
            func digit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
            if figure[position] == UInt8(ascii: "+") || figure[position] == UInt8(ascii: "-") {
                if figure[position] == UInt8(ascii: "-") { clean[written] = UInt8(ascii: "-"); written += 1 }
                position += 1
            }
            // The integer part: plain digits, or groups of three after one to three digits.
            var run = 0, groups = 0, leading = 0
            while position < figure.count {
                let byte = figure[position]
                if digit(byte) {
                    clean[written] = byte
                    written += 1
                    run += 1
                } else if let grouping, byte == grouping {
                    if groups == 0 { leading = run } else if run != 3 { return nil }
                    guard run > 0 else { return nil }
                    groups += 1
                    run = 0
                } else {
                    break
                }
                position += 1
            }
            guard run > 0, groups == 0 || (run == 3 && (1...3).contains(leading)) else { return nil }
            /// Copies the digits from `position` on; whether there was at least one.
            func copyDigits() -> Bool {
                let start = position
                while position < figure.count, digit(figure[position]) {
                    clean[written] = figure[position]
                    written += 1
                    position += 1
                }
                return position > start
            }
            if position < figure.count, let decimal, figure[position] == decimal {
                position += 1
                clean[written] = UInt8(ascii: ".")
                written += 1
                guard copyDigits() else { return nil }
            }
            if position < figure.count, figure[position] | 0x20 == UInt8(ascii: "e") {
                clean[written] = UInt8(ascii: "e")
                written += 1
                position += 1
                if position < figure.count, figure[position] == UInt8(ascii: "+") || figure[position] == UInt8(ascii: "-") {
                    clean[written] = figure[position]
                    written += 1
                    position += 1
                }
                guard copyDigits() else { return nil }
            }
            guard position == figure.count,
                let value = Double(String(decoding: UnsafeBufferPointer(rebasing: clean[0..<written]), as: UTF8.self)), value.isFinite
            else { return nil }
            return ParsedNumber(value: value, percent: percent)
        }
    }

    /// The grouping and decimal marks of `figure` under `format`; nil when its marks cannot be
    /// read under it (an inferred figure with two kinds of mark in the wrong order is still read,
    /// and judged by the grammar).
    static func marks(in figure: UnsafeBufferPointer<UInt8>, format: NumberFormat) -> (grouping: UInt8?, decimal: UInt8?)? {
        let comma = UInt8(ascii: ","), point = UInt8(ascii: ".")
        switch format {
        case .vietnamese: return (point, comma)
        case .english: return (comma, point)
        case .inferred:
            var commas = 0, points = 0, lastComma = -1, lastPoint = -1
            for (index, byte) in figure.enumerated() {
                if byte == comma { commas += 1; lastComma = index }
                if byte == point { points += 1; lastPoint = index }
            }
            switch (commas, points) {
            case (0, 0): return (nil, nil)
            case (_, 0): return commas == 1 ? (nil, comma) : (comma, nil)
            case (0, _): return points == 1 ? (nil, point) : (point, nil)
            default: return lastComma > lastPoint ? (point, comma) : (comma, point)
            }
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
        guard let first = scalars.firstIndex(where: { !isSpace($0) }), let last = scalars.lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        if first == scalars.startIndex, last == scalars.index(before: scalars.endIndex) { return self }
        return String(scalars[first...last])
    }
}
