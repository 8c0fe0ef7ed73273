import Foundation
import GRDB
import GatewayContracts

extension SQLiteStore: DeliveryOutbox {
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
                    try db.cachedStatement(
                        sql: "UPDATE figure_reports SET accepted_at = ?, receipt = ? WHERE report_id = ? AND accepted_at IS NULL"
                    ).execute(arguments: [now.timeIntervalSince1970, entry.receipt, attempt.reportID])
                }
            }
            return skipped
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

    static func entry(from row: Row) -> OutboxEntry {
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

    static func save(_ entry: OutboxEntry, in db: Database) throws {
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
