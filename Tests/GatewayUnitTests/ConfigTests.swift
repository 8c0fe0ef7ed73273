import Foundation
import GatewayTestKit
import Gateway
import GatewayAdapters
import GatewayConfig
import GatewaySigning
import Testing

@Suite("Configuration files")
struct ConfigTests {
    func reader(_ text: String, _ variables: [String: String] = [:]) -> ConfigReader {
        ConfigReader(file: "/etc/lgsp-gateway/test.yaml", text: text, environment: ConfigEnvironment(variables: variables))
    }

    @Test("${NAME} and ${NAME:-default} come from the environment; a missing one names its line and field")
    func interpolation() {
        let config = reader(
            """
            a: ${HOST}:${PORT:-9443}
            b: plain
            c: ${MISSING}
            """, ["HOST": "127.0.0.1"])
        #expect(config.root?["a"]?.text == "127.0.0.1:9443")
        #expect(config.root?["b"]?.text == "plain")
        #expect(config.root?["c"]?.text == nil)
        #expect(
            config.issues == [
                ConfigIssue(
                    file: "/etc/lgsp-gateway/test.yaml", line: 3, field: "c",
                    message: "environment variable MISSING is not set and has no default")
            ])
    }

    @Test("secrets come from file: and credential:, trimmed, and never print")
    func secrets() throws {
        let directory = try makeTemporaryDirectory()
        try "s3cret-value\n".write(to: directory.appendingPathComponent("secret"), atomically: true, encoding: .utf8)
        let config = ConfigReader(
            file: "/x.yaml", text: "a: file:\(directory.path)/secret\nb: credential:secret\n",
            environment: ConfigEnvironment(variables: ["CREDENTIALS_DIRECTORY": directory.path]))
        let a = config.root?.secret("a"), b = config.root?.secret("b")
        #expect(a?.reveal() == "s3cret-value")
        #expect(b?.reveal() == "s3cret-value")
        #expect("\(String(describing: a))".contains("s3cret") == false)
        #expect(config.issues.isEmpty)

        // Outside systemd, credential:NAME is the file the unit's LoadCredential= names, on the host.
        let host = ConfigReader(
            file: "/x.yaml", text: "b: credential:secret\nc: credential:missing\n",
            environment: ConfigEnvironment(variables: [:], hostCredentialsDirectory: directory.path))
        #expect(host.root?.secret("b")?.reveal() == "s3cret-value")
        #expect(host.root?.path("c") == nil)
        #expect(
            host.issues.map(\.description) == [
                "/x.yaml:2: c: credential:missing needs $CREDENTIALS_DIRECTORY (set by systemd LoadCredential=) or the file \(directory.path)/missing"
            ])
    }

    @Test(
        "absurd durations and sizes are located errors, never a trap",
        arguments: [
            ("timeout: 1e17s", "a.timeout: expected a duration such as 250ms, 30s, 5m or 1h (from 100ms to 1h), found \"1e17s\""),
            ("timeout: 999999999999999s", "a.timeout: expected a duration from 100ms to 1h, found 999999999999999s"),
            ("timeout: 99999999999999999999999d", "a.timeout: expected a duration such as"),
            ("timeout: 0x10s", "a.timeout: expected a duration such as"),
            ("timeout: infs", "a.timeout: expected a duration such as"),
            ("timeout: 2h", "a.timeout: expected a duration from 100ms to 1h, found 2h"),
            ("max_size: 1e30GB", "a.max_size: expected a size such as 512KB, 64MB or 10GB (from 1MB to 1024TB), found \"1e30GB\""),
            ("max_size: 999999999999999TB", "a.max_size: expected a size from 1MB to 1024TB, found 999999999999999TB"),
            ("max_size: -5MB", "a.max_size: expected a size such as"),
        ])
    func absurdValues(line: String, message: String) {
        let config = reader("a:\n  \(line)\n")
        let a = config.root?["a"]
        _ = a?.duration("timeout", default: .seconds(30), range: .milliseconds(100)...(.seconds(3600)))
        _ = a?.size("max_size", default: 10 << 30, range: (1 << 20)...(1 << 50))
        #expect(config.issues.count == 1)
        #expect(config.issues.first?.description.hasPrefix("/etc/lgsp-gateway/test.yaml:2: " + message) == true, "\(config.issues)")
    }

    @Test("the gateway's file: absurd values in check are located, as a reload would refuse them")
    func gatewayFileAbsurdValues() throws {
        let directory = try makeTemporaryDirectory()
        let keyPath = try writeKey(SigningKey.generate(), in: directory)
        let environment = ConfigEnvironment(variables: [
            "LGSP_SIGNING_KEY": keyPath, "LGSP_CENTRAL_CA": try writeTestCA(in: directory),
            "LGSP_STORE": directory.appendingPathComponent("g.sqlite").path,
            "LGSP_CONTRACTS": repositoryRoot.appendingPathComponent("Contracts").path, "LGSP_ADAPTERS": directory.path,
            "LGSP_CENTRAL_TIMEOUT": "1e17s", "LGSP_STORE_MAX_SIZE": "1e30GB", "LGSP_RETRY_CAP": "1e300s", "LGSP_RETRY_AFTER_MAX": "99999d",
            "LGSP_GATEWAY_ID": "son-la\u{0}gw",
        ])
        let file = repositoryRoot.appendingPathComponent("deploy/examples/gateway.yaml").path
        let error = #expect(throws: ConfigIssues.self) { try GatewayConfiguration.load(file: file, environment: environment) }
        let fields = Set(error?.issues.map(\.field) ?? [])
        #expect(
            fields == ["gateway.id", "central.timeout", "store.max_size", "delivery.retry_cap", "delivery.retry_after_max"],
            "\(String(describing: error))")
        #expect(error?.issues.allSatisfy { $0.line != nil } == true)
        #expect(error?.issues.first { $0.field == "gateway.id" }?.message.contains("U+0000") == true)
    }

    @Test("an unknown key of 2 MiB is reported in a line of its own size, without a suggestion search")
    func hugeUnknownKey() {
        let huge = String(repeating: "k", count: 2 << 20)
        // An explicit key: YAML limits implicit ones to 1024 characters.
        let config = reader("a:\n  ? \(huge)\n  : 1\n")
        config.root?["a"]?.allowOnly(["timeout", "url"])
        #expect(config.issues.count == 1)
        #expect((config.issues.first?.description.utf8.count ?? .max) < 400, "\(config.issues.first?.description.prefix(200) ?? "")")
        #expect(config.issues.first?.field.hasSuffix("… (2097152 bytes)") == true, "\(config.issues.first?.description.prefix(300) ?? "")")
    }

    @Test(
        "a credential is a name, never a path out of the credentials directory",
        arguments: [
            "credential:../elsewhere/secret", "credential:/etc/shadow", "credential:..", "credential:", "credential:a/b",
        ])
    func credentialNames(value: String) throws {
        let directory = try makeTemporaryDirectory()
        let config = ConfigReader(
            file: "/x.yaml", text: "a: \"\(value)\"\n", environment: ConfigEnvironment(variables: ["CREDENTIALS_DIRECTORY": directory.path])
        )
        #expect(config.root?.secret("a") == nil)
        #expect(config.issues.first?.description.contains("is not a credential name") == true, "\(config.issues)")
    }

    @Test("unknown fields are reported with a suggestion; plain http is refused")
    func strictness() {
        let config = reader(
            """
            central:
              url: http://central.example/
              timout: 30s
            """)
        let central = config.root?["central"]
        central?.allowOnly(["url", "timeout"])
        _ = central?.url("url")
        #expect(config.issues.count == 2)
        #expect(config.issues.contains { $0.line == 3 && $0.field == "central.timout" && $0.message.contains("did you mean timeout?") })
        #expect(config.issues.contains { $0.line == 2 && $0.field == "central.url" && $0.message.contains("plain http://") })
    }

    @Test("YAML syntax errors name the line")
    func syntax() {
        let config = reader("a: [1, 2\nb: 3\n")
        #expect(config.root == nil)
        #expect(config.issues.first?.line != nil)
        #expect(config.issues.first?.message.hasPrefix("not valid YAML") == true)
    }

    @Test("the shipped example configuration and every shipped adapter load and pass check")
    func shippedFilesLoad() throws {
        let directory = try makeTemporaryDirectory()
        let keyPath = try writeKey(.generate(), in: directory)
        let secretPath = directory.appendingPathComponent("secret").path
        try "secret".write(toFile: secretPath, atomically: true, encoding: .utf8)
        let loaded = try LoadedGateway.load(
            file: repositoryRoot.appendingPathComponent("deploy/examples/gateway.yaml").path,
            environment: ConfigEnvironment(
                variables: [
                    "LGSP_SIGNING_KEY": keyPath, "LGSP_CLIENT_SECRET": "file:" + secretPath,
                    "LGSP_STORE": directory.appendingPathComponent("gateway.sqlite").path,
                    "LGSP_CENTRAL_CA": try writeTestCA(in: directory),
                ].merging(try shippedAdapterVariables(in: directory)) { $1 }))
        let shipped = try FileManager.default.contentsOfDirectory(atPath: repositoryRoot.appendingPathComponent("Adapters").path)
            .filter { $0.hasSuffix(".yaml") }
        #expect(loaded.adapters.count == shipped.count)
        #expect(loaded.adapters.count >= 2)
        #expect(loaded.configuration.gateway.province == "14")
        #expect(loaded.configuration.contractsDirectory == repositoryRoot.appendingPathComponent("Contracts").standardizedFileURL.path)
        // Shipped files hold no secret inline: client secrets are file:/credential:/env references.
        for file in shipped {
            let text = try String(contentsOf: repositoryRoot.appendingPathComponent("Adapters/\(file)"), encoding: .utf8)
            // A login's `token:` says where the token is in its answer, not a token.
            let secretFields = ["client_secret:", "key:", "password:", "matKhau:"] + (text.contains("kind: login") ? [] : ["token:"])
            for line in text.split(separator: "\n") where secretFields.contains(where: { line.contains($0) }) {
                #expect(line.contains("${") || line.contains("file:") || line.contains("credential:"), "\(file): \(line)")
            }
        }
    }

    @Test("check reports every error of an adapter file with file, line and field")
    func adapterErrors() throws {
        let directory = try makeTemporaryDirectory()
        let file = directory.appendingPathComponent("broken.yaml")
        try """
        name: broken
        schedule:
          every: soon
        source:
          base_url: http://portal.example
        request:
          path: data
        response:
          records: $.items
        mapping:
          indicator: code
          colour: red
        """.write(to: file, atomically: true, encoding: .utf8)
        do {
            _ = try AdapterLoader.definitions(directory: directory.path, environment: ConfigEnvironment(variables: [:]))
            Issue.record("expected configuration issues")
        } catch {
            let found = error.issues.map { "\($0.line ?? 0) \($0.field)" }
            #expect(found.contains("3 schedule.every"))
            #expect(found.contains("5 source.base_url"))
            #expect(found.contains("7 request.path"))
            #expect(found.contains("12 mapping.colour"))
            #expect(error.issues.contains { $0.field == "mapping" && $0.message.contains("period") })
            #expect(error.issues.allSatisfy { $0.file == file.path })
        }
    }
}
