import Foundation
import GatewayContracts
import Logging
import NIOCore
import NIOSSL
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The store for several gateways sharing one PostgreSQL database (`LGSP_STORE=postgres://…`).
///
/// The tables and the outbox state machine are SQLite's; what differs is how instances share them:
/// reports are leased with `FOR UPDATE SKIP LOCKED`, so two gateways never take the same one; the
/// audit chain grows under a transaction-scoped advisory lock, so its links stay in one line; and
/// each adapter's schedule is owned by one instance at a time through a session advisory lock
/// (`withScheduleOwnership`), which PostgreSQL releases when that instance's connection dies.
public final class PostgresStore: GatewayStore {
    private let client: PostgresClient
    /// The same server for one connection of its own: the schema is made over it, so a refused
    /// login or an unreachable server is reported as such at once, not as the pool giving up.
    private let direct: PostgresConnection.Configuration
    /// Whether the schema is known to exist; until then every operation first makes sure of it, so
    /// a gateway started before its database comes up recovers when it does.
    private let migrated = Mutex(false)
    private let logger: Logger
    public let location: String
    /// What the last size measurement and the last query said, for the synchronous checks.
    private let health = Mutex<(databaseBytes: Int64, lastQueryFailed: Bool)>((0, false))

    /// `url`: `postgres://user:password@host:port/database`, with `?sslmode=disable|require`
    /// (default `prefer`) or `?host=/run/postgresql` for a Unix socket.
    public init(url: String, logger: Logger = Logger(label: "lgsp-gateway.store")) throws {
        guard let components = URLComponents(string: url), StoreLocation.isPostgres(url) else {
            throw StoreError("\(url.prefix { $0 != "@" }) is not a postgres:// URL")
        }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        let username = components.user?.removingPercentEncoding ?? NSUserName()
        let password = components.password?.removingPercentEncoding
        let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        var configuration: PostgresClient.Configuration
        let databaseName = database.isEmpty ? nil : database
        if let socket = query["host"], socket.hasPrefix("/") {
            let path = socket + "/.s.PGSQL.\(components.port ?? 5432)"
            configuration = .init(unixSocketPath: path, username: username, password: password, database: databaseName)
            direct = .init(unixSocketPath: path, username: username, password: password, database: databaseName)
        } else {
            let host = components.host ?? "localhost", port = components.port ?? 5432
            let tls: PostgresClient.Configuration.TLS
            let directTLS: PostgresConnection.Configuration.TLS
            switch query["sslmode"] {
            case "disable":
                (tls, directTLS) = (.disable, .disable)
            case "require", "verify-full":
                (tls, directTLS) = (
                    .require(.makeClientConfiguration()), .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
                )
            default:
                (tls, directTLS) = (
                    .prefer(.makeClientConfiguration()), .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
                )
            }
            configuration = .init(host: host, port: port, username: username, password: password, database: databaseName, tls: tls)
            direct = .init(host: host, port: port, username: username, password: password, database: databaseName, tls: directTLS)
        }
        configuration.options.minimumConnections = 0
        configuration.options.maximumConnections = 8
        var redacted = components
        if redacted.password != nil { redacted.password = "***" }
        location = redacted.string ?? "postgres://"
        self.logger = logger
        client = PostgresClient(configuration: configuration, backgroundLogger: logger)
    }

    /// Runs the connection pool until the gateway stops (or the task is cancelled): every query
    /// waits for it, so the store is run in the gateway's service group or `withRunning(_:)`.
    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.client.run() }
    }

    /// The pool closes when `run()` ends; ownership connections close with their schedules.
    public func close() async throws {}

    private func ensureSchema() async throws {
        guard !migrated.withLock({ $0 }) else { return }
        // Idempotent and serialised by the database, so callers racing here do no harm.
        try await Self.migrate(direct, logger: logger)
        migrated.withLock { $0 = true }
    }

    /// The schema's versions not yet applied, in order, by whichever instance comes first; the
    /// others wait on the lock and then find nothing to do. Each version is applied and recorded in
    /// `schema_migrations` in the one transaction, so a version is either whole or absent.
    private static func migrate(_ configuration: PostgresConnection.Configuration, logger: Logger) async throws {
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
        do {
            try await connection.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(\(Self.schemaLock))", logger: logger)
                try await connection.query(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)",
                    logger: logger)
                let applied = Set(
                    try await Self.rows("SELECT version FROM schema_migrations", on: connection, logger: logger)
                        .map { Int(try $0["version"].decode(Int32.self)) })
                for (version, statements) in Self.migrations where !applied.contains(version) {
                    for statement in statements { try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
                    try await connection.query(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES (\(version), \(Date().timeIntervalSince1970))",
                        logger: logger)
                }
            }
        } catch {
            try? await connection.close()
            throw error
        }
        try? await connection.close()
    }

    static let schemaLock: Int64 = 0x4C47_5350_0001
    static let auditLock: Int64 = 0x4C47_5350_0002
    /// Adapter schedules: this prefix and a hash of the adapter's name.
    static let scheduleLockPrefix: Int64 = 0x4C47_5351 << 32

    /// Versioned like SQLite's migrations. Version 1 is the schema stores had before versions were
    /// kept, written so that it adopts such a database as it is (`IF NOT EXISTS`).
    static let migrations: [(version: Int, statements: [String])] = [
        (1, schema),
        // Quarantined records by adapter, newest first: what `quarantine list --adapter` and the
        // console read, without a scan of the whole table.
        (2, ["CREATE INDEX IF NOT EXISTS quarantine_by_adapter ON quarantine(adapter, id DESC)"]),
    ]

    /// The schema as it stood before versions: migration 1.
    static let schema = [
        """
        CREATE TABLE IF NOT EXISTS outbox (
            report_id TEXT PRIMARY KEY, adapter TEXT NOT NULL, body BYTEA NOT NULL,
            content_type TEXT NOT NULL DEFAULT 'application/jose+json', detached_signature TEXT,
            content_digest TEXT NOT NULL, observation_count INTEGER NOT NULL, state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0, created_at DOUBLE PRECISION NOT NULL,
            next_attempt_at DOUBLE PRECISION NOT NULL, lease_until DOUBLE PRECISION, last_status INTEGER,
            last_error TEXT, delivered_at DOUBLE PRECISION, receipt TEXT, response TEXT, receipt_verified BOOLEAN
        )
        """,
        "CREATE INDEX IF NOT EXISTS outbox_due ON outbox(state, next_attempt_at)",
        """
        CREATE TABLE IF NOT EXISTS quarantine (
            id BIGSERIAL PRIMARY KEY, adapter TEXT NOT NULL, quarantined_at DOUBLE PRECISION NOT NULL,
            record TEXT NOT NULL, reasons TEXT NOT NULL
        )
        """,
        "CREATE TABLE IF NOT EXISTS cursors (adapter TEXT PRIMARY KEY, cursor TEXT NOT NULL, updated_at DOUBLE PRECISION NOT NULL)",
        """
        CREATE TABLE IF NOT EXISTS pulls (
            id BIGSERIAL PRIMARY KEY, adapter TEXT NOT NULL, started_at DOUBLE PRECISION NOT NULL,
            finished_at DOUBLE PRECISION NOT NULL, records INTEGER NOT NULL, valid INTEGER NOT NULL,
            quarantined INTEGER NOT NULL, reports INTEGER NOT NULL
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS audit (
            sequence BIGINT PRIMARY KEY, report_id TEXT NOT NULL, content_digest TEXT NOT NULL,
            delivered_at DOUBLE PRECISION NOT NULL, receipt_digest TEXT NOT NULL, previous_hash TEXT NOT NULL, hash TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS adapter_status (
            adapter TEXT PRIMARY KEY, last_pull_at DOUBLE PRECISION, last_success_at DOUBLE PRECISION,
            last_error TEXT, last_error_at DOUBLE PRECISION, next_run_at DOUBLE PRECISION
        )
        """,
    ]

    /// Every operation: waits for the schema, and notes whether the database answered.
    private func perform<T>(_ body: () async throws -> T) async throws -> T {
        do {
            try await ensureSchema()
            let result = try await body()
            health.withLock { $0.lastQueryFailed = false }
            return result
        } catch let cancelled as CancellationError {
            // A pull abandoned at shutdown is not a store failure.
            throw cancelled
        } catch {
            health.withLock { $0.lastQueryFailed = true }
            throw StoreError("PostgreSQL store \(location): \(Self.describe(error))")
        }
    }

    /// What went wrong in words an operator can act on: the server's message when it sent one,
    /// the connection's error otherwise (PSQLError's own description is deliberately vague).
    static func describe(_ error: any Error) -> String {
        guard let psql = error as? PSQLError else { return "\(error)" }
        var parts = ["\(psql.code)"]
        if let message = psql.serverInfo?[.message] { parts.append(message) }
        if let detail = psql.serverInfo?[.detail] { parts.append(detail) }
        if let underlying = psql.underlying { parts.append("\(underlying)") }
        return parts.joined(separator: ": ")
    }

    private func transaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await perform { try await client.withTransaction(logger: logger) { connection in try await body(connection) } }
    }

    private func rows(_ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
        try await perform { try await client.query(query, logger: logger).collect().map { $0.makeRandomAccess() } }
    }

    private static func rows(_ query: PostgresQuery, on connection: PostgresConnection, logger: Logger) async throws
        -> [PostgresRandomAccessRow]
    {
        try await connection.query(query, logger: logger).collect().map { $0.makeRandomAccess() }
    }

    // MARK: Pulls

    public func cursor(for adapter: String) async throws -> String? {
        try await rows("SELECT cursor FROM cursors WHERE adapter = \(adapter)").first?["cursor"].decode(String.self)
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
        let time = now.timeIntervalSince1970, logger = logger
        try await transaction { connection in
            try await Self.insert(pull.reports, adapter: pull.adapter, time: time, on: connection, logger: logger)
            for (record, reasons) in quarantineRows {
                try await connection.query(
                    "INSERT INTO quarantine (adapter, quarantined_at, record, reasons) VALUES (\(pull.adapter), \(time), \(record), \(reasons))",
                    logger: logger)
            }
            if let cursor = pull.cursor {
                try await connection.query(
                    """
                    INSERT INTO cursors (adapter, cursor, updated_at) VALUES (\(pull.adapter), \(cursor), \(time))
                    ON CONFLICT (adapter) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at
                    """, logger: logger)
            }
            let totals = pull.totals
            try await connection.query(
                """
                INSERT INTO pulls (adapter, started_at, finished_at, records, valid, quarantined, reports)
                VALUES (\(pull.adapter), \(pull.startedAt.timeIntervalSince1970), \(time), \(pull.pulledRecords), \(totals.observations),
                        \(pull.quarantined.count), \(totals.reports))
                """, logger: logger)
        }
        await measureDatabaseSize()
    }

    public func storeReports(_ reports: [SignedReport], adapter: String, now: Date) async throws {
        let time = now.timeIntervalSince1970, logger = logger
        try await transaction { connection in try await Self.insert(reports, adapter: adapter, time: time, on: connection, logger: logger) }
        await measureDatabaseSize()
    }

    static func insert(_ reports: [SignedReport], adapter: String, time: Double, on connection: PostgresConnection, logger: Logger)
        async throws
    {
        for report in reports {
            try await connection.query(
                """
                INSERT INTO outbox (report_id, adapter, body, content_type, detached_signature, content_digest,
                                    observation_count, state, created_at, next_attempt_at)
                VALUES (\(report.reportID), \(adapter), \(report.body), \(report.contentType), \(report.detachedSignature),
                        \(report.contentDigest), \(report.observationCount), 'pending', \(time), \(time))
                ON CONFLICT (report_id) DO NOTHING
                """, logger: logger)
        }
    }

    /// What `capacityProblem` answers from, measured after each write that adds reports.
    private func measureDatabaseSize() async {
        if let size = try? await rows("SELECT pg_database_size(current_database()) AS size").first?["size"].decode(Int64.self) {
            health.withLock { $0.databaseBytes = size }
        }
    }

    public func recordPullOutcome(adapter: String, at time: Date, error: String?, nextRun: Date) async throws {
        let at = time.timeIntervalSince1970
        _ = try await rows(
            """
            INSERT INTO adapter_status (adapter, last_pull_at, last_success_at, last_error, last_error_at, next_run_at)
            VALUES (\(adapter), \(at), \(error == nil ? at : nil), \(error), \(error == nil ? nil : at), \(nextRun.timeIntervalSince1970))
            ON CONFLICT (adapter) DO UPDATE SET
                last_pull_at = excluded.last_pull_at,
                last_success_at = COALESCE(excluded.last_success_at, adapter_status.last_success_at),
                last_error = COALESCE(excluded.last_error, adapter_status.last_error),
                last_error_at = COALESCE(excluded.last_error_at, adapter_status.last_error_at),
                next_run_at = excluded.next_run_at
            """)
    }

    public func adapterStatuses() async throws -> [AdapterStatus] {
        try await rows("SELECT * FROM adapter_status ORDER BY adapter").map { row in
            func date(_ column: String) throws -> Date? { try row[column].decode(Double?.self).map(Date.init(timeIntervalSince1970:)) }
            return AdapterStatus(
                adapter: try row["adapter"].decode(String.self), lastPull: try date("last_pull_at"),
                lastSuccess: try date("last_success_at"),
                lastError: try row["last_error"].decode(String?.self), lastErrorAt: try date("last_error_at"),
                nextRun: try date("next_run_at"))
        }
    }

    public func pullTotals() async throws -> PullTotals {
        let row = try await rows(
            """
            SELECT COUNT(*)::BIGINT AS pulls, COALESCE(SUM(records), 0)::BIGINT AS records, COALESCE(SUM(valid), 0)::BIGINT AS valid,
                   COALESCE(SUM(quarantined), 0)::BIGINT AS quarantined, COALESCE(SUM(reports), 0)::BIGINT AS reports FROM pulls
            """)[0]
        return PullTotals(
            pulls: Int(try row["pulls"].decode(Int64.self)), pulledRecords: Int(try row["records"].decode(Int64.self)),
            validObservations: Int(try row["valid"].decode(Int64.self)), quarantined: Int(try row["quarantined"].decode(Int64.self)),
            reports: Int(try row["reports"].decode(Int64.self)))
    }

    public func quarantined(limit: Int) async throws -> [StoredQuarantine] {
        try await rows("SELECT * FROM quarantine ORDER BY id LIMIT \(limit)").map { row in
            let reasons =
                (try? JSONDecoder().decode([QuarantineReason].self, from: Data(try row["reasons"].decode(String.self).utf8))) ?? []
            return StoredQuarantine(
                id: try row["id"].decode(Int64.self), adapter: try row["adapter"].decode(String.self),
                record: try row["record"].decode(String.self),
                reasons: reasons)
        }
    }

    /// Runs `body` while this process owns `adapter`'s schedule, waiting (polling every `poll`)
    /// while another instance does; returns when `body` returns or the task is cancelled. The lock
    /// is held by one connection, kept for the whole time, so it ends with this process.
    /// `body` gets a check to make before each pull: false once the lock is gone (the database
    /// restarted or the connection broke), when `body` should return so ownership is sought again.
    public func withScheduleOwnership(
        of adapter: String, whileWaiting: () -> Void, _ body: (_ stillOwner: () async -> Bool) async -> Void
    ) async throws {
        try await withScheduleOwnership(of: adapter, poll: .seconds(1), whileWaiting: whileWaiting, body)
    }

    public func withScheduleOwnership(
        of adapter: String, poll: Duration, whileWaiting: () -> Void = {}, _ body: (_ stillOwner: () async -> Bool) async -> Void
    ) async throws {
        let key = Self.scheduleLockPrefix | Int64(Self.stableHash(adapter))
        try await perform { try await ensureSchema() }
        // A connection of its own, outside the pool: it lives as long as the ownership, and one the
        // server has cut is dropped here rather than lent to other work.
        let (direct, logger) = (self.direct, self.logger)
        let connection = try await perform {
            try await PostgresConnection.connect(configuration: direct, id: Int.random(in: 1...Int.max), logger: logger)
        }
        do {
            while true {
                try Task.checkCancellation()
                let rows = try await Self.rows("SELECT pg_try_advisory_lock(\(key)) AS owned", on: connection, logger: logger)
                if try rows.first?["owned"].decode(Bool.self) == true { break }
                whileWaiting()
                try await Task.sleep(for: poll)
            }
        } catch {
            try? await connection.close()
            throw error
        }
        let (high, low) = (Int64(UInt64(bitPattern: key) >> 32), Int64(UInt64(bitPattern: key) & 0xFFFF_FFFF))
        var lost = false
        await body {
            if lost || connection.isClosed { return false }
            // A connection the server has cut can leave a query waiting for ever: no answer in
            // `ownershipCheckTimeout` counts as not owning, and the connection is closed.
            let owned = await Self.firstOf(timeout: Self.ownershipCheckTimeout, closingOnTimeout: connection) {
                let rows = try? await Self.rows(
                    """
                    SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()
                                   AND classid::bigint = \(high) AND objid::bigint = \(low) AND objsubid = 1) AS owned
                    """, on: connection, logger: logger)
                return (try? rows?.first?["owned"].decode(Bool.self)) == true
            }
            lost = !owned
            return owned
        }
        // Closing the session ends the lock too; the explicit unlock is for a session still sound.
        if !lost {
            _ = await Self.firstOf(timeout: Self.ownershipCheckTimeout, closingOnTimeout: connection) {
                (try? await connection.query("SELECT pg_advisory_unlock(\(key))", logger: logger)) != nil
            }
        }
        // Closing locally needs no answer from the server, so a dead one cannot hold this up.
        try? await connection.close()
    }

    static let ownershipCheckTimeout: Duration = .seconds(5)

    /// `check`'s answer, or false if it has none within `timeout`, when `connection` is closed.
    ///
    /// The timeout is a child of this call; the check is not. A query on a session the server
    /// has cut can stay waiting even after the connection is closed (seen in the test that
    /// terminates the owner's backend: a task group waiting for it hung about one run in three),
    /// so the check runs in a task of its own that this call does not wait for: it ends when the
    /// closed connection fails its query, and its late answer is dropped.
    static func firstOf(timeout: Duration, closingOnTimeout connection: PostgresConnection, _ check: @escaping @Sendable () async -> Bool)
        async -> Bool
    {
        final class Answer: Sendable {
            let continuation = Mutex<CheckedContinuation<Bool, Never>?>(nil)
            func give(_ value: Bool) { continuation.withLock { $0.take() }?.resume(returning: value) }
        }
        let answer = Answer()
        return await withTaskGroup(of: Void.self) { group in
            let owned = await withCheckedContinuation { continuation in
                answer.continuation.withLock { $0 = continuation }
                // Unstructured on purpose, see above.
                Task { answer.give(await check()) }
                group.addTask {
                    try? await Task.sleep(for: timeout)
                    answer.give(false)
                }
            }
            group.cancelAll()
            if !owned { try? await connection.close() }
            return owned
        }
    }

    /// FNV-1a over the name's UTF-8, 32 bits: the same in every process, unlike `hashValue`.
    static func stableHash(_ text: String) -> UInt32 {
        var hash: UInt32 = 2_166_136_261
        for byte in text.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return hash
    }

    // MARK: Outbox

    public func leaseDue(now: Date, limit: Int, leaseDuration: TimeInterval) async throws -> [LeasedReport] {
        let time = now.timeIntervalSince1970, logger = logger
        return try await transaction { connection in
            // SKIP LOCKED: rows another instance is leasing right now are left to it, not waited for.
            let rows = try await Self.rows(
                """
                SELECT * FROM outbox
                WHERE (state = 'pending' AND next_attempt_at <= \(time)) OR (state = 'in_flight' AND lease_until <= \(time))
                ORDER BY created_at, report_id LIMIT \(limit) FOR UPDATE SKIP LOCKED
                """, on: connection, logger: logger)
            var leased: [LeasedReport] = []
            for row in rows {
                var entry = try Self.entry(from: row)
                try entry.lease(now: now, duration: leaseDuration)
                try await Self.save(entry, on: connection, logger: logger)
                leased.append(
                    LeasedReport(
                        reportID: entry.reportID, attempt: entry.attempts, body: try row["body"].decode(Data.self),
                        contentType: try row["content_type"].decode(String.self),
                        detachedSignature: try row["detached_signature"].decode(String?.self),
                        contentDigest: try row["content_digest"].decode(String.self),
                        observationCount: Int(try row["observation_count"].decode(Int32.self)),
                        createdAt: Date(timeIntervalSince1970: try row["created_at"].decode(Double.self))))
            }
            return leased
        }
    }

    @discardableResult
    public func complete(_ attempts: [CompletedAttempt], now: Date) async throws -> [(reportID: String, reason: String)] {
        let logger = logger
        let skippedIDs: [[String]] = try await transaction { connection in
            var skipped: [[String]] = []
            var holdsAuditLock = false
            for attempt in attempts {
                guard
                    let row = try await Self.rows(
                        "SELECT \(unescaped: Self.entryColumns) FROM outbox WHERE report_id = \(attempt.reportID) FOR UPDATE",
                        on: connection, logger: logger
                    ).first
                else {
                    skipped.append([attempt.reportID, "report \(attempt.reportID) is not in the outbox"])
                    continue
                }
                var entry = try Self.entry(from: row)
                do { try entry.complete(attempt.completion, attempt: attempt.attempt, now: now) } catch {
                    skipped.append([attempt.reportID, "\(error)"])
                    continue
                }
                try await Self.save(entry, on: connection, logger: logger)
                if let verified = attempt.receiptVerified {
                    try await connection.query(
                        "UPDATE outbox SET receipt_verified = \(verified) WHERE report_id = \(attempt.reportID)", logger: logger)
                }
                if entry.state == .delivered {
                    // One chain for every instance: links are appended one transaction at a time.
                    if !holdsAuditLock {
                        try await connection.query("SELECT pg_advisory_xact_lock(\(Self.auditLock))", logger: logger)
                        holdsAuditLock = true
                    }
                    let last = try await Self.rows(
                        "SELECT sequence, hash FROM audit ORDER BY sequence DESC LIMIT 1", on: connection, logger: logger
                    ).first
                    let sequence = (try last?["sequence"].decode(Int64.self) ?? 0) + 1
                    let previous = try last?["hash"].decode(String.self) ?? AuditLink.genesis
                    let contentDigest = try row["content_digest"].decode(String.self)
                    let receiptDigest = AuditLink.digest(entry.receipt)
                    let deliveredAt = now.timeIntervalSince1970
                    let hash = AuditLink.hash(
                        previous: previous, sequence: sequence, reportID: attempt.reportID, contentDigest: contentDigest,
                        deliveredAt: deliveredAt, receiptDigest: receiptDigest)
                    try await connection.query(
                        """
                        INSERT INTO audit (sequence, report_id, content_digest, delivered_at, receipt_digest, previous_hash, hash)
                        VALUES (\(sequence), \(attempt.reportID), \(contentDigest), \(deliveredAt), \(receiptDigest), \(previous), \(hash))
                        """, logger: logger)
                }
            }
            return skipped
        }
        return skippedIDs.map { ($0[0], $0[1]) }
    }

    public func auditLinks() async throws -> [AuditLink] {
        try await rows("SELECT * FROM audit ORDER BY sequence").map { row in
            AuditLink(
                sequence: try row["sequence"].decode(Int64.self), reportID: try row["report_id"].decode(String.self),
                contentDigest: try row["content_digest"].decode(String.self), deliveredAt: try row["delivered_at"].decode(Double.self),
                receiptDigest: try row["receipt_digest"].decode(String.self), previousHash: try row["previous_hash"].decode(String.self),
                hash: try row["hash"].decode(String.self))
        }
    }

    public func pruneDelivered(olderThan age: TimeInterval, now: Date) async throws -> Int {
        let cutoff = now.timeIntervalSince1970 - age
        return try await rows(
            "WITH gone AS (DELETE FROM outbox WHERE state = 'delivered' AND delivered_at < \(cutoff) RETURNING 1) SELECT COUNT(*)::BIGINT AS n FROM gone"
        )
        .first.map { Int(try $0["n"].decode(Int64.self)) } ?? 0
    }

    public func markReceipt(reportID: String, verified: Bool) async throws {
        _ = try await rows("UPDATE outbox SET receipt_verified = \(verified) WHERE report_id = \(reportID)")
    }

    public func nextDueDate() async throws -> Date? {
        try await rows(
            """
            SELECT MIN(CASE state WHEN 'pending' THEN next_attempt_at ELSE lease_until END) AS due
            FROM outbox WHERE state IN ('pending', 'in_flight')
            """
        ).first?["due"].decode(Double?.self).map(Date.init(timeIntervalSince1970:))
    }

    public func outboxStats(now: Date) async throws -> OutboxStats {
        var stats = OutboxStats()
        for row in try await rows(
            "SELECT state, COUNT(*)::BIGINT AS n, COALESCE(SUM(observation_count), 0)::BIGINT AS o, COUNT(*) FILTER (WHERE receipt_verified = FALSE)::BIGINT AS u FROM outbox GROUP BY state"
        ) {
            let count = Int(try row["n"].decode(Int64.self))
            stats.unverifiedReceipts += Int(try row["u"].decode(Int64.self))
            switch OutboxState(rawValue: try row["state"].decode(String.self)) {
            case .pending: stats.pending = count
            case .inFlight: stats.inFlight = count
            case .delivered:
                stats.delivered = count
                stats.deliveredObservations = Int(try row["o"].decode(Int64.self))
            case .deadLettered: stats.deadLettered = count
            case nil: break
            }
        }
        if let oldest = try await rows("SELECT MIN(created_at) AS oldest FROM outbox WHERE state IN ('pending', 'in_flight')").first?[
            "oldest"
        ].decode(Double?.self) {
            stats.oldestUndeliveredAgeSeconds = max(0, Int(now.timeIntervalSince1970 - oldest))
        }
        return stats
    }

    public func entry(reportID: String) async throws -> OutboxEntry? {
        try await rows("SELECT \(unescaped: Self.entryColumns) FROM outbox WHERE report_id = \(reportID)").first.map(Self.entry(from:))
    }

    public func entries(state: OutboxState?, limit: Int) async throws -> [OutboxEntry] {
        let found =
            if let state {
                try await rows(
                    "SELECT \(unescaped: Self.entryColumns) FROM outbox WHERE state = \(state.rawValue) ORDER BY created_at, report_id LIMIT \(limit)"
                )
            } else {
                try await rows("SELECT \(unescaped: Self.entryColumns) FROM outbox ORDER BY created_at, report_id LIMIT \(limit)")
            }
        return try found.map(Self.entry(from:))
    }

    public func requeue(reportID: String, now: Date, includingPending: Bool) async throws {
        let logger = logger
        try await transaction { connection in
            guard
                let row = try await Self.rows(
                    "SELECT \(unescaped: Self.entryColumns) FROM outbox WHERE report_id = \(reportID) FOR UPDATE", on: connection,
                    logger: logger
                ).first
            else {
                throw StoreError("report \(reportID) is not in the outbox")
            }
            var entry = try Self.entry(from: row)
            try entry.requeue(now: now, includingPending: includingPending)
            try await Self.save(entry, on: connection, logger: logger)
        }
    }

    public func purge(reportID: String) async throws {
        let logger = logger
        try await transaction { connection in
            guard
                let state = try await Self.rows(
                    "SELECT state FROM outbox WHERE report_id = \(reportID) FOR UPDATE", on: connection, logger: logger
                )
                .first?["state"].decode(String.self)
            else { throw StoreError("report \(reportID) is not in the outbox") }
            guard state == OutboxState.deadLettered.rawValue else {
                throw StoreError("report \(reportID) is \(state); only dead letters can be purged")
            }
            try await connection.query("DELETE FROM outbox WHERE report_id = \(reportID)", logger: logger)
        }
    }

    public func signedReport(reportID: String) async throws -> SignedReport? {
        try await rows("SELECT * FROM outbox WHERE report_id = \(reportID)").first.map { row in
            SignedReport(
                reportID: try row["report_id"].decode(String.self), body: try row["body"].decode(Data.self),
                contentType: try row["content_type"].decode(String.self),
                detachedSignature: try row["detached_signature"].decode(String?.self),
                contentDigest: try row["content_digest"].decode(String.self),
                observationCount: Int(try row["observation_count"].decode(Int32.self)))
        }
    }

    /// Another instance may be delivering what is in flight, so nothing is taken from it here: a
    /// lease left by a dead instance runs out and the report is leased again (`leaseDue`).
    public func recoverInterruptedDeliveries(now: Date) async throws -> Int { 0 }

    // MARK: Health

    /// Only the database's size can be known from here; the disk under it is the server's.
    public func capacityProblem(minimumFreeBytes: Int64, maximumBytes: Int64) -> String? {
        let size = health.withLock { $0.databaseBytes }
        return size > maximumBytes ? "the database holds \(size >> 20) MiB, more than the store's limit of \(maximumBytes >> 20) MiB" : nil
    }

    public func isWritable() async -> Bool { !health.withLock { $0.lastQueryFailed } }

    /// The invariants the state machine keeps, checked on every row, and the audit chain's sequence.
    public func integrityCheck() async throws -> [String] {
        var problems: [String] = []
        for row in try await rows(
            """
            SELECT report_id, state FROM outbox
            WHERE state NOT IN ('pending', 'in_flight', 'delivered', 'dead_lettered')
               OR (state = 'in_flight' AND lease_until IS NULL) OR (state = 'delivered' AND delivered_at IS NULL)
            """)
        {
            problems.append(
                "report \(try row["report_id"].decode(String.self)) is \(try row["state"].decode(String.self)) without what that state needs"
            )
        }
        let gaps = try await rows("SELECT COUNT(*)::BIGINT AS n, COALESCE(MAX(sequence), 0)::BIGINT AS top FROM audit")[0]
        if try gaps["n"].decode(Int64.self) != gaps["top"].decode(Int64.self) {
            problems.append("the audit chain's sequence numbers have gaps")
        }
        return problems
    }

    // MARK: Rows

    /// Every outbox column but `body`: an entry read to be shown, completed or requeued does not
    /// need the signed report, which is hundreds of kilobytes TOAST keeps out of the row.
    private static let entryColumns = """
        report_id, adapter, content_type, detached_signature, content_digest, observation_count, state, attempts, created_at,
        next_attempt_at, lease_until, last_status, last_error, delivered_at, receipt, response, receipt_verified
        """

    private static func entry(from row: PostgresRandomAccessRow) throws -> OutboxEntry {
        func date(_ column: String) throws -> Date? { try row[column].decode(Double?.self).map(Date.init(timeIntervalSince1970:)) }
        var entry = OutboxEntry(
            reportID: try row["report_id"].decode(String.self),
            state: OutboxState(rawValue: try row["state"].decode(String.self)) ?? .pending,
            attempts: Int(try row["attempts"].decode(Int32.self)), nextAttemptAt: try date("next_attempt_at") ?? .distantPast,
            leaseUntil: try date("lease_until"), lastStatus: try row["last_status"].decode(Int32?.self).map(Int.init),
            lastError: try row["last_error"].decode(String?.self), deliveredAt: try date("delivered_at"),
            receipt: try row["receipt"].decode(String?.self), response: try row["response"].decode(String?.self))
        entry.adapter = try row["adapter"].decode(String.self)
        entry.observationCount = Int(try row["observation_count"].decode(Int32.self))
        entry.createdAt = try date("created_at")
        entry.receiptVerified = try row["receipt_verified"].decode(Bool?.self)
        return entry
    }

    private static func save(_ entry: OutboxEntry, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            UPDATE outbox SET state = \(entry.state.rawValue), attempts = \(Int32(entry.attempts)),
                next_attempt_at = \(entry.nextAttemptAt.timeIntervalSince1970), lease_until = \(entry.leaseUntil?.timeIntervalSince1970),
                last_status = \(entry.lastStatus.map(Int32.init)), last_error = \(entry.lastError),
                delivered_at = \(entry.deliveredAt?.timeIntervalSince1970), receipt = \(entry.receipt), response = \(entry.response)
            WHERE report_id = \(entry.reportID)
            """, logger: logger)
    }
}
