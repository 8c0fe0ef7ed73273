import Foundation

/// Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And Jitter").
///
/// The ceiling for attempt *n* (1-based) is `min(cap, base × 2^(n−1))` and the delay is drawn
/// uniformly from `[0, ceiling]`, so many gateways recovering from one outage spread out instead
/// of retrying in step. With base 1 s and cap 300 s the ceilings are:
///
/// | attempt | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10+ |
/// |---|---|---|---|---|---|---|---|---|---|---|
/// | ceiling (s) | 1 | 2 | 4 | 8 | 16 | 32 | 64 | 128 | 256 | 300 |
///
/// A `Retry-After` from the server is a floor: the delay is never shorter than what it asked, up
/// to `retryAfterMax`. Beyond that ceiling the server's wish is not honoured: one header saying
/// "in ten years" must not park a province's reports for ten years. The forwarder also never
/// schedules an attempt past a report's `maxAge`, after which it is a dead letter.
///
/// Every delay is computed in floating point and clamped (`Duration(clampingSeconds:)`), so no
/// base, cap, attempt number or header value can trap.
public struct RetryPolicy: Sendable, Equatable {
    public var baseDelay: Duration
    public var maxDelay: Duration
    /// A report still undelivered this long after it was stored is dead-lettered instead of retried.
    public var maxAge: Duration
    /// The most of a server's `Retry-After` that is honoured.
    public var retryAfterMax: Duration
    /// Answers worth retrying; the wire contract's 408, 425, 429 and 5xx by default.
    public var retryableStatuses: Set<Int>

    public static let defaultRetryableStatuses: Set<Int> = Set([408, 425, 429]).union(500...599)

    public init(
        baseDelay: Duration = .seconds(1), maxDelay: Duration = .seconds(300), maxAge: Duration = .seconds(30 * 86400),
        retryableStatuses: Set<Int> = RetryPolicy.defaultRetryableStatuses, retryAfterMax: Duration = .seconds(3600)
    ) {
        self.retryAfterMax = retryAfterMax
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxAge = maxAge
        self.retryableStatuses = retryableStatuses
    }

    /// The upper bound of the jittered delay after failed attempt `attempt` (1-based).
    public func ceiling(forAttempt attempt: Int) -> Duration {
        let exponent = min(max(attempt - 1, 0), 62)
        let grown = baseDelay.timeInterval * pow(2, Double(exponent))
        return Duration(clampingSeconds: min(grown, maxDelay.timeInterval))
    }

    /// The delay before the next attempt. `unitRandom` is in `[0, 1)`; injected for tests.
    public func delay(afterAttempt attempt: Int, retryAfter: Duration? = nil, unitRandom: Double) -> Duration {
        let unit = unitRandom.isNaN ? 0 : min(max(unitRandom, 0), 1)
        let jittered = ceiling(forAttempt: attempt).timeInterval * unit
        let floor = min(retryAfter ?? .zero, retryAfterMax).timeInterval
        return Duration(clampingSeconds: max(jittered, floor))
    }

    /// When to try a report stored at `storedAt` again: after `delay(…)`, but never past its
    /// `maxAge`. The attempt made then is its last; its failure makes the report a dead letter.
    public func nextAttempt(afterAttempt attempt: Int, retryAfter: Duration?, unitRandom: Double, now: Date, storedAt: Date) -> Date {
        let delay = delay(afterAttempt: attempt, retryAfter: retryAfter, unitRandom: unitRandom)
        let lastChance = storedAt.addingTimeInterval(maxAge.timeInterval)
        return max(now, min(now.addingTimeInterval(delay.timeInterval), lastChance))
    }
}
