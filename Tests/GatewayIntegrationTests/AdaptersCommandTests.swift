import Foundation
import GatewayContracts
import GatewayTestKit
import GatewaySigning
import Testing
import GatewayJSON

@Suite("lgsp-gateway adapters", .serialized)
struct AdaptersCommandTests {
    @Test("adapters list names every adapter; adapters test pulls once, prints observations and failures, stores and sends nothing")
    func listAndTest() async throws {
        try await withSignedMocks { running, directory, keyPath in
            let storePath = directory.appendingPathComponent("gateway.sqlite").path
            var environment = Demo.environment(for: running, repository: repositoryRoot, keyPath: keyPath, storePath: storePath).variables
            environment["PATH"] = "/usr/bin:/bin"
            let config = repositoryRoot.appendingPathComponent("deploy/examples/gateway.yaml").path

            let list = try ChildProcess(
                ["adapters", "list", "--config", config], environment: environment, outputPath: directory.appendingPathComponent("list.out")
            )
            #expect(try await list.waitForExit(timeout: .seconds(30)) == 0, "\(list.output)")
            let names = list.output.split(separator: "\n").filter { !$0.hasPrefix(" ") }.compactMap {
                $0.split(separator: " ").first.map(String.init)
            }
            // Each shipped adapter, and what the mock system it reads serves: good records, bad ones.
            let dataset = MockDataset()
            func split(_ records: [MockDataset.SourceRecord]) -> (good: Int, bad: Int, skipped: Int) {
                (
                    records.count { $0.defect == nil && $0.skippedAs == nil }, records.count { $0.defect != nil },
                    records.count { $0.skippedAs != nil }
                )
            }
            let served: [String: (good: Int, bad: Int, skipped: Int)] = [
                "dvc-portal": split(dataset.portalRecords),
                "qlvb-documents": split(dataset.documentRecords),
                "thong-ke-kinh-te-so": split(dataset.statisticsRows.map { MockDataset.SourceRecord(fields: [:], defect: $0.defect) }),
                "vien-thong-cap-quang": split(dataset.telecomRecords),
                "ngan-hang-thanh-toan": split(dataset.bankRecords),
                "so-gddt": split(dataset.educationObservations),
            ]
            #expect(names == served.keys.sorted(), "\(list.output)")

            var totalObservations = 0
            var totalQuarantined = 0
            for name in names {
                let test = try ChildProcess(
                    ["adapters", "test", name, "--config", config, "--json"], environment: environment,
                    outputPath: directory.appendingPathComponent("\(name).out"))
                #expect(try await test.waitForExit(timeout: .seconds(60)) == 0, "\(test.output)")
                let lines = test.output.split(separator: "\n").map(String.init)
                let summary = try JSONValue.parse(Data(try #require(lines.last).utf8))
                let observations = try #require(summary["observations"]?.numberValue)
                let quarantined = try #require(summary["quarantined"]?.numberValue)
                #expect(summary["adapter"]?.stringValue == name)
                let skipped = try #require(summary["skipped"]?.numberValue)
                #expect(summary["records"]?.numberValue == observations + quarantined + skipped)
                #expect(Int(skipped) == served[name]?.skipped, "\(name): \(summary)")
                #expect(summary["quarantined_records"]?.numberValue == quarantined)
                // Always there: the cursor the next pull starts from, or null.
                #expect(summary["next_cursor"] != nil, "\(summary)")
                #expect(lines.filter { $0.hasPrefix("ok  {") }.count == Int(observations))
                #expect(lines.filter { $0.hasPrefix("QUARANTINED  {") }.count == Int(quarantined))
                // Every printed observation is one the contract accepts.
                for line in lines where line.hasPrefix("ok  ") {
                    let observation = try JSONValue.parse(Data(line.dropFirst(4).utf8))
                    #expect(observation["province"]?.stringValue == "14")
                }
                #expect(Int(observations) == served[name]?.good && Int(quarantined) == served[name]?.bad, "\(name): \(test.output)")
                totalObservations += Int(observations)
                totalQuarantined += Int(quarantined)
                #expect(!test.output.contains(running.source.configuration.clientSecret))
            }
            // The mock source serves good and bad records; the dry runs together see all of them.
            #expect(totalObservations == dataset.goodRecordCount)
            #expect(totalQuarantined > 0)
            // Nothing stored, nothing sent.
            #expect(!FileManager.default.fileExists(atPath: storePath))
            #expect(running.central.statistics.requests == 0)

            let unknown = try ChildProcess(
                ["adapters", "test", "nope", "--config", config], environment: environment,
                outputPath: directory.appendingPathComponent("nope.out"))
            #expect(try await unknown.waitForExit(timeout: .seconds(30)) == 2)
            #expect(unknown.output.contains("there are: \(served.keys.sorted().joined(separator: ", "))"), "\(unknown.output)")

            var unreachable = environment
            unreachable["LGSP_SOURCE_URL"] = "https://127.0.0.1:1"
            let failing = try ChildProcess(
                ["adapters", "test", "dvc-portal", "--config", config], environment: unreachable,
                outputPath: directory.appendingPathComponent("failing.out"))
            #expect(try await failing.waitForExit(timeout: .seconds(60)) == 1)
            #expect(failing.output.contains("adapter dvc-portal: the pull failed"), "\(failing.output)")
        }
    }
}

@Suite("The worked example of Adapters/README.md")
struct WorkedExampleTests {
    @Test("thong-ke-kinh-te-so.yaml, tried alone with adapters test against the mocks, gives what the guide shows")
    func workedExample() async throws {
        try await withSignedMocks { running, directory, keyPath in
            // The operator's adapters directory, holding only the new file.
            let adapters = directory.appendingPathComponent("adapters.d")
            try FileManager.default.createDirectory(at: adapters, withIntermediateDirectories: true)
            try FileManager.default.copyItem(
                at: repositoryRoot.appendingPathComponent("Adapters/thong-ke-kinh-te-so.yaml"),
                to: adapters.appendingPathComponent("thong-ke-kinh-te-so.yaml"))
            let environment = commandEnvironment(
                running, keyPath: keyPath, storePath: directory.appendingPathComponent("gateway.sqlite").path,
                overrides: ["LGSP_ADAPTERS": adapters.path])
            let config = repositoryRoot.appendingPathComponent("deploy/examples/gateway.yaml").path
            let check = try ChildProcess(
                ["check", "--config", config], environment: environment, outputPath: directory.appendingPathComponent("check.out"))
            #expect(try await check.waitForExit(timeout: .seconds(30)) == 0, "\(check.output)")
            #expect(check.output.contains("adapter thong-ke-kinh-te-so:"), "\(check.output)")

            let test = try ChildProcess(
                ["adapters", "test", "thong-ke-kinh-te-so", "--config", config], environment: environment,
                outputPath: directory.appendingPathComponent("test.out"))
            #expect(try await test.waitForExit(timeout: .seconds(60)) == 0, "\(test.output)")
            let lines = test.output.split(separator: "\n").map(String.init)
            #expect(lines.filter { $0.hasPrefix("ok  ") }.count == 4)
            // Word for word as Adapters/README.md shows them.
            #expect(lines.contains("    (record): line 7 has 4 fields, the header has 8 [mapping.csv-row]"), "\(test.output)")
            #expect(lines.contains("    /value: value 1234.5 is outside KTS_GRDP's range 0–100 [indicator.range]"), "\(test.output)")
            #expect(
                lines.last
                    == "adapter thong-ke-kinh-te-so: 6 records: 4 to send (0 revisions), 0 unchanged, 2 quarantined; nothing stored or sent"
            )
            #expect(lines.filter { $0.hasPrefix("ok  ") }.allSatisfy { $0.contains(#""revision":1"#) }, "\(test.output)")
        }
    }
}

/// The guide's files, as an operator copies them: each YAML block of Adapters/README.md is a
/// whole adapter file, checked and tried on a machine set up the way the guide says.
@Suite("Every YAML block of Adapters/README.md")
struct GuideBlockTests {
    /// The ```yaml blocks of `text`, each with the line its first line is on.
    static func yamlBlocks(_ text: String) -> [(line: Int, text: String)] {
        var blocks: [(line: Int, text: String)] = []
        var current: (line: Int, lines: [Substring])?
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if var block = current {
                if line.hasPrefix("```") {
                    blocks.append((block.line, block.lines.joined(separator: "\n") + "\n"))
                    current = nil
                } else {
                    block.lines.append(line)
                    current = block
                }
            } else if line == "```yaml" {
                current = (number + 2, [])
            }
        }
        return blocks
    }

    @Test("each is a whole adapter file that check accepts, and adapters test pulls figures with it from the mocks")
    func everyBlockChecksAndPulls() async throws {
        let blocks = Self.yamlBlocks(
            try String(contentsOf: repositoryRoot.appendingPathComponent("Adapters/README.md"), encoding: .utf8))
        // The worked example, four other HTTP sources, a program, a compiled adapter.
        #expect(blocks.count == 7)
        try await withSignedMocks { running, directory, keyPath in
            // The operator's machine: the names and paths the guide uses, made from the mocks.
            let machine = directory.appendingPathComponent("machine")
            let secret = running.source.configuration.clientSecret
            let ca = try Data(contentsOf: URL(fileURLWithPath: running.caBundlePath))
            let files: [String: Data] = [
                "etc/lgsp-ca.pem": ca, "etc/vienthong-ca.pem": ca, "etc/sgd-ca.pem": ca, "etc/nhnn-ca.pem": ca,
                "etc/nhnn-client.pem": try Data(contentsOf: URL(fileURLWithPath: running.clientCertificatePath)),
                "etc/credentials/nhnn-client-key.pem": try Data(contentsOf: URL(fileURLWithPath: running.clientKeyPath)),
                "credentials/lgsp-client-secret": Data(secret.utf8), "credentials/vienthong-api-key": Data(secret.utf8),
                "credentials/sgd-password": Data(secret.utf8), "credentials/db-password": Data("db".utf8),
                // The program the exec example runs: the lines the guide shows it writing.
                "lib/export-indicators": Data(
                    """
                    #!/bin/sh
                    echo '{"indicator":"HSCV_DIEN_TU","level":"commune","area":"03646","period":"2025","value":62,"unit":"percent","numerator":62,"denominator":100}'
                    echo '{"$cursor":"2025-12-31"}'

                    """.utf8),
            ]
            for (path, contents) in files {
                let url = machine.appendingPathComponent(path)
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try contents.write(to: url)
                try FileManager.default.setAttributes([.posixPermissions: path.hasPrefix("lib/") ? 0o755 : 0o600], ofItemAtPath: url.path)
            }
            let renamed = [
                "https://lgsp.sonla.gov.vn": running.sourceURL, "https://baocao.vienthong.example.vn": running.sourceURL,
                "https://csdl.sogddt.sonla.gov.vn": running.sourceURL, "https://baocao.nhnn-sonla.example.vn": running.bankURL,
                "client_id: lgsp-gateway-son-la": "client_id: " + running.source.configuration.clientID,
                "/etc/lgsp-gateway/": machine.path + "/etc/", "/usr/local/lib/lgsp-gateway/": machine.path + "/lib/",
            ]
            let config = repositoryRoot.appendingPathComponent("deploy/examples/gateway.yaml").path
            for (number, block) in blocks.enumerated() {
                let text = renamed.reduce(block.text) { $0.replacingOccurrences(of: $1.key, with: $1.value) }
                let place = "Adapters/README.md, the block at line \(block.line)"
                // Every address and file the guide names is one this machine was given.
                let unprovided = text.split(separator: "\n").filter {
                    ($0.contains("https://") && !$0.contains("127.0.0.1")) || $0.contains(" /etc/") || $0.contains(" /usr/")
                }
                #expect(unprovided.isEmpty, "\(place) names what the test does not provide: \(unprovided)")
                let name = try #require(
                    text.split(separator: "\n").first { $0.hasPrefix("name: ") }?.dropFirst(6).split(separator: " ").first,
                    "\(place) has no name")
                let adapters = directory.appendingPathComponent("adapters-\(number)")
                try FileManager.default.createDirectory(at: adapters, withIntermediateDirectories: true)
                try text.write(to: adapters.appendingPathComponent("\(name).yaml"), atomically: true, encoding: .utf8)
                let environment = commandEnvironment(
                    running, keyPath: keyPath, storePath: directory.appendingPathComponent("gateway-\(number).sqlite").path,
                    overrides: [
                        "LGSP_ADAPTERS": adapters.path, "CREDENTIALS_DIRECTORY": machine.appendingPathComponent("credentials").path,
                    ])

                let check = try ChildProcess(
                    ["check", "--config", config], environment: environment,
                    outputPath: directory.appendingPathComponent("check-\(number).out"))
                #expect(try await check.waitForExit(timeout: .seconds(30)) == 0, "\(place): \(check.output)")
                #expect(check.output.contains("adapter \(name):"), "\(place): \(check.output)")

                let test = try ChildProcess(
                    ["adapters", "test", String(name), "--config", config, "--json"], environment: environment,
                    outputPath: directory.appendingPathComponent("test-\(number).out"))
                #expect(try await test.waitForExit(timeout: .seconds(60)) == 0, "\(place): \(test.output)")
                let summary = try JSONValue.parse(Data(try #require(test.output.split(separator: "\n").last, "\(place)").utf8))
                #expect((summary["observations"]?.numberValue ?? 0) > 0, "\(place): \(test.output.suffix(1500))")
                #expect(!test.output.contains(secret))
            }
        }
    }
}
