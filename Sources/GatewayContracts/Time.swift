import Foundation

/// RFC 3339 timestamps, the only form of time on the wire.
public enum Timestamps {
    /// Parses `2025-10-05T08:00:00+07:00`, `…Z`, with or without fractional seconds.
    public static func parse(_ text: String) -> Date? {
        let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        let plain = Date.ISO8601FormatStyle()
        if let date = try? plain.parse(text) { return date }
        return try? withFraction.parse(text)
    }

    /// Formats in UTC with millisecond precision, e.g. `2026-11-22T04:00:00.000Z`.
    public static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}

/// Reporting periods as the contracts write them: `2025`, `2025-H1`, `2025-Q3`, `2025-11`.
public struct ReportingPeriod: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case year, half, quarter, month
    }

    public let kind: Kind
    public let year: Int
    /// 1 for a year, 1–2 for a half, 1–4 for a quarter, 1–12 for a month.
    public let index: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard let first = parts.first, first.count == 4, let year = Int(first), year >= 1900, year <= 2200 else { return nil }
        self.year = year
        switch parts.count {
        case 1:
            kind = .year
            index = 1
        case 2:
            let rest = parts[1]
            if rest.hasPrefix("H"), let n = Int(rest.dropFirst()), rest.count == 2, (1...2).contains(n) {
                kind = .half
                index = n
            } else if rest.hasPrefix("Q"), let n = Int(rest.dropFirst()), rest.count == 2, (1...4).contains(n) {
                kind = .quarter
                index = n
            } else if rest.count == 2, let n = Int(rest), (1...12).contains(n) {
                kind = .month
                index = n
            } else {
                return nil
            }
        default:
            return nil
        }
    }

    public var description: String {
        switch kind {
        case .year: String(year)
        case .half: "\(year)-H\(index)"
        case .quarter: "\(year)-Q\(index)"
        case .month: "\(year)-\(Self.twoDigits(index))"
        }
    }

    /// `String(format:)` goes through Foundation's formatter, and these are built per observation;
    /// years are 1900–2200, so only months need padding.
    static func twoDigits(_ number: Int) -> String { number < 10 ? "0\(number)" : String(number) }

    /// The first and last month (1–12) the period covers.
    public var months: ClosedRange<Int> {
        switch kind {
        case .year: 1...12
        case .half: (index - 1) * 6 + 1...index * 6
        case .quarter: (index - 1) * 3 + 1...index * 3
        case .month: index...index
        }
    }

    /// The first day of the period, as `yyyy-mm-dd`, for comparing with validity dates.
    public var startDay: String { "\(year)-\(Self.twoDigits(months.lowerBound))-01" }
    /// The last month of the period, as `yyyy-mm`, for comparing with validity dates.
    public var endMonth: String { "\(year)-\(Self.twoDigits(months.upperBound))" }
}

enum PeriodCalendar {
    static func parseDate(_ text: String) -> (Int, Int, Int)? {
        let parts = text.split(separator: "-")
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]), (1...12).contains(m)
        else { return nil }
        let days = [31, (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard (1...days[m - 1]).contains(d) else { return nil }
        return (y, m, d)
    }
}
