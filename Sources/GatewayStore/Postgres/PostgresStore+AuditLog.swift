import Foundation
import GatewayContracts
import Logging
import PostgresNIO

extension PostgresStore: AuditLog {
    public func auditLength() async throws -> Int64 {
        try await rows("SELECT COALESCE(MAX(sequence), 0)::BIGINT AS length FROM audit").first?["length"].decode(Int64.self) ?? 0
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
}

extension PostgresStore: OperatorActions {
    public func record(_ action: OperatorAction) async throws {
        _ = try await rows(
            """
            INSERT INTO operator_actions (at, "user", via, action, target, outcome)
            VALUES (\(action.at.timeIntervalSince1970), \(action.user), \(action.via), \(action.action), \(action.target), \(action.outcome))
            RETURNING id
            """)
    }

    public func operatorActions(before: Int64?, limit: Int) async throws -> [OperatorAction] {
        try await rows(
            """
            SELECT * FROM operator_actions WHERE (\(before)::bigint IS NULL OR id < \(before)) ORDER BY id DESC LIMIT \(Int64(limit))
            """
        ).map { row in
            var action = OperatorAction(
                at: Date(timeIntervalSince1970: try row["at"].decode(Double.self)), user: try row["user"].decode(String.self),
                via: try row["via"].decode(String.self), action: try row["action"].decode(String.self),
                target: try row["target"].decode(String.self), outcome: try row["outcome"].decode(String.self))
            action.id = try row["id"].decode(Int64.self)
            return action
        }
    }
}
