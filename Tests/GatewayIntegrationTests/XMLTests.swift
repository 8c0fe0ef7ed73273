import Foundation
import GatewayAdapters
import GatewayConfig
import GatewayContracts
import GatewayTestKit
import GatewayHTTP
import Testing
import GatewayJSON
@testable import GatewayAdapters

@Suite("XML sources")
struct XMLTests {
    func parse(_ text: String) throws -> JSONValue { try XMLRecords.parse(Array(text.utf8)) }

    @Test("WSO2 Data Services answers: namespaces dropped, entities and CDATA decoded, attributes kept, one entry is a list of one")
    func shapes() throws {
        let answer = try parse(
            """
            <?xml version="1.0" encoding="UTF-8"?>
            <ds:Entries xmlns:ds="http://ws.wso2.org/dataservice">
              <!-- a comment -->
              <ds:Entry kind="tinh">
                <ds:ten>Sơn La &amp; &#x110;i&#7879;n Bi&#234;n</ds:ten>
                <ds:ghiChu><![CDATA[<sơ bộ> & chưa kiểm tra]]></ds:ghiChu>
                <ds:rong/>
              </ds:Entry>
            </ds:Entries>
            """)
        let entry = try #require(answer["Entries"]?["Entry"])
        #expect(entry["@kind"] == .string("tinh"))
        #expect(entry["ten"] == .string("Sơn La & Điện Biên"))
        #expect(entry["ghiChu"] == .string("<sơ bộ> & chưa kiểm tra"))
        #expect(entry["rong"] == .string(""))
        let two = try parse("<a><b>1</b><b>2</b><c>3</c></a>")
        #expect(two["a"]?["b"] == .array([.string("1"), .string("2")]))
        #expect(two["a"]?["c"] == .string("3"))
    }

    @Test("broken XML and DTDs are refused with the line named")
    func refusals() throws {
        let mismatched = #expect(throws: XMLRecords.SyntaxError.self) { try parse("<a>\n<b>1</c>\n</a>") }
        #expect(mismatched?.description == "line 2: </c> closes <b>")
        let dtd = #expect(throws: XMLRecords.SyntaxError.self) {
            try parse("<?xml version=\"1.0\"?>\n<!DOCTYPE a [<!ENTITY x \"xxxxxxxx\">]>\n<a>&x;</a>")
        }
        #expect(dtd?.description == "line 2: a DTD is not accepted in a data answer")
        let unknownEntity = #expect(throws: XMLRecords.SyntaxError.self) { try parse("<a>&nbsp;</a>") }
        #expect(unknownEntity?.message == "the entity &nbsp; is not defined")
        #expect(throws: XMLRecords.SyntaxError.self) { try parse("<a><b>1</b>") }
        #expect(throws: XMLRecords.SyntaxError.self) { try parse("<a/><b/>") }
        #expect(throws: XMLRecords.SyntaxError.self) { try XMLRecords.parse([0x3C, 0x61, 0x3E, 0xFF, 0x3C, 0x2F, 0x61, 0x3E]) }
        #expect(throws: XMLRecords.SyntaxError.self) { try parse("<html><body>Service Unavailable") }
    }

    @Test("an XML adapter over HTTPS gives exactly what the JSON adapter gives for the same records")
    func sameAsJSON() async throws {
        try await withSignedMocks { running, directory, _ in
            let environment = Demo.environment(for: running, repository: repositoryRoot, keyPath: "", storePath: "")
            let xml = try PaginationTests.definition(
                "wso2-dss", path: "/dss/services/ChiTieuDataService/chi-tieu", pagination: nil, in: directory, environment: environment,
                format: "{ format: xml, records: $.Entries.Entry }")
            let json = try PaginationTests.definition(
                "json", path: "/dvc/1.0.0/chi-tieu", pagination: nil, in: directory, environment: environment)
            let context = PullContext(province: "14", collectedAt: Date(timeIntervalSince1970: 1_790_000_000))
            let (fromXML, fromJSON) = try await withTransport { transport in
                (
                    try await HTTPAdapter(definition: xml, transport: transport).pull(cursor: nil, context: context),
                    try await HTTPAdapter(definition: json, transport: transport).pull(cursor: nil, context: context)
                )
            }
            #expect(fromXML.records.count == running.source.configuration.dataset.portalRecords.count)
            // Everything but the adapter's own name, which each observation carries as its source system.
            func observations(_ output: PullOutput) -> [JSONValue] {
                output.records.compactMap { record -> JSONValue? in
                    guard case .mapped(.object(var members), _) = record else { return nil }
                    members["source_system"] = nil
                    return .object(members)
                }.sorted { ($0["source_record_id"]?.stringValue ?? "") < ($1["source_record_id"]?.stringValue ?? "") }
            }
            #expect(observations(fromXML) == observations(fromJSON))
            #expect(!observations(fromXML).isEmpty)
        }
    }
}
