import Foundation
import Gateway
import GatewayAdapters
import GatewayConfig
import GatewayContracts
import GatewayTestKit
import GatewayHTTP
import Testing
import GatewayPipeline

@Suite("Compiled adapters")
struct CompiledAdapterTests {
    @Test("the worked example sums the portal's dossiers per procedure into one checked observation per quarter")
    func dossierTotals() async throws {
        try await withSignedMocks { running, directory, _ in
            let adapters = directory.appendingPathComponent("adapters")
            try FileManager.default.createDirectory(at: adapters, withIntermediateDirectories: true)
            try """
            name: ho-so-truc-tuyen
            kind: compiled
            type: dossier-totals
            schedule: { cron: "0 1 * * *" }
            settings:
              base_url: ${LGSP_SOURCE_URL}
              ca_bundle: ${LGSP_SOURCE_CA}
              auth:
                kind: oauth2_client_credentials
                token_url: ${LGSP_SOURCE_URL}/token
                client_id: ${LGSP_CLIENT_ID}
                client_secret: ${LGSP_CLIENT_SECRET}
            """.write(to: adapters.appendingPathComponent("a.yaml"), atomically: true, encoding: .utf8)
            let environment = Demo.environment(for: running, repository: repositoryRoot, keyPath: "", storePath: "")
            let spec = try #require(try AdapterLoader.definitions(directory: adapters.path, environment: environment).first)
            #expect(spec.origin == "compiled adapter dossier-totals")
            let output = try await withTransport { transport in
                try await spec.makeAdapter(transport: transport, logger: quietLogger).pull(
                    cursor: nil, context: PullContext(province: "14", collectedAt: Date()))
            }
            let contracts = try ContractSet.load(from: repositoryRoot.appendingPathComponent("Contracts"))
            let (valid, quarantined, _) = await PullRunner.check(output, contracts: contracts, province: "14")
            #expect(quarantined.count == 1)
            #expect(valid.map(\.period) == ["2025-Q3", "2025-Q4"])
            // Quarter 3: 100+110+…+140 = 600 dossiers, 60+67+…+88 = 370 online.
            #expect(valid.first?.numerator == 370 && valid.first?.denominator == 600)
            #expect(valid.first?.value == 61.67)
            #expect(valid.allSatisfy { $0.indicator == "HS_TRUC_TUYEN" && $0.level == .province })
        }
    }

    @Test("an unknown type names the ones this build has; settings are checked with their lines")
    func registry() throws {
        let directory = try makeTemporaryDirectory()
        func issues(_ yaml: String) throws -> [String] {
            try yaml.write(to: directory.appendingPathComponent("a.yaml"), atomically: true, encoding: .utf8)
            do {
                _ = try AdapterLoader.definitions(directory: directory.path, environment: ConfigEnvironment(variables: [:]))
                return []
            } catch { return error.issues.map(\.description) }
        }
        let unknown = try issues("name: a\nkind: compiled\ntype: nope\nschedule: { every: 1h }\nsettings: {}\n")
        #expect(
            unknown.contains { $0.contains(":3: type: no compiled adapter \"nope\" in this build; it has: dossier-totals") }, "\(unknown)")
        let badSettings = try issues(
            "name: a\nkind: compiled\ntype: dossier-totals\nschedule: { every: 1h }\nsettings:\n  base_url: https://x.example\n  pathh: /x\n"
        )
        #expect(badSettings.contains { $0.contains(":7: settings.pathh") }, "\(badSettings)")
    }
}
