import Foundation
@testable import GatewayDelivery
import GatewayHTTP
import GatewayStore
import Testing

@Suite("Delivery policy and outbox state machine, without I/O")
struct DeliveryPolicyTests {
    @Test("backoff ceilings double from the base up to the cap")
    func ceilings() {
        let policy = RetryPolicy(baseDelay: .seconds(1), maxDelay: .seconds(300))
        let ceilings = (1...11).map { policy.ceiling(forAttempt: $0) }
        #expect(ceilings == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300].map { Duration.seconds($0) })
    }

    @Test("full jitter spans [0, ceiling]; Retry-After is a floor")
    func jitter() {
        let policy = RetryPolicy(baseDelay: .seconds(1), maxDelay: .seconds(300))
        #expect(policy.delay(afterAttempt: 4, unitRandom: 0) == .zero)
        #expect(policy.delay(afterAttempt: 4, unitRandom: 0.5) == .seconds(4))
        #expect(policy.delay(afterAttempt: 4, unitRandom: 1) == .seconds(8))
        #expect(policy.delay(afterAttempt: 1, retryAfter: .seconds(30), unitRandom: 0.9) == .seconds(30))
        #expect(policy.delay(afterAttempt: 9, retryAfter: .seconds(1), unitRandom: 0.5) == .seconds(128))
    }

    @Test("Retry-After in seconds and as an HTTP-date")
    func retryAfter() {
        let now = Date(timeIntervalSince1970: 1_445_412_480)  // Wed, 21 Oct 2015 07:28:00 GMT
        #expect(RetryAfter.parse("120", now: now) == .seconds(120))
        #expect(RetryAfter.parse("Wed, 21 Oct 2015 07:29:30 GMT", now: now) == .seconds(90))
        #expect(RetryAfter.parse("Wed, 21 Oct 2015 07:00:00 GMT", now: now) == .zero)
        #expect(RetryAfter.parse("soon", now: now) == nil)
        #expect(RetryAfter.parse("-5", now: now) == nil)
        #expect(RetryAfter.parse("+5", now: now) == nil)
        #expect(RetryAfter.parse(" 7\t", now: now) == .seconds(7))
    }

    @Test(
        "absurd Retry-After values are read without a trap, and honoured only up to retry_after_max",
        arguments: [
            "99999999999999999", "315360000", "9223372036854775807", "99999999999999999999999999999999",
            String(repeating: "9", count: 5000),
            "Fri, 31 Dec 9999 23:59:59 GMT",
        ])
    func absurdRetryAfter(header: String) {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let parsed = RetryAfter.parse(header, now: now)
        #expect(parsed != nil && parsed! > .seconds(86_400 * 365))
        let policy = RetryPolicy(baseDelay: .seconds(1), maxDelay: .seconds(300), retryAfterMax: .seconds(3600))
        for attempt in [1, 5, 40, 1000, Int.max] {
            #expect(policy.delay(afterAttempt: attempt, retryAfter: parsed, unitRandom: 0.5) == .seconds(3600))
        }
        let verdict = DeliveryVerdict.classify(status: 503, body: Data(), retryAfter: header, now: now)
        guard case .retry(let after?, _) = verdict else {
            Issue.record("a 503 with Retry-After \(header.prefix(40)) is \(verdict)")
            return
        }
        #expect(policy.delay(afterAttempt: 1, retryAfter: after, unitRandom: 0) == .seconds(3600))
    }

    @Test("the next attempt is never later than max_age after the report was stored")
    func nextAttemptWithinMaxAge() {
        let policy = RetryPolicy(baseDelay: .seconds(1), maxDelay: .seconds(300), maxAge: .seconds(600), retryAfterMax: .seconds(3600))
        let stored = Date(timeIntervalSince1970: 1_800_000_000)
        let now = stored.addingTimeInterval(500)
        // The centre asks for an hour; the report has 100 s left, so it is tried once more then.
        #expect(
            policy.nextAttempt(afterAttempt: 3, retryAfter: .seconds(3600), unitRandom: 0.5, now: now, storedAt: stored)
                == stored.addingTimeInterval(600))
        #expect(
            policy.nextAttempt(afterAttempt: 3, retryAfter: .seconds(10), unitRandom: 0, now: now, storedAt: stored)
                == now.addingTimeInterval(10))
        // Already past it: at once, and that attempt's failure makes it a dead letter.
        #expect(
            policy.nextAttempt(afterAttempt: 9, retryAfter: nil, unitRandom: 1, now: stored.addingTimeInterval(700), storedAt: stored)
                == stored.addingTimeInterval(700))
    }

    @Test("no base, cap or random value makes a delay trap or go negative")
    func extremePolicies() {
        let policy = RetryPolicy(baseDelay: .seconds(Int64.max / 2), maxDelay: .seconds(Int64.max / 2))
        #expect(policy.ceiling(forAttempt: .max) == .longest)
        #expect(policy.delay(afterAttempt: 3, unitRandom: .nan) == .zero)
        #expect(policy.delay(afterAttempt: 3, unitRandom: .infinity) == .longest)
        #expect(Duration(clampingSeconds: -.infinity) == .zero)
        #expect(Duration(clampingSeconds: 1.5) == .milliseconds(1500))
    }

    @Test("HTTP-date in its three forms (RFC 9110 §5.6.7), and nothing looser")
    func httpDates() {
        let expected = Date(timeIntervalSince1970: 784_111_777)  // Sun, 06 Nov 1994 08:49:37 GMT
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT", now: now) == expected)
        #expect(HTTPDate.parse("Sunday, 06-Nov-94 08:49:37 GMT", now: now) == expected)
        #expect(HTTPDate.parse("Sun Nov  6 08:49:37 1994", now: now) == expected)
        #expect(HTTPDate.parse("Tue, 29 Feb 2028 00:00:00 GMT") == Date(timeIntervalSince1970: 1_835_395_200))
        for bad in [
            "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 30 Feb 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 08:49:37 GMT ",
            "Sunday, 06 Nov 1994 08:49:37 GMT", "Sun Nov 06 08:49:37 94", "", "Sun,", "١٢٣",
        ] {
            #expect(HTTPDate.parse(bad, now: now) == nil, "\(bad)")
        }
    }

    @Test("an operator can send a pending report now; a delivered one cannot be requeued")
    func sendPendingNow() throws {
        var entry = OutboxEntry(reportID: "r", nextAttemptAt: t0)
        try entry.lease(now: t0, duration: 60)
        try entry.complete(
            .retry(at: t0.addingTimeInterval(315_360_000), status: 503, error: "central endpoint answered 503"), attempt: 1, now: t0)
        #expect(throws: OutboxTransitionError.self) { try entry.requeue(now: t0) }
        try entry.requeue(now: t0.addingTimeInterval(5), includingPending: true)
        #expect(entry.isDue(at: t0.addingTimeInterval(5)))
        #expect(entry.lastError?.hasPrefix("sent now by the operator") == true)
        try entry.lease(now: t0.addingTimeInterval(5), duration: 60)
        try entry.complete(.delivered(status: 202, receipt: nil), attempt: 2, now: t0.addingTimeInterval(6))
        #expect(throws: OutboxTransitionError.self) { try entry.requeue(now: t0, includingPending: true) }
    }

    @Test(
        "answers are classified per the wire contract",
        arguments: [
            (200, "delivered"), (201, "delivered"), (202, "delivered"), (409, "delivered"),
            (400, "reject"), (422, "reject"), (404, "reject"), (413, "reject"),
            (401, "retry"), (403, "retry"), (408, "retry"), (425, "retry"), (429, "retry"), (500, "retry"), (502, "retry"), (503, "retry"),
        ])
    func classification(status: Int, expected: String) {
        let verdict = DeliveryVerdict.classify(status: status, body: Data(), retryAfter: nil, now: Date())
        let kind =
            switch verdict {
            case .delivered: "delivered"
            case .retry: "retry"
            case .reject: "reject"
            }
        #expect(kind == expected)
    }

    @Test("429 carries its Retry-After into the verdict")
    func retryAfterVerdict() {
        #expect(
            DeliveryVerdict.classify(status: 429, body: Data(), retryAfter: "7", now: Date())
                == .retry(after: .seconds(7), reason: "central endpoint answered 429"))
    }

    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    @Test("a probe answered neither way (429) keeps the breaker open one more cool-down, then probes again")
    func inconclusiveProbe() {
        var breaker = CircuitBreaker(configuration: .init(failureThreshold: 1, coolDown: .seconds(2)))
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        breaker.recordFailure(now: t0)
        #expect(breaker.permission(now: t0.addingTimeInterval(1)) == .wait(until: t0.addingTimeInterval(2)))
        #expect(breaker.permission(now: t0.addingTimeInterval(2)) == .probe)
        // The probe's answer was a 429: up, but busy.
        breaker.recordInconclusive(now: t0.addingTimeInterval(3))
        #expect(breaker.state == .open(until: t0.addingTimeInterval(5)))
        #expect(breaker.permission(now: t0.addingTimeInterval(4)) == .wait(until: t0.addingTimeInterval(5)))
        #expect(breaker.permission(now: t0.addingTimeInterval(5)) == .probe)
        breaker.recordSuccess()
        #expect(!breaker.isOpen)
        // Closed, an inconclusive answer changes nothing.
        breaker.recordInconclusive(now: t0.addingTimeInterval(6))
        #expect(breaker.permission(now: t0.addingTimeInterval(6)) == .proceed)
    }

    @Test("pending → in flight → retry → in flight → delivered")
    func happyPath() throws {
        var entry = OutboxEntry(reportID: "r", nextAttemptAt: t0)
        #expect(entry.isDue(at: t0))
        try entry.lease(now: t0, duration: 30)
        #expect(entry.state == .inFlight && entry.attempts == 1)
        #expect(!entry.isDue(at: t0.addingTimeInterval(29)))
        try entry.complete(.retry(at: t0.addingTimeInterval(5), status: 503, error: "503"), attempt: 1, now: t0)
        #expect(entry.state == .pending && entry.lastStatus == 503)
        #expect(!entry.isDue(at: t0.addingTimeInterval(4)))
        try entry.lease(now: t0.addingTimeInterval(5), duration: 30)
        try entry.complete(.delivered(status: 202, receipt: "{}"), attempt: 2, now: t0.addingTimeInterval(6))
        #expect(entry.state == .delivered && entry.receipt == "{}" && entry.deliveredAt == t0.addingTimeInterval(6))
        #expect(!entry.isDue(at: .distantFuture))
    }

    @Test("invalid transitions are refused")
    func invalidTransitions() throws {
        var entry = OutboxEntry(reportID: "r", nextAttemptAt: t0.addingTimeInterval(10))
        #expect(throws: OutboxTransitionError.self) { try entry.lease(now: t0, duration: 30) }  // not yet due
        #expect(throws: OutboxTransitionError.self) { try entry.complete(.delivered(status: 202, receipt: nil), attempt: 0, now: t0) }
        try entry.lease(now: t0.addingTimeInterval(10), duration: 30)
        try entry.complete(.deadLetter(status: 422, response: "{}", reason: "bad"), attempt: 1, now: t0)
        #expect(entry.state == .deadLettered)
        #expect(throws: OutboxTransitionError.self) { try entry.lease(now: .distantFuture, duration: 30) }
        #expect(throws: OutboxTransitionError.self) { try entry.abandonLease(now: t0) }
    }

    @Test("an expired lease can be taken again, and the late answer to the old attempt is refused")
    func expiredLease() throws {
        var entry = OutboxEntry(reportID: "r", nextAttemptAt: t0)
        try entry.lease(now: t0, duration: 30)
        try entry.lease(now: t0.addingTimeInterval(31), duration: 30)
        #expect(entry.attempts == 2)
        #expect(throws: OutboxTransitionError.self) { try entry.complete(.delivered(status: 202, receipt: nil), attempt: 1, now: t0) }
        try entry.complete(.delivered(status: 200, receipt: nil), attempt: 2, now: t0)
        #expect(entry.state == .delivered)
    }

    @Test("a lease abandoned at start-up is due at once")
    func abandon() throws {
        var entry = OutboxEntry(reportID: "r", nextAttemptAt: t0)
        try entry.lease(now: t0, duration: 300)
        try entry.abandonLease(now: t0.addingTimeInterval(1))
        #expect(entry.state == .pending && entry.isDue(at: t0.addingTimeInterval(1)))
    }
}

@Suite("The delivery watch, without I/O")
struct DeliveryWatchTests {
    @Test("an attempt under way past the limit is stalled until it ends")
    func stalls() {
        let watch = DeliveryWatch()
        let start = ContinuousClock.now
        let first = watch.begin(at: start)
        _ = watch.begin(at: start + .seconds(50))
        #expect(watch.stalled(longerThan: .seconds(70), now: start + .seconds(60)) == 0)
        #expect(watch.stalled(longerThan: .seconds(70), now: start + .seconds(71)) == 1)
        #expect(watch.stalled(longerThan: .seconds(70), now: start + .seconds(121)) == 2)
        watch.end(first)
        #expect(watch.stalled(longerThan: .seconds(70), now: start + .seconds(121)) == 1)
    }
}
