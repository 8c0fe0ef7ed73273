import Foundation

/// HTTP-date (RFC 9110 §5.6.7), read strictly from the bytes a peer sent.
///
/// A recipient must accept all three forms:
///
/// | form | example |
/// |---|---|
/// | IMF-fixdate (preferred) | `Sun, 06 Nov 1994 08:49:37 GMT` |
/// | RFC 850 (obsolete) | `Sunday, 06-Nov-94 08:49:37 GMT` |
/// | asctime (obsolete) | `Sun Nov  6 08:49:37 1994` |
///
/// Written by hand rather than with `DateFormatter`, whose reading depends on ICU's leniency and
/// the process locale, and which costs an allocation-heavy formatter per call; this one is a
/// pure function of the bytes, which is also what the fuzzer exercises.
public enum HTTPDate {
    /// The longest text any of the three forms can take; longer input is refused unread.
    static let maximumLength = 40

    public static func parse(_ text: some StringProtocol, now: Date = Date()) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count <= maximumLength else { return nil }
        var reader = Reader(bytes: bytes)
        guard let dayName = reader.letters() else { return nil }
        if reader.take(UInt8(ascii: ",")) {
            guard reader.take(UInt8(ascii: " ")) else { return nil }
            if dayName.count == 3, shortDays.contains(dayName) { return imfFixdate(&reader) }
            if longDays.contains(dayName) { return rfc850(&reader, now: now) }
            return nil
        }
        guard shortDays.contains(dayName), reader.take(UInt8(ascii: " ")) else { return nil }
        return asctime(&reader)
    }

    /// `06 Nov 1994 08:49:37 GMT`, after the day name and comma.
    private static func imfFixdate(_ reader: inout Reader) -> Date? {
        guard let day = reader.digits(exactly: 2), reader.take(UInt8(ascii: " ")), let month = reader.month(),
            reader.take(UInt8(ascii: " ")), let year = reader.digits(exactly: 4), reader.take(UInt8(ascii: " ")),
            let time = reader.time(), reader.take(Array(" GMT".utf8)), reader.atEnd
        else { return nil }
        return date(year: year, month: month, day: day, time: time)
    }

    /// `06-Nov-94 08:49:37 GMT`, after the day name and comma. A two-digit year that would be more
    /// than 50 years ahead is the most recent past year with those digits (RFC 9110 §5.6.7).
    private static func rfc850(_ reader: inout Reader, now: Date) -> Date? {
        guard let day = reader.digits(exactly: 2), reader.take(UInt8(ascii: "-")), let month = reader.month(),
            reader.take(UInt8(ascii: "-")), let shortYear = reader.digits(exactly: 2), reader.take(UInt8(ascii: " ")),
            let time = reader.time(), reader.take(Array(" GMT".utf8)), reader.atEnd
        else { return nil }
        let thisYear = Int((now.timeIntervalSince1970 / 31_556_952).rounded(.down)) + 1970
        var year = thisYear - thisYear % 100 + shortYear
        if year > thisYear + 50 { year -= 100 }
        return date(year: year, month: month, day: day, time: time)
    }

    /// `Nov  6 08:49:37 1994`, after the day name: the day is padded with a space, not a zero.
    private static func asctime(_ reader: inout Reader) -> Date? {
        guard let month = reader.month(), reader.take(UInt8(ascii: " ")) else { return nil }
        let day: Int
        if reader.take(UInt8(ascii: " ")) {
            guard let digit = reader.digits(exactly: 1) else { return nil }
            day = digit
        } else {
            guard let digits = reader.digits(exactly: 2) else { return nil }
            day = digits
        }
        guard reader.take(UInt8(ascii: " ")), let time = reader.time(), reader.take(UInt8(ascii: " ")),
            let year = reader.digits(exactly: 4), reader.atEnd
        else { return nil }
        return date(year: year, month: month, day: day, time: time)
    }

    private static func date(year: Int, month: Int, day: Int, time: (hour: Int, minute: Int, second: Int)) -> Date? {
        guard (1...daysIn(month: month, year: year)).contains(day), time.hour < 24, time.minute < 60, time.second <= 60 else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        return Date(timeIntervalSince1970: TimeInterval(days * 86_400 + time.hour * 3600 + time.minute * 60 + time.second))
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant, "chrono-Compatible
    /// Low-Level Date Algorithms", days_from_civil).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    private static let shortDays: Set<[UInt8]> = Set(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].map { Array($0.utf8) })
    private static let longDays: Set<[UInt8]> = Set(
        ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"].map { Array($0.utf8) })
    private static let months: [[UInt8]] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"].map {
        Array($0.utf8)
    }

    private struct Reader {
        let bytes: [UInt8]
        var position = 0

        var atEnd: Bool { position == bytes.count }

        mutating func take(_ byte: UInt8) -> Bool {
            guard position < bytes.count, bytes[position] == byte else { return false }
            position += 1
            return true
        }

        mutating func take(_ expected: [UInt8]) -> Bool {
            guard bytes[position...].starts(with: expected) else { return false }
            position += expected.count
            return true
        }

        mutating func letters() -> [UInt8]? {
            let start = position
            while position < bytes.count, (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(bytes[position] & 0xDF), bytes[position] < 0x80 {
                position += 1
            }
            return position > start ? Array(bytes[start..<position]) : nil
        }

        mutating func digits(exactly count: Int) -> Int? {
            guard position + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[position..<position + count] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            position += count
            return value
        }

        /// A month's three-letter name, case-sensitive as the grammar has it, as 1 to 12.
        mutating func month() -> Int? {
            guard position + 3 <= bytes.count,
                let index = HTTPDate.months.firstIndex(where: { bytes[position..<position + 3].elementsEqual($0) })
            else { return nil }
            position += 3
            return index + 1
        }

        /// `08:49:37`.
        mutating func time() -> (hour: Int, minute: Int, second: Int)? {
            guard let hour = digits(exactly: 2), take(UInt8(ascii: ":")), let minute = digits(exactly: 2), take(UInt8(ascii: ":")),
                let second = digits(exactly: 2)
            else { return nil }
            return (hour, minute, second)
        }
    }
}

/// `Retry-After` (RFC 9110 §10.2.3): delay-seconds (`1*DIGIT`) or an HTTP-date.
///
/// Any number of digits is read, and a delay too large to represent is `Duration.longest`; how
/// much of it to honour is the retry policy's business (`RetryPolicy.retryAfterMax`), not the
/// parser's. A date in the past is no delay at all.
public enum RetryAfter {
    public static func parse(_ value: String, now: Date) -> Duration? {
        let trimmed = value.utf8.drop { $0 == 0x20 || $0 == 0x09 }.reversed().drop { $0 == 0x20 || $0 == 0x09 }.reversed()
        guard !trimmed.isEmpty else { return nil }
        if trimmed.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) {
            // More digits than a century's seconds can have (ten) is past `longest` anyway.
            guard trimmed.count <= 12 else { return .longest }
            let seconds = trimmed.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
            return Duration(clampingSeconds: Double(seconds))
        }
        guard let date = HTTPDate.parse(String(decoding: trimmed, as: UTF8.self), now: now) else { return nil }
        return Duration(clampingSeconds: date.timeIntervalSince(now))
    }
}
