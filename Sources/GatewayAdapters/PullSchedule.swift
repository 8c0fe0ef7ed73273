import Foundation
import GatewayConfig
import GatewayHTTP

/// A five-field cron expression (minute, hour, day of month, month, day of week) with `*`, lists,
/// ranges and steps, as crontab(5) reads them: when both day fields are restricted, a day matching
/// either one matches.
public struct CronExpression: Sendable, Equatable, CustomStringConvertible {
    public let description: String
    let minutes: Set<Int>
    let hours: Set<Int>
    let daysOfMonth: Set<Int>
    let months: Set<Int>
    /// 0 = Sunday; 7 is read as Sunday too.
    let daysOfWeek: Set<Int>
    let dayOfMonthRestricted: Bool
    let dayOfWeekRestricted: Bool

    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    public init(_ text: String) throws(ParseError) {
        let fields = text.split(whereSeparator: \.isWhitespace).map(String.init)
        guard fields.count == 5 else {
            throw ParseError(
                description:
                    "\"\(text)\" has \(fields.count) fields; a cron expression has five: minute hour day-of-month month day-of-week")
        }
        description = text
        minutes = try Self.field(fields[0], name: "minute", range: 0...59)
        hours = try Self.field(fields[1], name: "hour", range: 0...23)
        daysOfMonth = try Self.field(fields[2], name: "day of month", range: 1...31)
        months = try Self.field(fields[3], name: "month", range: 1...12)
        daysOfWeek = Set(try Self.field(fields[4], name: "day of week", range: 0...7).map { $0 % 7 })
        dayOfMonthRestricted = fields[2] != "*"
        dayOfWeekRestricted = fields[4] != "*"
        // Days of the month alone decide only when the day of the week is `*` (crontab(5) takes
        // either when both are restricted, and every week has each weekday). February's 29th
        // counts: it comes every four years.
        if dayOfMonthRestricted && !dayOfWeekRestricted {
            let longest = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
            guard months.contains(where: { month in daysOfMonth.contains { $0 <= longest[month - 1] } }) else {
                throw ParseError(
                    description:
                        "\"\(text)\" never fires: none of the months it names has a day \(daysOfMonth.sorted().map(String.init).joined(separator: ","))"
                )
            }
        }
    }

    static func field(_ text: String, name: String, range: ClosedRange<Int>) throws(ParseError) -> Set<Int> {
        var values = Set<Int>()
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard (1...2).contains(pieces.count) else { throw ParseError(description: "\(name) \"\(part)\" has more than one /") }
            var step = 1
            if pieces.count == 2 {
                guard let value = Int(pieces[1]), value > 0 else {
                    throw ParseError(description: "\(name) step \"\(pieces[1])\" is not a positive number")
                }
                step = value
            }
            let bounds: ClosedRange<Int>
            if pieces[0] == "*" {
                bounds = range
            } else {
                let ends = pieces[0].split(separator: "-", omittingEmptySubsequences: false)
                guard (1...2).contains(ends.count), let low = Int(ends[0]), let high = Int(ends.last!) else {
                    throw ParseError(description: "\(name) \"\(part)\" is not a number, a range or *")
                }
                guard range.contains(low), range.contains(high), low <= high else {
                    throw ParseError(description: "\(name) \"\(part)\" is outside \(range.lowerBound)–\(range.upperBound)")
                }
                // `5/15` means from 5 to the end, every 15.
                bounds = low...(ends.count == 1 && pieces.count == 2 ? range.upperBound : high)
            }
            values.formUnion(stride(from: bounds.lowerBound, through: bounds.upperBound, by: step))
        }
        return values
    }

    func matchesDay(_ components: DateComponents) -> Bool {
        guard let day = components.day, let weekday = components.weekday else { return false }
        let byMonthDay = daysOfMonth.contains(day)
        let byWeekday = daysOfWeek.contains(weekday - 1)
        if dayOfMonthRestricted && dayOfWeekRestricted { return byMonthDay || byWeekday }
        return byMonthDay && byWeekday
    }

    /// The first minute strictly after `date` that matches, in `timeZone`; nil if none comes in
    /// the next eight years (`0 0 31 2 *`).
    public func next(after date: Date, in timeZone: TimeZone) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        var day = calendar.startOfDay(for: date)
        let sortedHours = hours.sorted(), sortedMinutes = minutes.sorted()
        for _ in 0..<(8 * 366) {
            let parts = calendar.dateComponents([.year, .month, .day, .weekday], from: day)
            if months.contains(parts.month!) && matchesDay(parts) {
                for hour in sortedHours {
                    for minute in sortedMinutes {
                        let wanted = DateComponents(year: parts.year, month: parts.month, day: parts.day, hour: hour, minute: minute)
                        if let candidate = calendar.date(from: wanted), candidate > date { return candidate }
                    }
                }
            }
            guard let next = calendar.date(byAdding: .day, value: 1, to: day) else { return nil }
            day = next
        }
        return nil
    }
}

/// When an adapter pulls: at a fixed interval or on a cron expression in a time zone, moved later
/// by up to `jitter` so that gateways of many provinces do not all call one system at once; and how
/// a failed pull is retried before the schedule's next run.
public struct PullSchedule: Sendable {
    public enum Timing: Sendable {
        case every(Duration)
        case cron(CronExpression, TimeZone)
    }

    public var timing: Timing
    public var jitter: Duration
    /// Further attempts of a failed pull, `retryBackoff` apart, doubling each time.
    public var retries: Int
    public var retryBackoff: Duration

    public static let defaultTimeZone = TimeZone(identifier: "Asia/Ho_Chi_Minh")!

    public init(timing: Timing, jitter: Duration = .zero, retries: Int = 0, retryBackoff: Duration = .seconds(10)) {
        self.timing = timing
        self.jitter = jitter
        self.retries = retries
        self.retryBackoff = retryBackoff
    }

    public static func every(_ interval: Duration) -> PullSchedule { PullSchedule(timing: .every(interval)) }

    /// When to pull next after a pull at `date`; `random` picks the jitter.
    public func nextRun(after date: Date, random: inout some RandomNumberGenerator) -> Date {
        let base: Date
        switch timing {
        case .every(let interval): base = date.addingTimeInterval(interval.timeInterval)
        case .cron(let expression, let timeZone): base = expression.next(after: date, in: timeZone) ?? date.addingTimeInterval(86_400)
        }
        guard jitter > .zero else { return base }
        return base.addingTimeInterval(Double.random(in: 0...jitter.timeInterval, using: &random))
    }

    /// How long one interval of the schedule is, for alerts that ask whether an adapter has gone
    /// too long without a successful pull: the interval, or for a cron schedule the gap between
    /// its next two runs after `date` (jitter left out).
    public func nominalInterval(after date: Date) -> TimeInterval {
        switch timing {
        case .every(let interval): return interval.timeInterval
        case .cron(let expression, let timeZone):
            guard let first = expression.next(after: date, in: timeZone), let second = expression.next(after: first, in: timeZone) else {
                return 0
            }
            return second.timeIntervalSince(first)
        }
    }

    public func nextRun(after date: Date) -> Date {
        var generator = SystemRandomNumberGenerator()
        return nextRun(after: date, random: &generator)
    }

    /// The wait before retry `attempt` (1, 2, …) of a failed pull: doubling from `retryBackoff`,
    /// at most a day.
    public func retryDelay(attempt: Int) -> Duration {
        Duration(clampingSeconds: min(retryBackoff.timeInterval * pow(2.0, Double(min(max(0, attempt - 1), 62))), 86_400))
    }

    public var summary: String {
        var text: String
        switch timing {
        case .every(let interval): text = "every \(interval)"
        case .cron(let expression, let timeZone): text = "cron \"\(expression)\" \(timeZone.identifier)"
        }
        if jitter > .zero { text += ", jitter \(jitter)" }
        if retries > 0 { text += ", \(retries) retries" }
        return text
    }
}

extension PullSchedule {
    /// `schedule: { every: 15m }` or `{ cron: "0 2 * * *", time_zone: Asia/Ho_Chi_Minh }`, with
    /// optional `jitter`, `retries` and `retry_backoff`.
    static func parse(_ value: ConfigValue) -> PullSchedule {
        value.allowOnly(["every", "cron", "time_zone", "jitter", "retries", "retry_backoff"])
        var timing = PullSchedule.Timing.every(.seconds(300))
        switch (value["every"], value["cron"]) {
        case (_?, _?):
            value.report("give every or cron, not both")
        case (nil, let cron?):
            let zoneName = value.optionalString("time_zone") ?? PullSchedule.defaultTimeZone.identifier
            let zone = TimeZone(identifier: zoneName)
            if zone == nil { value["time_zone"]?.report("\"\(zoneName)\" is not a time zone name such as Asia/Ho_Chi_Minh") }
            if let text = cron.text {
                do { timing = .cron(try CronExpression(text), zone ?? PullSchedule.defaultTimeZone) } catch {
                    cron.report(error.description)
                }
            } else {
                cron.report("must be a cron expression such as \"0 2 * * *\"")
            }
        case (_?, nil):
            let interval = value.duration("every", default: .seconds(300), range: .seconds(1)...(.seconds(366 * 86_400)))
            if value["time_zone"] != nil { value["time_zone"]?.report("applies to cron only") }
            timing = .every(interval)
        case (nil, nil):
            value.report("give every (e.g. 15m) or cron (e.g. \"0 2 * * *\")")
        }
        let jitter = value.duration("jitter", default: .zero, range: .zero...(.seconds(86_400)))
        let retries = value.int("retries", default: 0, range: 0...20)
        let backoff = value.duration("retry_backoff", default: .seconds(10), range: .zero...(.seconds(86_400)))
        return PullSchedule(timing: timing, jitter: jitter, retries: retries, retryBackoff: backoff)
    }
}
