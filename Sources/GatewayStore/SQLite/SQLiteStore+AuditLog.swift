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
    public func auditLength() async throws -> Int64 {
        try await pool.read { db in try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(sequence), 0) FROM audit") ?? 0 }
    }

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

extension SQLiteStore: OperatorActions {
    public func record(_ action: OperatorAction) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "INSERT INTO operator_actions (at, user, via, action, target, outcome) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [action.at.timeIntervalSince1970, action.user, action.via, action.action, action.target, action.outcome])
        }
    }

    public func operatorActions(before: Int64?, limit: Int) async throws -> [OperatorAction] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM operator_actions WHERE (?1 IS NULL OR id < ?1) ORDER BY id DESC LIMIT ?2",
                arguments: [before, limit]
            ).map { row in
                var action = OperatorAction(
                    at: Date(timeIntervalSince1970: row["at"]), user: row["user"], via: row["via"], action: row["action"],
                    target: row["target"], outcome: row["outcome"])
                action.id = row["id"]
                return action
            }
        }
    }
}
