import Foundation
import GRDB
import GatewayContracts

extension SQLiteStore: OutboxAdministration {
    /// Records whether the centre's signed receipt for a report verified.
    public func markReceipt(reportID: String, verified: Bool) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE outbox SET receipt_verified = ? WHERE report_id = ?", arguments: [verified, reportID])
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
            // Its figures never reached the centre: forgotten, so the next pull sends them again.
            // (A scan of the ledger; purging is rare, and an index would cost every stored figure.)
            try db.execute(sql: "DELETE FROM figures WHERE report_id = ?", arguments: [reportID])
            try db.execute(sql: "DELETE FROM figure_reports WHERE report_id = ?", arguments: [reportID])
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
}
