import Foundation
import GatewayContracts
import Logging
import PostgresNIO

extension PostgresStore: PullLedger {
    // MARK: Pulls

    public func cursor(for adapter: String) async throws -> String? {
        try await rows("SELECT cursor FROM cursors WHERE adapter = \(adapter)").first?["cursor"].decode(String.self)
    }

    @discardableResult
    public func commit(_ pull: PullCommit, now: Date) async throws -> CommitOutcome {
        let quarantineRows = try pull.quarantineRows()
        let time = now.timeIntervalSince1970, logger = logger
        let outcome = try await transaction { connection in
            if !pull.replacesQuarantined.isEmpty {
                let deleted = try await connection.query(
                    "DELETE FROM quarantine WHERE id = ANY(\(pull.replacesQuarantined)) RETURNING id", logger: logger
                ).collect().count
                // Checked again by another command (or gateway) meanwhile: this result is not to be stored.
                guard deleted == pull.replacesQuarantined.count else { throw QuarantineReplaced() }
            }
            try await Self.insert(pull.reports, adapter: pull.adapter, time: time, on: connection, logger: logger)
            var outcome = CommitOutcome()
            for (position, row) in quarantineRows.enumerated() {
                // A record met again unchanged, with the same reasons, is the one already held
                // (several gateways on one database included): counted, not stored again.
                let fingerprint = row.fingerprint(adapter: pull.adapter)
                let inserted =
                    try await connection.query(
                        """
                        WITH held AS (
                        INSERT INTO quarantine (
                            adapter, quarantined_at, record, reasons, indicator, province, level, area, period, fingerprint, last_seen_at,
                            source_record)
                        VALUES (\(pull.adapter), \(time), \(row.record), \(row.reasons), \(row.indicator), \(row.province), \(row.level),
                                \(row.area), \(row.period), \(fingerprint), \(time), \(row.source))
                        ON CONFLICT (adapter, fingerprint) DO UPDATE
                            SET last_seen_at = excluded.last_seen_at, times_seen = quarantine.times_seen + 1
                        RETURNING id, (xmax = 0) AS inserted
                        ), rules AS (
                            INSERT INTO quarantine_rules (rule, quarantine_id)
                            SELECT rule, held.id FROM held, unnest(\(row.rules)::text[]) AS rule WHERE held.inserted
                            ON CONFLICT DO NOTHING
                        )
                        SELECT inserted FROM held
                        """, logger: logger
                    ).collect().first.map { try $0.decode(Bool.self) } ?? true
                if inserted { outcome.newlyQuarantined += 1 } else { outcome.alreadyHeld.insert(position) }
            }
            if let cursor = pull.cursor {
                try await connection.query(
                    """
                    INSERT INTO cursors (adapter, cursor, updated_at) VALUES (\(pull.adapter), \(cursor), \(time))
                    ON CONFLICT (adapter) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at
                    """, logger: logger)
            }
            guard pull.replacesQuarantined.isEmpty else { return outcome }
            let totals = pull.totals
            try await connection.query(
                """
                INSERT INTO pulls (adapter, started_at, finished_at, records, valid, quarantined, reports, unchanged, revisions, skipped,
                                   quarantined_by_rule)
                VALUES (\(pull.adapter), \(pull.startedAt.timeIntervalSince1970), \(time), \(pull.pulledRecords), \(totals.observations),
                        \(pull.quarantined.count), \(totals.reports), \(pull.unchanged), \(pull.revisions), \(pull.skipped),
                        \(pull.quarantinedByRuleJSON))
                """, logger: logger)
            return outcome
        }
        await measureDatabaseSize()
        return outcome
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
            let inserted = try await rows(
                """
                INSERT INTO outbox (report_id, adapter, body, content_type, detached_signature, content_digest,
                                    observation_count, state, created_at, next_attempt_at)
                VALUES (\(report.reportID), \(adapter), \(report.body), \(report.contentType), \(report.detachedSignature),
                        \(report.contentDigest), \(report.observationCount), 'pending', \(time), \(time))
                ON CONFLICT (report_id) DO NOTHING RETURNING report_id
                """, on: connection, logger: logger)
            // A report kept already has its figures recorded: the same id is the same content.
            guard !inserted.isEmpty, !report.figures.isEmpty else { continue }
            try await connection.query(
                "INSERT INTO figure_reports (report_id, adapter, stored_at) VALUES (\(report.reportID), \(adapter), \(time)) ON CONFLICT DO NOTHING",
                logger: logger)
            try await insertFigures(report.figures, reportID: report.reportID, on: connection, logger: logger)
        }
    }

    /// What `capacityProblem` answers from, measured after each write that adds reports.
    func measureDatabaseSize() async {
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
}
