import ArgumentParser
import Foundation
import Gateway
import GatewayConfig
import GatewaySigning
import Logging

@main
struct LGSPGateway: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lgsp-gateway",
        abstract:
            "Pulls provincial indicator data, validates it against the shared contracts, signs it and delivers it to the central reporting endpoint.",
        version: GatewayRuntime.version,
        subcommands: [
            Run.self, Check.self, Keys.self, Verify.self, Outbox.self, Audit.self, Status.self, Progress.self, Calendar.self,
            Quarantine.self, Contracts.self,
            Adapters.self, Console.self,
        ])

    /// As ArgumentParser's, except that misuse exits 2, the convention of command-line tools that
    /// scripts test (`grep`, `diff`, `jq`), rather than sysexits' 64.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if !(command is Run) { bootstrapOneShotLogging() }
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

/// A one-shot command's output is its answer (`--json` included, read by scripts), so its log goes
/// to standard error; swift-log's default is standard output. The store's pool logs at info what
/// is routine when a command ends (a connection it was opening closed with it): warnings only.
func bootstrapOneShotLogging() {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = label == "lgsp-gateway.store" ? .warning : .info
        return handler
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
        print("  gateway \(configuration.gateway.id), province \(configuration.gateway.province)")
        print("  central \(configuration.central.url)")
        print(
            "  contracts \(loaded.contracts.version) (\(loaded.contracts.catalogue.indicators.count) indicators) from \(configuration.contractsDirectory)"
        )
        print("  signing \(configuration.signing.algorithm.rawValue), kid \(loaded.signingKey.publicKey.thumbprint)")
        for adapter in loaded.adapters {
            print("  adapter \(adapter.name): \(adapter.origin) \(adapter.schedule.summary)")
        }
        for warning in configuration.warnings { print("  warning: \(warning)") }
    }
}
