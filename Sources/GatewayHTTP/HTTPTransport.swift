import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// TLS settings for one endpoint: TLS 1.2 or later, certificates verified unless an option whose
/// name says it is insecure turns that off.
public struct EndpointTLS: Sendable {
    /// PEM file of the CA certificates to trust; the system's trust store when `nil`.
    public var caBundlePath: String?
    /// Client certificate chain (PEM) and key for mutual TLS.
    public var clientCertificatePath: String?
    public var clientKeyPath: String?
    /// Accept any server certificate. For a broken test system only; warned about at every start.
    public var insecureSkipVerification: Bool
    /// The name to present (SNI, `Host`) and to verify the certificate against, by the host the
    /// URL gives: for a server reached by an address or an internal name its certificate lacks.
    public var serverNames: [String: String] = [:]
    /// The NIO configuration, built from the files once when the configuration is loaded (see
    /// `prepared()`), rather than for every request: each request read and parsed the PEM files.
    public private(set) var configuration: TLSConfiguration?

    public init(
        caBundlePath: String? = nil, clientCertificatePath: String? = nil, clientKeyPath: String? = nil,
        insecureSkipVerification: Bool = false
    ) {
        self.caBundlePath = caBundlePath
        self.clientCertificatePath = clientCertificatePath
        self.clientKeyPath = clientKeyPath
        self.insecureSkipVerification = insecureSkipVerification
    }

    /// What is wrong with the files named, by configuration field, so `check` can point at the line.
    public func problems() -> [(field: String, message: String)] {
        var problems: [(String, String)] = []
        if let caBundlePath {
            let certificates = try? NIOSSLCertificate.fromPEMFile(caBundlePath)
            if certificates?.isEmpty ?? true {
                problems.append(("ca_bundle", "CA bundle \(caBundlePath) cannot be read as PEM certificates"))
            }
        }
        if let clientCertificatePath, (try? NIOSSLCertificate.fromPEMFile(clientCertificatePath))?.isEmpty ?? true {
            problems.append(("client_certificate", "client certificate \(clientCertificatePath) cannot be read as PEM certificates"))
        }
        if let clientKeyPath, (try? NIOSSLPrivateKey(file: clientKeyPath, format: .pem)) == nil {
            problems.append(("client_key", "client key \(clientKeyPath) cannot be read as a PEM private key"))
        }
        return problems
    }

    /// These settings with their NIO configuration built now, once per (re)load.
    public func prepared() throws -> EndpointTLS {
        var prepared = self
        prepared.configuration = try makeConfiguration()
        return prepared
    }

    /// Builds the NIO configuration.
    public func makeConfiguration() throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateVerification = insecureSkipVerification ? .none : .fullVerification
        if let clientCertificatePath, let clientKeyPath {
            do {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(clientCertificatePath).map { .certificate($0) }
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: clientKeyPath, format: .pem))
            } catch {
                throw TransportError("client certificate \(clientCertificatePath) or key \(clientKeyPath) cannot be read as PEM")
            }
        }
        if let caBundlePath {
            let certificates: [NIOSSLCertificate]
            do { certificates = try NIOSSLCertificate.fromPEMFile(caBundlePath) } catch {
                throw TransportError("CA bundle \(caBundlePath) cannot be read as PEM certificates")
            }
            guard !certificates.isEmpty else { throw TransportError("CA bundle \(caBundlePath) holds no certificate") }
            configuration.trustRoots = .certificates(certificates)
        }
        return configuration
    }
}

/// A fully-read HTTP answer.
public struct HTTPAnswer: Sendable {
    public let status: Int
    public let headers: [(String, String)]
    public let body: Data

    public init(status: Int, headers: [(String, String)], body: Data) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.0.caseInsensitiveCompare(name) == .orderedSame }?.1
    }
}

public struct TransportError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The one HTTP client of a gateway process, shared by every adapter and the forwarder.
/// TLS is chosen per request, so each endpoint keeps its own CA bundle.
public final class HTTPTransport: Sendable {
    private let client: HTTPClient
    /// Clients that connect to an address while naming another host, one per (name, address):
    /// AsyncHTTPClient sets that per client (`dnsOverride`), not per request.
    private let renamingClients = Mutex<[String: HTTPClient]>([:])

    public init() {
        client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: Self.configuration())
    }

    static func configuration(connectingTo overrides: [String: String] = [:]) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(10))
        configuration.redirectConfiguration = .disallow
        configuration.httpVersion = .http1Only
        configuration.dnsOverride = overrides
        return configuration
    }

    public func shutdown() async throws {
        let renaming = renamingClients.withLock { clients in
            defer { clients.removeAll() }
            return Array(clients.values)
        }
        for client in renaming { try await client.shutdown() }
        try await client.shutdown()
    }

    /// The client and URL for `url`: when `tls` names its host's server otherwise, the URL carries
    /// that name and the client connects to the original host.
    private func route(_ url: String, tls: EndpointTLS) -> (HTTPClient, String) {
        guard !tls.serverNames.isEmpty, url.lowercased().hasPrefix("https://"), var components = URLComponents(string: url),
            let host = components.host, let name = tls.serverNames[host], name != host
        else { return (client, url) }
        components.host = name
        guard let renamed = components.string else { return (client, url) }
        let client = renamingClients.withLock { clients in
            if let existing = clients[name + " " + host] { return existing }
            let made = HTTPClient(
                eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: Self.configuration(connectingTo: [name: host]))
            clients[name + " " + host] = made
            return made
        }
        return (client, renamed)
    }

    /// Sends one request and reads the whole answer, at most `maxBodyBytes` of it, within
    /// `timeout` for the whole exchange: connecting, TLS, sending, the answer's head and every
    /// byte of its body. AsyncHTTPClient's own deadline ends at the head, so a peer that sends its
    /// headers and then a byte every few seconds would otherwise hold the request for ever.
    public func send(
        method: String, url: String, headers: [(String, String)] = [], body: Data? = nil, tls: EndpointTLS,
        timeout: Duration, maxBodyBytes: Int = 16 << 20
    ) async throws -> HTTPAnswer {
        let (client, routedURL) = route(url, tls: tls)
        var request = HTTPClientRequest(url: routedURL)
        request.method = HTTPMethod(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.body = .bytes(ByteBuffer(bytes: body))
            // RFC 9530 on every request with content, so a receiver can check what arrived.
            if !request.headers.contains(name: "Content-Digest") {
                request.headers.add(name: "Content-Digest", value: "sha-256=:" + Data(SHA256.hash(data: body)).base64EncodedString() + ":")
            }
        }
        if url.lowercased().hasPrefix("https://") { request.tlsConfiguration = try tls.configuration ?? tls.makeConfiguration() }
        // Without the query: it may carry an API key.
        let shown = String(url.prefix { $0 != "?" })
        let outgoing = request
        return try await Self.within(timeout, describing: shown) {
            // A second later than ours, so that the error an operator reads is always the same one.
            let response = try await client.execute(outgoing, timeout: .nanoseconds((timeout + .seconds(1)).nanosecondsClamped))
            let buffer: ByteBuffer
            do { buffer = try await response.body.collect(upTo: maxBodyBytes) } catch is NIOTooManyBytesError {
                throw TransportError("the answer from \(shown) is larger than \(maxBodyBytes) bytes")
            }
            return HTTPAnswer(
                status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) },
                body: Data(buffer.readableBytesView))
        }
    }

    /// `exchange`, or a `TransportError` once `limit` has passed. The exchange is cancelled then,
    /// which closes its connection (AsyncHTTPClient cancels a request whose task or body reader is
    /// cancelled), so its slot is free when this returns.
    static func within<T: Sendable>(
        _ limit: Duration, describing url: String, _ exchange: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await exchange() }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            guard case let answer?? = try await group.next() else {
                throw TransportError(
                    "request to \(url) failed: no complete answer within \(limit.configurationText) (the deadline covers the whole exchange, body included)"
                )
            }
            return answer
        }
    }
}
