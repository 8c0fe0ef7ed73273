import Foundation
import GatewayTestKit
import GatewaySigning
import GatewayStore
import Gateway
import GatewayContracts
import Synchronization
import Testing

/// The built `lgsp-gateway` executable, beside the test bundle.
func gatewayExecutable() throws -> URL { try builtExecutable("lgsp-gateway") }

/// The mocks' executable, which also runs the demo.
func mockExecutable() throws -> URL { try builtExecutable("lgsp-mock") }

func builtExecutable(_ name: String) throws -> URL {
    let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for candidate in [directory, directory.deletingLastPathComponent()] {
        let url = candidate.appendingPathComponent(name)
        if FileManager.default.isExecutableFile(atPath: url.path) { return url }
    }
    throw MockError("\(name) is not built beside \(CommandLine.arguments[0])")
}

/// A child process whose output is collected in a file, so a chatty process never blocks on a pipe.
final class ChildProcess {
    let process = Process()
    let outputPath: URL

    init(_ arguments: [String], environment: [String: String], outputPath: URL, executable: URL? = nil) throws {
        self.outputPath = outputPath
        _ = FileManager.default.createFile(atPath: outputPath.path, contents: nil)
        let output = try FileHandle(forWritingTo: outputPath)
        process.executableURL = try executable ?? gatewayExecutable()
        process.arguments = arguments
        process.environment = environment
        process.standardOutput = output
        process.standardError = output
        try process.run()
    }

    var output: String { (try? String(contentsOf: outputPath, encoding: .utf8)) ?? "" }

    /// Waits for the process to end; `nil` if it is still running after `timeout`.
    func waitForExit(timeout: Duration) async throws -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning { return nil }
        return process.terminationStatus
    }
}

@Suite("The lgsp-gateway executable", .serialized)
struct ProcessTests {
    @Test("check exits 2 and names file, line and field of every error; 0 on a good configuration")
    func check() async throws {
        let directory = try makeTemporaryDirectory()
        let broken = directory.appendingPathComponent("gateway.yaml")
        try """
        gateway:
          id: gw
          province: "Sơn La"
        central:
          url: http://central.example
        signing:
          key: \(directory.path)/missing.pem
        store:
          path: ./gateway.sqlite
        contracts:
          directory: \(repositoryRoot.path)/Contracts
        adapters:
          directory: \(repositoryRoot.path)/Adapters
          extra: 1
        """.write(to: broken, atomically: true, encoding: .utf8)
        let failing = try ChildProcess(
            ["check", "--config", broken.path], environment: ["PATH": "/usr/bin:/bin"],
            outputPath: directory.appendingPathComponent("check.out"))
        #expect(try await failing.waitForExit(timeout: .seconds(30)) == 2)
        let output = failing.output
        #expect(output.contains("\(broken.path):3: gateway.province:"), "\(output)")
        #expect(output.contains("\(broken.path):5: central.url: plain http:// is refused"), "\(output)")
        #expect(output.contains("\(broken.path):7: signing.key:"), "\(output)")
        #expect(output.contains("\(broken.path):14: adapters.extra: unknown field"), "\(output)")

        let keyPath = try writeKey(.generate(), in: directory)
        let secret = directory.appendingPathComponent("secret")
        try "s".write(to: secret, atomically: true, encoding: .utf8)
        let good = try ChildProcess(
            ["check", "--config", repositoryRoot.appendingPathComponent("deploy/examples/gateway.yaml").path],
            environment: [
                "LGSP_SIGNING_KEY": keyPath, "LGSP_CLIENT_SECRET": "file:" + secret.path,
                "LGSP_STORE": directory.appendingPathComponent("s.sqlite").path,
                "LGSP_CENTRAL_CA": try writeTestCA(in: directory),
            ].merging(try shippedAdapterVariables(in: directory)) { $1 },
            outputPath: directory.appendingPathComponent("check-good.out"))
        #expect(try await good.waitForExit(timeout: .seconds(30)) == 0)
        #expect(good.output.contains(": ok"), "\(good.output)")
        #expect(good.output.contains("adapter dvc-portal"))
    }

    @Test("run stops cleanly on SIGTERM mid-delivery and on SIGINT; restarted, it delivers the rest exactly once")
    func signals() async throws {
        let directory = try makeTemporaryDirectory()
        let key = SigningKey.generate()
        let keyPath = try writeKey(key, in: directory)
        // Restarted, a gateway reads the education system's table again (it keeps no cursor): left
        // empty here, so every record is pulled once in all.
        let dataset = MockDataset(province: "14", educationTable: false)
        let slow = MockCentral.FaultPlan(failureRate: 1, kinds: [.slowAnswer], slowAnswerDelay: .seconds(4))
        let mocks = MockSystems.Configuration(
            directory: directory.appendingPathComponent("mocks"),
            source: .init(clientID: "lgsp-gateway-demo", clientSecret: "s-\(UUID())", dataset: dataset),
            trustedKeys: [key.publicKey], faults: slow)
        try await MockSystems.withRunning(mocks, logger: quietLogger) { running in
            let storePath = directory.appendingPathComponent("gateway.sqlite").path
            let environment = Demo.environment(
                for: running, repository: repositoryRoot, keyPath: keyPath, storePath: storePath,
                overrides: [
                    "LGSP_CENTRAL_TIMEOUT": "10s", "LGSP_RETRY_BASE": "50ms", "LGSP_RETRY_CAP": "200ms",
                    "LGSP_REPORT_MAX_OBSERVATIONS": "10",
                ]
            ).variables.merging(["PATH": "/usr/bin:/bin"]) { $1 }
            let config = repositoryRoot.appendingPathComponent("deploy/examples/gateway.yaml").path

            let first = try ChildProcess(
                ["run", "--config", config], environment: environment, outputPath: directory.appendingPathComponent("run1.out"))
            #expect(try await eventually { running.central.statistics.acceptedReports >= 1 })
            first.process.terminate()  // SIGTERM, while the gateway waits for the centre's answer
            #expect(try await first.waitForExit(timeout: .seconds(20)) == 0, "\(first.output)")
            #expect(first.output.contains("gateway stopped"), "\(first.output)")

            running.central.setFaults(.none)
            let second = try ChildProcess(
                ["run", "--config", config], environment: environment, outputPath: directory.appendingPathComponent("run2.out"))
            let reader = try SQLiteStore(path: storePath, exclusive: false)
            let total = dataset.allRecords.count
            #expect(
                try await eventually {
                    let pulled = try await reader.pullTotals().pulledRecords
                    let undelivered = try await reader.outboxStats(now: Date()).undelivered
                    return pulled == total && undelivered == 0
                })
            kill(second.process.processIdentifier, SIGINT)
            #expect(try await second.waitForExit(timeout: .seconds(20)) == 0, "\(second.output)")

            let central = running.central.statistics
            #expect(central.acceptedObservations == dataset.goodRecordCount)
            #expect(central.duplicateObservations == 0)
            #expect(central.signatureFailures == 0)
            #expect(try await reader.outboxStats(now: Date()).deliveredObservations == dataset.goodRecordCount)
            #expect(try await reader.integrityCheck().isEmpty)
        }
    }

    @Test("keys generate, show and list; verify passes a report and explains a tampered one")
    func keysAndVerify() async throws {
        let directory = try makeTemporaryDirectory()
        func run(_ arguments: [String], _ name: String) async throws -> (Int32?, String) {
            let child = try ChildProcess(
                arguments, environment: ["PATH": "/usr/bin:/bin"], outputPath: directory.appendingPathComponent(name))
            return (try await child.waitForExit(timeout: .seconds(60)), child.output)
        }
        let keyPath = directory.appendingPathComponent("es256.pem").path
        let (generated, generateOutput) = try await run(["keys", "generate", "--alg", "ES256", "--out", keyPath], "generate.out")
        #expect(generated == 0, "\(generateOutput)")
        let attributes = try FileManager.default.attributesOfItem(atPath: keyPath)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let (again, _) = try await run(["keys", "generate", "--alg", "ES256", "--out", keyPath], "generate-again.out")
        #expect(again != 0)  // never overwrites a key

        let key = try SigningKey(contentsOf: URL(fileURLWithPath: keyPath))
        #expect(key.keyType == .p256)
        let (shown, jwk) = try await run(["keys", "show", "--jwk", "--key", keyPath], "show.out")
        #expect(shown == 0)
        #expect(jwk.contains("\"kid\" : \"\(key.publicKey.thumbprint)\""), "\(jwk)")
        #expect(!jwk.contains("\"d\""))
        let jwksPath = directory.appendingPathComponent("jwks.json").path
        try "{\"keys\":[\(jwk)]}".write(toFile: jwksPath, atomically: true, encoding: .utf8)

        let envelope = try HTTPSignatureAndRotationTests().envelope("66666666-6666-8666-8666-666666666666")
        let body = try JWSSigner(key: key).sign(payload: envelope).encoded()
        let reportPath = directory.appendingPathComponent("report.json").path
        try body.write(to: URL(fileURLWithPath: reportPath))
        let (verified, verifyOutput) = try await run(
            ["verify", reportPath, "--jwks", jwksPath, "--content-digest", ContentDigest.sha256(body)], "verify.out")
        #expect(verified == 0, "\(verifyOutput)")
        #expect(verifyOutput.contains("ok   signature: ES256 signature by key \(key.publicKey.thumbprint) holds"), "\(verifyOutput)")
        #expect(verifyOutput.contains("\(reportPath): verified"))
        // Made under contract 1.0, checked against 1.0 though 1.1 is current.
        #expect(verifyOutput.contains("ok   contract: conforms to contract 1.0: schema and catalogue rules"), "\(verifyOutput)")

        var tampered = try FlattenedJWS.decode(body)
        tampered.payload = Base64URL.encode(try HTTPSignatureAndRotationTests().envelope("77777777-7777-8777-8777-777777777777"))
        try tampered.encoded().write(to: URL(fileURLWithPath: reportPath))
        let (failed, failOutput) = try await run(["verify", reportPath, "--jwks", jwksPath], "verify-bad.out")
        #expect(failed == 1, "\(failOutput)")
        #expect(failOutput.contains("FAIL signature: the signature does not match"), "\(failOutput)")
        #expect(failOutput.contains("NOT verified"))

        // A rotation: the ES256 key is retired, a new Ed25519 key is active; both are in the JWKS.
        let newKeyPath = directory.appendingPathComponent("ed25519.pem").path
        #expect(try await run(["keys", "generate", "--alg", "Ed25519", "--out", newKeyPath], "generate-new.out").0 == 0)
        let config = directory.appendingPathComponent("gateway.yaml")
        try """
        gateway: { id: gw, province: "14" }
        central: { url: "https://central.example", ca_bundle: \(try writeTestCA(in: directory)) }
        signing:
          key: ed25519.pem
          retired_keys: [es256.pem]
        store: { path: g.sqlite }
        contracts: { directory: \(repositoryRoot.path)/Contracts }
        adapters: { directory: \(repositoryRoot.path)/Adapters }
        """.write(to: config, atomically: true, encoding: .utf8)
        let secretPath = directory.appendingPathComponent("secret").path
        try "s".write(toFile: secretPath, atomically: true, encoding: .utf8)
        let environment = ["PATH": "/usr/bin:/bin", "LGSP_CLIENT_SECRET": "file:" + secretPath].merging(
            try shippedAdapterVariables(in: directory)
        ) { $1 }
        let list = try ChildProcess(
            ["keys", "list", "--config", config.path], environment: environment, outputPath: directory.appendingPathComponent("list.out"))
        #expect(try await list.waitForExit(timeout: .seconds(30)) == 0, "\(list.output)")
        let newKey = try SigningKey(contentsOf: URL(fileURLWithPath: newKeyPath))
        #expect(list.output.contains("active   \(newKey.publicKey.thumbprint)  Ed25519"), "\(list.output)")
        #expect(list.output.contains("retired  \(key.publicKey.thumbprint)  P-256"), "\(list.output)")
        let show = try ChildProcess(
            ["keys", "show", "--jwk", "--config", config.path], environment: environment,
            outputPath: directory.appendingPathComponent("jwks.out"))
        #expect(try await show.waitForExit(timeout: .seconds(30)) == 0, "\(show.output)")
        let published = try JSONDecoder().decode(JWKS.self, from: Data(show.output.utf8))
        #expect(Set(try published.verificationKeys().keys) == [newKey.publicKey.thumbprint, key.publicKey.thumbprint])
        // The report signed before the rotation verifies against the JWKS published after it.
        try body.write(to: URL(fileURLWithPath: reportPath))
        let jwksAfter = directory.appendingPathComponent("jwks-after.json").path
        try Data(show.output.utf8).write(to: URL(fileURLWithPath: jwksAfter))
        #expect(try await run(["verify", reportPath, "--jwks", jwksAfter], "verify-after.out").0 == 0)
    }

    @Test("check never prints a secret, even about a broken configuration")
    func checkKeepsSecrets() async throws {
        let directory = try makeTemporaryDirectory()
        let secret = "p4ss-\(UUID().uuidString)"
        let keyPath = try writeKey(.generate(), in: directory)
        // The secret is given inline through the environment; the configuration is broken in the
        // main file and in the adapter files, so check has plenty to say.
        let child = try ChildProcess(
            ["check", "--config", repositoryRoot.appendingPathComponent("deploy/examples/gateway.yaml").path],
            environment: [
                "LGSP_SIGNING_KEY": keyPath, "LGSP_CLIENT_SECRET": secret, "LGSP_STORE": directory.appendingPathComponent("s.sqlite").path,
                "LGSP_SOURCE_CA": directory.appendingPathComponent("missing-ca.pem").path, "LGSP_CENTRAL_URL": "ftp://central.example",
                "LGSP_SIGNING_ALG": "RS256",
            ],
            outputPath: directory.appendingPathComponent("check.out"))
        #expect(try await child.waitForExit(timeout: .seconds(30)) == 2)
        let output = child.output
        #expect(output.contains("central.url"), "\(output)")
        #expect(output.contains("signing.algorithm: RS256 needs an RSA key, but the key is Ed25519; use Ed25519 or EdDSA"), "\(output)")
        #expect(output.contains("dvc-portal.yaml:13: source.ca_bundle: CA bundle \(directory.path)/missing-ca.pem"), "\(output)")
        #expect(output.contains("qlvb-documents.yaml"), "\(output)")
        #expect(!output.contains(secret), "\(output)")
    }

    @Test("demo --key signs with the key's algorithm: an RSA key gives PS256")
    func demoWithRSAKey() async throws {
        let directory = try makeTemporaryDirectory()
        let keyPath = try writeKey(try SigningKey.generate(.rsa), in: directory)
        let child = try ChildProcess(
            ["demo", "--json", "--key", keyPath, "--failure-rate", "0.2"], environment: ["PATH": "/usr/bin:/bin"],
            outputPath: directory.appendingPathComponent("demo.out"), executable: try mockExecutable())
        // The demo finds the repository from its working directory or its executable's.
        #expect(try await child.waitForExit(timeout: .seconds(120)) == 0, "\(child.output)")
        let last = try #require(child.output.split(separator: "\n").last)
        let summary = try JSONDecoder().decode(Demo.Summary.self, from: Data(last.utf8))
        #expect(summary.algorithm == "PS256")
        #expect(summary.deliveredObservations == summary.valid && summary.valid > 0)
        #expect(summary.signatureFailuresAtCentral == 0 && summary.duplicatesAtCentral == 0)
        // The figure the demo corrects at the source between two pulls went as revision 2, and stands.
        #expect(summary.revisions == 1 && summary.revisionsAtCentral == 1 && summary.staleRevisionsAtCentral == 0)
        #expect(summary.correctedFigure == "DVC_TOAN_TRINH/14/province/14/2026-Q3 r2 = 85.65")
        // The shipped adapters' expectations, against the mock's past quarters: accepted, after their
        // due days. (Exact counts, with a fixed clock, are the calendar tests'; these hold any day.)
        #expect(summary.figuresAcceptedLate > 0 && summary.figuresAcceptedLate + summary.figuresOverdue <= summary.figuresExpected)
    }

    @Test("demo --central-url and --central-ca deliver to another central endpoint, which verifies everything")
    func demoWithExternalCentral() async throws {
        let directory = try makeTemporaryDirectory()
        let key = try SigningKey.generate(.p256)
        let keyPath = try writeKey(key, in: directory)
        let external = MockSystems.Configuration(
            directory: directory.appendingPathComponent("external"), source: .init(clientID: "x", clientSecret: "x"),
            trustedKeys: [key.publicKey])
        try await MockSystems.withRunning(external, logger: quietLogger) { running in
            let child = try ChildProcess(
                ["demo", "--json", "--key", keyPath, "--central-url", running.centralURL, "--central-ca", running.caBundlePath],
                environment: ["PATH": "/usr/bin:/bin"], outputPath: directory.appendingPathComponent("demo.out"),
                executable: try mockExecutable())
            #expect(try await child.waitForExit(timeout: .seconds(120)) == 0, "\(child.output)")
            let summary = try JSONDecoder().decode(
                Demo.Summary.self, from: Data(try #require(child.output.split(separator: "\n").last).utf8))
            #expect(!summary.centralIsMock)
            #expect(summary.algorithm == "ES256")
            let central = running.central.statistics
            #expect(central.acceptedObservations == summary.valid && summary.valid > 0)
            #expect(central.signatureFailures == 0 && central.duplicateObservations == 0)
            #expect(summary.revisions == 1 && central.revisions == 1)
            let corrected = running.central.figure(
                FigureKey(indicator: "DVC_TOAN_TRINH", province: "14", level: .province, area: "14", period: "2026-Q3"))
            #expect(corrected?.revision == 2 && corrected?.value.numerator == 1552)
        }
    }

    @Test("a demo that can deliver nothing ends at its deadline, saying how much is undelivered")
    func demoEndsAtItsDeadline() async throws {
        let directory = try makeTemporaryDirectory()
        // Nothing listens on the discard port of loopback: every delivery fails.
        var options = Demo.Options(
            centralURL: "https://127.0.0.1:9", centralCA: try writeTestCA(in: directory), failureRate: 0, timeout: .seconds(3),
            repository: repositoryRoot, workDirectory: directory.appendingPathComponent("demo"))
        options.consoleListen = nil
        let started = ContinuousClock.now
        final class Outcome: Sendable { let text = Mutex<String?>(nil) }
        let outcome = Outcome()
        // Unstructured, so that a demo that never ends fails this test instead of hanging the
        // suite: a task group would wait for it at its end.
        let demo = Task {
            do {
                _ = try await Demo.run(options, logger: quietLogger)
                outcome.text.withLock { $0 = "the demo reported success" }
            } catch {
                outcome.text.withLock { $0 = "\(error)" }
            }
        }
        // Before the fix the demo was still up after six minutes; a minute is plenty.
        while outcome.text.withLock({ $0 }) == nil, ContinuousClock.now - started < .seconds(60) {
            try await Task.sleep(for: .milliseconds(100))
        }
        demo.cancel()
        let message = try #require(outcome.text.withLock { $0 }, "the demo was still running a minute after its 3 s deadline")
        #expect(message.contains("did not finish within 3.0 seconds") && message.contains("reports still undelivered"), "\(message)")
    }

    @Test("deploy/examples/gateway.yaml works against lgsp-mock serve, each in its own process")
    func exampleAgainstMockServe() async throws {
        let directory = try makeTemporaryDirectory()
        let mockBinary = try gatewayExecutable().deletingLastPathComponent().appendingPathComponent("lgsp-mock")
        let mockOutput = directory.appendingPathComponent("mock.out")
        _ = FileManager.default.createFile(atPath: mockOutput.path, contents: nil)
        let mock = Process()
        mock.executableURL = mockBinary
        mock.arguments = [
            "serve", "--directory", directory.appendingPathComponent("mock").path, "--source-port", "0", "--central-port", "0",
            "--bank-port", "0",
        ]
        mock.standardOutput = try FileHandle(forWritingTo: mockOutput)
        mock.standardError = FileHandle.nullDevice
        try mock.run()
        defer { if mock.isRunning { mock.interrupt() } }
        func printed(_ label: String) -> String? {
            let text = (try? String(contentsOf: mockOutput, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").first { $0.hasPrefix(label) }?.split(separator: " ", omittingEmptySubsequences: true)
                .dropFirst(label.split(separator: " ").count).first.map(String.init)
        }
        #expect(try await eventually(timeout: .seconds(30)) { printed("mock central endpoint:") != nil })
        let sourceURL = try #require(printed("mock LGSP source:"))
        let centralURL = try #require(printed("mock central endpoint:"))
        let bankURL = try #require(printed("mock bank:"))
        let mockDirectory = directory.appendingPathComponent("mock").path
        // Only the ports differ from the example's defaults; the paths are the mock's own files.
        let storePath = directory.appendingPathComponent("gateway.sqlite").path
        let gateway = try ChildProcess(
            ["run", "--config", repositoryRoot.appendingPathComponent("deploy/examples/gateway.yaml").path],
            environment: [
                "PATH": "/usr/bin:/bin", "LGSP_SOURCE_URL": sourceURL, "LGSP_CENTRAL_URL": centralURL,
                "LGSP_SOURCE_CA": mockDirectory + "/ca.pem", "LGSP_CENTRAL_CA": mockDirectory + "/ca.pem",
                "LGSP_CLIENT_SECRET": "file:" + mockDirectory + "/source-client-secret",
                "LGSP_SIGNING_KEY": mockDirectory + "/gateway-signing-key.pem", "LGSP_STORE": storePath,
                "TELECOM_URL": sourceURL, "TELECOM_CA": mockDirectory + "/ca.pem",
                "TELECOM_API_KEY": "file:" + mockDirectory + "/source-client-secret",
                "BANK_URL": bankURL, "BANK_CA": mockDirectory + "/ca.pem",
                "BANK_CLIENT_CERT": mockDirectory + "/client-certificate.pem", "BANK_CLIENT_KEY": mockDirectory + "/client-key.pem",
                "SGD_URL": sourceURL, "SGD_CA": mockDirectory + "/ca.pem",
                "SGD_PASSWORD": "file:" + mockDirectory + "/source-client-secret",
            ],
            outputPath: directory.appendingPathComponent("gateway.out"))
        let reader = try SQLiteStore(path: storePath, exclusive: false)
        #expect(
            try await eventually {
                let totals = try await reader.pullTotals()
                let stats = try await reader.outboxStats(now: Date())
                return totals.pulledRecords == MockDataset().allRecords.count && stats.undelivered == 0 && stats.delivered > 0
            }, "\(gateway.output)")
        gateway.process.interrupt()
        #expect(try await gateway.waitForExit(timeout: .seconds(20)) == 0)
        #expect(try await reader.outboxStats(now: Date()).deliveredObservations == MockDataset().goodRecordCount)
        mock.interrupt()
        mock.waitUntilExit()
        #expect(mock.terminationStatus == 0)
    }

    @Test("run writes one JSON object per line when not on a terminal; status shows each adapter's last pull, error and next run")
    func jsonLogsAndStatus() async throws {
        try await withSignedMocks { running, directory, keyPath in
            let storePath = directory.appendingPathComponent("gateway.sqlite").path
            var environment = Demo.environment(for: running, repository: repositoryRoot, keyPath: keyPath, storePath: storePath).variables
            environment["PATH"] = "/usr/bin:/bin"
            let config = repositoryRoot.appendingPathComponent("deploy/examples/gateway.yaml").path
            let reader = try SQLiteStore(path: storePath, exclusive: false)

            // First the source is unreachable: every pull fails.
            var unreachable = environment
            for variable in ["LGSP_SOURCE_URL", "TELECOM_URL", "BANK_URL", "SGD_URL"] { unreachable[variable] = "https://127.0.0.1:1" }
            let failing = try ChildProcess(
                ["run", "--config", config], environment: unreachable, outputPath: directory.appendingPathComponent("failing.out"))
            let shipped = Set(
                try FileManager.default.contentsOfDirectory(atPath: repositoryRoot.appendingPathComponent("Adapters").path)
                    .filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) })
            #expect(try await eventually { try await reader.adapterStatuses().filter { $0.lastError != nil }.count == shipped.count })
            failing.process.terminate()
            #expect(try await failing.waitForExit(timeout: .seconds(20)) == 0)

            let healthy = try ChildProcess(
                ["run", "--config", config], environment: environment, outputPath: directory.appendingPathComponent("healthy.out"))
            #expect(
                try await eventually {
                    let stats = try await reader.outboxStats(now: Date())
                    let succeeded = try await reader.adapterStatuses().filter { $0.lastSuccess != nil }.count
                    return succeeded == shipped.count && stats.delivered > 0 && stats.undelivered == 0
                })
            healthy.process.terminate()
            #expect(try await healthy.waitForExit(timeout: .seconds(20)) == 0)

            for output in [failing.output, healthy.output] {
                let lines = output.split(separator: "\n")
                #expect(lines.count >= 3)
                for line in lines {
                    let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                    #expect(object?["level"] is String && object?["message"] is String && object?["ts"] is String, "\(line)")
                }
                #expect(!output.contains(running.source.configuration.clientSecret))
            }
            #expect(healthy.output.contains(#""adapter":"qlvb-documents""#))
            #expect(healthy.output.contains(#""report_id":""#))
            #expect(failing.output.contains(#""message":"pull failed""#))

            let status = try ChildProcess(
                ["status", "--config", config, "--json"], environment: environment,
                outputPath: directory.appendingPathComponent("status.out"))
            #expect(try await status.waitForExit(timeout: .seconds(30)) == 0, "\(status.output)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(status.output.utf8)) as? [String: Any])
            let adapters = try #require(object["adapters"] as? [[String: Any]])
            #expect(Set(adapters.compactMap { $0["name"] as? String }) == shipped)
            // The gateway has stopped: no next run is promised, and the status says why.
            #expect(object["running"] as? Bool == false, "\(object)")
            for adapter in adapters {
                #expect(adapter["last_success"] is String && adapter["next_run"] is NSNull && adapter["last_pull"] is String, "\(adapter)")
                // The failure before the success is still shown, with when it happened.
                #expect((adapter["last_error"] as? String)?.contains("adapter \(adapter["name"] as? String ?? "")") == true, "\(adapter)")
            }
            let outbox = try #require(object["outbox"] as? [String: Any])
            #expect(outbox["delivered"] as? Int == running.central.statistics.acceptedReports)
            #expect(outbox["pending"] as? Int == 0)
        }
    }
}
