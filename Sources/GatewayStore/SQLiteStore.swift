import Foundation
import GRDB
import GatewayContracts
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
    /// `close(2)`, named apart from the store's own `close()`.
    private let closeDescriptor = Glibc.close
#elseif canImport(Darwin)
    import Darwin
    private let closeDescriptor = Darwin.close
#endif

/// The default store: one SQLite file in WAL mode.
///
/// `synchronous = FULL`: in WAL mode NORMAL may lose the last commits on power loss, and a
/// committed pull has already advanced the source's cursor, so losing it would lose data for good.
/// The cost is one fsync per commit, small beside a network pull.
///
/// One gateway process owns a store: an exclusive `flock` on `<path>.lock` refuses a second one,
/// which is what makes it safe to reclaim in-flight deliveries at start-up.
public final class SQLiteStore: GatewayStore {
    let pool: DatabasePool
    private let lockDescriptor: Int32?
    public let path: String
    public var location: String { path }

    /// Opens (creating if needed) the store at `path`. `exclusive` takes the owner's lock; read-only
    /// tools such as status commands open it without.
    public init(path: String, exclusive: Bool = true) throws {
        self.path = path
        try FileManager.default.createDirectory(
            at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
        if exclusive {
            let descriptor = open(path + ".lock", O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else { throw StoreError("\(path).lock cannot be opened (errno \(errno))") }
            guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
                _ = closeDescriptor(descriptor)
                throw StoreError("store \(path) is in use by another gateway process")
            }
            lockDescriptor = descriptor
        } else {
            lockDescriptor = nil
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        // Again on the writer: GRDB sets `synchronous = NORMAL` when it turns WAL mode on, after
        // `prepareDatabase`, so the writer had run with NORMAL all along.
        try pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = FULL") }
        try Self.migrator.migrate(pool)
    }

    deinit {
        if let lockDescriptor { _ = closeDescriptor(lockDescriptor) }
    }

    /// A SQLite store has no background work: it waits for the gateway to stop, gracefully or
    /// cut off (a cancelled wait is a stop too, not a failure of the store).
    public func run() async throws {
        try? await gracefulShutdown()
    }

    /// Closes the database; the owner's lock goes with the process or the store's release.
    public func close() async throws {
        try pool.close()
    }

    /// One gateway owns a SQLite store, and with it every schedule.
    public func withScheduleOwnership(of adapter: String, whileWaiting: () -> Void, _ body: (_ stillOwner: () async -> Bool) async -> Void)
        async throws
    {
        await body { true }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE outbox (
                        report_id TEXT PRIMARY KEY NOT NULL,
                        adapter TEXT NOT NULL,
                        body BLOB NOT NULL,
                        content_digest TEXT NOT NULL,
                        observation_count INTEGER NOT NULL,
                        state TEXT NOT NULL,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        created_at REAL NOT NULL,
                        next_attempt_at REAL NOT NULL,
                        lease_until REAL,
                        last_status INTEGER,
                        last_error TEXT,
                        delivered_at REAL,
                        receipt TEXT,
                        response TEXT
                    );
                    CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
                    CREATE TABLE quarantine (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        adapter TEXT NOT NULL,
                        quarantined_at REAL NOT NULL,
                        record TEXT NOT NULL,
                        reasons TEXT NOT NULL
                    );
                    CREATE TABLE cursors (
                        adapter TEXT PRIMARY KEY NOT NULL,
                        cursor TEXT NOT NULL,
                        updated_at REAL NOT NULL
                    );
                    CREATE TABLE pulls (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        adapter TEXT NOT NULL,
                        started_at REAL NOT NULL,
                        finished_at REAL NOT NULL,
                        records INTEGER NOT NULL,
                        valid INTEGER NOT NULL,
                        quarantined INTEGER NOT NULL,
                        reports INTEGER NOT NULL
                    );
                    """)
        }
        migrator.registerMigration("v2-serializations") { db in
            try db.execute(sql: "ALTER TABLE outbox ADD COLUMN content_type TEXT NOT NULL DEFAULT 'application/jose+json'")
            try db.execute(sql: "ALTER TABLE outbox ADD COLUMN detached_signature TEXT")
        }
        migrator.registerMigration("v3-audit") { db in
            try db.execute(
                sql: """
                    CREATE TABLE audit (
                        sequence INTEGER PRIMARY KEY NOT NULL,
                        report_id TEXT NOT NULL,
                        content_digest TEXT NOT NULL,
                        delivered_at REAL NOT NULL,
                        receipt_digest TEXT NOT NULL,
                        previous_hash TEXT NOT NULL,
                        hash TEXT NOT NULL
                    )
                    """)
            try db.execute(sql: "ALTER TABLE outbox ADD COLUMN receipt_verified INTEGER")
        }
        migrator.registerMigration("v4-adapter-status") { db in
            try db.execute(
                sql: """
                    CREATE TABLE adapter_status (
                        adapter TEXT PRIMARY KEY NOT NULL,
                        last_pull_at REAL,
                        last_success_at REAL,
                        last_error TEXT,
                        last_error_at REAL,
                        next_run_at REAL
                    )
                    """)
        }
        // A signed report is hundreds of kilobytes, which SQLite keeps in a chain of overflow
        // pages after the row's earlier columns and before its later ones. In the outbox row it
        // was walked to read `state` or `created_at`, and rewritten whole by every lease and
        // every completion; counting the outbox read every stored report. Bodies never change
        // once stored, so they live in a table of their own, and `outbox.body` stays empty.
        // Reports stored before stay where they are until delivered and pruned: copying them at
        // the first start after an upgrade would double the store on disk and hold READY back in
        // proportion to the backlog (11 s for a million observations), which is largest after a
        // long outage, when the disk is also fullest.
        migrator.registerMigration("v5-report-bodies") { db in
            try db.execute(sql: "CREATE TABLE report_bodies (report_id TEXT PRIMARY KEY NOT NULL, body BLOB NOT NULL)")
        }
        return migrator
    }

    public func cursor(for adapter: String) async throws -> String? {
        try await pool.read { db in
            try String.fetchOne(db, sql: "SELECT cursor FROM cursors WHERE adapter = ?", arguments: [adapter])
        }
    }

    public func commit(_ pull: PullCommit, now: Date) async throws {
        let reasonsEncoder = JSONEncoder()
        reasonsEncoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let quarantineRows = try pull.quarantined.map { entry in
            (
                String(decoding: try entry.record.canonicalData(), as: UTF8.self),
                String(decoding: try reasonsEncoder.encode(entry.reasons), as: UTF8.self)
            )
        }
        try await pool.write { db in
            try Self.insert(pull.reports, adapter: pull.adapter, now: now, in: db)
            for (record, reasons) in quarantineRows {
                try db.execute(
                    sql: "INSERT INTO quarantine (adapter, quarantined_at, record, reasons) VALUES (?, ?, ?, ?)",
                    arguments: [pull.adapter, now.timeIntervalSince1970, record, reasons])
            }
            if let cursor = pull.cursor {
                try db.execute(
                    sql: """
                        INSERT INTO cursors (adapter, cursor, updated_at) VALUES (?, ?, ?)
                        ON CONFLICT(adapter) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at
                        """,
                    arguments: [pull.adapter, cursor, now.timeIntervalSince1970])
            }
            let totals = pull.totals
            try db.execute(
                sql:
                    "INSERT INTO pulls (adapter, started_at, finished_at, records, valid, quarantined, reports) VALUES (?, ?, ?, ?, ?, ?, ?)",
                arguments: [
                    pull.adapter, pull.startedAt.timeIntervalSince1970, now.timeIntervalSince1970, pull.pulledRecords,
                    totals.observations, pull.quarantined.count, totals.reports,
                ])
        }
    }

    public func storeReports(_ reports: [SignedReport], adapter: String, now: Date) async throws {
        try await pool.write { db in try Self.insert(reports, adapter: adapter, now: now, in: db) }
    }

    // Statements run for every report (here, in `save`, `complete` and the audit chain) are
    // prepared once per connection: preparing them each time, with GRDB's authorizer, was near 1%
    // of the pipeline's CPU.
    static func insert(_ reports: [SignedReport], adapter: String, now: Date, in db: Database) throws {
        for report in reports {
            try db.cachedStatement(
                sql: """
                    INSERT INTO outbox (report_id, adapter, body, content_type, detached_signature, content_digest,
                                        observation_count, state, created_at, next_attempt_at)
                    VALUES (?, ?, X'', ?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT(report_id) DO NOTHING
                    """
            ).execute(
                arguments: [
                    report.reportID, adapter, report.contentType, report.detachedSignature,
                    report.contentDigest, report.observationCount, now.timeIntervalSince1970, now.timeIntervalSince1970,
                ])
            // A report kept already keeps its body: the same id is the same content.
            guard db.changesCount > 0 else { continue }
            try db.cachedStatement(sql: "INSERT INTO report_bodies (report_id, body) VALUES (?, ?)").execute(arguments: [
                report.reportID, report.body,
            ])
        }
    }

    /// A report's signed body, from its own table or, stored before migration v5, from its outbox row.
    static let signedBody = "COALESCE(report_bodies.body, outbox.body) AS signed_body"

    public func leaseDue(now: Date, limit: Int, leaseDuration: TimeInterval) async throws -> [LeasedReport] {
        try await pool.write { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT outbox.*, \(Self.signedBody) FROM outbox LEFT JOIN report_bodies USING (report_id)
                    WHERE (state = 'pending' AND next_attempt_at <= ?) OR (state = 'in_flight' AND lease_until <= ?)
                    ORDER BY created_at, report_id LIMIT ?
                    """,
                arguments: [now.timeIntervalSince1970, now.timeIntervalSince1970, limit])
            var leased: [LeasedReport] = []
            for row in rows {
                var entry = Self.entry(from: row)
                try entry.lease(now: now, duration: leaseDuration)
                try Self.save(entry, in: db)
                leased.append(
                    LeasedReport(
                        reportID: entry.reportID, attempt: entry.attempts, body: row["signed_body"], contentType: row["content_type"],
                        detachedSignature: row["detached_signature"], contentDigest: row["content_digest"],
                        observationCount: row["observation_count"],
                        createdAt: Date(timeIntervalSince1970: row["created_at"])))
            }
            return leased
        }
    }

    @discardableResult
    public func complete(_ attempts: [CompletedAttempt], now: Date) async throws -> [(reportID: String, reason: String)] {
        // One transaction (one fsync) per request, however many reports it carried.
        try await pool.write { db in
            var skipped: [(reportID: String, reason: String)] = []
            for attempt in attempts {
                guard
                    let row = try Row.fetchOne(
                        db.cachedStatement(sql: "SELECT * FROM outbox WHERE report_id = ?"), arguments: [attempt.reportID])
                else {
                    skipped.append((attempt.reportID, "report \(attempt.reportID) is not in the outbox"))
                    continue
                }
                var entry = Self.entry(from: row)
                do { try entry.complete(attempt.completion, attempt: attempt.attempt, now: now) } catch {
                    skipped.append((attempt.reportID, "\(error)"))
                    continue
                }
                try Self.save(entry, in: db)
                if let verified = attempt.receiptVerified {
                    try db.execute(
                        sql: "UPDATE outbox SET receipt_verified = ? WHERE report_id = ?", arguments: [verified, attempt.reportID])
                }
                if entry.state == .delivered {
                    try Self.appendAuditLink(
                        reportID: attempt.reportID, contentDigest: row["content_digest"], deliveredAt: now, receipt: entry.receipt, in: db)
                }
            }
            return skipped
        }
    }

    /// Links a delivered report into the audit chain, in the transaction that records the delivery.
    private static func appendAuditLink(reportID: String, contentDigest: String, deliveredAt: Date, receipt: String?, in db: Database)
        throws
    {
        let last = try Row.fetchOne(db.cachedStatement(sql: "SELECT sequence, hash FROM audit ORDER BY sequence DESC LIMIT 1"))
        let sequence: Int64 = (last?["sequence"] ?? 0) + 1
        let previous: String = last?["hash"] ?? AuditLink.genesis
        let receiptDigest = AuditLink.digest(receipt)
        let hash = AuditLink.hash(
            previous: previous, sequence: sequence, reportID: reportID, contentDigest: contentDigest,
            deliveredAt: deliveredAt.timeIntervalSince1970, receiptDigest: receiptDigest)
        try db.cachedStatement(
            sql:
                "INSERT INTO audit (sequence, report_id, content_digest, delivered_at, receipt_digest, previous_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)"
        ).execute(
            arguments: [sequence, reportID, contentDigest, deliveredAt.timeIntervalSince1970, receiptDigest, previous, hash])
    }

    /// The audit chain in sequence order.
    public func auditLinks() async throws -> [AuditLink] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM audit ORDER BY sequence").map { row in
                AuditLink(
                    sequence: row["sequence"], reportID: row["report_id"], contentDigest: row["content_digest"],
                    deliveredAt: row["delivered_at"],
                    receiptDigest: row["receipt_digest"], previousHash: row["previous_hash"], hash: row["hash"])
            }
        }
    }

    /// Deletes delivered reports older than `age`; their audit links stay. Returns how many.
    public func pruneDelivered(olderThan age: TimeInterval, now: Date) async throws -> Int {
        try await pool.write { db in
            let cutoff = now.timeIntervalSince1970 - age
            try db.execute(
                sql:
                    "DELETE FROM report_bodies WHERE report_id IN (SELECT report_id FROM outbox WHERE state = 'delivered' AND delivered_at < ?)",
                arguments: [cutoff])
            try db.execute(sql: "DELETE FROM outbox WHERE state = 'delivered' AND delivered_at < ?", arguments: [cutoff])
            return db.changesCount
        }
    }

    /// Records whether the centre's signed receipt for a report verified.
    public func markReceipt(reportID: String, verified: Bool) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE outbox SET receipt_verified = ? WHERE report_id = ?", arguments: [verified, reportID])
        }
    }

    public func nextDueDate() async throws -> Date? {
        try await pool.read { db in
            let next = try Double.fetchOne(
                db,
                sql: """
                    SELECT MIN(CASE state WHEN 'pending' THEN next_attempt_at ELSE lease_until END)
                    FROM outbox WHERE state IN ('pending', 'in_flight')
                    """)
            return next.map(Date.init(timeIntervalSince1970:))
        }
    }

    public func outboxStats(now: Date) async throws -> OutboxStats {
        try await pool.read { db in
            var stats = OutboxStats()
            for row in try Row.fetchAll(
                db,
                sql: "SELECT state, COUNT(*) AS n, SUM(observation_count) AS o, SUM(receipt_verified = 0) AS u FROM outbox GROUP BY state")
            {
                let count: Int = row["n"]
                stats.unverifiedReceipts += row["u"] ?? 0
                switch OutboxState(rawValue: row["state"]) {
                case .pending: stats.pending = count
                case .inFlight: stats.inFlight = count
                case .delivered:
                    stats.delivered = count
                    stats.deliveredObservations = row["o"] ?? 0
                case .deadLettered: stats.deadLettered = count
                case nil: break
                }
            }
            if let oldest = try Double.fetchOne(db, sql: "SELECT MIN(created_at) FROM outbox WHERE state IN ('pending', 'in_flight')") {
                stats.oldestUndeliveredAgeSeconds = max(0, Int(now.timeIntervalSince1970 - oldest))
            }
            return stats
        }
    }

    public func pullTotals() async throws -> PullTotals {
        try await pool.read { db in
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT COUNT(*) AS pulls, COALESCE(SUM(records), 0) AS records, COALESCE(SUM(valid), 0) AS valid,
                           COALESCE(SUM(quarantined), 0) AS quarantined, COALESCE(SUM(reports), 0) AS reports FROM pulls
                    """)!
            return PullTotals(
                pulls: row["pulls"], pulledRecords: row["records"], validObservations: row["valid"],
                quarantined: row["quarantined"], reports: row["reports"])
        }
    }

    public func quarantined(limit: Int) async throws -> [StoredQuarantine] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM quarantine ORDER BY id LIMIT ?", arguments: [limit]).map { row in
                let reasonsText: String = row["reasons"]
                let reasons = (try? JSONDecoder().decode([QuarantineReason].self, from: Data(reasonsText.utf8))) ?? []
                return StoredQuarantine(id: row["id"], adapter: row["adapter"], record: row["record"], reasons: reasons)
            }
        }
    }

    public func entry(reportID: String) async throws -> OutboxEntry? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM outbox WHERE report_id = ?", arguments: [reportID]).map(Self.entry(from:))
        }
    }

    public func entries(state: OutboxState?, limit: Int) async throws -> [OutboxEntry] {
        try await pool.read { db in
            let rows =
                if let state {
                    try Row.fetchAll(
                        db, sql: "SELECT * FROM outbox WHERE state = ? ORDER BY created_at, report_id LIMIT ?",
                        arguments: [state.rawValue, limit])
                } else {
                    try Row.fetchAll(db, sql: "SELECT * FROM outbox ORDER BY created_at, report_id LIMIT ?", arguments: [limit])
                }
            return rows.map(Self.entry(from:))
        }
    }

    public func requeue(reportID: String, now: Date, includingPending: Bool) async throws {
        try await pool.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM outbox WHERE report_id = ?", arguments: [reportID]) else {
                throw StoreError("report \(reportID) is not in the outbox")
            }
            var entry = Self.entry(from: row)
            try entry.requeue(now: now, includingPending: includingPending)
            try Self.save(entry, in: db)
        }
    }

    public func purge(reportID: String) async throws {
        try await pool.write { db in
            guard let state = try String.fetchOne(db, sql: "SELECT state FROM outbox WHERE report_id = ?", arguments: [reportID]) else {
                throw StoreError("report \(reportID) is not in the outbox")
            }
            guard state == OutboxState.deadLettered.rawValue else {
                throw StoreError("report \(reportID) is \(state); only dead letters can be purged")
            }
            try db.execute(sql: "DELETE FROM report_bodies WHERE report_id = ?", arguments: [reportID])
            try db.execute(sql: "DELETE FROM outbox WHERE report_id = ?", arguments: [reportID])
        }
    }

    public func signedReport(reportID: String) async throws -> SignedReport? {
        try await pool.read { db in
            try Row.fetchOne(
                db, sql: "SELECT outbox.*, \(Self.signedBody) FROM outbox LEFT JOIN report_bodies USING (report_id) WHERE report_id = ?",
                arguments: [reportID]
            ).map { row in
                SignedReport(
                    reportID: row["report_id"], body: row["signed_body"], contentType: row["content_type"],
                    detachedSignature: row["detached_signature"], contentDigest: row["content_digest"],
                    observationCount: row["observation_count"])
            }
        }
    }

    public func recoverInterruptedDeliveries(now: Date) async throws -> Int {
        guard lockDescriptor != nil else { throw StoreError("only the store's owner may recover interrupted deliveries") }
        return try await pool.write { db in
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM outbox WHERE state = 'in_flight'")
            for row in rows {
                var entry = Self.entry(from: row)
                try entry.abandonLease(now: now)
                try Self.save(entry, in: db)
            }
            return rows.count
        }
    }

    /// Why new pulls must wait, if they must: the disk under the store is nearly full, or the
    /// store has grown past its limit. What is already stored is still delivered.
    public func capacityProblem(minimumFreeBytes: Int64, maximumBytes: Int64) -> String? {
        var size: Int64 = 0
        for suffix in ["", "-wal"] {
            if let attributes = try? FileManager.default.attributesOfItem(atPath: path + suffix), let bytes = attributes[.size] as? Int64 {
                size += bytes
            }
        }
        if size > maximumBytes { return "the store holds \(size >> 20) MiB, more than its limit of \(maximumBytes >> 20) MiB" }
        var stats = statvfs()
        if statvfs(URL(fileURLWithPath: path).deletingLastPathComponent().path, &stats) == 0 {
            let free = Int64(stats.f_bavail) * Int64(stats.f_frsize)
            if free < minimumFreeBytes {
                return "only \(free >> 10) KiB free on the store's disk, less than the \(minimumFreeBytes >> 10) KiB kept free"
            }
        }
        return nil
    }

    /// Records how a pull of `adapter` ended (`error` nil for success) and when the next one is due.
    public func recordPullOutcome(adapter: String, at time: Date, error: String?, nextRun: Date) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO adapter_status (adapter, last_pull_at, last_success_at, last_error, last_error_at, next_run_at)
                    VALUES (?1, ?2, CASE WHEN ?3 IS NULL THEN ?2 END, ?3, CASE WHEN ?3 IS NOT NULL THEN ?2 END, ?4)
                    ON CONFLICT(adapter) DO UPDATE SET
                        last_pull_at = excluded.last_pull_at,
                        last_success_at = COALESCE(excluded.last_success_at, adapter_status.last_success_at),
                        last_error = COALESCE(excluded.last_error, adapter_status.last_error),
                        last_error_at = COALESCE(excluded.last_error_at, adapter_status.last_error_at),
                        next_run_at = excluded.next_run_at
                    """,
                arguments: [adapter, time.timeIntervalSince1970, error, nextRun.timeIntervalSince1970])
        }
    }

    /// What each adapter last did, as `status` shows it.
    public func adapterStatuses() async throws -> [AdapterStatus] {
        try await pool.read { db in
            func date(_ row: Row, _ column: String) -> Date? { (row[column] as Double?).map(Date.init(timeIntervalSince1970:)) }
            return try Row.fetchAll(db, sql: "SELECT * FROM adapter_status ORDER BY adapter").map { row in
                AdapterStatus(
                    adapter: row["adapter"], lastPull: date(row, "last_pull_at"), lastSuccess: date(row, "last_success_at"),
                    lastError: row["last_error"], lastErrorAt: date(row, "last_error_at"), nextRun: date(row, "next_run_at"))
            }
        }
    }

    /// Whether a write transaction can be opened now (for readiness checks); writes nothing.
    /// Asynchronous, so a readiness probe waiting behind a long commit holds no cooperative thread.
    public func isWritable() async -> Bool {
        do {
            try await pool.writeWithoutTransaction { db in
                try db.execute(sql: "BEGIN IMMEDIATE")
                try db.execute(sql: "ROLLBACK")
            }
            return true
        } catch {
            return false
        }
    }

    /// Runs SQLite's own consistency check; returns its findings, empty when the file is sound.
    public func integrityCheck() async throws -> [String] {
        try await pool.read { db in
            try String.fetchAll(db, sql: "PRAGMA integrity_check").filter { $0 != "ok" }
        }
    }

    private static func entry(from row: Row) -> OutboxEntry {
        func date(_ column: String) -> Date? { (row[column] as Double?).map(Date.init(timeIntervalSince1970:)) }
        var entry = OutboxEntry(
            reportID: row["report_id"], state: OutboxState(rawValue: row["state"]) ?? .pending, attempts: row["attempts"],
            nextAttemptAt: date("next_attempt_at") ?? .distantPast, leaseUntil: date("lease_until"),
            lastStatus: row["last_status"], lastError: row["last_error"], deliveredAt: date("delivered_at"),
            receipt: row["receipt"], response: row["response"])
        entry.adapter = row["adapter"]
        entry.observationCount = row["observation_count"]
        entry.createdAt = date("created_at")
        entry.receiptVerified = row["receipt_verified"]
        return entry
    }

    private static func save(_ entry: OutboxEntry, in db: Database) throws {
        try db.cachedStatement(
            sql: """
                UPDATE outbox SET state = ?, attempts = ?, next_attempt_at = ?, lease_until = ?, last_status = ?,
                    last_error = ?, delivered_at = ?, receipt = ?, response = ? WHERE report_id = ?
                """
        ).execute(
            arguments: [
                entry.state.rawValue, entry.attempts, entry.nextAttemptAt.timeIntervalSince1970,
                entry.leaseUntil?.timeIntervalSince1970, entry.lastStatus, entry.lastError,
                entry.deliveredAt?.timeIntervalSince1970, entry.receipt, entry.response, entry.reportID,
            ])
    }
}

public struct StoreError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
