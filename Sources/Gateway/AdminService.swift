import Foundation
import GatewayHTTP
import GatewayStore
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// `/healthz` (the process answers), `/readyz` (store writable, contracts loaded, central endpoint
/// not behind an open breaker) and `/metrics` (Prometheus text), on a loopback address by default.
struct AdminService: Service, CustomStringConvertible {
    /// What ServiceLifecycle logs for this service. Without it, `ServiceGroupConfiguration` describes
    /// the whole value by reflection, contracts and catalogue included: milliseconds per service at start.
    var description: String { "AdminService" }

    let host: String
    let port: Int
    let token: Secret?
    let store: any OutboxAdministration & StoreHealth
    let metrics: GatewayMetrics
    let contractVersion: @Sendable () -> String
    let breakerOpen: @Sendable () -> Bool
    /// Deliveries under way for longer than any request may take.
    let stalledDeliveries: @Sendable () -> Int
    let boundPort: Mutex<Int?>.Box
    let logger: Logger

    func run() async throws {
        let router = Router()
        router.add(middleware: BearerCheck(token: token))
        router.get("healthz") { _, _ in Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ok\n"))) }
        router.get("readyz") { _, _ in
            var problems: [String] = []
            if await !store.isWritable() { problems.append("store is not writable") }
            if breakerOpen() { problems.append("central endpoint is failing (circuit breaker open)") }
            let stalled = stalledDeliveries()
            if stalled > 0 { problems.append("deliveries make no progress: \(stalled) under way for longer than any request may take") }
            let body =
                problems.isEmpty
                ? "ready: store writable, contracts \(contractVersion()), central endpoint answering\n"
                : problems.joined(separator: "\n") + "\n"
            return Response(status: problems.isEmpty ? .ok : .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        router.get("metrics") { _, _ in
            if let stats = try? await store.outboxStats(now: Date()) { metrics.refreshOutbox(stats) }
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.registry.emitToBuffer())))
        }
        var quiet = logger
        quiet.logLevel = .warning
        let boundPort = self.boundPort
        let logger = self.logger
        let app = Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "lgsp-gateway-admin"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port
                boundPort.value.withLock { $0 = port }
                logger.info("admin listener ready", metadata: ["address": "\(host):\(port ?? 0)"])
            }, logger: quiet)
        do {
            try await app.run()
        } catch {
            throw AdminListenerError(address: "\(host):\(port)", underlying: "\(error)")
        }
    }
}

/// Names the setting to change when the admin listener cannot start (most often: the port is taken).
struct AdminListenerError: Error, CustomStringConvertible {
    let address: String
    let underlying: String
    var description: String { "the admin listener cannot listen on \(address) (admin.listen): \(underlying)" }
}

/// Refuses admin requests without the configured bearer token (when one is configured).
struct BearerCheck<Context: RequestContext>: RouterMiddleware {
    let token: Secret?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let token else { return try await next(request, context) }
        guard request.headers[.authorization] == "Bearer " + token.reveal() else {
            return Response(status: .unauthorized, headers: [.wwwAuthenticate: "Bearer"])
        }
        return try await next(request, context)
    }
}

extension Mutex where Value: Sendable {
    /// A reference to share a `Mutex` between services.
    final class Box: Sendable {
        let value: Mutex<Value>
        init(_ initial: Value) { value = Mutex(initial) }
    }
}
