import Foundation
import GRDB
import GatewayContracts

extension SQLiteStore: PullLedger {
    public func cursor(for adapter: String) async throws -> String? {
        try await pool.read { db in
            try String.fetchOne(db, sql: "SELECT cursor FROM cursors WHERE adapter = ?", arguments: [adapter])
        }
    }

    @discardableResult
    public func commit(_ pull: PullCommit, now: Date) async throws -> CommitOutcome {
        let quarantineRows = try pull.quarantineRows()
        return try await pool.write { db in
            if !pull.replacesQuarantined.isEmpty {
                let ids = String(decoding: try JSONEncoder().encode(pull.replacesQuarantined), as: UTF8.self)
                try db.execute(sql: "DELETE FROM quarantine WHERE id IN (SELECT value FROM json_each(?))", arguments: [ids])
                // Checked again by another command meanwhile: this one's result is not to be stored.
                guard db.changesCount == pull.replacesQuarantined.count else { throw QuarantineReplaced() }
            }
            try self.insert(pull.reports, adapter: pull.adapter, now: now, in: db)
            var outcome = CommitOutcome()
            for (position, row) in quarantineRows.enumerated() {
                // A record met again unchanged, with the same reasons, is the one already held:
                // counted, its last sighting moved, not stored again.
                let fingerprint = row.fingerprint(adapter: pull.adapter)
                try db.execute(
                    sql: "UPDATE quarantine SET last_seen_at = ?, times_seen = times_seen + 1 WHERE adapter = ? AND fingerprint = ?",
                    arguments: [now.timeIntervalSince1970, pull.adapter, fingerprint])
                if db.changesCount > 0 {
                    outcome.alreadyHeld.insert(position)
                    continue
                }
                try db.execute(
                    sql: """
                        INSERT INTO quarantine (
                            adapter, quarantined_at, record, reasons, indicator, province, level, area, period, fingerprint, last_seen_at,
                            source_record)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        pull.adapter, now.timeIntervalSince1970, row.record, row.reasons, row.indicator, row.province, row.level, row.area,
                        row.period, fingerprint, now.timeIntervalSince1970, row.source,
                    ])
                let id = db.lastInsertedRowID
                for rule in row.rules {
                    try db.cachedStatement(sql: "INSERT OR IGNORE INTO quarantine_rules (rule, quarantine_id) VALUES (?, ?)")
                        .execute(arguments: [rule, id])
                }
                outcome.newlyQuarantined += 1
            }
            if let cursor = pull.cursor {
                try db.execute(
                    sql: """
                        INSERT INTO cursors (adapter, cursor, updated_at) VALUES (?, ?, ?)
                        ON CONFLICT(adapter) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at
                        """,
                    arguments: [pull.adapter, cursor, now.timeIntervalSince1970])
            }
            guard pull.replacesQuarantined.isEmpty else { return outcome }
            let totals = pull.totals
            try db.execute(
                sql:
                    """
                    INSERT INTO pulls (adapter, started_at, finished_at, records, valid, quarantined, reports, unchanged, revisions, skipped,
                                       quarantined_by_rule)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    pull.adapter, pull.startedAt.timeIntervalSince1970, now.timeIntervalSince1970, pull.pulledRecords,
                    totals.observations, pull.quarantined.count, totals.reports, pull.unchanged, pull.revisions, pull.skipped,
                    pull.quarantinedByRuleJSON,
                ])
            return outcome
        }
    }

    public func storeReports(_ reports: [SignedReport], adapter: String, now: Date) async throws {
        try await pool.write { db in try self.insert(reports, adapter: adapter, now: now, in: db) }
    }

    // Statements run for every report (here, in `save`, `complete` and the audit chain) are
    // prepared once per connection: preparing them each time, with GRDB's authorizer, was near 1%
    // of the pipeline's CPU.
    func insert(_ reports: [SignedReport], adapter: String, now: Date, in db: Database) throws {
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
            try recordFigures(of: report, adapter: adapter, now: now, in: db)
        }
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
}
