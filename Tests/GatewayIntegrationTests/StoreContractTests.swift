import Foundation
import GatewayTestKit
import GatewayContracts
import GatewayStore
import Logging
import Synchronization
import Testing

/// The two kinds of store the gateway runs on.
enum StoreBackend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, postgres
    var testDescription: String { rawValue }

    /// Whether a PostgreSQL server was started for the tests: Tests/test.sh starts one and sets
    /// LGSP_TEST_POSTGRES_URL. Without it `swift test` skips the PostgreSQL cases, saying why.
    static let postgresAvailable = ProcessInfo.processInfo.environment["LGSP_TEST_POSTGRES_URL"] != nil
    static let postgresMissing: Comment =
        "LGSP_TEST_POSTGRES_URL is not set: Tests/test.sh starts a PostgreSQL server for these tests and sets it"

    /// The backends this run can test.
    static var available: [StoreBackend] { postgresAvailable ? allCases : [.sqlite] }
}

/// A fresh database on the test server Tests/test.sh starts (LGSP_TEST_POSTGRES_URL), and its URL.
func freshPostgresDatabase() async throws -> String {
    guard let server = ProcessInfo.processInfo.environment["LGSP_TEST_POSTGRES_URL"], var components = URLComponents(string: server) else {
        throw StoreError("LGSP_TEST_POSTGRES_URL is not set: run the tests with Tests/test.sh, which starts a PostgreSQL server for them")
    }
    let name = "lgsp_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
    // psql, PostgreSQL's own client, makes it: the store under test should not make its own database.
    let (status, output) = try await runToolOffPool(["psql", server, "--quiet", "--no-psqlrc", "-c", "CREATE DATABASE \(name)"])
    guard status == 0 else { throw StoreError("psql could not create a test database: \(output)") }
    components.path = "/" + name
    return components.string!
}

/// Where a fresh store of `backend` would be: a file in a new directory, or a new database.
func freshStoreLocation(_ backend: StoreBackend) async throws -> String {
    switch backend {
    case .sqlite: try makeTemporaryDirectory().appendingPathComponent("g.sqlite").path
    case .postgres: try await freshPostgresDatabase()
    }
}

func openStore(_ backend: StoreBackend) async throws -> any GatewayStore {
    switch backend {
    case .sqlite: try SQLiteStore(path: try makeTemporaryDirectory().appendingPathComponent("g.sqlite").path)
    case .postgres: try PostgresStore(url: try await freshPostgresDatabase())
    }
}

@Suite("The store protocol, on SQLite and on PostgreSQL")
struct StoreContractTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    /// Skipped, with the reason, where no server was started, so a run without PostgreSQL says
    /// that the tests below ran on SQLite alone.
    @Test("the PostgreSQL server for these tests answers", .enabled(if: StoreBackend.postgresAvailable, StoreBackend.postgresMissing))
    func postgresServer() throws {
        let (status, output) = try runTool([
            "psql", ProcessInfo.processInfo.environment["LGSP_TEST_POSTGRES_URL"] ?? "", "--no-psqlrc", "-tAc", "SELECT 6 * 7",
        ])
        #expect(status == 0 && output.trimmingCharacters(in: .whitespacesAndNewlines) == "42", "\(output)")
    }

    func report(_ id: String, observations: Int = 3) -> SignedReport {
        SignedReport(reportID: id, body: Data("{\"id\":\"\(id)\"}".utf8), contentDigest: "sha-256=:\(id):", observationCount: observations)
    }

    func pull(_ reports: [SignedReport], cursor: String?, quarantined: Int = 0, adapter: String = "a") -> PullCommit {
        PullCommit(
            adapter: adapter, startedAt: t0, pulledRecords: reports.reduce(0) { $0 + $1.observationCount } + quarantined, reports: reports,
            quarantined: (0..<quarantined).map {
                QuarantinedRecord(
                    record: .object(["n": .number(Double($0))]),
                    reasons: [.init(pointer: "/value", rule: "indicator.range", message: "too big")])
            },
            cursor: cursor)
    }

    @Test(
        "a pull's reports, quarantine and cursor are committed together; a repeated report id is kept once",
        arguments: StoreBackend.available)
    func commit(backend: StoreBackend) async throws {
        let store = try await openStore(backend)
        try await store.withRunning {
            try await store.commit(pull([report("r1"), report("r2")], cursor: "c1", quarantined: 2), now: t0)
            try await store.commit(pull([report("r2"), report("r3")], cursor: "c2"), now: t0)
            try await store.commit(pull([], cursor: nil), now: t0)
            #expect(try await store.cursor(for: "a") == "c2")
            #expect(try await store.cursor(for: "b") == nil)
            let stats = try await store.outboxStats(now: t0.addingTimeInterval(60))
            #expect(stats.pending == 3 && stats.inFlight == 0 && stats.delivered == 0)
            #expect(stats.oldestUndeliveredAgeSeconds == 60)
            let quarantined = try await store.quarantined(limit: 10)
            #expect(quarantined.count == 2)
            #expect(quarantined.first?.reasons == [.init(pointer: "/value", rule: "indicator.range", message: "too big")])
            let totals = try await store.pullTotals()
            #expect(totals.pulls == 3 && totals.pulledRecords == 14 && totals.reports == 4 && totals.quarantined == 2)
            #expect(try await store.signedReport(reportID: "r2")?.body == Data("{\"id\":\"r2\"}".utf8))
            #expect(try await store.integrityCheck().isEmpty)
        }
    }

    @Test("an adapter's pulls come back newest first, each with what it quarantined by rule", arguments: StoreBackend.available)
    func pullHistory(backend: StoreBackend) async throws {
        let store = try await openStore(backend)
        try await store.withRunning {
            try await store.commit(pull([report("r1")], cursor: "c1", quarantined: 2), now: t0.addingTimeInterval(5))
            let twoRules = QuarantinedRecord(
                record: .object(["n": .number(9)]),
                reasons: [
                    .init(pointer: "/value", rule: "indicator.range", message: "too big"),
                    .init(pointer: "/numerator", rule: "ratio.numerator-le-denominator", message: "more than all"),
                ])
            try await store.commit(
                PullCommit(adapter: "a", startedAt: t0, pulledRecords: 1, reports: [], quarantined: [twoRules], cursor: "c2"),
                now: t0.addingTimeInterval(9))
            try await store.commit(pull([report("r2")], cursor: "c3", adapter: "b"), now: t0)
            let pulls = try await store.pulls(adapter: "a", limit: 10)
            #expect(pulls.map(\.finishedAt) == [t0.addingTimeInterval(9), t0.addingTimeInterval(5)])
            #expect(pulls.map(\.quarantined) == [1, 2] && pulls.map(\.reports) == [0, 1] && pulls[1].records == 5)
            #expect(pulls[0].quarantinedByRule == ["indicator.range": 1, "ratio.numerator-le-denominator": 1])
            #expect(pulls[1].quarantinedByRule == ["indicator.range": 2])
            #expect(try await store.pulls(adapter: "a", limit: 1).count == 1)
            #expect(try await store.pulls(adapter: "b", limit: 10).map(\.reports) == [1])
        }
    }

    @Test(
        "reports stored ahead of a pull's commit are due at once, kept once, and counted in the pull's history",
        arguments: StoreBackend.available)
    func storedAhead(backend: StoreBackend) async throws {
        let store = try await openStore(backend)
        try await store.withRunning {
            try await store.storeReports([report("r1"), report("r2")], adapter: "a", now: t0)
            #expect(try await store.outboxStats(now: t0).pending == 2)
            #expect(try await store.leaseDue(now: t0, limit: 10, leaseDuration: 60).map(\.reportID).sorted() == ["r1", "r2"])
            #expect(try await store.cursor(for: "a") == nil)
            #expect(try await store.pullTotals().pulls == 0)
            // The same report again (a pull run again after failing) is not stored twice.
            try await store.storeReports([report("r2"), report("r3")], adapter: "a", now: t0)
            let commit = PullCommit(
                adapter: "a", startedAt: t0, pulledRecords: 13, reports: [report("r4", observations: 1)], quarantined: [], cursor: "c1",
                storedAhead: ReportTally(reports: 3, observations: 9))
            #expect(commit.totals == ReportTally(reports: 4, observations: 10))
            try await store.commit(commit, now: t0)
            #expect(try await store.entries(state: nil, limit: 10).map(\.reportID).sorted() == ["r1", "r2", "r3", "r4"])
            #expect(try await store.cursor(for: "a") == "c1")
            let totals = try await store.pullTotals()
            #expect(totals.pulls == 1 && totals.pulledRecords == 13 && totals.validObservations == 10 && totals.reports == 4)
        }
    }

    @Test("lease, retry, deliver, dead-letter, requeue, purge; the audit chain and retention", arguments: StoreBackend.available)
    func lifecycle(backend: StoreBackend) async throws {
        let store = try await openStore(backend)
        try await store.withRunning {
            try await store.commit(pull([report("r1"), report("r2"), report("r3")], cursor: nil), now: t0)
            let leased = try await store.leaseDue(now: t0, limit: 10, leaseDuration: 30)
            #expect(leased.map(\.reportID) == ["r1", "r2", "r3"])
            #expect(leased.allSatisfy { $0.attempt == 1 })
            #expect(try await store.leaseDue(now: t0, limit: 10, leaseDuration: 30).isEmpty)
            #expect(try await store.nextDueDate() == t0.addingTimeInterval(30))

            let skipped = try await store.complete(
                [
                    CompletedAttempt(
                        reportID: "r1", attempt: 1, completion: .delivered(status: 202, receipt: "{\"ok\":1}"), receiptVerified: true),
                    CompletedAttempt(
                        reportID: "r2", attempt: 1, completion: .retry(at: t0.addingTimeInterval(5), status: 503, error: "busy")),
                    CompletedAttempt(
                        reportID: "r3", attempt: 1, completion: .deadLetter(status: 422, response: "{\"error\":\"bad\"}", reason: "refused")
                    ),
                    CompletedAttempt(reportID: "r1", attempt: 1, completion: .delivered(status: 202, receipt: nil)),
                    CompletedAttempt(reportID: "nope", attempt: 1, completion: .delivered(status: 202, receipt: nil)),
                ], now: t0.addingTimeInterval(1))
            #expect(skipped.map(\.reportID) == ["r1", "nope"])
            #expect(try await store.entry(reportID: "r1")?.receiptVerified == true)
            #expect(try await store.entries(state: .deadLettered, limit: 10).map(\.reportID) == ["r3"])
            #expect(try await store.nextDueDate() == t0.addingTimeInterval(5))

            let again = try await store.leaseDue(now: t0.addingTimeInterval(5), limit: 10, leaseDuration: 30)
            #expect(again.map(\.reportID) == ["r2"] && again.first?.attempt == 2)
            try await store.complete(reportID: "r2", attempt: 2, with: .delivered(status: 202, receipt: nil), now: t0.addingTimeInterval(6))
            await #expect(throws: StoreError.self) {
                try await store.complete(reportID: "r2", attempt: 2, with: .delivered(status: 202, receipt: nil), now: t0)
            }

            await #expect(throws: StoreError.self) { try await store.purge(reportID: "r1") }
            try await store.requeue(reportID: "r3", now: t0.addingTimeInterval(7))
            #expect(try await store.entry(reportID: "r3")?.state == .pending)
            let third = try await store.leaseDue(now: t0.addingTimeInterval(7), limit: 10, leaseDuration: 30)
            try await store.complete(
                reportID: "r3", attempt: third[0].attempt, with: .deadLetter(status: 422, response: "{}", reason: "refused"),
                now: t0.addingTimeInterval(8))
            try await store.purge(reportID: "r3")
            #expect(try await store.entry(reportID: "r3") == nil)

            let links = try await store.auditLinks()
            #expect(links.map(\.reportID) == ["r1", "r2"])
            #expect(links.map(\.sequence) == [1, 2])
            #expect(links[1].previousHash == links[0].hash)
            #expect(try await store.pruneDelivered(olderThan: 60, now: t0.addingTimeInterval(120)) == 2)
            #expect(try await store.auditLinks() == links)
            let stats = try await store.outboxStats(now: t0.addingTimeInterval(120))
            #expect(stats.pending == 0 && stats.delivered == 0 && stats.deadLettered == 0)
            #expect(try await store.integrityCheck().isEmpty)
            #expect(await store.isWritable())
        }
    }

    @Test("an adapter's last failure stays after later successes; its next run is kept", arguments: StoreBackend.available)
    func adapterStatus(backend: StoreBackend) async throws {
        let store = try await openStore(backend)
        try await store.withRunning {
            try await store.recordPullOutcome(adapter: "a", at: t0, error: "adapter a: HTTP 503", nextRun: t0.addingTimeInterval(60))
            try await store.recordPullOutcome(adapter: "a", at: t0.addingTimeInterval(60), error: nil, nextRun: t0.addingTimeInterval(120))
            try await store.recordPullOutcome(adapter: "b", at: t0, error: nil, nextRun: t0.addingTimeInterval(900))
            let statuses = try await store.adapterStatuses()
            #expect(statuses.map(\.adapter) == ["a", "b"])
            #expect(statuses[0].lastError == "adapter a: HTTP 503" && statuses[0].lastErrorAt == t0)
            #expect(statuses[0].lastSuccess == t0.addingTimeInterval(60) && statuses[0].nextRun == t0.addingTimeInterval(120))
            #expect(statuses[1].lastError == nil && statuses[1].lastSuccess == t0)
        }
    }
}

@Suite(
    "PostgreSQL store shared by several gateways", .serialized, .enabled(if: StoreBackend.postgresAvailable, StoreBackend.postgresMissing))
struct SharedPostgresStoreTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    @Test("two instances leasing at once never take the same report (FOR UPDATE SKIP LOCKED); together they take all")
    func skipLocked() async throws {
        let url = try await freshPostgresDatabase()
        let first = try PostgresStore(url: url), second = try PostgresStore(url: url)
        try await first.withRunning {
            try await second.withRunning {
                let reports = (0..<200).map {
                    SignedReport(reportID: String(format: "r%03d", $0), body: Data("{}".utf8), contentDigest: "d", observationCount: 1)
                }
                try await first.commit(
                    PullCommit(adapter: "a", startedAt: t0, pulledRecords: 200, reports: reports, quarantined: [], cursor: nil), now: t0)
                let t0 = self.t0
                async let fromFirst = Self.leaseAll(first, now: t0)
                async let fromSecond = Self.leaseAll(second, now: t0)
                let (a, b) = try await (fromFirst, fromSecond)
                #expect(Set(a).isDisjoint(with: b), "\(Set(a).intersection(b).count) reports leased twice")
                #expect(Set(a).union(b) == Set(reports.map(\.reportID)))
                #expect(!a.isEmpty && !b.isEmpty, "one instance took everything: \(a.count) and \(b.count)")
                #expect(try await first.outboxStats(now: t0).inFlight == 200)
            }
        }
    }

    @Test("when the database drops the owner's connection, its check says so, and ownership can be sought again")
    func ownershipLostWithConnection() async throws {
        let url = try await freshPostgresDatabase()
        let store = try PostgresStore(url: url)
        try await store.withRunning {
            let checks = OwnershipLog()
            try await store.withScheduleOwnership(of: "dvc-portal", poll: .milliseconds(50)) { stillOwner in
                checks.append("before: \(await stillOwner())")
                // As a database restart or a network cut would: the server ends the session holding the lock.
                let (status, output) =
                    (try? await runToolOffPool([
                        "psql", url.replacingOccurrences(of: "?sslmode=disable", with: ""), "--quiet", "--no-psqlrc", "-c",
                        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND pid <> pg_backend_pid() AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                    ])) ?? (-1, "psql did not run")
                checks.append(status == 0 ? "terminated" : "psql failed: \(output)")
                checks.append("after: \(await stillOwner())")
            }
            try await store.withScheduleOwnership(of: "dvc-portal", poll: .milliseconds(50)) { stillOwner in
                checks.append("again: \(await stillOwner())")
            }
            #expect(checks.entries == ["before: true", "terminated", "after: false", "again: true"])
        }
    }

    @Test("a wrong password is a clear error naming the store without its password; the right one then works")
    func wrongPassword() async throws {
        let url = try await freshPostgresDatabase()
        var components = try #require(URLComponents(string: url))
        let wrong = "wrong-\(UUID())"
        components.password = wrong
        let store = try PostgresStore(url: try #require(components.string))
        try await store.withRunning {
            let error = await #expect(throws: StoreError.self) { try await store.pullTotals() }
            #expect(error?.description.contains("password authentication failed") == true, "\(String(describing: error))")
            #expect(error?.description.contains(wrong) == false)
            #expect(error?.description.contains("postgres://lgsp:***@") == true, "\(String(describing: error))")
            #expect(await !store.isWritable())
        }
        let right = try PostgresStore(url: url)
        let (pulls, writable) = try await right.withRunning { (try await right.pullTotals().pulls, await right.isWritable()) }
        #expect(pulls == 0 && writable)
    }

    @Test("a database made before schema versions were kept upgrades in place: its report stays, every version is recorded once")
    func upgradesUnversionedDatabase() async throws {
        let url = try await freshPostgresDatabase()
        let plain = url.replacingOccurrences(of: "?sslmode=disable", with: "")
        let fixture = repositoryRoot.appendingPathComponent("Tests/fixtures/postgres-unversioned.sql").path
        let (loaded, loadOutput) = try await runToolOffPool([
            "psql", plain, "--quiet", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-f", fixture,
        ])
        #expect(loaded == 0, "\(loadOutput)")
        func query(_ sql: String) throws -> String {
            try runTool(["psql", plain, "--no-psqlrc", "-tAc", sql]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(try query("SELECT to_regclass('schema_migrations') IS NULL") == "t")
        // Two instances starting together: one applies the versions, the other finds them applied.
        let first = try PostgresStore(url: url), second = try PostgresStore(url: url)
        let (stats, leased) = try await first.withRunning {
            try await second.withRunning {
                async let firstStats = first.outboxStats(now: t0)
                async let secondStats = second.outboxStats(now: t0)
                let stats = try await (firstStats, secondStats)
                return (stats.0, try await first.leaseDue(now: t0, limit: 10, leaseDuration: 60).map(\.reportID))
            }
        }
        #expect(stats.pending == 1)
        #expect(leased == ["r-before-versions"])
        #expect(try query("SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations") == "1,2,3,4,5,6,7,8,9,10,11")
        #expect(try query("SELECT count(*) FROM pg_indexes WHERE indexname = 'quarantine_by_adapter'") == "1")
    }

    static func leaseAll(_ store: PostgresStore, now: Date) async throws -> [String] {
        var taken: [String] = []
        while true {
            let batch = try await store.leaseDue(now: now, limit: 7, leaseDuration: 600)
            if batch.isEmpty { return taken }
            taken += batch.map(\.reportID)
        }
    }

    @Test("an adapter's schedule has one owner; the other instance takes it over when the owner lets go")
    func scheduleOwnership() async throws {
        let url = try await freshPostgresDatabase()
        let first = try PostgresStore(url: url), second = try PostgresStore(url: url)
        try await first.withRunning {
            let events = OwnershipLog()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await first.withScheduleOwnership(of: "dvc-portal", poll: .milliseconds(50)) { stillOwner in
                        // The check the pull loop makes before each pull sees the lock held.
                        events.append(await stillOwner() ? "first owns" : "first's check says it does not own")
                        // Held until the other instance has been seen waiting for it, and owning another schedule.
                        _ = try? await eventually(timeout: .seconds(20)) {
                            Set(events.entries).isSuperset(of: ["second waits", "second owns qlvb"])
                        }
                        events.append("first lets go")
                    }
                }
                #expect(try await eventually(timeout: .seconds(20)) { events.entries.contains("first owns") })
                group.addTask {
                    try await second.withScheduleOwnership(
                        of: "dvc-portal", poll: .milliseconds(50), whileWaiting: { events.append("second waits") }
                    ) { _ in
                        events.append("second owns")
                    }
                }
                // Another adapter's schedule is free all along.
                group.addTask {
                    try await second.withScheduleOwnership(of: "qlvb-documents", poll: .milliseconds(50)) { _ in
                        events.append("second owns qlvb")
                    }
                }
                try await group.waitForAll()
            }
            let log = events.entries
            let order = log.filter { ["first owns", "first lets go", "second owns"].contains($0) }
            #expect(order == ["first owns", "first lets go", "second owns"], "\(log)")
            #expect(log.contains("second waits"))
            #expect(log.firstIndex(of: "second owns qlvb")! < log.firstIndex(of: "first lets go")!, "\(log)")
        }
    }
}

final class OwnershipLog: Sendable {
    private let state = Mutex<[String]>([])
    func append(_ event: String) { state.withLock { $0.append(event) } }
    var entries: [String] { state.withLock { $0 } }
}
