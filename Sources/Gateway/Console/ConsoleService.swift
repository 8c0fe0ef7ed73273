import Foundation
import GatewayContracts
import GatewayHTTP
import GatewayStore
import HTTPTypes
import Hummingbird
import HummingbirdBcrypt
import HummingbirdTLS
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Synchronization

/// The context of one console request: who is asking (the session the cookie names), from where
/// (for the login limit), in which language, and the form a POST carried.
struct ConsoleRequestContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?
    var session: ConsoleSession?
    var form = ConsoleForm()
    var language = ConsoleLanguage.vi

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The address the login limit counts by, without the port.
    var address: String { remoteAddress?.ipAddress ?? "unknown" }
}

/// The operators' console on `console.listen`: server-rendered pages over the same store roles
/// and library calls the command line uses. A thin view: what a page shows, a command prints.
struct ConsoleService: Service, CustomStringConvertible {
    var description: String { "ConsoleService" }

    let runtime: GatewayRuntime
    let settings: GatewayConfiguration.Console
    let boundPort: Mutex<Int?>.Box
    let logger: Logger

    func run() async throws {
        guard let host = settings.host else { return }
        let pages = ConsolePages(runtime: runtime, secureCookies: settings.usesTLS, logger: logger)
        let router = Router(context: ConsoleRequestContext.self)
        router.add(middleware: ConsoleGuard(pages: pages))
        pages.register(on: router)
        var quiet = logger
        quiet.logLevel = .warning
        let (boundPort, logger, scheme) = (self.boundPort, self.logger, settings.usesTLS ? "https" : "http")
        let port = settings.port
        let configuration = ApplicationConfiguration(address: .hostname(host, port: port), serverName: "lgsp-gateway-console")
        let onServerRunning: @Sendable (any Channel) async -> Void = { channel in
            let bound = channel.localAddress?.port
            boundPort.value.withLock { $0 = bound }
            logger.info("console ready", metadata: ["url": "\(scheme)://\(host):\(bound ?? 0)/"])
        }
        let app: Application<RouterResponder<ConsoleRequestContext>>
        if let certificate = settings.certificatePath, let key = settings.keyPath {
            let tls = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
            app = Application(
                router: router, server: try .tls(.http1(), tlsConfiguration: tls), configuration: configuration,
                onServerRunning: onServerRunning, logger: quiet)
        } else {
            app = Application(
                router: router, server: .http1(), configuration: configuration, onServerRunning: onServerRunning, logger: quiet)
        }
        do {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { try await app.run() }
                // Progress is computed here, off the page views, when the centre has accepted something.
                group.addTask {
                    await cancelWhenGracefulShutdown {
                        while !Task.isCancelled {
                            do { try await pages.refreshProgress() } catch is CancellationError { return } catch {
                                logger.error("the console's progress could not be computed", metadata: ["error": "\(error)"])
                            }
                            try? await Task.sleep(for: .seconds(5))
                        }
                    }
                }
            }
        } catch {
            throw AdminListenerError(address: "\(host):\(port)", underlying: "\(error) (console.listen)")
        }
    }
}

/// Every request passes here: security headers on every answer; no page without a session;
/// every POST carries its session's CSRF token; a viewer's POST changes nothing.
struct ConsoleGuard: RouterMiddleware {
    typealias Context = ConsoleRequestContext
    let pages: ConsolePages

    /// Reachable without a session.
    static let open: Set<String> = ["/login", "/console.css"]
    /// POSTs a viewer may make: they change nothing in the store.
    static let viewerPosts: Set<String> = ["/logout"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        var response = try await guarded(request, context: &context, next: next)
        for (name, value) in Self.securityHeaders { response.headers[name] = value }
        return response
    }

    static let securityHeaders: [(HTTPField.Name, String)] = [
        (
            HTTPField.Name("Content-Security-Policy")!,
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        ),
        (HTTPField.Name("X-Content-Type-Options")!, "nosniff"),
        (HTTPField.Name("Referrer-Policy")!, "same-origin"),
        (.cacheControl, "no-store"),
    ]

    private func guarded(
        _ request: Request, context: inout Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        if let language = request.cookies["lgsp_lang"].flatMap({ ConsoleLanguage(rawValue: $0.value) }) { context.language = language }
        let path = request.uri.path
        if let id = request.cookies[ConsolePages.sessionCookie]?.value {
            context.session = pages.sessions.session(id: id, accounts: pages.accounts)
        }
        var request = request
        if request.method == .post {
            let body = try await request.collectBody(upTo: 1 << 20)
            context.form = ConsoleForm(urlEncoded: String(buffer: body))
        }
        if Self.open.contains(path) || path.hasPrefix("/lang/") { return try await next(request, context) }
        guard let session = context.session else {
            if request.method == .get {
                return Response.redirect(to: "/login?back=" + ConsolePages.encode(request.uri.description), type: .normal)
            }
            return pages.refusal(.unauthorized, key: "session_expired", context: context)
        }
        if request.method == .post {
            guard let token = context.form["csrf"], ConsolePages.constantTimeEqual(token, session.csrf) else {
                pages.logger.warning("console POST refused: no valid CSRF token", metadata: ["user": "\(session.user)", "path": "\(path)"])
                return pages.refusal(.forbidden, key: "forbidden_csrf", context: context)
            }
            if session.role == .viewer && !Self.viewerPosts.contains(path) && !path.hasSuffix("/test") {
                pages.logger.warning("console action refused: viewer", metadata: ["user": "\(session.user)", "path": "\(path)"])
                return pages.refusal(.forbidden, key: "forbidden_role", context: context)
            }
        }
        return try await next(request, context)
    }
}
