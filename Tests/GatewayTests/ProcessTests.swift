import Foundation
import GatewayDemo
import GatewaySigning
import GatewayStore
import MockSystems
import Testing

/// The built `lgsp-gateway` executable, beside the test bundle.
func gatewayExecutable() throws -> URL {
    let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for candidate in [directory, directory.deletingLastPathComponent()] {
        let url = candidate.appendingPathComponent("lgsp-gateway")
        if FileManager.default.isExecutableFile(atPath: url.path) { return url }
    }
    throw MockError("lgsp-gateway is not built beside \(CommandLine.arguments[0])")
}

/// A child process whose output is collected in a file, so a chatty process never blocks on a pipe.
final class ChildProcess {
    let process = Process()
    let outputPath: URL

    init(_ arguments: [String], environment: [String: String], outputPath: URL) throws {
        self.outputPath = outputPath
        _ = FileManager.default.createFile(atPath: outputPath.path, contents: nil)
        let output = try FileHandle(forWritingTo: outputPath)
        process.executableURL = try gatewayExecutable()
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
        let failing = try ChildProcess(["check", "--config", broken.path], environment: ["PATH": "/usr/bin:/bin"], outputPath: directory.appendingPathComponent("check.out"))
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
            environment: ["LGSP_SIGNING_KEY": keyPath, "LGSP_CLIENT_SECRET": "file:" + secret.path, "LGSP_STORE": directory.appendingPathComponent("s.sqlite").path,
                          "LGSP_SOURCE_CA": try writeTestCA(in: directory), "LGSP_CENTRAL_CA": try writeTestCA(in: directory)],
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
        let dataset = MockDataset(province: "14")
        let slow = MockCentral.FaultPlan(failureRate: 1, kinds: [.slowAnswer], slowAnswerDelay: .seconds(4))
        let mocks = MockSystems.Configuration(
            directory: directory.appendingPathComponent("mocks"), source: .init(clientID: "lgsp-gateway-demo", clientSecret: "s-\(UUID())", dataset: dataset),
            trustedKeys: [key.publicKey], faults: slow)
        try await MockSystems.withRunning(mocks, logger: quietLogger) { running in
            let storePath = directory.appendingPathComponent("gateway.sqlite").path
            let environment = Demo.environment(
                for: running, repository: repositoryRoot, keyPath: keyPath, storePath: storePath,
                overrides: ["LGSP_CENTRAL_TIMEOUT": "10s", "LGSP_RETRY_BASE": "50ms", "LGSP_RETRY_CAP": "200ms", "LGSP_REPORT_MAX_OBSERVATIONS": "10"]
            ).variables.merging(["PATH": "/usr/bin:/bin"]) { $1 }
            let config = repositoryRoot.appendingPathComponent("deploy/examples/gateway.yaml").path

            let first = try ChildProcess(["run", "--config", config], environment: environment, outputPath: directory.appendingPathComponent("run1.out"))
            #expect(try await eventually { running.central.statistics.acceptedReports >= 1 })
            first.process.terminate()  // SIGTERM, while the gateway waits for the centre's answer
            #expect(try await first.waitForExit(timeout: .seconds(20)) == 0, "\(first.output)")
            #expect(first.output.contains("gateway stopped"), "\(first.output)")

            running.central.setFaults(.none)
            let second = try ChildProcess(["run", "--config", config], environment: environment, outputPath: directory.appendingPathComponent("run2.out"))
            let reader = try SQLiteStore(path: storePath, exclusive: false)
            let total = dataset.allRecords.count
            #expect(try await eventually {
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
}
