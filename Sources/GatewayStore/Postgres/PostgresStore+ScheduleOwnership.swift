import Foundation
import GatewayContracts
import Logging
import PostgresNIO
import Synchronization

extension PostgresStore: ScheduleOwnership {
    /// Runs `body` while this process owns `adapter`'s schedule, waiting (polling every `poll`)
    /// while another instance does; returns when `body` returns or the task is cancelled. The lock
    /// is held by one connection, kept for the whole time, so it ends with this process.
    /// `body` gets a check to make before each pull: false once the lock is gone (the database
    /// restarted or the connection broke), when `body` should return so ownership is sought again.
    public func withScheduleOwnership(
        of adapter: String, whileWaiting: () -> Void, _ body: (_ stillOwner: () async -> Bool) async -> Void
    ) async throws {
        try await withScheduleOwnership(of: adapter, poll: .seconds(1), whileWaiting: whileWaiting, body)
    }

    public func withScheduleOwnership(
        of adapter: String, poll: Duration, whileWaiting: () -> Void = {}, _ body: (_ stillOwner: () async -> Bool) async -> Void
    ) async throws {
        let key = Self.scheduleLockPrefix | Int64(Self.stableHash(adapter))
        try await perform { try await ensureSchema() }
        // A connection of its own, outside the pool: it lives as long as the ownership, and one the
        // server has cut is dropped here rather than lent to other work.
        let (direct, logger) = (self.direct, self.logger)
        let connection = try await perform {
            try await PostgresConnection.connect(configuration: direct, id: Int.random(in: 1...Int.max), logger: logger)
        }
        do {
            while true {
                try Task.checkCancellation()
                let rows = try await Self.rows("SELECT pg_try_advisory_lock(\(key)) AS owned", on: connection, logger: logger)
                if try rows.first?["owned"].decode(Bool.self) == true { break }
                whileWaiting()
                try await Task.sleep(for: poll)
            }
        } catch {
            try? await connection.close()
            throw error
        }
        let (high, low) = (Int64(UInt64(bitPattern: key) >> 32), Int64(UInt64(bitPattern: key) & 0xFFFF_FFFF))
        var lost = false
        await body {
            if lost || connection.isClosed { return false }
            // A connection the server has cut can leave a query waiting for ever: no answer in
            // `ownershipCheckTimeout` counts as not owning, and the connection is closed.
            let owned = await Self.firstOf(timeout: Self.ownershipCheckTimeout, closingOnTimeout: connection) {
                let rows = try? await Self.rows(
                    """
                    SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()
                                   AND classid::bigint = \(high) AND objid::bigint = \(low) AND objsubid = 1) AS owned
                    """, on: connection, logger: logger)
                return (try? rows?.first?["owned"].decode(Bool.self)) == true
            }
            lost = !owned
            return owned
        }
        // Closing the session ends the lock too; the explicit unlock is for a session still sound.
        if !lost {
            _ = await Self.firstOf(timeout: Self.ownershipCheckTimeout, closingOnTimeout: connection) {
                (try? await connection.query("SELECT pg_advisory_unlock(\(key))", logger: logger)) != nil
            }
        }
        // Closing locally needs no answer from the server, so a dead one cannot hold this up.
        try? await connection.close()
    }

    static let ownershipCheckTimeout: Duration = .seconds(5)

    /// `check`'s answer, or false if it has none within `timeout`, when `connection` is closed.
    ///
    /// The timeout is a child of this call; the check is not. A query on a session the server
    /// has cut can stay waiting even after the connection is closed (seen in the test that
    /// terminates the owner's backend: a task group waiting for it hung about one run in three),
    /// so the check runs in a task of its own that this call does not wait for: it ends when the
    /// closed connection fails its query, and its late answer is dropped.
    static func firstOf(timeout: Duration, closingOnTimeout connection: PostgresConnection, _ check: @escaping @Sendable () async -> Bool)
        async -> Bool
    {
        final class Answer: Sendable {
            let continuation = Mutex<CheckedContinuation<Bool, Never>?>(nil)
            func give(_ value: Bool) { continuation.withLock { $0.take() }?.resume(returning: value) }
        }
        let answer = Answer()
        return await withTaskGroup(of: Void.self) { group in
            let owned = await withCheckedContinuation { continuation in
                answer.continuation.withLock { $0 = continuation }
                // Unstructured on purpose, see above.
                Task { answer.give(await check()) }
                group.addTask {
                    try? await Task.sleep(for: timeout)
                    answer.give(false)
                }
            }
            group.cancelAll()
            if !owned { try? await connection.close() }
            return owned
        }
    }

    /// FNV-1a over the name's UTF-8, 32 bits: the same in every process, unlike `hashValue`.
    static func stableHash(_ text: String) -> UInt32 {
        var hash: UInt32 = 2_166_136_261
        for byte in text.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return hash
    }
}
