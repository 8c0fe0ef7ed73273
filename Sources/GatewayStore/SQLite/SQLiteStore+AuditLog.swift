import Foundation
import GRDB
import GatewayContracts

extension SQLiteStore: AuditLog {
    /// Links a delivered report into the audit chain, in the transaction that records the delivery.
    static func appendAuditLink(reportID: String, contentDigest: String, deliveredAt: Date, receipt: String?, in db: Database)
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
}
