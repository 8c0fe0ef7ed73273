import ArgumentParser
import Foundation
import GatewaySigning
import Logging
import GatewayTestKit
import UnixSignals

@main
struct LGSPMock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lgsp-mock",
        abstract: "Mock provincial systems and a mock central reporting endpoint: the demo, and trying the gateway by hand.",
        subcommands: [Serve.self, DemoCommand.self])
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the mocks on the ports deploy/examples/gateway.yaml expects, until interrupted.")

    @Option(help: "Where the CA certificate, the source's client secret and the trial signing key are kept.")
    var directory = "/tmp/lgsp-mock"

    @Option(help: "Port of the mock LGSP source.")
    var sourcePort = 9441

    @Option(help: "Port of the mock central endpoint.")
    var centralPort = 9443

    @Option(help: "Port of the mock bank report server (mutual TLS).")
    var bankPort = 9442

    @Option(help: "Also trust this gateway signing key (PKCS#8 PEM); repeatable.")
    var trustKey: [String] = []

    @Option(help: "Share of central requests to fail, from 0 to 1.")
    var failureRate = 0.0

    func run() async throws {
        let directoryURL = URL(fileURLWithPath: directory)
        try FileManager.default.createDirectory(at: directoryURL, withIntermediateDirectories: true)
        // A trial signing key for the example configuration, made once and kept.
        let trialKeyPath = directoryURL.appendingPathComponent("gateway-signing-key.pem").path
        if !FileManager.default.fileExists(atPath: trialKeyPath) {
            _ = FileManager.default.createFile(
                atPath: trialKeyPath, contents: Data(SigningKey.generate().pemRepresentation.utf8), attributes: [.posixPermissions: 0o600])
        }
        let trusted = try ([trialKeyPath] + trustKey).map { try SigningKey(contentsOf: URL(fileURLWithPath: $0)).publicKey }
        let secretPath = directoryURL.appendingPathComponent("source-client-secret").path
        let secret =
            (try? String(contentsOfFile: secretPath, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            ?? "trial-" + UUID().uuidString

        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var configuration = MockSystems.Configuration(
            directory: directoryURL, sourcePort: sourcePort, centralPort: centralPort,
            source: .init(clientID: "lgsp-gateway-demo", clientSecret: secret), trustedKeys: trusted,
            faults: .init(failureRate: failureRate))
        configuration.bankPort = bankPort
        try await MockSystems.withRunning(configuration) { running in
            print(
                """
                mock LGSP source:        \(running.sourceURL)  (client id lgsp-gateway-demo, secret in \(running.clientSecretPath))
                mock central endpoint:   \(running.centralURL)  (trusts \(trusted.map(\.thumbprint).joined(separator: ", ")))
                mock bank:               \(running.bankURL)  (mutual TLS: client certificate \(running.clientCertificatePath), key \(running.clientKeyPath))
                mock telecom operator:   \(running.sourceURL)/vienthong  (API key: the source's client secret)
                CA certificate:          \(running.caBundlePath)
                trial signing key:       \(trialKeyPath)
                Run the gateway against them with:
                  swift run lgsp-gateway run --config deploy/examples/gateway.yaml
                Press Ctrl-C to stop.
                """)
            // Standard output is fully buffered when it is a file or a pipe; the banner must reach it now.
            fflush(nil)  // nil flushes every output stream, without touching the global `stdout`
            try await waitForInterrupt()
        }
    }
}

/// Returns on SIGINT or SIGTERM.
func waitForInterrupt() async throws {
    for await _ in await UnixSignalsSequence(trapping: .sigint, .sigterm) { return }
}
