import Foundation
import GatewayContracts
import Logging
import PostgresNIO

/// The schema's versions and how they are applied.
extension PostgresStore {
    func ensureSchema() async throws {
        guard !migrated.withLock({ $0 }) else { return }
        // Idempotent and serialised by the database, so callers racing here do no harm.
        try await Self.migrate(direct, logger: logger)
        migrated.withLock { $0 = true }
    }

    /// The schema's versions not yet applied, in order, by whichever instance comes first; the
    /// others wait on the lock and then find nothing to do. Each version is applied and recorded in
    /// `schema_migrations` in the one transaction, so a version is either whole or absent.
    static func migrate(_ configuration: PostgresConnection.Configuration, logger: Logger) async throws {
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
                    if version == Self.ledgerVersion { try await Self.backfillLedger(on: connection, logger: logger) }
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
        // The figures ledger, as SQLite's v6; built from the reports held when it is made.
        (
            ledgerVersion,
            [
                """
                CREATE TABLE figures (
                    indicator TEXT NOT NULL, province TEXT NOT NULL, level TEXT NOT NULL, area TEXT NOT NULL, period TEXT NOT NULL,
                    revision INTEGER NOT NULL, value DOUBLE PRECISION NOT NULL, numerator DOUBLE PRECISION,
                    denominator DOUBLE PRECISION, unit TEXT NOT NULL, report_id TEXT NOT NULL,
                    PRIMARY KEY (indicator, period, area, level, province, revision)
                )
                """,
                """
                CREATE TABLE figure_reports (
                    report_id TEXT PRIMARY KEY, adapter TEXT NOT NULL, stored_at DOUBLE PRECISION NOT NULL,
                    accepted_at DOUBLE PRECISION, receipt TEXT
                )
                """,
                "ALTER TABLE pulls ADD COLUMN unchanged INTEGER NOT NULL DEFAULT 0",
                "ALTER TABLE pulls ADD COLUMN revisions INTEGER NOT NULL DEFAULT 0",
            ]
        ),
        // The figure of each quarantined record, as SQLite's v7.
        (
            4,
            [
                """
                ALTER TABLE quarantine ADD COLUMN indicator TEXT, ADD COLUMN province TEXT, ADD COLUMN level TEXT,
                    ADD COLUMN area TEXT, ADD COLUMN period TEXT
                """,
                """
                UPDATE quarantine SET
                    indicator = CASE jsonb_typeof(record::jsonb -> 'indicator') WHEN 'string' THEN record::jsonb ->> 'indicator' END,
                    province = CASE jsonb_typeof(record::jsonb -> 'province') WHEN 'string' THEN record::jsonb ->> 'province' END,
                    level = CASE jsonb_typeof(record::jsonb -> 'level') WHEN 'string' THEN record::jsonb ->> 'level' END,
                    area = CASE jsonb_typeof(record::jsonb -> 'area') WHEN 'string' THEN record::jsonb ->> 'area' END,
                    period = CASE jsonb_typeof(record::jsonb -> 'period') WHEN 'string' THEN record::jsonb ->> 'period' END
                WHERE jsonb_typeof(record::jsonb) = 'object'
                """,
                "CREATE INDEX quarantine_by_figure ON quarantine(indicator, period) WHERE indicator IS NOT NULL",
            ]
        ),
        // Each quarantined record kept once, as SQLite's v8; the fingerprint is the one
        // `PullCommit.QuarantineRow.fingerprint` computes, and the records held are folded.
        (
            5,
            [
                """
                ALTER TABLE quarantine ADD COLUMN fingerprint TEXT, ADD COLUMN last_seen_at DOUBLE PRECISION,
                    ADD COLUMN times_seen INTEGER NOT NULL DEFAULT 1
                """,
                """
                UPDATE quarantine SET last_seen_at = quarantined_at,
                    fingerprint = encode(sha256(convert_to(adapter || chr(31) || record || chr(31) || reasons, 'UTF8')), 'hex')
                """,
                """
                UPDATE quarantine q SET times_seen = folded.seen, last_seen_at = folded.last
                FROM (SELECT min(id) AS id, count(*) AS seen, max(quarantined_at) AS last FROM quarantine GROUP BY adapter, fingerprint) folded
                WHERE q.id = folded.id
                """,
                """
                DELETE FROM quarantine q USING quarantine kept
                WHERE q.adapter = kept.adapter AND q.fingerprint = kept.fingerprint AND q.id > kept.id
                """,
                "CREATE UNIQUE INDEX quarantine_once ON quarantine(adapter, fingerprint)",
            ]
        ),
        // Records of codes an adapter skips, as SQLite's v9.
        (6, ["ALTER TABLE pulls ADD COLUMN skipped INTEGER NOT NULL DEFAULT 0"]),
        (7, ["ALTER TABLE quarantine ADD COLUMN source_record TEXT"]),
        (
            8,
            [
                """
                CREATE TABLE operator_actions (
                    id BIGSERIAL PRIMARY KEY, at DOUBLE PRECISION NOT NULL, "user" TEXT NOT NULL, via TEXT NOT NULL,
                    action TEXT NOT NULL, target TEXT NOT NULL, outcome TEXT NOT NULL
                )
                """
            ]
        ),
        (
            9,
            [
                """
                CREATE TABLE quarantine_rules (
                    rule TEXT NOT NULL, quarantine_id BIGINT NOT NULL REFERENCES quarantine(id) ON DELETE CASCADE,
                    PRIMARY KEY (rule, quarantine_id)
                )
                """,
                "CREATE INDEX quarantine_rules_by_record ON quarantine_rules(quarantine_id)",
                """
                INSERT INTO quarantine_rules (rule, quarantine_id)
                SELECT DISTINCT reason->>'rule', quarantine.id FROM quarantine, jsonb_array_elements(quarantine.reasons::jsonb) AS reason
                WHERE reason->>'rule' IS NOT NULL
                ON CONFLICT DO NOTHING
                """,
            ]
        ),
        (10, ["CREATE INDEX pulls_by_adapter ON pulls(adapter, id)"]),
        (11, ["ALTER TABLE pulls ADD COLUMN quarantined_by_rule TEXT"]),
    ]

    /// The version that makes the figures ledger, after whose statements the held reports are read into it.
    static let ledgerVersion = 3

    static func backfillLedger(on connection: PostgresConnection, logger: Logger) async throws {
        let rows = try await Self.rows(
            "SELECT report_id, adapter, body, content_type, created_at, delivered_at, receipt FROM outbox ORDER BY created_at, report_id",
            on: connection, logger: logger)
        var held: [LedgerBackfill.HeldReport] = []
        var receipts: [String: String] = [:]
        for row in rows {
            let reportID = try row["report_id"].decode(String.self)
            held.append(
                LedgerBackfill.HeldReport(
                    reportID: reportID, adapter: try row["adapter"].decode(String.self),
                    body: Data(try row["body"].decode(ByteBuffer.self).readableBytesView),
                    contentType: try row["content_type"].decode(String.self),
                    storedAt: Date(timeIntervalSince1970: try row["created_at"].decode(Double.self)),
                    deliveredAt: try row["delivered_at"].decode(Double?.self).map(Date.init(timeIntervalSince1970:))))
            receipts[reportID] = try row["receipt"].decode(String?.self)
        }
        let built = LedgerBackfill.build(from: held)
        for report in built.reports {
            let receipt = report.acceptedAt == nil ? nil : receipts[report.reportID]
            try await connection.query(
                """
                INSERT INTO figure_reports (report_id, adapter, stored_at, accepted_at, receipt)
                VALUES (\(report.reportID), \(report.adapter), \(report.storedAt.timeIntervalSince1970),
                        \(report.acceptedAt?.timeIntervalSince1970), \(receipt))
                """, logger: logger)
        }
        for (reportID, figures) in Dictionary(grouping: built.figures, by: \.reportID) {
            try await insertFigures(figures.map(\.figure), reportID: reportID, on: connection, logger: logger)
        }
        if !built.unreadable.isEmpty {
            logger.warning("figures ledger: \(built.unreadable.count) stored reports could not be read and were left out")
        }
    }

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
}
