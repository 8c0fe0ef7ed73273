import Foundation
import Gateway
import GatewayTestKit
import GatewaySigning
import GatewayStore
import GatewayContracts
import Logging
import Synchronization
import Testing

/// Keeps every log line, message and metadata rendered, for tests that read what was logged.
final class LogCapture: Sendable {
    let lines = Mutex<[String]>([])

    var logger: Logger {
        var logger = Logger(label: "capture") { _ in Handler(capture: self) }
        logger.logLevel = .trace
        return logger
    }

    struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { $1 }
            capture.lines.withLock { $0.append("\(event.level) \(event.message) \(all)") }
        }
    }
}

@Suite("Secure delivery profiles end to end over HTTPS", .serialized)
struct SecureDeliveryTests {
    let dataset = MockDataset(province: "14")

    struct Profile: Sendable, CustomTestStringConvertible {
        let keyType: KeyType
        let algorithm: JWSAlgorithm
        let serialization: JWSSerialization
        let httpSignatures: Bool
        let mutualTLS: Bool
        let certificateChain: Bool
        var testDescription: String {
            "\(algorithm.rawValue), \(serialization.rawValue)\(httpSignatures ? ", RFC 9421" : "")\(mutualTLS ? ", mTLS" : "")\(certificateChain ? ", x5c" : "")"
        }
    }

    @Test(
        "every key type and serialization delivers every observation once, verified at the centre",
        arguments: [
            Profile(
                keyType: .p256, algorithm: .es256, serialization: .compact, httpSignatures: true, mutualTLS: true, certificateChain: true),
            Profile(
                keyType: .rsa, algorithm: .ps256, serialization: .detached, httpSignatures: true, mutualTLS: false, certificateChain: false),
            Profile(
                keyType: .rsa, algorithm: .rs256, serialization: .flattened, httpSignatures: false, mutualTLS: true, certificateChain: true),
            Profile(
                keyType: .ed25519, algorithm: .edDSA, serialization: .detached, httpSignatures: false, mutualTLS: false,
                certificateChain: false),
        ])
    func profile(_ profile: Profile) async throws {
        let directory = try makeTemporaryDirectory("profile-\(profile.algorithm.rawValue)-\(profile.serialization.rawValue)")
        let key = try SigningKey.generate(profile.keyType)
        let keyPath = try writeKey(key, in: directory)
        var mocks = MockSystems.Configuration(
            directory: directory.appendingPathComponent("mocks"),
            source: .init(clientID: "lgsp-gateway-demo", clientSecret: "s-\(UUID())", dataset: dataset),
            trustedKeys: [key.publicKey])
        mocks.centralRequiresClientCertificate = profile.mutualTLS
        let dataset = self.dataset
        try await MockSystems.withRunning(mocks, logger: quietLogger) { running in
            var overrides = [
                "LGSP_SIGNING_ALG": profile.algorithm.rawValue, "LGSP_SIGNING_SERIALIZATION": profile.serialization.rawValue,
                "LGSP_HTTP_SIGNATURES": profile.httpSignatures ? "true" : "false", "LGSP_REPORT_MAX_OBSERVATIONS": "20",
            ]
            if profile.mutualTLS {
                overrides["LGSP_CENTRAL_CLIENT_CERT"] = running.clientCertificatePath
                overrides["LGSP_CENTRAL_CLIENT_KEY"] = running.clientKeyPath
            }
            if profile.certificateChain {
                let chainPath = directory.appendingPathComponent("chain.pem").path
                try
                    (try running.authority.issueSigningCertificate(for: key.publicKey.certificatePublicKey)
                    + running.authority.certificatePEM)
                    .write(toFile: chainPath, atomically: true, encoding: .utf8)
                overrides["LGSP_SIGNING_CERT_CHAIN"] = chainPath
            }
            let result = try await runGateway(
                running, directory: directory, keyPath: keyPath, overrides: overrides, until: allPulledAndDelivered)
            let central = running.central.statistics
            #expect(result.stats.deliveredObservations == dataset.goodRecordCount)
            #expect(central.acceptedObservations == dataset.goodRecordCount)
            #expect(central.duplicateObservations == 0 && central.signatureFailures == 0 && central.httpSignatureFailures == 0)
            #expect(central.serializations == [profile.serialization.rawValue: central.acceptedReports])
            #expect(central.httpSignaturesVerified == (profile.httpSignatures ? central.requests : 0))

            // Every stored report verifies from the store through the command an auditor would run.
            let jwksPath = directory.appendingPathComponent("jwks.json").path
            try JSONEncoder().encode(JWKS(publishing: [(key.publicKey, nil, nil)])).write(to: URL(fileURLWithPath: jwksPath))
            let firstBody = try #require(running.central.acceptedBodies.first)
            let payload = (try? FlattenedJWS.parse(any: firstBody)).flatMap { Base64URL.decode($0.payload) } ?? firstBody
            let reportID = try JSONDecoder().decode(ReportEnvelope.self, from: payload).reportID
            let verify = try ChildProcess(
                ["verify", "--store", directory.appendingPathComponent("gateway.sqlite").path, "--report", reportID, "--jwks", jwksPath],
                environment: ["PATH": "/usr/bin:/bin"], outputPath: directory.appendingPathComponent("verify.out"))
            #expect(try await verify.waitForExit(timeout: .seconds(30)) == 0, "\(verify.output)")
            #expect(verify.output.contains("ok   digest") && verify.output.contains("ok   signature"), "\(verify.output)")

            if profile.serialization != .detached {
                // What crossed the wire verifies on its own, with the CA bundle when a chain was sent.
                let roots = try CertificateChain.roots(pemFile: running.caBundlePath)
                for body in running.central.acceptedBodies {
                    let verification = await ReportVerification.run(
                        body: body, jwks: JWKS(publishing: [(key.publicKey, nil, nil)]), caBundle: profile.certificateChain ? roots : nil)
                    #expect(verification.passed, "\(verification.findings)")
                    #expect(try FlattenedJWS.parse(any: body).header().alg == profile.algorithm.rawValue)
                }
            }
        }
    }

    @Test("a central endpoint that demands a client certificate gets nothing from a gateway without one")
    func mutualTLSRefusal() async throws {
        let directory = try makeTemporaryDirectory()
        let key = SigningKey.generate()
        let keyPath = try writeKey(key, in: directory)
        var mocks = MockSystems.Configuration(
            directory: directory.appendingPathComponent("mocks"), source: .init(clientID: "lgsp-gateway-demo", clientSecret: "s"),
            trustedKeys: [key.publicKey])
        mocks.centralRequiresClientCertificate = true
        let events = EventLog()
        try await MockSystems.withRunning(mocks, logger: quietLogger) { running in
            _ = try await runGateway(
                running, directory: directory, keyPath: keyPath, overrides: ["LGSP_RETRY_BASE": "50ms"], events: events
            ) { _ in
                events.all.count >= 3
            }
            #expect(running.central.statistics.requests == 0)
            #expect(events.all.allSatisfy { $0.event.status == nil })
        }
    }

    @Test("a full run with known secrets: no client secret, token or private key in any log line or stored record")
    func secretsNeverLeak() async throws {
        let directory = try makeTemporaryDirectory()
        let key = try SigningKey.generate(.rsa)
        let keyPath = try writeKey(key, in: directory)
        let clientSecret = "s3cr3t-\(UUID().uuidString)"
        let mocks = MockSystems.Configuration(
            directory: directory.appendingPathComponent("mocks"),
            source: .init(clientID: "lgsp-gateway-demo", clientSecret: clientSecret, tokenLifetime: 3600),
            trustedKeys: [key.publicKey], faults: .init(scripted: [.unavailable, .tooManyRequests, .connectionReset]))
        let capture = LogCapture()
        let (tokens, receipts) = try await MockSystems.withRunning(mocks, logger: quietLogger) { running in
            // Tokens are revoked once the three LGSP adapters have one, and the portal pulls every second, so the
            // 401 answer and the token refresh are in the logs too.
            let result = try await runGateway(
                running, directory: directory, keyPath: keyPath, overrides: ["LGSP_RETRY_BASE": "50ms", "DVC_PORTAL_EVERY": "1s"],
                logger: capture.logger
            ) { runtime in
                let source = running.source.statistics
                if source.tokensIssued == 3 && source.unauthorizedRequests == 0 { running.source.revokeAllTokens() }
                let done = try await allPulledAndDelivered(runtime)
                return done && source.unauthorizedRequests >= 1 && running.source.statistics.tokensIssued >= 4
            }
            #expect(running.source.statistics.unauthorizedRequests >= 1)
            return (running.source.issuedTokens, result.receipts)
        }
        let lines = capture.lines.withLock { $0 }
        #expect(lines.count > 10)
        #expect(!tokens.isEmpty)
        let keyBody = key.pemRepresentation.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        let secrets = [clientSecret, String(keyBody.prefix(40)), String(keyBody.suffix(40))] + tokens
        let stored = try await SQLiteStore(path: directory.appendingPathComponent("gateway.sqlite").path, exclusive: false).quarantined(
            limit: 1000)
        let texts = lines + receipts.compactMap { $0 } + stored.map(\.record)
        for secret in secrets {
            #expect(!texts.contains { $0.contains(secret) }, "a secret appears in the output")
        }
    }

    @Test("plain http and switched-off certificate checks are warned about; shipped examples use neither")
    func insecureSettings() throws {
        let directory = try makeTemporaryDirectory()
        let keyPath = try writeKey(.generate(), in: directory)
        let config = directory.appendingPathComponent("gateway.yaml")
        try """
        gateway: { id: gw, province: "14" }
        central:
          url: http://central.example
          allow_plain_http: true
          insecure_skip_tls_verification: true
        signing: { key: \(keyPath) }
        store: { path: g.sqlite }
        contracts: { directory: \(repositoryRoot.path)/Contracts }
        adapters: { directory: \(repositoryRoot.path)/Adapters }
        """.write(to: config, atomically: true, encoding: .utf8)
        let configuration = try GatewayConfiguration.load(file: config.path, environment: .init(variables: [:]))
        #expect(configuration.warnings.contains { $0.contains("plain http://") })
        #expect(configuration.warnings.contains { $0.contains("does not verify the server's certificate") })

        for folder in ["Adapters", "deploy"] {
            let enumerator = FileManager.default.enumerator(atPath: repositoryRoot.appendingPathComponent(folder).path)
            while let file = enumerator?.nextObject() as? String {
                guard file.hasSuffix(".yaml") || file.hasSuffix(".yml") else { continue }
                let text = try String(contentsOf: repositoryRoot.appendingPathComponent("\(folder)/\(file)"), encoding: .utf8)
                #expect(!text.contains("insecure_skip_tls_verification: true"), "\(file)")
                #expect(!text.contains("allow_plain_http: true"), "\(file)")
            }
        }
    }
}
