import Foundation
import GRDB
import GatewayContracts

extension SQLiteStore: StoreMaintenance, StoreHealth {
    /// Deletes delivered reports older than `age`; their audit links stay. Returns how many.
    public func pruneDelivered(olderThan age: TimeInterval, now: Date) async throws -> Int {
        try await pool.write { db in
            let cutoff = now.timeIntervalSince1970 - age
            try db.execute(
                sql:
                    "DELETE FROM report_bodies WHERE report_id IN (SELECT report_id FROM outbox WHERE state = 'delivered' AND delivered_at < ?)",
                arguments: [cutoff])
            try db.execute(sql: "DELETE FROM outbox WHERE state = 'delivered' AND delivered_at < ?", arguments: [cutoff])
            return db.changesCount
        }
    }

    public func recoverInterruptedDeliveries(now: Date) async throws -> Int {
        guard lockDescriptor != nil else { throw StoreError("only the store's owner may recover interrupted deliveries") }
        return try await pool.write { db in
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM outbox WHERE state = 'in_flight'")
            for row in rows {
                var entry = Self.entry(from: row)
                try entry.abandonLease(now: now)
                try Self.save(entry, in: db)
            }
            return rows.count
        }
    }

    /// Why new pulls must wait, if they must: the disk under the store is nearly full, or the
    /// store has grown past its limit. What is already stored is still delivered.
    public func capacityProblem(minimumFreeBytes: Int64, maximumBytes: Int64) -> String? {
        var size: Int64 = 0
        for suffix in ["", "-wal"] {
            if let attributes = try? FileManager.default.attributesOfItem(atPath: path + suffix), let bytes = attributes[.size] as? Int64 {
                size += bytes
            }
        }
        if size > maximumBytes { return "the store holds \(size >> 20) MiB, more than its limit of \(maximumBytes >> 20) MiB" }
        var stats = statvfs()
        if statvfs(URL(fileURLWithPath: path).deletingLastPathComponent().path, &stats) == 0 {
            let free = Int64(stats.f_bavail) * Int64(stats.f_frsize)
            if free < minimumFreeBytes {
                return "only \(free >> 10) KiB free on the store's disk, less than the \(minimumFreeBytes >> 10) KiB kept free"
            }
        }
        return nil
    }

    /// Whether a write transaction can be opened now (for readiness checks); writes nothing.
    /// Asynchronous, so a readiness probe waiting behind a long commit holds no cooperative thread.
    public func isWritable() async -> Bool {
        do {
            try await pool.writeWithoutTransaction { db in
                try db.execute(sql: "BEGIN IMMEDIATE")
                try db.execute(sql: "ROLLBACK")
            }
            return true
        } catch {
            return false
        }
    }

    /// Runs SQLite's own consistency check; returns its findings, empty when the file is sound.
    public func integrityCheck() async throws -> [String] {
        try await pool.read { db in
            try String.fetchAll(db, sql: "PRAGMA integrity_check").filter { $0 != "ok" }
        }
    }
}
