import Foundation
import Gateway
import GatewayAdapters
import GatewayConfig
import GatewayContracts
import GatewayTestKit
import GatewayHTTP
import Testing
import GatewayPipeline

@Suite("CSV sources")
struct CSVTests {
    func table(_ text: String, _ format: CSVFormat = CSVFormat(delimiter: UInt8(ascii: ";"))) throws -> CSVTable {
        try CSVTable(parsing: Data(text.utf8), format: format)
    }

    @Test("quoted fields keep delimiters, doubled quotes and line breaks; a BOM, CRLF and empty lines are fine")
    func quoting() throws {
        let parsed = try table("\u{FEFF}a;b;c\r\n\"x;y\";\"say \"\"hi\"\"\";\"two\r\nlines\"\r\n\r\n 1 ; 2 ;3\r\n")
        #expect(parsed.columns == ["a", "b", "c"])
        #expect(parsed.rows.map(\.fields) == [["x;y", "say \"hi\"", "two\r\nlines"], ["1", "2", "3"]])
        // The last row starts on line 5: the quoted field spans lines 2 and 3, line 4 is empty.
        #expect(parsed.rows.map(\.line) == [2, 5])
        let headerless = try table("1,2\n3,4\n", CSVFormat(delimiter: UInt8(ascii: ","), columns: ["p", "q"]))
        #expect(
            headerless.records().map(\.record) == [
                .object(["p": .string("1"), "q": .string("2")]), .object(["p": .string("3"), "q": .string("4")]),
            ])
    }

    @Test("broken text names its line; a short row is quarantined alone")
    func errors() throws {
        #expect(throws: CSVTable.SyntaxError.self) { try table("a;b\n\"open;2\n") }
        let afterQuote = #expect(throws: CSVTable.SyntaxError.self) { try table("a;b\n1;\"2\"x\n") }
        #expect(afterQuote?.description == "line 2: text after the closing quote of a field")
        let twice = #expect(throws: CSVTable.SyntaxError.self) { try table("a;a\n1;2\n") }
        #expect(twice?.description == "line 1: the column \"a\" appears twice")
        #expect(throws: CSVTable.SyntaxError.self) { try CSVTable(parsing: Data([0x61, 0x0A, 0xFF, 0xFE]), format: CSVFormat()) }
        let records = try table("a;b\n1;2\n3\n").records()
        #expect(records[0].problem == nil)
        #expect(records[1].problem?.message == "line 3 has 1 fields, the header has 2")
    }

    @Test("a CSV adapter pulls the statistics office's export over HTTPS: Vietnamese numbers map, bad rows are quarantined with reasons")
    func pullOverHTTPS() async throws {
        try await withSignedMocks { running, directory, _ in
            let environment = Demo.environment(for: running, repository: repositoryRoot, keyPath: "", storePath: "")
            let definition = try loadHTTPAdapter(
                """
                name: thong-ke-kinh-te-so
                schedule: { every: 1h }
                \(mockSourceYAML)
                request: { path: /thongke/1.0.0/kinh-te-so.csv }
                response:
                  format: csv
                  csv: { delimiter: ";" }
                mapping:
                  indicator: ma_chi_tieu
                  level: { const: province }
                  area: ma_dia_ban
                  period: ky
                  value: gia_tri
                  unit: { path: don_vi, lookup: { "%": percent } }
                """, name: "adapters", in: directory, environment: environment)
            let output = try await withTransport { transport in
                try await HTTPAdapter(definition: definition, transport: transport).pull(
                    cursor: nil, context: PullContext(province: "14", collectedAt: Date()))
            }
            let contracts = try ContractSet.load(from: repositoryRoot.appendingPathComponent("Contracts"))
            let (valid, quarantined, _) = await PullRunner.check(output, contracts: contracts, province: "14")

            let export = running.source.configuration.dataset.statisticsExport()
            #expect(valid.count == export.goodRows)
            #expect(quarantined.count == export.badRows)
            #expect(valid.map(\.value) == [8.41, 9.87, 5.2, 6.35])
            #expect(valid.map(\.indicator) == ["KTS_GRDP", "KTS_GRDP", "NSLD_TANG", "NSLD_TANG"])
            #expect(valid.allSatisfy { $0.unit == "percent" && $0.period == $0.period.prefix(4) })
            let rules = Set(quarantined.flatMap(\.reasons).map(\.rule))
            #expect(rules == ["mapping.csv-row", "indicator.range"], "\(quarantined)")
        }
    }

    @Test("a JSON records path in a CSV adapter is refused with its file and field")
    func recordsPathRefused() async throws {
        let definitionText = """
            name: wrong-type
            schedule: { every: 1h }
            source: { base_url: "https://example.invalid" }
            request: { path: /x }
            response: { format: csv, records: $.x }
            mapping: { indicator: a, level: b, area: c, period: d, value: e, unit: f }
            """
        let directory = try makeTemporaryDirectory()
        try definitionText.write(to: directory.appendingPathComponent("a.yaml"), atomically: true, encoding: .utf8)
        do {
            _ = try AdapterLoader.definitions(directory: directory.path, environment: ConfigEnvironment(variables: [:]))
            Issue.record("records with format: csv should be refused")
        } catch {
            #expect(error.issues.contains { $0.field.hasSuffix("records") && $0.message.contains("json or xml only") }, "\(error.issues)")
        }
    }
}
