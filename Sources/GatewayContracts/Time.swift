import Foundation

/// RFC 3339 timestamps, the only form of time on the wire.
public enum Timestamps {
    /// Parses `2025-10-05T08:00:00+07:00`, `…Z`, with or without fractional seconds.
    public static func parse(_ text: String) -> Date? {
        var text = text
        if let date = text.withUTF8({ parseStrict($0) }) { return date }
        if let date = try? plain.parse(text) { return date }
        return try? withFraction.parse(text)
    }

    /// `yyyy-mm-ddThh:mm:ss[.fraction](Z|±hh:mm)`, the form sources and the gateway write, read
    /// from the bytes; anything else (a leap second, another spelling) is left to Foundation's
    /// styles. A pull reads one timestamp per record for its cursor, and Foundation's parse was
    /// a microsecond each, on one core while the others waited.
    static func parseStrict(_ bytes: UnsafeBufferPointer<UInt8>) -> Date? {
        guard bytes.count >= 20 else { return nil }
        func number(_ start: Int, _ count: Int) -> Int? {
            var value = 0
            for position in start..<start + count {
                let digit = Int(bytes[position]) - 48
                guard (0...9).contains(digit) else { return nil }
                value = value * 10 + digit
            }
            return value
        }
        guard bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T"),
            bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
            let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
            let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
            (1...12).contains(month), hour < 24, minute < 60, second < 60,
            PeriodCalendar.validDate(year: year, month: month, day: day) != nil
        else { return nil }
        var position = 19
        var fraction = 0.0
        if bytes[position] == UInt8(ascii: ".") {
            position += 1
            var scale = 0.1
            let digitsStart = position
            while position < bytes.count, case let digit = Int(bytes[position]) - 48, (0...9).contains(digit) {
                fraction += Double(digit) * scale
                scale /= 10
                position += 1
            }
            guard position > digitsStart else { return nil }
        }
        guard position < bytes.count else { return nil }
        var offset = 0
        switch bytes[position] {
        case UInt8(ascii: "Z"):
            position += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard position + 6 == bytes.count, bytes[position + 3] == UInt8(ascii: ":"),
                let hours = number(position + 1, 2), let minutes = number(position + 4, 2), hours < 24, minutes < 60
            else { return nil }
            offset = (hours * 60 + minutes) * 60 * (bytes[position] == UInt8(ascii: "-") ? -1 : 1)
            position += 6
        default:
            return nil
        }
        guard position == bytes.count else { return nil }
        let seconds = daysFromCivil(year: year, month: month, day: day) * 86_400 + hour * 3_600 + minute * 60 + second - offset
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    // Made once: building a style was a quarter of parsing, and a pull parses one per record.
    private static let plain = Date.ISO8601FormatStyle()
    private static let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

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

    /// Reads the UTF-8 bytes: split into substrings and `Int(_:)` was a twentieth of checking an
    /// observation, and the forms are all ASCII digits and `-`, `H`, `Q`.
    public init?(_ text: String) {
        var text = text
        guard let (kind, year, index) = text.withUTF8({ Self.parse($0) }) else { return nil }
        (self.kind, self.year, self.index) = (kind, year, index)
    }

    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> (Kind, Int, Int)? {
        func digit(_ position: Int) -> Int? {
            let value = Int(bytes[position]) - 48
            return (0...9).contains(value) ? value : nil
        }
        guard bytes.count == 4 || bytes.count == 7, let a = digit(0), let b = digit(1), let c = digit(2), let d = digit(3) else {
            return nil
        }
        let year = a * 1000 + b * 100 + c * 10 + d
        guard (1900...2200).contains(year) else { return nil }
        if bytes.count == 4 { return (.year, year, 1) }
        guard bytes[4] == UInt8(ascii: "-"), let last = digit(6) else { return nil }
        switch bytes[5] {
        case UInt8(ascii: "H") where (1...2).contains(last): return (.half, year, last)
        case UInt8(ascii: "Q") where (1...4).contains(last): return (.quarter, year, last)
        case UInt8(ascii: "0")...UInt8(ascii: "1"):
            let month = Int(bytes[5] - 48) * 10 + last
            return (1...12).contains(month) ? (.month, year, month) : nil
        default: return nil
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
            let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2])
        else { return nil }
        return validDate(year: y, month: m, day: d)
    }

    /// The date when it exists in the Gregorian calendar.
    static func validDate(year: Int, month: Int, day: Int) -> (Int, Int, Int)? {
        guard (1...12).contains(month) else { return nil }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days =
            switch month {
            case 2: leap ? 29 : 28
            case 4, 6, 9, 11: 30
            default: 31
            }
        guard (1...days).contains(day) else { return nil }
        return (year, month, day)
    }
}
