import Foundation
import GRDB
import GatewayContracts
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
    import Glibc
    /// `close(2)`, named apart from the store's own `close()`.
    private let closeDescriptor = Glibc.close
#elseif canImport(Darwin)
    import Darwin
    private let closeDescriptor = Darwin.close
#endif

/// The default store: one SQLite file in WAL mode.
///
/// `synchronous = FULL`: in WAL mode NORMAL may lose the last commits on power loss, and a
/// committed pull has already advanced the source's cursor, so losing it would lose data for good.
/// The cost is one fsync per commit, small beside a network pull.
///
/// One gateway process owns a store: an exclusive `flock` on `<path>.lock` refuses a second one,
/// which is what makes it safe to reclaim in-flight deliveries at start-up.
public final class SQLiteStore: Sendable {
    let pool: DatabasePool
    let lockDescriptor: Int32?
    /// The `stableHash` of every figure the ledger holds, read at the first lookup and then kept
    /// as figures are recorded: a new figure, which is most of what a pull brings, needs no
    /// lookup, and a lookup finds only what the ledger may hold. Only ever too large (a purge, a
    /// rolled-back write or two keys of one hash leave a hash behind), which costs a lookup, never
    /// a wrong answer. Eight bytes a figure, about 16 MB at a million. Read again after another
    /// process has written the store (a command run beside the gateway), which `data_version` on
    /// the writer's connection tells, at a lookup that must see other writers (`.upToNow`).
    let ledgerKeys = Mutex<(keys: Set<Int64>, dataVersion: Int)?>(nil)
    public let path: String
    public var location: String { path }

    /// Opens (creating if needed) the store at `path`. `exclusive` takes the owner's lock; read-only
    /// tools such as status commands open it without.
    public init(path: String, exclusive: Bool = true) throws {
        self.path = path
        try FileManager.default.createDirectory(
            at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
        if exclusive {
            let descriptor = open(path + ".lock", O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else { throw StoreError("\(path).lock cannot be opened (errno \(errno))") }
            guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
                _ = closeDescriptor(descriptor)
                throw StoreError("store \(path) is in use by another gateway process")
            }
            lockDescriptor = descriptor
        } else {
            lockDescriptor = nil
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        pool = try Self.openMigrated(path: path, configuration: configuration)
    }

    /// A new store, or one an upgrade must migrate, can be opened by two processes at once: a
    /// gateway starting and a command run beside it. SQLite answers one of them `SQLITE_BUSY`
    /// while the other turns WAL on, without waiting for its busy timeout; and both read which
    /// migrations are applied before either takes the write lock, so the second fails applying
    /// what the first has just applied. Each is tried again while the other is making progress;
    /// a migration that fails on its own still fails.
    private static func openMigrated(path: String, configuration: Configuration) throws -> DatabasePool {
        let deadline = ContinuousClock.now + .seconds(30)
        let pool: DatabasePool
        while true {
            do {
                pool = try DatabasePool(path: path, configuration: configuration)
                break
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY && ContinuousClock.now < deadline {
                Thread.sleep(forTimeInterval: 0.02)
            }
        }
        // Again on the writer: GRDB sets `synchronous = NORMAL` when it turns WAL mode on, after
        // `prepareDatabase`, so the writer had run with NORMAL all along.
        try pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = FULL") }
        while true {
            let appliedBefore = try pool.read { try migrator.appliedIdentifiers($0) }
            do {
                try migrator.migrate(pool)
                return pool
            } catch {
                let appliedNow = try pool.read { try migrator.appliedIdentifiers($0) }
                guard appliedNow.count > appliedBefore.count else { throw error }
            }
        }
    }

    /// Whether a process holds the owner's lock of the store at `path` (a running gateway).
    public static func isLocked(path: String) -> Bool {
        let descriptor = open(path + ".lock", O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { _ = closeDescriptor(descriptor) }
        guard flock(descriptor, LOCK_SH | LOCK_NB) == 0 else { return true }
        _ = flock(descriptor, LOCK_UN)
        return false
    }

    deinit {
        if let lockDescriptor { _ = closeDescriptor(lockDescriptor) }
    }

    /// A SQLite store has no background work: it waits for the gateway to stop, gracefully or
    /// cut off (a cancelled wait is a stop too, not a failure of the store).
    public func run() async throws {
        try? await gracefulShutdown()
    }

    /// Closes the database; the owner's lock goes with the process or the store's release.
    public func close() async throws {
        try pool.close()
    }
}

/// Every role, run as a service of the gateway (which waits for its shutdown).
extension SQLiteStore: GatewayStore {}

extension SQLiteStore: ScheduleOwnership {
    /// One gateway owns a SQLite store, and with it every schedule.
    public func withScheduleOwnership(of adapter: String, whileWaiting: () -> Void, _ body: (_ stillOwner: () async -> Bool) async -> Void)
        async throws
    {
        await body { true }
    }
}
