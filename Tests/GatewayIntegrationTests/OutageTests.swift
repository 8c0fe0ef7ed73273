import Foundation
import Gateway
import GatewayDelivery
import GatewayTestKit
import GatewaySigning
import GatewayStore
import Synchronization
import Testing

@Suite("Outages: circuit breaker, dead letters and the outbox command", .serialized)
struct OutageTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    @Test("the breaker opens after the threshold, lets one probe through per cool-down, and closes on success")
    func breakerStateMachine() {
        var breaker = CircuitBreaker(configuration: .init(failureThreshold: 3, coolDown: .seconds(10)))
        #expect(breaker.permission(now: t0) == .proceed)
        breaker.recordFailure(now: t0)
        breaker.recordFailure(now: t0)
        #expect(!breaker.isOpen)
        breaker.recordSuccess()  // a success in between resets the count
        for _ in 0..<3 { breaker.recordFailure(now: t0) }
        #expect(breaker.state == .open(until: t0.addingTimeInterval(10)))
        #expect(breaker.permission(now: t0.addingTimeInterval(9)) == .wait(until: t0.addingTimeInterval(10)))
        #expect(breaker.permission(now: t0.addingTimeInterval(10)) == .probe)
        // While the probe is out, nobody else goes.
        if case .wait = breaker.permission(now: t0.addingTimeInterval(10)) {
        } else {
            Issue.record("a second request went during the probe")
        }
        breaker.recordFailure(now: t0.addingTimeInterval(11))
        #expect(breaker.state == .open(until: t0.addingTimeInterval(21)))
        #expect(breaker.permission(now: t0.addingTimeInterval(21)) == .probe)
        breaker.cancelProbe()  // nothing was due: the next caller may probe
        #expect(breaker.permission(now: t0.addingTimeInterval(21)) == .probe)
        breaker.recordSuccess()
        #expect(breaker.state == .closed(consecutiveFailures: 0))
        #expect(breaker.permission(now: t0.addingTimeInterval(22)) == .proceed)
    }

    @Test("a dead letter can be requeued, and only dead letters can be purged")
    func requeueAndPurge() throws {
        var entry = OutboxEntry(reportID: "r", nextAttemptAt: t0)
        #expect(throws: OutboxTransitionError.self) { try entry.requeue(now: t0) }
        try entry.lease(now: t0, duration: 30)
        try entry.complete(.deadLetter(status: 422, response: "{}", reason: "bad"), attempt: 1, now: t0)
        try entry.requeue(now: t0.addingTimeInterval(5))
        #expect(entry.state == .pending && entry.isDue(at: t0.addingTimeInterval(5)))
        #expect(entry.lastError?.contains("bad") == true)
    }

    func setUp(_ name: String, faults: MockCentral.FaultPlan) throws -> (URL, SigningKey, String, MockSystems.Configuration) {
        let directory = try makeTemporaryDirectory(name)
        let key = SigningKey.generate()
        let keyPath = try writeKey(key, in: directory)
        let mocks = MockSystems.Configuration(
            directory: directory.appendingPathComponent("mocks"), source: .init(clientID: "lgsp-gateway-demo", clientSecret: "s"),
            trustedKeys: [key.publicKey], faults: faults)
        return (directory, key, keyPath, mocks)
    }

    @Test("a 4 s outage costs the centre a trickle of probes, not a flood; everything arrives once it is back")
    func outageCostsATrickle() async throws {
        let (directory, _, keyPath, mocks) = try setUp("outage", faults: .init(failureRate: 1, kinds: [.unavailable]))
        let dataset = MockDataset()
        try await MockSystems.withRunning(mocks, logger: quietLogger) { running in
            let overrides = [
                "LGSP_RETRY_BASE": "20ms", "LGSP_RETRY_CAP": "100ms", "LGSP_REPORT_MAX_OBSERVATIONS": "3",
                "LGSP_BREAKER_FAILURES": "3", "LGSP_BREAKER_COOLDOWN": "1s",
            ]
            let outageStart = ContinuousClock.now
            let result = try await runGateway(running, directory: directory, keyPath: keyPath, overrides: overrides) { runtime in
                if ContinuousClock.now - outageStart > .seconds(4) { running.central.setFaults(.none) }
                return try await allPulledAndDelivered(runtime)
            }
            let central = running.central.statistics
            // 15 reports, each retrying every ≤100 ms, send about 1000 requests in 4 s without the
            // breaker (measured). With it: the first wave of max_concurrent (4) attempts, then one probe
            // per 1 s cool-down over the 4 s, plus one for a slow machine.
            let failedDuringOutage = central.faultsInjected["unavailable"] ?? 0
            print("outage test: \(failedDuringOutage) requests failed during a 4 s outage with 15 reports waiting")
            #expect(failedDuringOutage <= 4 + 4 + 2, "\(failedDuringOutage) requests reached the failing endpoint")
            #expect(failedDuringOutage >= 3)
            #expect(result.stats.deliveredObservations == dataset.goodRecordCount)
            #expect(central.duplicateObservations == 0)
        }
    }

    @Test("a probe answered 429 does not stop deliveries: the breaker probes again after its cool-down")
    func probeAnswered429() async throws {
        // One request at a time, so the faults meet them in order: two failures open the breaker,
        // its first probe is told to slow down, and then the centre answers.
        let (directory, _, keyPath, mocks) = try setUp(
            "probe-429", faults: .init(scripted: [.unavailable, .unavailable, .tooManyRequests], failureRate: 0))
        try await MockSystems.withRunning(mocks, logger: quietLogger) { running in
            let overrides = [
                "LGSP_RETRY_BASE": "20ms", "LGSP_RETRY_CAP": "100ms", "LGSP_CENTRAL_MAX_CONCURRENT": "1",
                "LGSP_BREAKER_FAILURES": "2", "LGSP_BREAKER_COOLDOWN": "300ms",
            ]
            let result = try await runGateway(
                running, directory: directory, keyPath: keyPath, overrides: overrides, timeout: .seconds(30), until: allPulledAndDelivered)
            #expect(running.central.statistics.faultsInjected["tooManyRequests"] == 1)
            #expect(result.stats.deliveredObservations == MockDataset().goodRecordCount)
            #expect(running.central.statistics.duplicateObservations == 0)
        }
    }

    @Test("deliveries run side by side up to max_concurrent, never more", arguments: [1, 3])
    func concurrencyLimit(limit: Int) async throws {
        let (directory, _, keyPath, mocks) = try setUp(
            "concurrency-\(limit)", faults: .init(failureRate: 1, kinds: [.slowAnswer], slowAnswerDelay: .milliseconds(300)))
        try await MockSystems.withRunning(mocks, logger: quietLogger) { running in
            let result = try await runGateway(
                running, directory: directory, keyPath: keyPath,
                overrides: ["LGSP_REPORT_MAX_OBSERVATIONS": "4", "LGSP_CENTRAL_MAX_CONCURRENT": "\(limit)", "LGSP_CENTRAL_TIMEOUT": "5s"],
                until: allPulledAndDelivered)
            let central = running.central.statistics
            #expect(central.maxConcurrentRequests == limit, "at most \(central.maxConcurrentRequests) at once")
            #expect(result.stats.deliveredObservations == MockDataset().goodRecordCount)
            #expect(central.duplicateObservations == 0)
        }
    }

    @Test("a slow request holds up only its own reports: the others go out while it waits")
    func slowRequestHoldsUpOnlyItself() async throws {
        let (directory, _, keyPath, mocks) = try setUp("slowRequest", faults: .init(scripted: [.slowAnswer], slowAnswerDelay: .seconds(12)))
        try await MockSystems.withRunning(mocks, logger: quietLogger) { running in
            // One observation a report: more reports than one lease takes (32), in requests of 8,
            // two under way at a time. The centre answers the first request only after 12 s.
            let overrides = [
                "LGSP_REPORT_MAX_OBSERVATIONS": "1", "LGSP_CENTRAL_BATCH_MAX_REPORTS": "8", "LGSP_CENTRAL_MAX_CONCURRENT": "2",
                "LGSP_CENTRAL_TIMEOUT": "60s", "LGSP_SHUTDOWN_TIMEOUT": "1s",
            ]
            #expect(MockDataset().goodRecordCount > 32 + 8)
            _ = try await runGateway(running, directory: directory, keyPath: keyPath, overrides: overrides, timeout: .seconds(10)) {
                runtime in
                // Everything pulled and delivered but the slow request's reports, while it still waits.
                let pulled = try await runtime.store.adapterStatuses().count { $0.lastSuccess != nil } == runtime.adapters.count
                let stats = try await runtime.store.outboxStats(now: Date())
                return pulled && stats.pending == 0 && (1...8).contains(stats.inFlight) && stats.delivered > 32
            }
            #expect(running.central.statistics.faultsInjected["slowAnswer"] == 1)
        }
    }

    @Test("a store error while the breaker probes does not stall delivery once the centre is back")
    func failedProbeLease() async throws {
        let (directory, _, keyPath, mocks) = try setUp("failedProbeLease", faults: .init(failureRate: 1, kinds: [.unavailable]))
        try await MockSystems.withRunning(mocks, logger: quietLogger) { running in
            let environment = Demo.environment(
                for: running, repository: repositoryRoot, keyPath: keyPath,
                storePath: directory.appendingPathComponent("gateway.sqlite").path,
                overrides: [
                    "LGSP_BREAKER_FAILURES": "1", "LGSP_BREAKER_COOLDOWN": "200ms", "LGSP_RETRY_BASE": "20ms", "LGSP_RETRY_CAP": "50ms",
                ])
            let loaded = try LoadedGateway.load(
                file: repositoryRoot.appendingPathComponent("deploy/examples/gateway.yaml").path, environment: environment)
            let runtime = try GatewayRuntime(loaded: loaded, logger: quietLogger)
            for adapter in runtime.adapters { _ = try await runtime.runner.pullOnce(adapter) }
            let store = LeaseFailingStore(runtime.store)
            var forwarder = Forwarder(
                configuration: runtime.forwarder.configuration, store: store, transport: runtime.transport, doorbell: Doorbell(),
                logger: quietLogger)
            // When the breaker opens, the lease of its first probe fails.
            forwarder.onBreakerChange = { open in if open { store.failLeases(1) } }
            let delivering = Task { try await forwarder.run() }
            #expect(try await eventually(timeout: .seconds(20)) { store.failedLeases == 1 })
            running.central.setFaults(.none)
            let delivered = try await eventually(timeout: .seconds(20)) {
                try await runtime.store.outboxStats(now: Date()).undelivered == 0
            }
            delivering.cancel()
            _ = await delivering.result
            try await runtime.transport.shutdown()
            #expect(delivered, "reports still waiting after the centre came back: the breaker kept waiting for a probe never sent")
            #expect(running.central.statistics.duplicateObservations == 0)
        }
    }

    @Test("past max_age a report becomes a dead letter; outbox list, show, stats, retry and purge handle it")
    func deadLettersThroughTheOutboxCommand() async throws {
        let (directory, _, keyPath, mocks) = try setUp("deadletters", faults: .init(failureRate: 1, kinds: [.unavailable]))
        try await MockSystems.withRunning(mocks, logger: quietLogger) { running in
            let storePath = directory.appendingPathComponent("gateway.sqlite").path
            let overrides = ["LGSP_RETRY_BASE": "50ms", "LGSP_RETRY_CAP": "100ms", "LGSP_MAX_AGE": "1s", "LGSP_BREAKER_FAILURES": "1000"]
            _ = try await runGateway(running, directory: directory, keyPath: keyPath, overrides: overrides) { runtime in
                let stats = try await runtime.store.outboxStats(now: Date())
                return stats.deadLettered > 0 && stats.undelivered == 0
            }
            // The outbox command reads the same configuration the daemon does.
            let outbox = outboxCommand(running, directory: directory, keyPath: keyPath, storePath: storePath, overrides: overrides)
            let (statsStatus, statsJSON) = try await outbox(["stats", "--json"])
            #expect(statsStatus == 0, "\(statsJSON)")
            let stats = try JSONDecoder().decode(OutboxStats.self, from: Data(statsJSON.utf8))
            #expect(stats.deadLettered > 0 && stats.pending == 0 && stats.inFlight == 0 && stats.delivered == 0)
            #expect(stats.oldestUndeliveredAgeSeconds == 0)
            for key in ["pending", "in_flight", "delivered", "dead_lettered", "oldest_undelivered_age_s"] {
                #expect(statsJSON.contains("\"\(key)\":"), "\(key) missing from \(statsJSON)")
            }

            let (_, list) = try await outbox(["list"])
            let ids = list.split(separator: "\n").map { String($0.split(separator: " ")[0]) }
            #expect(ids.count == stats.deadLettered, "\(list)")
            #expect(list.contains("gave up after"), "\(list)")
            let (_, show) = try await outbox(["show", ids[0]])
            #expect(show.contains("state: dead_lettered"), "\(show)")
            #expect(show.contains("last answer: HTTP 503"), "\(show)")
            #expect(show.contains("Idempotency-Key: \(ids[0])"), "\(show)")

            // Purge one, replay the rest once the centre is back: they arrive, once.
            #expect(try await outbox(["purge", ids[0]]).0 == 0)
            #expect(try await outbox(["retry", "--all"]).0 == 0)
            let (pendingStatus, pendingList) = try await outbox(["list", "--state", "pending"])
            #expect(pendingStatus == 0)
            #expect(pendingList.split(separator: "\n").count == ids.count - 1, "\(pendingList)")
            running.central.setFaults(.none)
            _ = try await runGateway(running, directory: directory, keyPath: keyPath, overrides: overrides) { runtime in
                try await runtime.store.outboxStats(now: Date()).undelivered == 0
            }
            let final = try await SQLiteStore(path: storePath, exclusive: false).outboxStats(now: Date())
            #expect(final.delivered == ids.count - 1 && final.deadLettered == 0)
            #expect(running.central.statistics.acceptedReports == ids.count - 1)
            // A purge of anything but a dead letter is refused.
            let (refused, refusal) = try await outbox(["purge", ids[1]])
            #expect(refused != 0 && refusal.contains("only dead letters can be purged"), "\(refusal)")
        }
    }
}

/// An outbox whose next leases fail when told to, as a database briefly unreachable would. The
/// forwarder asks for the outbox alone, so that is all a double forwards.
final class LeaseFailingStore: DeliveryOutbox {
    let base: any DeliveryOutbox
    private let failures = Mutex((pending: 0, failed: 0))

    init(_ base: any DeliveryOutbox) { self.base = base }

    func failLeases(_ count: Int) { failures.withLock { $0.pending += count } }
    var failedLeases: Int { failures.withLock { $0.failed } }

    func leaseDue(now: Date, limit: Int, leaseDuration: TimeInterval) async throws -> [LeasedReport] {
        let fail = failures.withLock { state -> Bool in
            guard state.pending > 0 else { return false }
            state.pending -= 1
            state.failed += 1
            return true
        }
        if fail { throw StoreError("the database is unreachable (a test's failure)") }
        return try await base.leaseDue(now: now, limit: limit, leaseDuration: leaseDuration)
    }

    func complete(_ attempts: [CompletedAttempt], now: Date) async throws -> [(reportID: String, reason: String)] {
        try await base.complete(attempts, now: now)
    }
    func nextDueDate() async throws -> Date? { try await base.nextDueDate() }
}
