import Foundation
import GatewaySigning
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import Synchronization

/// The mock provincial source and the mock central endpoint, over HTTPS on loopback with a CA
/// made at start-up. Used in-process by the tests and the demo, and by `lgsp-mock serve`.
public enum MockSystems {
    public struct Configuration: Sendable {
        /// Where the CA certificate and the client secret are written.
        public var directory: URL
        public var host: String
        /// 0 picks a free port.
        public var sourcePort: Int
        public var centralPort: Int
        /// The bank's reporting server, which asks every client for a certificate.
        public var bankPort: Int = 0
        /// When set, the source's certificate carries these names only, not localhost or its
        /// address: a client dialling 127.0.0.1 must then be told the name to expect.
        public var sourceCertificateNames: [String]?
        public var source: MockProvincialSource.Configuration
        public var trustedKeys: [VerificationKey]
        public var faults: MockCentral.FaultPlan
        /// The central endpoint refuses TLS connections without a client certificate from the test CA.
        public var centralRequiresClientCertificate = false

        public init(
            directory: URL, host: String = "127.0.0.1", sourcePort: Int = 0, centralPort: Int = 0,
            source: MockProvincialSource.Configuration, trustedKeys: [VerificationKey], faults: MockCentral.FaultPlan = .none
        ) {
            self.directory = directory
            self.host = host
            self.sourcePort = sourcePort
            self.centralPort = centralPort
            self.source = source
            self.trustedKeys = trustedKeys
            self.faults = faults
        }
    }

    /// The running mocks: where they listen and their state, for assertions.
    public struct Running: Sendable {
        public let sourceURL: String
        public let centralURL: String
        /// The State Bank branch's report server: mutual TLS with a client certificate from the test CA.
        public let bankURL: String
        /// PEM of the CA that signed both servers' certificates.
        public let caBundlePath: String
        /// The source's client secret, in a file, as an operator would provide it.
        public let clientSecretPath: String
        /// A client certificate and key (PEM files) from the test CA, for mutual TLS.
        public let clientCertificatePath: String
        public let clientKeyPath: String
        /// The CA itself, to issue more certificates in tests.
        public let authority: TestCertificateAuthority
        /// JWKS of the key the mock central signs its receipts with.
        public let receiptKeysPath: String
        public let source: MockProvincialSource
        public let central: MockCentral
    }

    /// Starts both mocks, runs `body`, then stops them.
    public static func withRunning<T: Sendable>(
        _ configuration: Configuration, logger: Logger = Logger(label: "lgsp-mock"),
        _ body: @escaping @Sendable (Running) async throws -> T
    ) async throws -> T {
        try FileManager.default.createDirectory(at: configuration.directory, withIntermediateDirectories: true)
        let authority = try TestCertificateAuthority()
        let caPath = configuration.directory.appendingPathComponent("ca.pem").path
        try Data(authority.certificatePEM.utf8).write(to: URL(fileURLWithPath: caPath))
        let secretPath = configuration.directory.appendingPathComponent("source-client-secret").path
        try Data((configuration.source.clientSecret + "\n").utf8).write(to: URL(fileURLWithPath: secretPath))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: secretPath)

        let (certificatePEM, keyPEM) = try authority.issueServerCertificate()
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(certificatePEM.utf8)).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem)))
        tls.minimumTLSVersion = .tlsv12
        var sourceTLS = tls
        if let names = configuration.sourceCertificateNames {
            let (namedPEM, namedKeyPEM) = try authority.issueServerCertificate(hosts: names, onlyHosts: true)
            sourceTLS = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(namedPEM.utf8)).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(namedKeyPEM.utf8), format: .pem)))
            sourceTLS.minimumTLSVersion = .tlsv12
        }
        var centralTLS = tls
        if configuration.centralRequiresClientCertificate {
            centralTLS.certificateVerification = .noHostnameVerification
            centralTLS.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(authority.certificatePEM.utf8)))
        }
        var bankTLS = tls
        bankTLS.certificateVerification = .noHostnameVerification
        bankTLS.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(authority.certificatePEM.utf8)))
        let (clientCertificatePEM, clientKeyPEM) = try authority.issueClientCertificate()
        let clientCertificatePath = configuration.directory.appendingPathComponent("client-certificate.pem").path
        let clientKeyPath = configuration.directory.appendingPathComponent("client-key.pem").path
        try Data(clientCertificatePEM.utf8).write(to: URL(fileURLWithPath: clientCertificatePath))
        try Data(clientKeyPEM.utf8).write(to: URL(fileURLWithPath: clientKeyPath))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: clientKeyPath)

        let source = MockProvincialSource(configuration: configuration.source)
        let central = MockCentral(trustedKeys: configuration.trustedKeys, faults: configuration.faults)
        let receiptKeysPath = configuration.directory.appendingPathComponent("central-receipt-jwks.json").path
        try JSONEncoder().encode(JWKS(publishing: [(central.receiptKey.publicKey, nil, nil)])).write(
            to: URL(fileURLWithPath: receiptKeysPath))
        let sourceRouter = Router()
        source.addRoutes(to: sourceRouter)
        let centralRouter = Router()
        central.addRoutes(to: centralRouter)
        let bankRouter = Router()
        source.addBankRoutes(to: bankRouter)

        let ports = PortBoard()
        var quietLogger = logger
        quietLogger.logLevel = .warning
        let sourceApp = Application(
            router: sourceRouter, server: try .tls(.http1(), tlsConfiguration: sourceTLS),
            configuration: .init(address: .hostname(configuration.host, port: configuration.sourcePort), serverName: "mock-lgsp-source"),
            onServerRunning: { ports.publish("source", $0.localAddress?.port) }, logger: quietLogger)
        let centralApp = Application(
            router: centralRouter,
            server: try .tls(
                .http1(configuration: .init(additionalChannelHandlers: [FaultInjectionHandler(central: central)])),
                tlsConfiguration: centralTLS),
            configuration: .init(address: .hostname(configuration.host, port: configuration.centralPort), serverName: "mock-central"),
            onServerRunning: { ports.publish("central", $0.localAddress?.port) }, logger: quietLogger)

        let bankApp = Application(
            router: bankRouter, server: try .tls(.http1(), tlsConfiguration: bankTLS),
            configuration: .init(address: .hostname(configuration.host, port: configuration.bankPort), serverName: "mock-bank"),
            onServerRunning: { ports.publish("bank", $0.localAddress?.port) }, logger: quietLogger)

        // The servers run in a service group so they stop gracefully (closing idle connections)
        // rather than being cancelled under open connections.
        let servers = ServiceGroup(configuration: .init(services: [sourceApp, centralApp, bankApp], logger: quietLogger))
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await servers.run(); return nil
            }
            do {
                let sourcePort = try await ports.wait(for: "source")
                let centralPort = try await ports.wait(for: "central")
                let bankPort = try await ports.wait(for: "bank")
                let running = Running(
                    sourceURL: "https://\(configuration.host):\(sourcePort)", centralURL: "https://\(configuration.host):\(centralPort)",
                    bankURL: "https://\(configuration.host):\(bankPort)",
                    caBundlePath: caPath, clientSecretPath: secretPath, clientCertificatePath: clientCertificatePath,
                    clientKeyPath: clientKeyPath, authority: authority, receiptKeysPath: receiptKeysPath, source: source, central: central)
                let result = try await body(running)
                await servers.triggerGracefulShutdown()
                try await group.waitForAll()
                return result
            } catch {
                await servers.triggerGracefulShutdown()
                group.cancelAll()
                throw error
            }
        }
    }
}

public struct MockError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Collects the ports servers bound to, for callers waiting on them.
final class PortBoard: Sendable {
    private let ports = Mutex<[String: Int]>([:])

    func publish(_ name: String, _ port: Int?) {
        ports.withLock { $0[name] = port ?? -1 }
    }

    func wait(for name: String) async throws -> Int {
        for _ in 0..<1000 {
            if let port = ports.withLock({ $0[name] }) {
                guard port > 0 else { throw MockError("mock \(name) did not bind a port") }
                return port
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw MockError("mock \(name) did not start within 10 s")
    }
}
