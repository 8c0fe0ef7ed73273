import Foundation
import GatewayContracts
import Logging
import NIOCore
import NIOSSL
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The store for several gateways sharing one PostgreSQL database (`LGSP_STORE=postgres://…`).
///
/// The tables and the outbox state machine are SQLite's; what differs is how instances share them:
/// reports are leased with `FOR UPDATE SKIP LOCKED`, so two gateways never take the same one; the
/// audit chain grows under a transaction-scoped advisory lock, so its links stay in one line; and
/// each adapter's schedule is owned by one instance at a time through a session advisory lock
/// (`withScheduleOwnership`), which PostgreSQL releases when that instance's connection dies.
public final class PostgresStore: Sendable {
    let client: PostgresClient
    /// The same server for one connection of its own: the schema is made over it, so a refused
    /// login or an unreachable server is reported as such at once, not as the pool giving up.
    let direct: PostgresConnection.Configuration
    /// Whether the schema is known to exist; until then every operation first makes sure of it, so
    /// a gateway started before its database comes up recovers when it does.
    let migrated = Mutex(false)
    let logger: Logger
    public let location: String
    /// What the last size measurement and the last query said, for the synchronous checks.
    let health = Mutex<(databaseBytes: Int64, lastQueryFailed: Bool)>((0, false))

    /// `url`: `postgres://user:password@host:port/database`, with `?sslmode=disable|require`
    /// (default `prefer`) or `?host=/run/postgresql` for a Unix socket.
    public init(url: String, logger: Logger = Logger(label: "lgsp-gateway.store")) throws {
        guard let components = URLComponents(string: url), StoreLocation.isPostgres(url) else {
            throw StoreError("\(url.prefix { $0 != "@" }) is not a postgres:// URL")
        }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        let username = components.user?.removingPercentEncoding ?? NSUserName()
        let password = components.password?.removingPercentEncoding
        let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        var configuration: PostgresClient.Configuration
        let databaseName = database.isEmpty ? nil : database
        if let socket = query["host"], socket.hasPrefix("/") {
            let path = socket + "/.s.PGSQL.\(components.port ?? 5432)"
            configuration = .init(unixSocketPath: path, username: username, password: password, database: databaseName)
            direct = .init(unixSocketPath: path, username: username, password: password, database: databaseName)
        } else {
            let host = components.host ?? "localhost", port = components.port ?? 5432
            let tls: PostgresClient.Configuration.TLS
            let directTLS: PostgresConnection.Configuration.TLS
            switch query["sslmode"] {
            case "disable":
                (tls, directTLS) = (.disable, .disable)
            case "require", "verify-full":
                (tls, directTLS) = (
                    .require(.makeClientConfiguration()), .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
                )
            default:
                (tls, directTLS) = (
                    .prefer(.makeClientConfiguration()), .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
                )
            }
            configuration = .init(host: host, port: port, username: username, password: password, database: databaseName, tls: tls)
            direct = .init(host: host, port: port, username: username, password: password, database: databaseName, tls: directTLS)
        }
        configuration.options.minimumConnections = 0
        configuration.options.maximumConnections = 8
        var redacted = components
        if redacted.password != nil { redacted.password = "***" }
        location = redacted.string ?? "postgres://"
        self.logger = logger
        client = PostgresClient(configuration: configuration, backgroundLogger: logger)
    }

    /// Runs the connection pool until the gateway stops (or the task is cancelled): every query
    /// waits for it, so the store is run in the gateway's service group or `withRunning(_:)`.
    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.client.run() }
    }

    /// The pool closes when `run()` ends; ownership connections close with their schedules.
    public func close() async throws {}

    /// Every operation: waits for the schema, and notes whether the database answered.
    func perform<T>(_ body: () async throws -> T) async throws -> T {
        do {
            try await ensureSchema()
            let result = try await body()
            health.withLock { $0.lastQueryFailed = false }
            return result
        } catch let cancelled as CancellationError {
            // A pull abandoned at shutdown is not a store failure.
            throw cancelled
        } catch let conflict as LedgerConflict {
            // The database answered: two pulls decided one figure, and the later is to run again.
            health.withLock { $0.lastQueryFailed = false }
            throw conflict
        } catch let failed as PostgresTransactionError where failed.closureError is QuarantineReplaced {
            health.withLock { $0.lastQueryFailed = false }
            throw failed.closureError!
        } catch let failed as PostgresTransactionError where failed.closureError is LedgerConflict {
            health.withLock { $0.lastQueryFailed = false }
            throw failed.closureError!
        } catch {
            health.withLock { $0.lastQueryFailed = true }
            throw StoreError("PostgreSQL store \(location): \(Self.describe(error))")
        }
    }

    /// What went wrong in words an operator can act on: the server's message when it sent one,
    /// the connection's error otherwise (PSQLError's own description is deliberately vague).
    static func describe(_ error: any Error) -> String {
        guard let psql = error as? PSQLError else { return "\(error)" }
        var parts = ["\(psql.code)"]
        if let message = psql.serverInfo?[.message] { parts.append(message) }
        if let detail = psql.serverInfo?[.detail] { parts.append(detail) }
        if let underlying = psql.underlying { parts.append("\(underlying)") }
        return parts.joined(separator: ": ")
    }

    func transaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await perform { try await client.withTransaction(logger: logger) { connection in try await body(connection) } }
    }

    func rows(_ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
        try await perform { try await client.query(query, logger: logger).collect().map { $0.makeRandomAccess() } }
    }

    static func rows(_ query: PostgresQuery, on connection: PostgresConnection, logger: Logger) async throws
        -> [PostgresRandomAccessRow]
    {
        try await connection.query(query, logger: logger).collect().map { $0.makeRandomAccess() }
    }

}

/// Every role, run as a service of the gateway: the pool lives as long as `run()`.
extension PostgresStore: GatewayStore {}
