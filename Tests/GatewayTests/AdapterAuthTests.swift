import Foundation
import GatewayAdapters
import GatewayConfig
import GatewayContracts
import GatewayDemo
import GatewayHTTP
import MockSystems
import Testing

@Suite("Adapter credentials: API key in a header or the query, HTTP basic")
struct AdapterAuthTests {
    func adapter(named name: String, path: String, auth: String, in directory: URL, environment: ConfigEnvironment) throws -> HTTPAdapter.Definition {
        try loadHTTPAdapter("""
            name: \(name)
            schedule: { every: 1h }
            source:
              base_url: ${LGSP_SOURCE_URL}
              ca_bundle: ${LGSP_SOURCE_CA}
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
            directory: directory.appendingPathComponent("mocks"), source: .init(clientID: "lgsp-gateway-demo", clientSecret: secret), trustedKeys: [])
        try await MockSystems.withRunning(mocks, logger: quietLogger) { running in
            let environment = Demo.environment(for: running, repository: repositoryRoot, keyPath: "", storePath: "")
            try await withTransport { transport in
                try await pullWithEachKind(transport: transport, running: running, directory: directory, environment: environment)
            }
        }
    }

    func pullWithEachKind(transport: HTTPTransport, running: MockSystems.Running, directory: URL, environment: ConfigEnvironment) async throws {
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
                try await HTTPAdapter(definition: definition, transport: transport).pull(cursor: nil, context: PullContext(province: "14", collectedAt: Date()))
            }
            #expect(error?.description.contains("adapter \(name)-wrong") == true, "\(String(describing: error))")
            #expect(error?.description.contains("HTTP 401") == true, "\(String(describing: error))")
            #expect(error?.description.contains("not-the-key") == false)
        }
        #expect(running.source.statistics.unauthorizedRequests == before + kinds.count)
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
        let error = #expect(throws: ConfigIssues.self) { try AdapterLoader.definitions(directory: directory.path, environment: ConfigEnvironment(variables: [:])) }
        #expect(error?.issues.contains { $0.message.contains("header (e.g. X-API-Key) or query_param") } == true, "\(String(describing: error?.issues))")
    }
}
