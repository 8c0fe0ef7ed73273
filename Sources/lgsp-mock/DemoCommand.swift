import ArgumentParser
import Foundation
import GatewayTestKit
import Logging
import UnixSignals

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

    @Flag(help: "Once everything is delivered, keep the mocks, the gateway and its console running until Ctrl-C.")
    var stay = false

    @Option(help: "Where the console listens (host:port; port 0: any free port); \"off\" for none.")
    var console = "127.0.0.1:0"

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
        say(
            "LGSP gateway demo: mock provincial systems (LGSP services, statistics export, telecom operator, bank) and central endpoint on loopback (HTTPS, test CA), gateway for Sơn La (14)."
        )
        if centralURL == nil {
            say(
                "The mock central endpoint fails \(Int(failureRate * 100))% of requests: 503, 429 with Retry-After, dropped connections, slow answers."
            )
        }
        var options = Demo.Options(
            keyPath: key, centralURL: centralURL, centralCA: centralCA, failureRate: failureRate, repository: repository)
        if console != "off" {
            options.consoleListen = console
            options.onConsoleReady = { url, user, password in
                say("Bảng điều khiển / console: \(url)  đăng nhập một lần / one-time login: \(user) / \(password)")
            }
        }
        if stay {
            options.stayUntil = {
                say("Đã giao hết; bảng điều khiển vẫn mở, Ctrl-C để kết thúc / all delivered; the console stays open, Ctrl-C to end.")
                for await _ in await UnixSignalsSequence(trapping: .sigint, .sigterm) { break }
            }
        }
        let summary = try await Demo.run(options, logger: Logger(label: "lgsp-gateway"))
        say(Demo.describe(summary))
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            say(String(decoding: try encoder.encode(summary), as: UTF8.self))
        }
        if !summary.accountsForEveryRecord || summary.duplicatesAtCentral > 0 || summary.signatureFailuresAtCentral > 0 {
            throw ExitCode(1)
        }
    }
}

/// Standard output line by line, unbuffered, so that the console's address and login show at
/// once through a pipe (`tee`, a CI log), where `print` would hold them until the demo ends.
private func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
