import Foundation
import Gateway
import GatewayAdapters
import GatewayConfig
import GatewayContracts
import GatewayTestKit
import Testing
import GatewayPipeline

@Suite("Exec adapters")
struct ExecAdapterTests {
    func load(_ yaml: String, script: String?, in directory: URL, environment: [String: String] = [:]) throws -> ExecAdapter.Definition {
        if let script {
            let path = directory.appendingPathComponent("export.sh")
            try script.write(to: path, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path.path)
        }
        let adapters = directory.appendingPathComponent("adapters")
        try FileManager.default.createDirectory(at: adapters, withIntermediateDirectories: true)
        let passwordFile = directory.appendingPathComponent("password")
        if !FileManager.default.fileExists(atPath: passwordFile.path) {
            try "s3cret-\(UUID())".write(to: passwordFile, atomically: true, encoding: .utf8)
        }
        try yaml.replacingOccurrences(of: "SCRIPT", with: directory.appendingPathComponent("export.sh").path)
            .replacingOccurrences(of: "PASSWORD_FILE", with: passwordFile.path)
            .write(to: adapters.appendingPathComponent("a.yaml"), atomically: true, encoding: .utf8)
        guard
            case .exec(let definition)? = try AdapterLoader.definitions(
                directory: adapters.path, environment: ConfigEnvironment(variables: environment)
            ).first
        else {
            throw MockError("not loaded as an exec adapter")
        }
        return definition
    }

    static let yaml = """
        name: so-lieu-xuat
        kind: exec
        source_system: kho-du-lieu
        schedule: { every: 1h }
        exec:
          command: SCRIPT
          args: [--ky, "2025"]
          environment: { DB_PASSWORD: "file:PASSWORD_FILE" }
          timeout: 2s
        """

    @Test(
        "a program's NDJSON lines become observations checked by the contracts; a bad line is quarantined; stderr is logged; only given variables reach it"
    )
    func ndjson() async throws {
        let directory = try makeTemporaryDirectory()
        let spec = try load(
            Self.yaml,
            script: """
                #!/bin/sh
                echo "exporting $1 $2 from cursor '$LGSP_CURSOR'" >&2
                [ -n "$DB_PASSWORD" ] || { echo "no password" >&2; exit 3; }
                [ -z "$HOME" ] || { echo "HOME leaked in" >&2; exit 4; }
                echo '{"indicator":"HSCV_DIEN_TU","level":"province","area":"'$LGSP_PROVINCE'","period":"2025","value":91.5,"unit":"percent","numerator":915,"denominator":1000}'
                echo
                echo 'not json'
                echo '{"indicator":"HSCV_DIEN_TU","level":"commune","area":"03646","period":"2025","value":62,"unit":"percent","numerator":62,"denominator":100}'
                echo '{"$cursor":"2025-12-31"}'
                """, in: directory)
        let capture = LogCapture()
        let adapter = ExecAdapter(definition: spec, logger: capture.logger)
        let output = try await adapter.pull(cursor: "2025-01-01", context: PullContext(province: "14", collectedAt: Date()))
        #expect(output.records.count == 3)
        #expect(output.nextCursor == "2025-12-31")
        let contracts = try ContractSet.load(from: repositoryRoot.appendingPathComponent("Contracts"))
        let (valid, quarantined, _) = await PullRunner.check(output, contracts: contracts, province: "14")
        #expect(valid.count == 2)
        #expect(
            valid.allSatisfy { (observation: Observation) in observation.sourceSystem == "kho-du-lieu" && observation.province == "14" })
        #expect(quarantined.map { $0.reasons.map(\.rule) } == [["mapping.ndjson"]])
        #expect(quarantined.first?.reasons.first?.message == "line 3 of the program's output is not a JSON object")
        let logged = capture.lines.withLock { $0 }
        #expect(logged.contains { $0.contains("exporting --ky 2025 from cursor '2025-01-01'") && $0.contains("so-lieu-xuat") }, "\(logged)")
        #expect(!logged.contains { $0.contains("s3cret") })
    }

    @Test("a non-zero exit fails the pull with the program's last words; running past the timeout stops it")
    func failures() async throws {
        let directory = try makeTemporaryDirectory()
        let failing = try load(
            Self.yaml,
            script: """
                #!/bin/sh
                echo '{"indicator":"HSCV_DIEN_TU"}'
                echo "database unreachable: connection refused" >&2
                exit 2
                """, in: directory)
        let error = await #expect(throws: PullError.self) {
            try await ExecAdapter(definition: failing, logger: quietLogger).pull(
                cursor: nil, context: PullContext(province: "14", collectedAt: Date()))
        }
        #expect(error?.description.contains("adapter so-lieu-xuat") == true)
        #expect(
            error?.description.contains("exited with status 2: database unreachable: connection refused") == true,
            "\(String(describing: error))")

        let slow = try load(Self.yaml, script: "#!/bin/sh\nexec sleep 30\n", in: directory)
        let started = ContinuousClock.now
        let timeout = await #expect(throws: PullError.self) {
            try await ExecAdapter(definition: slow, logger: quietLogger).pull(
                cursor: nil, context: PullContext(province: "14", collectedAt: Date()))
        }
        #expect(timeout?.description.contains("ran longer than 2.0 seconds") == true, "\(String(describing: timeout))")
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test("the command must be an absolute path to an executable file")
    func command() throws {
        let directory = try makeTemporaryDirectory()
        let plainFile = directory.appendingPathComponent("notes.txt")
        try "not a program".write(to: plainFile, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: plainFile.path)
        for (command, message) in [("export.sh", "must be an absolute path"), (plainFile.path, "is not an executable file")] {
            let yaml = Self.yaml.replacingOccurrences(of: "SCRIPT", with: command)
            let error = #expect(throws: ConfigIssues.self) { try load(yaml, script: nil, in: directory) }
            #expect(
                error?.issues.contains { $0.field.hasSuffix("command") && $0.message.contains(message) } == true,
                "\(String(describing: error?.issues))")
        }
    }
}
