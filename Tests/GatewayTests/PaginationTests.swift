import Foundation
import GatewayAdapters
import GatewayConfig
import GatewayContracts
import GatewayDemo
import GatewayHTTP
import MockSystems
import Testing

@Suite("Paginated sources")
struct PaginationTests {
    static func definition(
        _ name: String, path: String, pagination: String?, in directory: URL, environment: ConfigEnvironment,
        format: String = "{ format: json, records: $.duLieu.banGhi }"
    ) throws -> HTTPAdapter.Definition {
        let folder = directory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try """
            name: \(name)
            schedule: { every: 1h }
            source:
              base_url: ${LGSP_SOURCE_URL}
              ca_bundle: ${LGSP_SOURCE_CA}
              auth:
                kind: oauth2_client_credentials
                token_url: ${LGSP_SOURCE_URL}/token
                client_id: ${LGSP_CLIENT_ID}
                client_secret: ${LGSP_CLIENT_SECRET}
            request: { path: \(path) }
            response: \(format)
            \(pagination.map { "pagination: " + $0 } ?? "")
            mapping:
              indicator: { path: maChiTieu, lookup: { DVC_TT: DVC_TOAN_TRINH, HS_TT: HS_TRUC_TUYEN }, unmatched: keep }
              level: { path: capHanhChinh, lookup: { TINH: province } }
              area: maDonVi
              period: kyBaoCao
              value: giaTri
              unit: { path: donVi, lookup: { "%": percent } }
              source_record_id: id
            """.write(to: folder.appendingPathComponent("a.yaml"), atomically: true, encoding: .utf8)
        guard case .http(let definition)? = try AdapterLoader.definitions(directory: folder.path, environment: environment).first else {
            throw MockError("\(name) did not load as an HTTP adapter")
        }
        return definition
    }

    @Test("page and size, offset and limit, next links and tokens each bring every record once; a cap stops a pull; a link to another server is refused")
    func everyStyle() async throws {
        let directory = try makeTemporaryDirectory()
        let mocks = MockSystems.Configuration(
            directory: directory.appendingPathComponent("mocks"), source: .init(clientID: "lgsp-gateway-demo", clientSecret: "secret-\(UUID())"), trustedKeys: [])
        try await MockSystems.withRunning(mocks, logger: quietLogger) { running in
            let environment = Demo.environment(for: running, repository: repositoryRoot, keyPath: "", storePath: "")
            let transport = HTTPTransport()
            do {
                try await Self.pull(transport: transport, running: running, directory: directory, environment: environment)
            } catch {
                try? await transport.shutdown()
                throw error
            }
            try await transport.shutdown()
        }
    }

    static func pull(transport: HTTPTransport, running: MockSystems.Running, directory: URL, environment: ConfigEnvironment) async throws {
        let all = running.source.configuration.dataset.portalRecords.compactMap { $0.fields["id"]?.stringValue }
        #expect(all.count == 14)
        // 14 records: pages of 5 are 5, 5, 4; of 7 are 7, 7, then an empty page ends it.
        let styles: [(String, String, String, Int)] = [
            ("pages", "/paged/page/dvc/chi-tieu", "{ kind: page, page_param: trang, size_param: so_ban_ghi, size: 5 }", 3),
            ("exact-pages", "/paged/page/dvc/chi-tieu", "{ kind: page, page_param: trang, size_param: so_ban_ghi, size: 7 }", 3),
            ("offsets", "/paged/offset/dvc/chi-tieu", "{ kind: offset, offset_param: offset, limit_param: limit, limit: 6 }", 3),
            ("links", "/paged/link/dvc/chi-tieu", "{ kind: next_link, next: $.lienKet.tiepTheo }", 4),
            ("tokens", "/paged/token/dvc/chi-tieu", "{ kind: token, token: $.trangSau, token_param: pageToken }", 4),
        ]
        for (name, path, pagination, pages) in styles {
            let definition = try definition(name, path: path, pagination: pagination, in: directory, environment: environment)
            let before = running.source.statistics.dataRequests
            let output = try await HTTPAdapter(definition: definition, transport: transport)
                .pull(cursor: nil, context: PullContext(province: "14", collectedAt: Date()))
            let ids = output.records.compactMap { record -> String? in
                if case .mapped(let value) = record { return value["source_record_id"]?.stringValue }
                return nil
            }
            #expect(output.records.count == all.count, "\(name)")
            #expect(Set(ids).count == ids.count, "\(name): a record came twice")
            #expect(running.source.statistics.dataRequests - before == pages, "\(name)")
        }

        // max_pages: 2 of 4 link pages.
        let capped = try definition("capped", path: "/paged/link/dvc/chi-tieu", pagination: "{ kind: next_link, next: $.lienKet.tiepTheo, max_pages: 2 }", in: directory, environment: environment)
        let cappedOutput = try await HTTPAdapter(definition: capped, transport: transport).pull(cursor: nil, context: PullContext(province: "14", collectedAt: Date()))
        #expect(cappedOutput.records.count == 8)

        let foreign = try definition("foreign", path: "/paged/foreign/dvc/chi-tieu", pagination: "{ kind: next_link, next: $.lienKet.tiepTheo }", in: directory, environment: environment)
        let error = await #expect(throws: PullError.self) {
            try await HTTPAdapter(definition: foreign, transport: transport).pull(cursor: nil, context: PullContext(province: "14", collectedAt: Date()))
        }
        #expect(error?.description.contains("adapter foreign") == true && error?.description.contains("another server") == true, "\(String(describing: error))")
    }
}
