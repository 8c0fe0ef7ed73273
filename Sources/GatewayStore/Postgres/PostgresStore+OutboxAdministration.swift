import Foundation
import GatewayContracts
import Logging
import PostgresNIO

extension PostgresStore: OutboxAdministration {
    public func markReceipt(reportID: String, verified: Bool) async throws {
        _ = try await rows("UPDATE outbox SET receipt_verified = \(verified) WHERE report_id = \(reportID)")
    }

    public func outboxStats(now: Date) async throws -> OutboxStats {
        var stats = OutboxStats()
        for row in try await rows(
            "SELECT state, COUNT(*)::BIGINT AS n, COALESCE(SUM(observation_count), 0)::BIGINT AS o, COUNT(*) FILTER (WHERE receipt_verified = FALSE)::BIGINT AS u FROM outbox GROUP BY state"
        ) {
            let count = Int(try row["n"].decode(Int64.self))
            stats.unverifiedReceipts += Int(try row["u"].decode(Int64.self))
            switch OutboxState(rawValue: try row["state"].decode(String.self)) {
            case .pending: stats.pending = count
            case .inFlight: stats.inFlight = count
            case .delivered:
                stats.delivered = count
                stats.deliveredObservations = Int(try row["o"].decode(Int64.self))
            case .deadLettered: stats.deadLettered = count
            case nil: break
            }
        }
        if let oldest = try await rows("SELECT MIN(created_at) AS oldest FROM outbox WHERE state IN ('pending', 'in_flight')").first?[
            "oldest"
        ].decode(Double?.self) {
            stats.oldestUndeliveredAgeSeconds = max(0, Int(now.timeIntervalSince1970 - oldest))
        }
        return stats
    }

    public func entry(reportID: String) async throws -> OutboxEntry? {
        try await rows("SELECT \(unescaped: Self.entryColumns) FROM outbox WHERE report_id = \(reportID)").first.map(Self.entry(from:))
    }

    public func entries(state: OutboxState?, limit: Int) async throws -> [OutboxEntry] {
        let found =
            if let state {
                try await rows(
                    "SELECT \(unescaped: Self.entryColumns) FROM outbox WHERE state = \(state.rawValue) ORDER BY created_at, report_id LIMIT \(limit)"
                )
            } else {
                try await rows("SELECT \(unescaped: Self.entryColumns) FROM outbox ORDER BY created_at, report_id LIMIT \(limit)")
            }
        return try found.map(Self.entry(from:))
    }

    public func requeue(reportID: String, now: Date, includingPending: Bool) async throws {
        let logger = logger
        try await transaction { connection in
            guard
                let row = try await Self.rows(
                    "SELECT \(unescaped: Self.entryColumns) FROM outbox WHERE report_id = \(reportID) FOR UPDATE", on: connection,
                    logger: logger
                ).first
            else {
                throw StoreError("report \(reportID) is not in the outbox")
            }
            var entry = try Self.entry(from: row)
            try entry.requeue(now: now, includingPending: includingPending)
            try await Self.save(entry, on: connection, logger: logger)
        }
    }

    public func purge(reportID: String) async throws {
        let logger = logger
        try await transaction { connection in
            guard
                let state = try await Self.rows(
                    "SELECT state FROM outbox WHERE report_id = \(reportID) FOR UPDATE", on: connection, logger: logger
                )
                .first?["state"].decode(String.self)
            else { throw StoreError("report \(reportID) is not in the outbox") }
            guard state == OutboxState.deadLettered.rawValue else {
                throw StoreError("report \(reportID) is \(state); only dead letters can be purged")
            }
            try await connection.query("DELETE FROM outbox WHERE report_id = \(reportID)", logger: logger)
            // Its figures never reached the centre: forgotten, so the next pull sends them again.
            try await connection.query("DELETE FROM figures WHERE report_id = \(reportID)", logger: logger)
            try await connection.query("DELETE FROM figure_reports WHERE report_id = \(reportID)", logger: logger)
        }
    }

    public func signedReport(reportID: String) async throws -> SignedReport? {
        try await rows("SELECT * FROM outbox WHERE report_id = \(reportID)").first.map { row in
            SignedReport(
                reportID: try row["report_id"].decode(String.self), body: try row["body"].decode(Data.self),
                contentType: try row["content_type"].decode(String.self),
                detachedSignature: try row["detached_signature"].decode(String?.self),
                contentDigest: try row["content_digest"].decode(String.self),
                observationCount: Int(try row["observation_count"].decode(Int32.self)))
        }
    }
}
