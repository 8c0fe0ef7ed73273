import Foundation
import Gateway
import GatewayContracts
import GatewayAdapters
import GatewayDelivery
import GatewayTestKit
import GatewaySigning
import GatewayStore
import Logging
import ServiceLifecycle
import Synchronization
import Testing

/// Delivery attempts as the forwarder reports them, with when each ended.
final class EventLog: Sendable {
    struct Entry: Sendable {
        let event: DeliveryEvent
        var startedAt: Date { event.startedAt }
        var answeredAt: Date { event.answeredAt }
    }

    private let entries = Mutex<[Entry]>([])
    func record(_ event: DeliveryEvent) { entries.withLock { $0.append(Entry(event: event)) } }
    var all: [Entry] { entries.withLock { $0 } }
}

struct RunResult {
    let totals: PullTotals
    let stats: OutboxStats
    let quarantine: [StoredQuarantine]
    let receipts: [String?]
    let receiptsVerified: [Bool?]
}

/// Runs the gateway from the shipped configuration against `running` until `condition` holds,
/// then shuts it down gracefully, as SIGTERM would, and reports what its store holds.
func runGateway(
    _ running: MockSystems.Running, directory: URL, keyPath: String, overrides: [String: String] = [:], events: EventLog? = nil,
    logger: Logger = quietLogger, timeout: Duration = .seconds(90),
    until condition: @escaping @Sendable (GatewayRuntime) async throws -> Bool
) async throws -> RunResult {
    let environment = Demo.environment(
        for: running, repository: repositoryRoot, keyPath: keyPath, storePath: directory.appendingPathComponent("gateway.sqlite").path,
        overrides: overrides)
    let loaded = try LoadedGateway.load(
        file: repositoryRoot.appendingPathComponent("deploy/examples/gateway.yaml").path, environment: environment)
    let runtime = try GatewayRuntime(loaded: loaded, logger: logger, onDelivery: { events?.record($0) })
    let group = runtime.makeServiceGroup(signals: [])
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await runtime.run(group: group) }
        tasks.addTask {
            let reached = try await eventually(timeout: timeout) { try await condition(runtime) }
            await group.triggerGracefulShutdown()
            if !reached { throw MockError("the gateway did not reach the expected state within \(timeout)") }
        }
        try await tasks.waitForAll()
    }
    var receipts: [String?] = []
    var verified: [Bool?] = []
    for body in running.central.acceptedBodies {
        let payload = (try? FlattenedJWS.parse(any: body)).flatMap { Base64URL.decode($0.payload) } ?? body
        let envelope = try JSONDecoder().decode(ReportEnvelope.self, from: payload)
        let entry = try await runtime.store.entry(reportID: envelope.reportID)
        receipts.append(entry?.receipt)
        verified.append(entry?.receiptVerified)
    }
    return RunResult(
        totals: try await runtime.store.pullTotals(), stats: try await runtime.store.outboxStats(now: Date()),
        quarantine: try await runtime.store.quarantined(limit: 1000), receipts: receipts, receiptsVerified: verified)
}

func allPulledAndDelivered(_ runtime: GatewayRuntime) async throws -> Bool {
    let succeeded = try await runtime.store.adapterStatuses().count { $0.lastSuccess != nil }
    let stats = try await runtime.store.outboxStats(now: Date())
    return succeeded == runtime.adapters.count && stats.undelivered == 0
}

@Suite("End to end over HTTPS on loopback", .serialized)
struct EndToEndTests {
    /// The education system's table left empty: its pulls keep no cursor, and these tests restart
    /// gateways and count every record pulled once.
    let dataset = MockDataset(province: "14", educationTable: false)

    func mocks(_ directory: URL, key: SigningKey, faults: MockCentral.FaultPlan = .none) -> MockSystems.Configuration {
        MockSystems.Configuration(
            directory: directory.appendingPathComponent("mocks"),
            source: .init(clientID: "lgsp-gateway-demo", clientSecret: "secret-\(UUID().uuidString)", dataset: dataset),
            trustedKeys: [key.publicKey], faults: faults)
    }

    @Test("clean run: every valid record arrives once, signed and verified; bad ones are quarantined with reasons")
    func cleanRun() async throws {
        let directory = try makeTemporaryDirectory()
        let key = SigningKey.generate()
        let keyPath = try writeKey(key, in: directory)
        let dataset = self.dataset
        try await MockSystems.withRunning(mocks(directory, key: key), logger: quietLogger) { running in
            let result = try await runGateway(running, directory: directory, keyPath: keyPath, until: allPulledAndDelivered)
            #expect(result.totals.pulledRecords == dataset.allRecords.count)
            #expect(result.totals.validObservations == dataset.goodRecordCount)
            #expect(result.totals.quarantined == dataset.badRecordCount)
            #expect(result.stats.deliveredObservations == dataset.goodRecordCount)

            let central = running.central.statistics
            #expect(central.acceptedObservations == dataset.goodRecordCount)
            #expect(central.duplicateObservations == 0)
            #expect(central.signatureFailures == 0 && central.digestFailures == 0 && central.rejected == 0)
            let sourceIDs = Set(running.central.acceptedObservations.compactMap(\.sourceRecordID))
            let expectedIDs = dataset.expectedSourceRecordIDs
            #expect(sourceIDs == expectedIDs)

            // Every delivered report keeps the centre's signed receipt, verified with the centre's key.
            #expect(result.receipts.count == central.acceptedReports)
            #expect(result.receiptsVerified.allSatisfy { $0 == true })
            let receiptVerifier = JWSVerifier(keys: [running.central.receiptKey.publicKey])
            for receipt in result.receipts {
                let payload = try receiptVerifier.verify(FlattenedJWS.parse(any: Data(try #require(receipt).utf8))).payload
                #expect(String(decoding: payload, as: UTF8.self).contains("\"receipt_id\""))
            }

            // One quarantine entry per bad record, each with at least one reason naming a field.
            let rules = Set(result.quarantine.flatMap { $0.reasons.map(\.rule) })
            #expect(
                rules.isSuperset(of: [
                    "indicator.known", "indicator.range", "ratio.numerator-le-denominator", "mapping.period", "level.district-abolished",
                ]))
            // The pointer is "" (the whole record) for a CSV row that cannot be read as a record.
            #expect(
                result.quarantine.allSatisfy {
                    !$0.reasons.isEmpty && $0.reasons.allSatisfy { $0.pointer.isEmpty || $0.pointer.hasPrefix("/") }
                })
            #expect(result.quarantine.flatMap(\.reasons).count { $0.pointer.isEmpty } == 1)

            // One token per adapter behind the LGSP (dvc-portal, qlvb-documents, thong-ke-kinh-te-so):
            // WSO2 client credentials, fetched once and reused.
            #expect(running.source.statistics.tokensIssued == 3)
            #expect(running.source.statistics.unauthorizedRequests == 0)
            // Content-Digest (RFC 9530) on every request with content, token requests included.
            #expect(running.source.statistics.tokenRequestsWithDigest == 3)
        }
    }

    @Test("cursor and token: a second pull fetches nothing new; a revoked token is refreshed once on 401")
    func cursorAndToken() async throws {
        let directory = try makeTemporaryDirectory()
        let key = SigningKey.generate()
        let keyPath = try writeKey(key, in: directory)
        let portalRecords = dataset.portalRecords.count
        try await MockSystems.withRunning(mocks(directory, key: key), logger: quietLogger) { running in
            let environment = Demo.environment(
                for: running, repository: repositoryRoot, keyPath: keyPath,
                storePath: directory.appendingPathComponent("gateway.sqlite").path)
            let loaded = try LoadedGateway.load(
                file: repositoryRoot.appendingPathComponent("deploy/examples/gateway.yaml").path, environment: environment)
            let runtime = try GatewayRuntime(loaded: loaded, logger: quietLogger)
            let portal = try #require(runtime.adapters.first { $0.name == "dvc-portal" })
            let first = try await runtime.runner.pullOnce(portal)
            #expect(first.pulled == portalRecords)
            let cursor = try await runtime.store.cursor(for: "dvc-portal")
            #expect(cursor != nil)
            let second = try await runtime.runner.pullOnce(portal)
            #expect(second.pulled == 0)
            #expect(running.source.statistics.tokensIssued == 1)

            running.source.revokeAllTokens()
            let third = try await runtime.runner.pullOnce(portal)
            #expect(third.pulled == 0)
            #expect(running.source.statistics.tokensIssued == 2)
            #expect(running.source.statistics.unauthorizedRequests == 1)
            #expect(await (portal as? HTTPAdapter)?.oauth2?.tokensFetched == 2)
            try await runtime.transport.shutdown()
        }
    }

    @Test(
        "the central endpoint fails half the time, answers 429 with Retry-After and drops connections: each observation arrives exactly once"
    )
    func faultyCentral() async throws {
        let directory = try makeTemporaryDirectory()
        let key = SigningKey.generate()
        let keyPath = try writeKey(key, in: directory)
        let faults = MockCentral.FaultPlan(
            scripted: [.tooManyRequests, .connectionReset, .unavailable, .slowAnswer], failureRate: 0.5,
            slowAnswerDelay: .milliseconds(1500), seed: 7)
        let events = EventLog()
        let dataset = self.dataset
        try await MockSystems.withRunning(mocks(directory, key: key, faults: faults), logger: quietLogger) { running in
            let result = try await runGateway(
                running, directory: directory, keyPath: keyPath,
                overrides: [
                    "LGSP_CENTRAL_TIMEOUT": "500ms", "LGSP_RETRY_BASE": "50ms", "LGSP_RETRY_CAP": "500ms",
                    "LGSP_REPORT_MAX_OBSERVATIONS": "5",
                ],
                events: events, until: allPulledAndDelivered)
            let central = running.central.statistics
            #expect(result.stats.deliveredObservations == dataset.goodRecordCount)
            #expect(central.acceptedObservations == dataset.goodRecordCount)
            #expect(Set(running.central.acceptedObservations.map(\.factKey)).count == dataset.goodRecordCount)
            #expect(central.duplicateObservations == 0)
            #expect(central.signatureFailures == 0)
            for fault in ["tooManyRequests", "connectionReset", "unavailable", "slowAnswer"] {
                #expect((central.faultsInjected[fault] ?? 0) >= 1, "fault \(fault) was never injected")
            }
            // The slow answer was accepted but timed out: the retry is answered from the idempotency record.
            #expect(central.idempotentReplays >= 1)
            #expect(events.all.count > result.stats.delivered)

            // The attempt after a 429 with Retry-After: 1 began at least a second after the 429 arrived.
            let log = events.all
            let throttled = log.filter { $0.event.status == 429 }
            #expect(!throttled.isEmpty)
            for entry in throttled {
                let next = log.first { $0.event.reportID == entry.event.reportID && $0.event.attempt == entry.event.attempt + 1 }
                let waited = try #require(next).startedAt.timeIntervalSince(entry.answeredAt)
                #expect(waited >= 0.999, "retried \(waited)s after a 429 with Retry-After: 1")
            }
        }
    }

    @Test(
        "stopped mid-delivery and started again on the same store: nothing lost, nothing doubled",
        arguments: [("30s", true), ("100ms", false)])
    func restartMidDelivery(shutdownTimeout: String, finishesInFlight: Bool) async throws {
        let directory = try makeTemporaryDirectory()
        let key = SigningKey.generate()
        let keyPath = try writeKey(key, in: directory)
        // Every answer is late: the centre accepts, then keeps the gateway waiting.
        let slow = MockCentral.FaultPlan(failureRate: 1, kinds: [.slowAnswer], slowAnswerDelay: .seconds(2))
        let dataset = self.dataset
        try await MockSystems.withRunning(mocks(directory, key: key, faults: slow), logger: quietLogger) { running in
            let overrides = [
                "LGSP_CENTRAL_TIMEOUT": "10s", "LGSP_RETRY_BASE": "50ms", "LGSP_RETRY_CAP": "200ms", "LGSP_REPORT_MAX_OBSERVATIONS": "10",
                "LGSP_SHUTDOWN_TIMEOUT": shutdownTimeout,
            ]
            let first = try await runGateway(running, directory: directory, keyPath: keyPath, overrides: overrides) { _ in
                running.central.statistics.acceptedReports >= 1
            }
            // Stopped while the centre's answer is pending: within the shutdown timeout the attempt
            // is finished and recorded; past it, the attempt is cut off and left for the next start.
            // A pull still running at the stop is abandoned whole and repeated by the next start.
            // Every report the centre had accepted was in flight at the stop (all answers are late).
            let acceptedAtStop = running.central.statistics.acceptedReports
            #expect(acceptedAtStop >= 1)
            #expect(first.stats.delivered == (finishesInFlight ? acceptedAtStop : 0))
            #expect(first.totals.pulledRecords <= dataset.allRecords.count)

            running.central.setFaults(.none)
            let total = dataset.allRecords.count
            let second = try await runGateway(running, directory: directory, keyPath: keyPath, overrides: overrides) { runtime in
                let pulled = try await runtime.store.pullTotals().pulledRecords
                let undelivered = try await runtime.store.outboxStats(now: Date()).undelivered
                return pulled == total && undelivered == 0
            }
            let central = running.central.statistics
            #expect(second.totals.pulledRecords == total)  // the cursor held: nothing pulled twice
            #expect(second.stats.deliveredObservations == dataset.goodRecordCount)
            #expect(central.acceptedObservations == dataset.goodRecordCount)
            #expect(central.duplicateObservations == 0)
            // Cut off mid-request, each report in flight reached the centre but its answer never
            // reached the gateway: each is sent again once and answered from the idempotency record.
            #expect(central.idempotentReplays == (finishesInFlight ? 0 : acceptedAtStop))
            #expect(try await SQLiteStore(path: directory.appendingPathComponent("gateway.sqlite").path).integrityCheck().isEmpty)
        }
    }
}
