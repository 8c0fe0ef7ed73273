import Foundation
import GatewayTestKit
import Gateway
import GatewayAdapters
import GatewayContracts
import GatewaySigning
import GatewayStore
import Synchronization
import Testing
import GatewayJSON
import GatewayPipeline

@Suite("A long pull stores its reports ahead of its commit")
struct StoredAheadTests {
    /// Records given as they are, so a test decides exactly which are valid; in pages of
    /// `pageSize` when it is set, or all as one.
    struct ListedRecords: Adapter {
        let name = "so-lieu"
        let schedule = PullSchedule.every(.seconds(3600))
        let records: [PulledRecord]
        var pageSize: Int?
        func pull(cursor: String?, context: PullContext) async throws -> PullOutput {
            PullOutput(records: records, nextCursor: "after-\(records.count)")
        }
        func pullPages(cursor: String?, context: PullContext, eachPage: ([PulledRecord]) async throws -> Void) async throws -> String? {
            let pageSize = pageSize ?? max(records.count, 1)
            for start in stride(from: 0, to: records.count, by: pageSize) {
                try await eachPage(Array(records[start..<min(start + pageSize, records.count)]))
            }
            return "after-\(records.count)"
        }
    }

    /// Commune figures, valid but for the positions in `outOfRange` (a share above 100%).
    static func records(_ count: Int, outOfRange: Set<Int>) -> [PulledRecord] {
        (0..<count).map { index in
            let value = outOfRange.contains(index) ? 131.5 : Double(40 + index % 50)
            return .mapped(
                Observation(
                    indicator: "HSCV_DIEN_TU", province: "14", level: .commune, area: String(format: "%05d", 3600 + index),
                    period: "2025-Q3",
                    value: value, unit: "percent", sourceSystem: "qlvb", sourceRecordID: "R-\(index)",
                    collectedAt: "2026-11-22T04:00:00.000Z"
                ).jsonValue)
        }
    }

    final class Calls: Sendable {
        let count = Mutex(0)
    }

    @Test(
        "parts are stored as they are signed, cut as if all at once; after a pull that stopped part-way the next sends only the figures not stored yet, and moves the cursor",
        arguments: [(nil, 19, 1), (7, 10, 2)] as [(Int?, Int, Int)])
    func storedAheadThenRunAgain(pageSize: Int?, storedBeforeStop: Int, storeCalls: Int) async throws {
        let directory = try makeTemporaryDirectory()
        let store = try SQLiteStore(path: directory.appendingPathComponent("gateway.sqlite").path)
        let contracts = try ContractSet.load(from: repositoryRoot.appendingPathComponent("Contracts"))
        let key = SigningKey.generate()
        // Two observations per report: parts of 20 records, so 45 records make three parts.
        let runner = PullRunner(
            gatewayID: "gw-14", province: "14", contracts: contracts, signer: JWSSigner(key: key, type: "lgsp-report+jws"), store: store,
            maxObservationsPerReport: 2)
        #expect(PullRunner.reportsStoredAhead == 10)
        // One bad record in each of the first two parts: a report then spans the parts' boundary.
        // Parts are stored once they hold 20 valid observations (ten reports): as one page, the
        // first part leaves 19 for the second, which then stores 19 reports; in pages of 7, the
        // third and the sixth page reach 20.
        let adapter = ListedRecords(records: Self.records(45, outOfRange: [3, 30]), pageSize: pageSize)
        let (valid, quarantined, _) = await PullRunner.check(
            PullOutput(records: adapter.records, nextCursor: nil), contracts: contracts, province: "14")
        #expect(valid.count == 43 && quarantined.count == 2)
        // Every figure is new to the ledger: each goes as its revision 1.
        let firstRevisions = valid.map { observation in
            var first = observation
            first.revision = 1
            return first
        }
        let expectedIDs = Set(try await runner.signReports(firstRevisions, adapter: adapter.name, createdAt: Date()).map(\.reportID))
        #expect(expectedIDs.count == 22)

        // A pull stopped (as a shutdown stops it) just after its first part was stored: the part
        // stays, ready to deliver; the cursor and the pull history wait for a whole pull.
        // The pull starts only once it can be reached, so the first stored part surely stops it.
        let (start, starting) = AsyncStream<Void>.makeStream()
        let pull = Mutex<Task<PullSummary, any Error>?>(nil)
        let stopped = Task {
            for await _ in start { break }
            return try await runner.pullOnce(adapter, whenStored: { pull.withLock { $0?.cancel() } })
        }
        pull.withLock { $0 = stopped }
        starting.yield()
        starting.finish()
        await #expect(throws: CancellationError.self) { try await stopped.value }
        let afterStop = try await store.entries(state: nil, limit: 100).map(\.reportID)
        #expect(afterStop.count == storedBeforeStop)
        #expect(Set(afterStop).isSubset(of: expectedIDs))
        #expect(try await store.cursor(for: adapter.name) == nil)
        #expect(try await store.pullTotals().pulls == 0)

        // The figures stored before the stop are in the ledger with the same values: the run again
        // counts them as unchanged and sends only the rest, in reports of their own.
        let calls = Calls()
        let summary = try await runner.pullOnce(adapter, whenStored: { calls.count.withLock { $0 += 1 } })
        let storedFigures = 2 * storedBeforeStop, rest = 43 - 2 * storedBeforeStop
        #expect(summary.pulled == 45 && summary.quarantined == 2 && summary.unchanged == storedFigures && summary.revisions == 0)
        #expect(summary.valid == rest && summary.reports == (rest + 1) / 2)
        #expect(calls.count.withLock { $0 } == storeCalls, "parts stored ahead, then the commit")
        let stored = try await store.entries(state: nil, limit: 100)
        #expect(stored.count == storedBeforeStop + (rest + 1) / 2)
        #expect(Set(afterStop).isSubset(of: Set(stored.map(\.reportID))))
        #expect(stored.reduce(0) { $0 + ($1.observationCount ?? 0) } == 43)
        #expect(try await store.cursor(for: adapter.name) == "after-45")
        let totals = try await store.pullTotals()
        #expect(
            totals.pulls == 1 && totals.pulledRecords == 45 && totals.validObservations == rest && totals.unchanged == storedFigures
                && totals.reports == (rest + 1) / 2 && totals.quarantined == 2)
        // The ledger holds each figure once, as revision 1 of the report that carried it.
        let ledger = try await store.latestFigures(indicator: "HSCV_DIEN_TU", period: nil)
        #expect(ledger.count == 43 && ledger.allSatisfy { $0.revision == 1 })
        #expect(Set(ledger.map(\.reportID)) == Set(stored.map(\.reportID)))
        #expect(try await store.quarantined(limit: 10).count == 2)

        // Every stored report verifies with the gateway's key and holds the observations in order.
        let verifier = JWSVerifier(keys: [key.publicKey])
        var sourceIDs: [String] = []
        for entry in stored.sorted(by: { $0.reportID < $1.reportID }) {
            let report = try #require(try await store.signedReport(reportID: entry.reportID))
            let payload = try JSONValue.parse(try verifier.verify(try FlattenedJWS.decode(report.body)).payload)
            sourceIDs += payload["observations"]?.arrayValue?.compactMap { $0["source_record_id"]?.stringValue } ?? []
        }
        #expect(Set(sourceIDs) == Set(valid.compactMap(\.sourceRecordID)) && sourceIDs.count == 43)
    }

    @Test("a pull shorter than one part is one commit, as before", arguments: [0, 1, 19])
    func shortPull(records: Int) async throws {
        let directory = try makeTemporaryDirectory()
        let store = try SQLiteStore(path: directory.appendingPathComponent("gateway.sqlite").path)
        let runner = PullRunner(
            gatewayID: "gw-14", province: "14", contracts: try ContractSet.load(from: repositoryRoot.appendingPathComponent("Contracts")),
            signer: JWSSigner(key: SigningKey.generate(), type: "lgsp-report+jws"), store: store, maxObservationsPerReport: 2)
        let calls = Calls()
        let summary = try await runner.pullOnce(
            ListedRecords(records: Self.records(records, outOfRange: [])), whenStored: { calls.count.withLock { $0 += 1 } })
        #expect(summary.reports == (records + 1) / 2)
        #expect(calls.count.withLock { $0 } == (records > 0 ? 1 : 0))
        #expect(try await store.pullTotals().pulls == 1)
        #expect(try await store.outboxStats(now: Date()).pending == (records + 1) / 2)
    }
}
