import Foundation
import GatewayContracts
import Logging
import PostgresNIO

extension PostgresStore: AuditLog {
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
