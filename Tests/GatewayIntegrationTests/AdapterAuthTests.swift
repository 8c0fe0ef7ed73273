import Foundation
import GatewayAdapters
import GatewayConfig
import GatewayContracts
import GatewayTestKit
import GatewayHTTP
import Testing
import GatewayJSON

@Suite("Adapter credentials: API key in a header or the query, HTTP basic, mutual TLS; the server's name")
struct AdapterAuthTests {
    /// `serverName`, when given, goes into the source as `server_name`.
    func adapter(
        named name: String, path: String, auth: String, serverName: String? = nil, in directory: URL, environment: ConfigEnvironment
    ) throws -> HTTPAdapter.Definition {
        try loadHTTPAdapter(
            """
            name: \(name)
            schedule: { every: 1h }
            source:
              base_url: ${LGSP_SOURCE_URL}
              ca_bundle: ${LGSP_SOURCE_CA}
              \(serverName.map { "server_name: " + $0 } ?? "")
              auth:
            \(auth.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
            request: { path: \(path) }
            response: { format: json, records: $.duLieu.banGhi }
            \(portalMappingYAML)
            """, name: name, in: directory, environment: environment)
    }

    @Test("each kind pulls the portal's records; a wrong credential is a 401 that names the adapter and never the key")
    func credentials() async throws {
        let directory = try makeTemporaryDirectory()
        let secret = "key-\(UUID())"
        let mocks = MockSystems.Configuration(
            directory: directory.appendingPathComponent("mocks"), source: .init(clientID: "lgsp-gateway-demo", clientSecret: secret),
            trustedKeys: [])
        try await MockSystems.withRunning(mocks, logger: quietLogger) { running in
            let environment = Demo.environment(for: running, repository: repositoryRoot, keyPath: "", storePath: "")
            try await withTransport { transport in
                try await pullWithEachKind(transport: transport, running: running, directory: directory, environment: environment)
            }
        }
    }

    func pullWithEachKind(transport: HTTPTransport, running: MockSystems.Running, directory: URL, environment: ConfigEnvironment)
        async throws
    {
        let expected = running.source.configuration.dataset.portalRecords.count
        let kinds = [
            ("key-header", "/apikey/dvc/chi-tieu", "kind: api_key\nheader: X-API-Key\nkey: ${LGSP_CLIENT_SECRET}"),
            ("key-query", "/apikey/dvc/chi-tieu", "kind: api_key\nquery_param: api_key\nkey: ${LGSP_CLIENT_SECRET}"),
            ("basic", "/basic/dvc/chi-tieu", "kind: basic\nusername: ${LGSP_CLIENT_ID}\npassword: ${LGSP_CLIENT_SECRET}"),
        ]
        for (name, path, auth) in kinds {
            let definition = try adapter(named: name, path: path, auth: auth, in: directory, environment: environment)
            let output = try await HTTPAdapter(definition: definition, transport: transport)
                .pull(cursor: nil, context: PullContext(province: "14", collectedAt: Date()))
            #expect(output.records.count == expected, "\(name)")
        }
        let before = running.source.statistics.unauthorizedRequests
        var wrong = environment
        wrong.variables["LGSP_CLIENT_SECRET"] = "not-the-key"
        for (name, path, auth) in kinds {
            let definition = try adapter(named: name + "-wrong", path: path, auth: auth, in: directory, environment: wrong)
            let error = await #expect(throws: PullError.self) {
                try await HTTPAdapter(definition: definition, transport: transport).pull(
                    cursor: nil, context: PullContext(province: "14", collectedAt: Date()))
            }
            #expect(error?.description.contains("adapter \(name)-wrong") == true, "\(String(describing: error))")
            #expect(error?.description.contains("HTTP 401") == true, "\(String(describing: error))")
            #expect(error?.description.contains("not-the-key") == false)
        }
        #expect(running.source.statistics.unauthorizedRequests == before + kinds.count)
    }

    @Test("mutual TLS: with the client certificate the bank's server answers; without it the handshake fails, naming the adapter")
    func mutualTLS() async throws {
        try await withSignedMocks { running, directory, _ in
            let environment = Demo.environment(for: running, repository: repositoryRoot, keyPath: "", storePath: "")
            func bank(_ name: String, certificate: Bool) throws -> HTTPAdapter.Definition {
                try loadHTTPAdapter(
                    """
                    name: \(name)
                    schedule: { every: 1h }
                    source:
                      base_url: ${BANK_URL}
                      ca_bundle: ${BANK_CA}
                    \(certificate ? "  client_certificate: ${BANK_CLIENT_CERT}\n  client_key: ${BANK_CLIENT_KEY}" : "")
                    request: { path: /nhnn/v1/bao-cao/tai-khoan-thanh-toan }
                    response: { format: json, records: $.baoCao.duLieu }
                    mapping:
                      indicator: { path: chiTieu, lookup: { TKTT_DIEN_TU: TK_THANH_TOAN_DT } }
                      level: { const: province }
                      area: maTinh
                      period: kyBaoCao
                      value: tyLe
                      unit: { const: percent }
                    """, name: name, in: directory, environment: environment)
            }
            try await withTransport { transport in
                let context = PullContext(province: "14", collectedAt: Date())
                let output = try await HTTPAdapter(definition: try bank("with-certificate", certificate: true), transport: transport).pull(
                    cursor: nil, context: context)
                #expect(output.records.count == running.source.configuration.dataset.bankRecords.count)
                let error = await #expect(throws: PullError.self) {
                    try await HTTPAdapter(definition: try bank("without-certificate", certificate: false), transport: transport).pull(
                        cursor: nil, context: context)
                }
                #expect(error?.description.contains("adapter without-certificate") == true, "\(String(describing: error))")
            }
        }
    }

    @Test("server_name: a source known by name only is dialled by address and its certificate checked against the name")
    func serverName() async throws {
        let directory = try makeTemporaryDirectory()
        var mocks = MockSystems.Configuration(
            directory: directory.appendingPathComponent("mocks"), source: .init(clientID: "lgsp-gateway-demo", clientSecret: "k-\(UUID())"),
            trustedKeys: [])
        // The certificate names lgsp.sonla.example only: not localhost, not 127.0.0.1.
        mocks.sourceCertificateNames = ["lgsp.sonla.example"]
        try await MockSystems.withRunning(mocks, logger: quietLogger) { running in
            let environment = Demo.environment(for: running, repository: repositoryRoot, keyPath: "", storePath: "")
            func portal(_ name: String, serverName: String?) throws -> HTTPAdapter.Definition {
                try adapter(
                    named: name, path: "/apikey/dvc/chi-tieu", auth: "kind: api_key\nheader: X-API-Key\nkey: ${TELECOM_API_KEY}",
                    serverName: serverName, in: directory, environment: environment)
            }
            #expect(running.sourceURL.hasPrefix("https://127.0.0.1:"))
            try await withTransport { transport in
                let context = PullContext(province: "14", collectedAt: Date())
                let named = try await HTTPAdapter(definition: try portal("named", serverName: "lgsp.sonla.example"), transport: transport)
                    .pull(cursor: nil, context: context)
                #expect(named.records.count == running.source.configuration.dataset.portalRecords.count)
                for (name, serverName) in [("unnamed", nil), ("misnamed", "other.sonla.example")] as [(String, String?)] {
                    let error = await #expect(throws: PullError.self) {
                        try await HTTPAdapter(definition: try portal(name, serverName: serverName), transport: transport).pull(
                            cursor: nil, context: context)
                    }
                    #expect(error?.description.contains("adapter \(name)") == true, "\(String(describing: error))")
                    // The error says which name the certificate lacks (AsyncHTTPClient retries the handshake until its connect timeout first).
                    #expect(error?.description.contains("failedToValidateHostname") == true, "\(String(describing: error))")
                }
            }
            let broken = directory.appendingPathComponent("broken")
            try FileManager.default.createDirectory(at: broken, withIntermediateDirectories: true)
            try
                "name: b\nschedule: { every: 1h }\nsource:\n  base_url: https://10.0.0.5\n  server_name: 10.0.0.5\nrequest: { path: / }\nresponse: { format: json, records: $ }\nmapping: {}\n"
                .write(to: broken.appendingPathComponent("b.yaml"), atomically: true, encoding: .utf8)
            let issues = #expect(throws: ConfigIssues.self) {
                try AdapterLoader.definitions(directory: broken.path, environment: environment)
            }
            #expect(issues?.issues.contains { $0.line == 5 && $0.field == "source.server_name" } == true, "\(String(describing: issues))")
        }
    }

    @Test("a static bearer token is sent as it is: the LGSP's token works, a stale one is a 401 naming the adapter")
    func staticBearer() async throws {
        try await withSignedMocks { running, directory, _ in
            var environment = Demo.environment(for: running, repository: repositoryRoot, keyPath: "", storePath: "")
            try await withTransport { transport in
                let secret = running.source.configuration.clientSecret
                let answer = try await transport.send(
                    method: "POST", url: running.sourceURL + "/token",
                    headers: [("Authorization", "Basic " + Data("lgsp-gateway-demo:\(secret)".utf8).base64EncodedString())],
                    body: Data("grant_type=client_credentials".utf8), tls: EndpointTLS(caBundlePath: running.caBundlePath),
                    timeout: .seconds(10))
                environment.variables["STATIC_TOKEN"] = try #require(try JSONValue.parse(answer.body)["access_token"]?.stringValue)
                let definition = try adapter(
                    named: "static", path: "/dvc/1.0.0/chi-tieu", auth: "kind: bearer\ntoken: ${STATIC_TOKEN}", in: directory,
                    environment: environment)
                let context = PullContext(province: "14", collectedAt: Date())
                let output = try await HTTPAdapter(definition: definition, transport: transport).pull(cursor: nil, context: context)
                #expect(output.records.count == running.source.configuration.dataset.portalRecords.count)

                running.source.revokeAllTokens()
                let error = await #expect(throws: PullError.self) {
                    try await HTTPAdapter(definition: definition, transport: transport).pull(cursor: nil, context: context)
                }
                #expect(
                    error?.description.contains("adapter static") == true && error?.description.contains("HTTP 401") == true,
                    "\(String(describing: error))")
            }
        }
    }

    @Test("an api_key must say where the key goes")
    func apiKeyPlace() throws {
        let directory = try makeTemporaryDirectory()
        try """
        name: a
        schedule: { every: 1h }
        source: { base_url: "https://example.org", auth: { kind: api_key, key: "file:/nonexistent" } }
        request: { path: /x }
        response: { records: $.x }
        mapping: { indicator: a, level: b, area: c, period: d, value: e, unit: f }
        """.write(to: directory.appendingPathComponent("a.yaml"), atomically: true, encoding: .utf8)
        let error = #expect(throws: ConfigIssues.self) {
            try AdapterLoader.definitions(directory: directory.path, environment: ConfigEnvironment(variables: [:]))
        }
        #expect(
            error?.issues.contains { $0.message.contains("header (e.g. X-API-Key) or query_param") } == true,
            "\(String(describing: error?.issues))")
    }
}
