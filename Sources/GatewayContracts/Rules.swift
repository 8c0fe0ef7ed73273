import Foundation

/// Why a record was quarantined: the field (as a JSON Pointer into the observation), the rule
/// that failed, and a sentence for the operator.
public struct QuarantineReason: Sendable, Hashable, Codable, CustomStringConvertible {
    public var pointer: String
    public var rule: String
    public var message: String

    public init(pointer: String, rule: String, message: String) {
        self.pointer = pointer
        self.rule = rule
        self.message = message
    }

    public var description: String { "\(pointer.isEmpty ? "/" : pointer): \(message) (\(rule))" }
}

/// Checks that JSON Schema cannot express: those that need the catalogue, the calendar, or
/// arithmetic between fields. Each rule has a stable name so quarantine reasons can be counted.
public struct SemanticRules: Sendable {
    /// The day district-level government ended (Resolution 202/2025/QH15).
    public static let districtAbolishedOn = "2025-07-01"

    public let catalogue: IndicatorCatalogue
    /// The province this gateway reports for.
    public let province: String

    /// The catalogue's indicators and provinces by code, built once per set of rules: a search
    /// of the catalogue's arrays copied every definition it passed (its strings, levels, targets)
    /// for every observation, most of the cost of these rules.
    private let indicatorsByCode: [String: IndexedIndicator]
    private let provincesByCode: [String: [ProvinceEntry]]

    /// What the rules read of a definition, held once and read in place.
    private final class IndexedIndicator: Sendable {
        let code: String
        let unit: String
        let range: IndicatorDefinition.ClosedInterval
        let levels: [AdministrativeLevel]
        let periodicity: [ReportingPeriod.Kind]
        let ratio: RatioDefinition?

        init(_ definition: IndicatorDefinition) {
            (code, unit, range, levels) = (definition.code, definition.unit, definition.range, definition.levels)
            (periodicity, ratio) = (definition.periodicity, definition.ratio)
        }
    }

    public init(catalogue: IndicatorCatalogue, province: String) {
        self.catalogue = catalogue
        self.province = province
        // The first definition of a code wins, as `catalogue.indicator(_:)` finds it.
        indicatorsByCode = Dictionary(catalogue.indicators.map { ($0.code, IndexedIndicator($0)) }, uniquingKeysWith: { first, _ in first })
        provincesByCode = Dictionary(grouping: catalogue.provinces, by: \.code)
    }

    public func check(_ observation: Observation) -> [QuarantineReason] {
        var reasons: [QuarantineReason] = []
        func fail(_ pointer: String, _ rule: String, _ message: String) {
            reasons.append(.init(pointer: pointer, rule: rule, message: message))
        }

        // Identifiers are signed and shown to people: a NUL or an escape sequence in one would be
        // signed into the payload, end C strings early and reach terminals and log viewers raw.
        // Only the free-text ones are scanned: indicator, province, area, period and unit must
        // match the catalogue or the province's code list, which no control character does.
        func controlFree(_ field: String, _ text: String) {
            guard let control = Self.firstControlCharacter(in: text) else { return }
            fail(
                "/" + field, "identifier.control-character",
                "\(field) holds the control character U+\(String(format: "%04X", control)); identifiers in a signed report may not")
        }
        controlFree("source_system", observation.sourceSystem)
        if let id = observation.sourceRecordID { controlFree("source_record_id", id) }
        if observation.province != province {
            fail("/province", "province.matches-gateway", "province \(observation.province) is not this gateway's province \(province)")
        }
        let period = ReportingPeriod(observation.period)
        if period == nil {
            fail(
                "/period", "period.format",
                "period \"\(observation.period)\" is not a year, half, quarter or month (2025, 2025-H1, 2025-Q3, 2025-11)")
        }
        if let period {
            let startDay = period.startDay
            let provinceInForce = provincesByCode[observation.province]?.contains { $0.isValid(on: startDay) } ?? false
            if !provinceInForce {
                fail(
                    "/province", "province.in-force",
                    "province code \(observation.province) is not in the code list in force on \(startDay)")
            }
            if observation.level == .district, startDay >= Self.districtAbolishedOn {
                fail(
                    "/level", "level.district-abolished",
                    "district level does not exist for periods from \(Self.districtAbolishedOn) (Resolution 202/2025/QH15)")
            }
        }
        switch observation.level {
        case .province where observation.area != observation.province:
            fail(
                "/area", "area.matches-level",
                "a province-level figure must have the province code \(observation.province) as its area, not \(observation.area)")
        case .district where !Self.isDigits(observation.area, count: 3):
            fail("/area", "area.matches-level", "district code \(observation.area) must have 3 digits")
        case .commune where !Self.isDigits(observation.area, count: 5):
            fail("/area", "area.matches-level", "commune code \(observation.area) must have 5 digits")
        default:
            break
        }

        if let numerator = observation.numerator, let denominator = observation.denominator {
            if denominator <= 0 {
                fail("/denominator", "ratio.denominator-positive", "denominator \(Self.show(denominator)) must be greater than 0")
            } else if numerator > denominator {
                fail(
                    "/numerator", "ratio.numerator-le-denominator",
                    "numerator \(Self.show(numerator)) is greater than denominator \(Self.show(denominator))")
            }
        }

        guard let indexed = indicatorsByCode[observation.indicator] else {
            fail(
                "/indicator", "indicator.known", "indicator \"\(observation.indicator)\" is not in catalogue \(catalogue.catalogueVersion)")
            return reasons
        }
        return check(observation, period: period, against: indexed, reasons: reasons)
    }

    /// The checks against the observation's indicator, reading its definition where it is held.
    private func check(
        _ observation: Observation, period: ReportingPeriod?, against indicator: IndexedIndicator, reasons: [QuarantineReason]
    ) -> [QuarantineReason] {
        var reasons = reasons
        func fail(_ pointer: String, _ rule: String, _ message: String) {
            reasons.append(.init(pointer: pointer, rule: rule, message: message))
        }
        if observation.unit != indicator.unit {
            fail("/unit", "indicator.unit", "unit \"\(observation.unit)\" is not the indicator's unit \"\(indicator.unit)\"")
        }
        if observation.value < indicator.range.min || observation.value > indicator.range.max {
            fail(
                "/value", "indicator.range",
                "value \(Self.show(observation.value)) is outside \(indicator.code)'s range \(Self.show(indicator.range.min))–\(Self.show(indicator.range.max))"
            )
        }
        if !indicator.levels.contains(observation.level) {
            fail(
                "/level", "indicator.level",
                "\(indicator.code) is not reported at \(observation.level.rawValue) level (allowed: \(indicator.levels.map(\.rawValue).joined(separator: ", ")))"
            )
        }
        if let period, !indicator.periodicity.contains(period.kind) {
            fail(
                "/period", "indicator.periodicity",
                "\(indicator.code) is not reported by \(period.kind.rawValue) (allowed: \(indicator.periodicity.map(\.rawValue).joined(separator: ", ")))"
            )
        }
        if let ratio = indicator.ratio, let numerator = observation.numerator, let denominator = observation.denominator,
            denominator > 0, numerator <= denominator
        {
            let expected = numerator / denominator * ratio.scale
            if abs(expected - observation.value) > ratio.tolerance {
                fail(
                    "/value", "ratio.value-matches",
                    "value \(Self.show(observation.value)) differs from numerator/denominator = \(Self.show((expected * 100).rounded() / 100)) by more than \(Self.show(ratio.tolerance))"
                )
            }
        }
        return reasons
    }

    /// The first C0 or C1 control character (or DEL) in `text`, read as bytes: C1 controls are
    /// U+0080–U+009F, two bytes in UTF-8 starting 0xC2.
    public static func firstControlCharacter(in text: String) -> UInt32? {
        var afterC2 = false
        for byte in text.utf8 {
            if byte < 0x20 || byte == 0x7F { return UInt32(byte) }
            if afterC2, (0x80...0x9F).contains(byte) { return UInt32(byte) }
            afterC2 = byte == 0xC2
        }
        return nil
    }

    /// Exactly `count` ASCII digits. Read as bytes: counting and classifying `Character`s (grapheme
    /// breaking, Unicode numeric properties) was 2% of the pipeline's CPU for an area code.
    static func isDigits(_ text: String, count: Int) -> Bool {
        text.utf8.count == count && text.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }

    public static func show(_ number: Double) -> String {
        number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number)
    }
}
