import Foundation

/// Where a catalogue entry comes from: a seed document and the words it uses.
public struct SourceQuote: Sendable, Hashable, Codable {
    public var seed: String
    public var quote: String
}

/// A target or baseline a province set itself for an indicator.
public struct IndicatorTarget: Sendable, Hashable, Codable {
    public enum Year: Sendable, Hashable, Codable {
        case year(Int)
        case baseline

        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let year = try? container.decode(Int.self) {
                self = .year(year)
            } else if try container.decode(String.self) == "baseline" {
                self = .baseline
            } else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "year must be an integer or \"baseline\"")
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .year(let year): try container.encode(year)
            case .baseline: try container.encode("baseline")
            }
        }
    }

    /// The province's name as the seed writes it, e.g. "Sơn La".
    public var province: String
    public var year: Year
    /// `>=`, `>`, `=`, `<=`, `<`, `range` (with `min` and `max`), `about` (the seeds' "khoảng") or
    /// `top` (in the best `value` provinces, the seeds' "nhóm N tỉnh dẫn đầu").
    public var comparator: String
    public var value: Double?
    public var min: Double?
    public var max: Double?
    public var level: AdministrativeLevel?
    public var source: SourceQuote
    /// What the seed leaves implicit or odd, said rather than guessed (the year of a baseline, a
    /// target the seed gives no year).
    public var note: String?
    /// The year a baseline stands for, as data (from contract 1.2; a span such as 2016–2020 stands
    /// at its end). Nil for a target, and in earlier catalogues, which kept it in `note`.
    public var baselineYear: Int?

    enum CodingKeys: String, CodingKey {
        case province, year, comparator, value, min, max, level, source, note
        case baselineYear = "baseline_year"
    }
}

/// How a ratio indicator is computed from its parts.
public struct RatioDefinition: Sendable, Hashable, Codable {
    public var numerator: String
    public var denominator: String
    /// 100 for a percentage.
    public var scale: Double
    /// How far the reported value may be from numerator / denominator × scale.
    public var tolerance: Double
}

public struct IndicatorDefinition: Sendable, Hashable, Codable {
    public var code: String
    public var nameVI: String
    public var nameEN: String
    public var pillar: String
    public var unit: String
    public var range: ClosedInterval
    public var levels: [AdministrativeLevel]
    public var periodicity: [ReportingPeriod.Kind]
    public var ratio: RatioDefinition?
    public var source: SourceQuote
    public var targets: [IndicatorTarget]
    /// The rhythm the centre requires and when each period is due (from contract 1.2). The
    /// `periodicity` is what may be sent; the rhythm, a part of it, is what must be.
    public var reporting: Reporting?

    public struct Reporting: Sendable, Hashable, Codable {
        public var rhythm: [ReportingPeriod.Kind]
        /// Nil for the catalogue's `reporting_default`.
        public var due: DueRule?
    }

    public struct ClosedInterval: Sendable, Hashable, Codable {
        public var min: Double
        public var max: Double
    }

    enum CodingKeys: String, CodingKey {
        case code
        case nameVI = "name_vi"
        case nameEN = "name_en"
        case pillar, unit, range, levels, periodicity, ratio, source, targets, reporting
    }
}

/// A province in a code list, valid between two dates.
public struct ProvinceEntry: Sendable, Hashable, Codable {
    public var code: String
    public var name: String
    public var validFrom: String?
    /// The first day it is no longer in force.
    public var validTo: String?
    /// The code of the province it became part of, for an entry that ended.
    public var successor: String?
    /// The codes of the provinces it was formed from, for an entry that began.
    public var mergedFrom: [String]?
    public var note: String?

    enum CodingKeys: String, CodingKey {
        case code, name, successor, note
        case validFrom = "valid_from"
        case validTo = "valid_to"
        case mergedFrom = "merged_from"
    }

    /// Whether the entry is in force on `day` (`yyyy-mm-dd`).
    public func isValid(on day: String) -> Bool {
        (validFrom.map { $0 <= day } ?? true) && (validTo.map { day < $0 } ?? true)
    }
}

/// The indicator catalogue: what may be reported, in which units, ranges and levels.
public struct IndicatorCatalogue: Sendable, Codable {
    public var catalogueVersion: String
    public var indicators: [IndicatorDefinition]
    public var provinces: [ProvinceEntry]
    /// When figures are due where an indicator does not say (from contract 1.2).
    public var reportingDefault: DueRule?

    enum CodingKeys: String, CodingKey {
        case catalogueVersion = "catalogue_version"
        case reportingDefault = "reporting_default"
        case indicators, provinces
    }

    public func indicator(_ code: String) -> IndicatorDefinition? { indicators.first { $0.code == code } }

    /// The province entry with `code` in force on `day` (`yyyy-mm-dd`).
    public func province(_ code: String, on day: String) -> ProvinceEntry? {
        provinces.first { $0.code == code && $0.isValid(on: day) }
    }

    /// The code under which a series reported under `code` on `day` continues on `later`: a series
    /// of Hòa Bình (17) in 2024 continues under Phú Thọ (25) from July 2025. Nil if `code` was not
    /// in force on `day`.
    public func continuation(of code: String, from day: String, to later: String) -> String? {
        guard var entry = province(code, on: day) else { return nil }
        while !entry.isValid(on: later) {
            guard let successor = entry.successor, let validTo = entry.validTo, let next = province(successor, on: validTo) else {
                return nil
            }
            entry = next
        }
        return entry.code
    }
}
