import Foundation
import GatewayAdapters
import GatewayConfig
import GatewayContracts
import GatewayTestKit
import GatewayHTTP
import Testing

@Suite("Paginated sources")
struct PaginationTests {
    static func definition(
        _ name: String, path: String, pagination: String?, in directory: URL, environment: ConfigEnvironment,
        format: String = "{ format: json, records: $.duLieu.banGhi }"
    ) throws -> HTTPAdapter.Definition {
        try loadHTTPAdapter(
            """
            name: \(name)
            schedule: { every: 1h }
            \(mockSourceYAML)
            request: { path: \(path) }
            response: \(format)
            \(pagination.map { "pagination: " + $0 } ?? "")
            \(portalMappingYAML)
            """, name: name, in: directory, environment: environment)
    }

    @Test(
        "page and size, offset and limit, next links and tokens each bring every record once; a cap stops a pull; a link to another server is refused"
    )
    func everyStyle() async throws {
        try await withSignedMocks { running, directory, _ in
            let environment = Demo.environment(for: running, repository: repositoryRoot, keyPath: "", storePath: "")
            try await withTransport { transport in
                try await Self.pull(transport: transport, running: running, directory: directory, environment: environment)
            }
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
                if case .mapped(let value, _) = record { return value["source_record_id"]?.stringValue }
                return nil
            }
            #expect(output.records.count == all.count, "\(name)")
            #expect(Set(ids).count == ids.count, "\(name): a record came twice")
            #expect(running.source.statistics.dataRequests - before == pages, "\(name)")
        }

        // max_pages: 2 of 4 link pages.
        let capped = try definition(
            "capped", path: "/paged/link/dvc/chi-tieu", pagination: "{ kind: next_link, next: $.lienKet.tiepTheo, max_pages: 2 }",
            in: directory, environment: environment)
        let cappedOutput = try await HTTPAdapter(definition: capped, transport: transport).pull(
            cursor: nil, context: PullContext(province: "14", collectedAt: Date()))
        #expect(cappedOutput.records.count == 8)

        let foreign = try definition(
            "foreign", path: "/paged/foreign/dvc/chi-tieu", pagination: "{ kind: next_link, next: $.lienKet.tiepTheo }", in: directory,
            environment: environment)
        let error = await #expect(throws: PullError.self) {
            try await HTTPAdapter(definition: foreign, transport: transport).pull(
                cursor: nil, context: PullContext(province: "14", collectedAt: Date()))
        }
        #expect(
            error?.description.contains("adapter foreign") == true && error?.description.contains("another server") == true,
            "\(String(describing: error))")
    }
}
