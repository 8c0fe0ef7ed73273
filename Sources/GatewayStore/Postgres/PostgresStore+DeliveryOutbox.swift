import Foundation
import GatewayContracts
import Logging
import PostgresNIO

extension PostgresStore: DeliveryOutbox {
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
                    try await connection.query(
                        """
                        UPDATE figure_reports SET accepted_at = \(deliveredAt), receipt = \(entry.receipt)
                        WHERE report_id = \(attempt.reportID) AND accepted_at IS NULL
                        """, logger: logger)
                }
            }
            return skipped
        }
        return skippedIDs.map { ($0[0], $0[1]) }
    }

    public func nextDueDate() async throws -> Date? {
        try await rows(
            """
            SELECT MIN(CASE state WHEN 'pending' THEN next_attempt_at ELSE lease_until END) AS due
            FROM outbox WHERE state IN ('pending', 'in_flight')
            """
        ).first?["due"].decode(Double?.self).map(Date.init(timeIntervalSince1970:))
    }

    // MARK: Rows

    /// Every outbox column but `body`: an entry read to be shown, completed or requeued does not
    /// need the signed report, which is hundreds of kilobytes TOAST keeps out of the row.
    static let entryColumns = """
        report_id, adapter, content_type, detached_signature, content_digest, observation_count, state, attempts, created_at,
        next_attempt_at, lease_until, last_status, last_error, delivered_at, receipt, response, receipt_verified
        """

    static func entry(from row: PostgresRandomAccessRow) throws -> OutboxEntry {
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

    static func save(_ entry: OutboxEntry, on connection: PostgresConnection, logger: Logger) async throws {
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
