import ArgumentParser
import Foundation
import Gateway
import GatewayConfig
import GatewayDemo
import GatewaySigning
import Logging

@main
struct LGSPGateway: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lgsp-gateway",
        abstract: "Pulls provincial indicator data, validates it against the shared contracts, signs it and delivers it to the central reporting endpoint.",
        version: GatewayRuntime.version,
        subcommands: [Run.self, Check.self, DemoCommand.self, Keys.self, Verify.self, Outbox.self, Audit.self, Status.self, Contracts.self, Adapters.self])

    /// As ArgumentParser's, except that misuse exits 2, the convention of command-line tools that
    /// scripts test (`grep`, `diff`, `jq`), rather than sysexits' 64.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asynchronous = command as? any AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                var standardError = FileHandle.standardError
                print(fullMessage(for: error), to: &standardError)
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}

struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "The gateway's configuration file, e.g. /etc/lgsp-gateway/gateway.yaml.")
    var config: String
}

/// Prints every configuration problem, one per line, and exits 2.
func failOnIssues(_ issues: ConfigIssues) -> ExitCode {
    var standardError = FileHandle.standardError
    print("configuration has \(issues.issues.count) problem\(issues.issues.count == 1 ? "" : "s"):", to: &standardError)
    for issue in issues.issues { print("  \(issue)", to: &standardError) }
    return ExitCode(2)
}

extension FileHandle: @retroactive TextOutputStream {
    public func write(_ string: String) { write(Data(string.utf8)) }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the gateway until SIGTERM or SIGINT.")

    @OptionGroup var options: ConfigOption

    @Option(help: "json (one object per line, for journald), text, or auto: text on a terminal, json otherwise.")
    var logFormat: String = "auto"

    func validate() throws {
        guard LogFormat(rawValue: logFormat) != nil else { throw ValidationError("--log-format must be json, text or auto") }
    }

    func run() async throws {
        LogFormat(rawValue: logFormat)!.bootstrap()
        let logger = Logger(label: "lgsp-gateway")
        let loaded: LoadedGateway
        do { loaded = try LoadedGateway.load(file: options.config) } catch { throw failOnIssues(error) }
        let runtime = try GatewayRuntime(loaded: loaded, logger: logger)
        try await runtime.run(signals: [.sigterm, .sigint])
    }
}

struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a configuration, its adapters, contracts and signing key without running anything.")

    @OptionGroup var options: ConfigOption

    func run() async throws {
        let loaded: LoadedGateway
        do { loaded = try LoadedGateway.load(file: options.config) } catch { throw failOnIssues(error) }
        let configuration = loaded.configuration
        print("\(configuration.file): ok")
        print("  gateway \(configuration.gatewayID), province \(configuration.province)")
        print("  central \(configuration.centralURL)")
        print("  contracts \(loaded.contracts.version) (\(loaded.contracts.catalogue.indicators.count) indicators) from \(configuration.contractsDirectory)")
        print("  signing \(configuration.signingAlgorithm.rawValue), kid \(loaded.signingKey.publicKey.thumbprint)")
        for adapter in loaded.adapters {
            print("  adapter \(adapter.name): \(adapter.origin) \(adapter.schedule.summary)")
        }
        for warning in configuration.warnings { print("  warning: \(warning)") }
    }
}

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
        print("LGSP gateway demo: mock provincial systems (LGSP services, statistics export, telecom operator, bank) and central endpoint on loopback (HTTPS, test CA), gateway for Sơn La (14).")
        if centralURL == nil {
            print("The mock central endpoint fails \(Int(failureRate * 100))% of requests: 503, 429 with Retry-After, dropped connections, slow answers.")
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
        let complete = summary.deliveredObservations == summary.valid && summary.valid + summary.quarantined == summary.pulled
        if !complete || summary.duplicatesAtCentral > 0 || summary.signatureFailuresAtCentral > 0 { throw ExitCode(1) }
    }
}
