import Foundation
import GatewayTestKit
import GatewayContracts
import GatewayStore
import Synchronization
import Testing

@Suite("SQLite store on real files")
struct StoreTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    func report(_ id: String, observations: Int = 3) -> SignedReport {
        let body = Data("{\"id\":\"\(id)\"}".utf8)
        return SignedReport(reportID: id, body: body, contentDigest: "sha-256=:x:", observationCount: observations)
    }

    func pull(_ reports: [SignedReport], cursor: String?, quarantined: Int = 0) -> PullCommit {
        PullCommit(
            adapter: "a", startedAt: t0, pulledRecords: reports.reduce(0) { $0 + $1.observationCount } + quarantined, reports: reports,
            quarantined: (0..<quarantined).map {
                QuarantinedRecord(
                    record: .object(["n": .number(Double($0))]),
                    reasons: [.init(pointer: "/value", rule: "indicator.range", message: "too big")])
            },
            cursor: cursor)
    }

    @Test("a pull's reports, quarantine and cursor are committed together; a repeated report id is kept once")
    func commit() async throws {
        let directory = try makeTemporaryDirectory()
        let store = try SQLiteStore(path: directory.appendingPathComponent("g.sqlite").path)
        try await store.commit(pull([report("r1"), report("r2")], cursor: "c1", quarantined: 2), now: t0)
        try await store.commit(pull([report("r2"), report("r3")], cursor: "c2"), now: t0)
        #expect(try await store.cursor(for: "a") == "c2")
        let stats = try await store.outboxStats(now: t0.addingTimeInterval(60))
        #expect(stats.pending == 3)
        #expect(stats.oldestUndeliveredAgeSeconds == 60)
        let quarantined = try await store.quarantined(limit: 10)
        #expect(quarantined.count == 2)
        #expect(quarantined.first?.reasons == [.init(pointer: "/value", rule: "indicator.range", message: "too big")])
        #expect(try await store.integrityCheck().isEmpty)
    }

    @Test("leases, completions and reopening the file keep the state")
    func leaseAndReopen() async throws {
        let directory = try makeTemporaryDirectory()
        let path = directory.appendingPathComponent("g.sqlite").path
        do {
            let store = try SQLiteStore(path: path)
            try await store.commit(pull([report("r1"), report("r2")], cursor: nil), now: t0)
            let leased = try await store.leaseDue(now: t0, limit: 10, leaseDuration: 30)
            #expect(leased.map(\.reportID) == ["r1", "r2"])
            #expect(try await store.leaseDue(now: t0, limit: 10, leaseDuration: 30).isEmpty)
            try await store.complete(reportID: "r1", attempt: 1, with: .delivered(status: 202, receipt: "{\"ok\":true}"), now: t0)
            #expect(try await store.nextDueDate() == t0.addingTimeInterval(30))
        }
        // Another process finds r2 still in flight: the owner reclaims it at start-up. The first
        // store lets go of its lock when the last reference to it goes, which GRDB's queues may
        // hold a moment after the scope ends; a lock never released would fail here.
        let box = Mutex<SQLiteStore?>(nil)
        #expect(
            try await eventually(timeout: .seconds(10)) {
                let store = try? SQLiteStore(path: path)
                box.withLock { $0 = store }
                return store != nil
            })
        let reopened = try #require(box.withLock { $0 })
        #expect(try await reopened.entry(reportID: "r1")?.receipt == "{\"ok\":true}")
        #expect(try await reopened.recoverInterruptedDeliveries(now: t0.addingTimeInterval(1)) == 1)
        let again = try await reopened.leaseDue(now: t0.addingTimeInterval(1), limit: 10, leaseDuration: 30)
        #expect(again.map(\.reportID) == ["r2"])
        #expect(again.first?.attempt == 2)
        let stats = try await reopened.outboxStats(now: t0)
        #expect(stats.delivered == 1 && stats.inFlight == 1 && stats.deliveredObservations == 3)
    }

    @Test("a second owner of the same store is refused")
    func exclusive() throws {
        let directory = try makeTemporaryDirectory()
        let path = directory.appendingPathComponent("g.sqlite").path
        let first = try SQLiteStore(path: path)
        #expect(throws: StoreError.self) { try SQLiteStore(path: path) }
        _ = try SQLiteStore(path: path, exclusive: false)
        withExtendedLifetime(first) {}
    }

    @Test("a gateway and commands opening a new store at the same moment all open it, each migration applied once")
    func concurrentFirstOpen() async throws {
        // Each store its own pool, as in separate processes: SQLite's file locks are what they share.
        for round in 1...5 {
            let path = try makeTemporaryDirectory().appendingPathComponent("g-\(round).sqlite").path
            let outcomes = await withTaskGroup(of: String?.self) { group in
                for index in 0..<6 {
                    group.addTask {
                        do {
                            _ = try SQLiteStore(path: path, exclusive: index == 0)
                            return nil
                        } catch { return "\(error)" }
                    }
                }
                return await group.reduce(into: [String]()) { if let failure = $1 { $0.append(failure) } }
            }
            #expect(outcomes.isEmpty, "round \(round): \(outcomes)")
            let (status, applied) = try await runSQL(
                "SELECT count(*) || ' ' || count(DISTINCT identifier) || ' ' || max(identifier = 'v14-pulls-by-rule') FROM grdb_migrations",
                on: path)
            #expect(status == 0 && applied.trimmingCharacters(in: .whitespacesAndNewlines) == "14 14 1", "\(applied)")
        }
    }

    @Test("a store written before report bodies moved to a table of their own opens at once with every report, state and audit link kept")
    func storeFromBeforeBodiesMoved() async throws {
        let directory = try makeTemporaryDirectory()
        let path = directory.appendingPathComponent("g.sqlite").path
        func sqlite(_ statement: String) throws -> String {
            let (status, output) = try runTool(["sqlite3", path, statement], includeStandardError: true)
            guard status == 0 else { throw StoreError("sqlite3 failed: \(output)") }
            return output.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        _ = try sqlite(".read \(repositoryRoot.appendingPathComponent("Tests/fixtures/store-v4.sql").path)")
        // A pending report whose body spans many overflow pages, as real ones do.
        _ = try sqlite(
            """
            INSERT INTO outbox (report_id, adapter, body, content_digest, observation_count, state, created_at, next_attempt_at)
            VALUES ('r3', 'a', CAST(printf('%.*c', 300000, 'x') AS BLOB), 'sha-256=:y:', 500, 'pending', 1800000002.0, 1800000002.0)
            """)
        let store = try SQLiteStore(path: path)
        // Nothing was copied: the old reports' bodies are where they were.
        #expect(try sqlite("SELECT count(*) FROM report_bodies") == "0")
        #expect(try await store.signedReport(reportID: "r1")?.body == Data(#"{"id":"r1"}"#.utf8))
        #expect(try await store.entry(reportID: "r1")?.receipt == #"{"ok":true}"#)
        #expect(try await store.auditLinks().map(\.reportID) == ["r1"])
        #expect(try await store.recoverInterruptedDeliveries(now: t0.addingTimeInterval(3)) == 1)
        let leased = try await store.leaseDue(now: t0.addingTimeInterval(3), limit: 10, leaseDuration: 30)
        #expect(leased.map(\.reportID) == ["r2", "r3"])
        #expect(leased.map(\.attempt) == [3, 1])
        #expect(leased.first?.body == Data(#"{"id":"r2"}"#.utf8))
        #expect(leased.last?.body == Data(repeating: UInt8(ascii: "x"), count: 300_000))
        #expect(try await store.integrityCheck().isEmpty)

        // A report stored after the move is kept once, its body apart from its row, and both go
        // when it is delivered and pruned; so does an old one.
        try await store.commit(pull([report("r4"), report("r4")], cursor: "c"), now: t0.addingTimeInterval(4))
        #expect(try await store.signedReport(reportID: "r4")?.body == report("r4").body)
        #expect(
            try sqlite("SELECT length(outbox.body) || ',' || length(report_bodies.body) FROM outbox JOIN report_bodies USING (report_id)")
                == "0,\(report("r4").body.count)")
        let leasedNew = try await store.leaseDue(now: t0.addingTimeInterval(5), limit: 10, leaseDuration: 30)
        #expect(leasedNew.map(\.reportID) == ["r4"])
        #expect(leasedNew.first?.body == report("r4").body)
        try await store.complete(reportID: "r4", attempt: 1, with: .delivered(status: 202, receipt: nil), now: t0.addingTimeInterval(5))
        #expect(try await store.pruneDelivered(olderThan: 60, now: t0.addingTimeInterval(3600)) == 2)
        #expect(try sqlite("SELECT count(*) FROM report_bodies") == "0")
        #expect(try sqlite("SELECT group_concat(report_id) FROM (SELECT report_id FROM outbox ORDER BY report_id)") == "r2,r3")
    }
}
