import ArgumentParser
import Foundation
import GatewayTestKit
import Logging

/// The demo lives with the mocks rather than in `lgsp-gateway`, so that the gateway an operator
/// installs links no mock system and no test certificate authority.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run mock provincial systems, a mock central endpoint that fails part of the time, and the gateway, in one process.")

    @Flag(help: "End with one JSON object summarising the run.")
    var json = false

    @Option(help: "Sign with this PKCS#8 PEM Ed25519 key instead of an ephemeral one.")
    var key: String?

    @Option(help: "Deliver to this central endpoint instead of the mock.")
    var centralURL: String?

    @Option(help: "CA bundle (PEM) for --central-url.")
    var centralCA: String?

    @Option(help: "Share of central requests the mock fails, from 0 to 1.")
    var failureRate = 0.4

    @Flag(help: "Show the gateway's log lines.")
    var verbose = false

    func validate() throws {
        if (centralURL == nil) != (centralCA == nil) {
            throw ValidationError("--central-url and --central-ca go together")
        }
        if let centralURL, !centralURL.lowercased().hasPrefix("https://") {
            throw ValidationError("--central-url must be an https:// URL")
        }
        guard (0...1).contains(failureRate) else { throw ValidationError("--failure-rate must be between 0 and 1") }
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = verbose ? .info : .critical
            return handler
        }
        guard let repository = Demo.locateRepository() else {
            throw ValidationError("cannot find Contracts/ and deploy/examples/: run the demo from the repository checkout")
        }
        print(
            "LGSP gateway demo: mock provincial systems (LGSP services, statistics export, telecom operator, bank) and central endpoint on loopback (HTTPS, test CA), gateway for Sơn La (14)."
        )
        if centralURL == nil {
            print(
                "The mock central endpoint fails \(Int(failureRate * 100))% of requests: 503, 429 with Retry-After, dropped connections, slow answers."
            )
        }
        let summary = try await Demo.run(
            .init(keyPath: key, centralURL: centralURL, centralCA: centralCA, failureRate: failureRate, repository: repository),
            logger: Logger(label: "lgsp-gateway"))
        print(Demo.describe(summary))
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(summary), as: UTF8.self))
        }
        if !summary.accountsForEveryRecord || summary.duplicatesAtCentral > 0 || summary.signatureFailuresAtCentral > 0 {
            throw ExitCode(1)
        }
    }
}
