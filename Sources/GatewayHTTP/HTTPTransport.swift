import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL

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

    public init(caBundlePath: String? = nil, clientCertificatePath: String? = nil, clientKeyPath: String? = nil, insecureSkipVerification: Bool = false) {
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
            if certificates?.isEmpty ?? true { problems.append(("ca_bundle", "CA bundle \(caBundlePath) cannot be read as PEM certificates")) }
        }
        if let clientCertificatePath, (try? NIOSSLCertificate.fromPEMFile(clientCertificatePath))?.isEmpty ?? true {
            problems.append(("client_certificate", "client certificate \(clientCertificatePath) cannot be read as PEM certificates"))
        }
        if let clientKeyPath, (try? NIOSSLPrivateKey(file: clientKeyPath, format: .pem)) == nil {
            problems.append(("client_key", "client key \(clientKeyPath) cannot be read as a PEM private key"))
        }
        return problems
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

    public init() {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(10))
        configuration.redirectConfiguration = .disallow
        configuration.httpVersion = .http1Only
        client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    public func shutdown() async throws { try await client.shutdown() }

    /// Sends one request and reads the whole answer, at most `maxBodyBytes` of it.
    public func send(
        method: String, url: String, headers: [(String, String)] = [], body: Data? = nil, tls: EndpointTLS,
        timeout: Duration, maxBodyBytes: Int = 16 << 20
    ) async throws -> HTTPAnswer {
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.body = .bytes(ByteBuffer(bytes: body))
            // RFC 9530 on every request with content, so a receiver can check what arrived.
            if !request.headers.contains(name: "Content-Digest") {
                request.headers.add(name: "Content-Digest", value: "sha-256=:" + Data(SHA256.hash(data: body)).base64EncodedString() + ":")
            }
        }
        if url.lowercased().hasPrefix("https://") { request.tlsConfiguration = try tls.makeConfiguration() }
        let response = try await client.execute(request, timeout: .nanoseconds(Int64(timeout.nanosecondsClamped)))
        let buffer: ByteBuffer
        do { buffer = try await response.body.collect(upTo: maxBodyBytes) } catch is NIOTooManyBytesError {
            // Without the query: it may carry an API key.
            throw TransportError("the answer from \(url.prefix { $0 != "?" }) is larger than \(maxBodyBytes) bytes")
        }
        return HTTPAnswer(
            status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) },
            body: Data(buffer.readableBytesView))
    }
}

extension Duration {
    var nanosecondsClamped: Int64 {
        let (seconds, attoseconds) = components
        return seconds > 1_000_000 ? Int64.max / 2 : seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    public var timeInterval: TimeInterval {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
