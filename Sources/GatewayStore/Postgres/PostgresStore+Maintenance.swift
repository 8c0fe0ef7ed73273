import Foundation
import GatewayContracts
import Logging
import PostgresNIO

extension PostgresStore: StoreMaintenance, StoreHealth {
    public func pruneDelivered(olderThan age: TimeInterval, now: Date) async throws -> Int {
        let cutoff = now.timeIntervalSince1970 - age
        return try await rows(
            "WITH gone AS (DELETE FROM outbox WHERE state = 'delivered' AND delivered_at < \(cutoff) RETURNING 1) SELECT COUNT(*)::BIGINT AS n FROM gone"
        )
        .first.map { Int(try $0["n"].decode(Int64.self)) } ?? 0
    }

    /// Another instance may be delivering what is in flight, so nothing is taken from it here: a
    /// lease left by a dead instance runs out and the report is leased again (`leaseDue`).
    public func recoverInterruptedDeliveries(now: Date) async throws -> Int { 0 }

    // MARK: Health

    /// Only the database's size can be known from here; the disk under it is the server's.
    public func capacityProblem(minimumFreeBytes: Int64, maximumBytes: Int64) -> String? {
        let size = health.withLock { $0.databaseBytes }
        return size > maximumBytes ? "the database holds \(size >> 20) MiB, more than the store's limit of \(maximumBytes >> 20) MiB" : nil
    }

    public func isWritable() async -> Bool { !health.withLock { $0.lastQueryFailed } }

    /// The invariants the state machine keeps, checked on every row, and the audit chain's sequence.
    public func integrityCheck() async throws -> [String] {
        var problems: [String] = []
        for row in try await rows(
            """
            SELECT report_id, state FROM outbox
            WHERE state NOT IN ('pending', 'in_flight', 'delivered', 'dead_lettered')
               OR (state = 'in_flight' AND lease_until IS NULL) OR (state = 'delivered' AND delivered_at IS NULL)
            """)
        {
            problems.append(
                "report \(try row["report_id"].decode(String.self)) is \(try row["state"].decode(String.self)) without what that state needs"
            )
        }
        let gaps = try await rows("SELECT COUNT(*)::BIGINT AS n, COALESCE(MAX(sequence), 0)::BIGINT AS top FROM audit")[0]
        if try gaps["n"].decode(Int64.self) != gaps["top"].decode(Int64.self) {
            problems.append("the audit chain's sequence numbers have gaps")
        }
        return problems
    }
}
