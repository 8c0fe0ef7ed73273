import Foundation
import GatewayTestKit
import GatewayContracts
import Testing
import GatewayJSON

@Suite("lgsp-gateway contracts")
struct ContractsCommandTests {
    func gateway(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try runTool([try gatewayExecutable().path] + arguments)
    }

    @Test("validate prints one verdict per file with indented errors, and exits 0, 1 or 2")
    func validate() throws {
        let directory = try makeTemporaryDirectory()
        func write(_ name: String, _ text: String) throws -> String {
            let path = directory.appendingPathComponent(name).path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        // The schema reaches a second file through a relative $ref, as split contracts do.
        let common = try write("common.json", #"{"$defs":{"percent":{"type":"number","minimum":0,"maximum":100}}}"#)
        let schema = try write(
            "schema.json",
            #"""
            {"type":"object","required":["value"],
             "properties":{"value":{"$ref":"common.json#/$defs/percent"},"day":{"format":"date"}},
             "additionalProperties":false}
            """#)
        let good = try write("good.json", #"{"value":37.87,"day":"2025-02-28"}"#)
        let bad = try write("bad.json", #"{"value":137,"extra":1,"day":"2025-02-30"}"#)
        let broken = try write("broken.json", "{\"value\":\n  12,,}")

        let allGood = try gateway(["contracts", "validate", "--schema", schema, "--ref", common, good])
        #expect(allGood.status == 0)
        #expect(allGood.output == "\(good): valid\n")

        let mixed = try gateway(["contracts", "validate", "--schema", schema, "--ref", common, "--assert-format", good, bad, broken])
        #expect(mixed.status == 1)
        let lines = mixed.output.split(separator: "\n").map(String.init)
        #expect(lines.first == "\(good): valid")
        #expect(lines.contains("\(bad): invalid"))
        #expect(lines.contains("    /extra: property \"extra\" is not allowed [#/additionalProperties]"))
        #expect(lines.contains("    /value: 137 is greater than the maximum 100 [#/properties/value/$ref/maximum]"))
        #expect(lines.contains("    /day: \"2025-02-30\" is not a valid date [#/properties/day/format]"))
        #expect(lines.contains("\(broken): invalid"))
        #expect(lines.contains("    not JSON: line 2, column 6: expected a member name"), "\(lines)")

        // Without --assert-format the date is only an annotation.
        let annotated = try gateway(["contracts", "validate", "--schema", schema, "--ref", common, bad])
        #expect(!annotated.output.contains("not a valid date"))

        let unresolved = try gateway(["contracts", "validate", "--schema", schema, good])
        #expect(unresolved.status == 2)
        #expect(unresolved.output.contains("common.json"), "\(unresolved.output)")

        let badSchema = try gateway(["contracts", "validate", "--schema", try write("bad-schema.json", #"{"minimum":"zero"}"#), good])
        #expect(badSchema.status == 2)
        #expect(badSchema.output.contains("bad-schema.json#/minimum: \"minimum\" must be a number"), "\(badSchema.output)")

        let usage = try gateway(["contracts", "validate", "--schema", schema])
        #expect(usage.status == 2)
    }

    @Test("catalog --json prints every indicator with its targets and their seed quotes")
    func catalog() throws {
        let result = try runTool(
            [
                try gatewayExecutable().path, "contracts", "catalog", "--json", "--contracts",
                repositoryRoot.appendingPathComponent("Contracts").path,
            ], includeStandardError: false)
        #expect(result.status == 0)
        let catalogue = try JSONValue.parse(Data(result.output.utf8))
        let indicators = try #require(catalogue["indicators"]?.arrayValue)
        let onDisk = try JSONValue.parse(Data(contentsOf: repositoryRoot.appendingPathComponent("Contracts/v1.2/catalogue.json")))
        #expect(indicators.count == onDisk["indicators"]?.arrayValue?.count)
        for indicator in indicators {
            for key in ["code", "name_vi", "name_en", "unit"] {
                #expect(indicator[key]?.stringValue?.isEmpty == false, "\(key) of \(indicator)")
            }
            for target in indicator["targets"]?.arrayValue ?? [] {
                #expect(target["province"]?.stringValue != nil)
                #expect(target["year"]?.numberValue != nil || target["year"]?.stringValue == "baseline")
                #expect(target["comparator"]?.stringValue != nil)
                #expect(target["value"] != nil || (target["min"] != nil && target["max"] != nil))
                #expect(target["source"]?["seed"]?.stringValue != nil && target["source"]?["quote"]?.stringValue != nil)
            }
        }
    }

    @Test("catalog in text names each indicator's levels and periods, which decide what an adapter may send")
    func catalogText() throws {
        let result = try runTool(
            [
                try gatewayExecutable().path, "contracts", "catalog", "--contracts",
                repositoryRoot.appendingPathComponent("Contracts").path,
            ], includeStandardError: false)
        #expect(result.status == 0)
        let lines = result.output.split(separator: "\n").map(String.init)
        #expect(
            lines.contains {
                $0.hasPrefix("  DVC_TOAN_TRINH ")
                    && $0.hasSuffix("(percent 0–100; levels: province; periods: year, half, quarter, month; required: year, quarter)")
            })
        #expect(lines.contains { $0.hasPrefix("  HSCV_DIEN_TU ") && $0.contains("levels: province, district, commune;") })
        // The range the value is checked against, in the indicator's unit.
        #expect(
            lines.contains { $0.hasPrefix("  XEP_HANG_CDS ") && $0.contains("(rank 1–63;") },
            "\(lines.filter { $0.hasPrefix("  XEP_HANG_CDS ") })")
        // Accepted by quarter, so a province can follow it each quarter; required by year.
        #expect(lines.contains { $0.hasPrefix("  BENH_VIEN_KHAM_TU_XA ") && $0.hasSuffix("periods: year, half, quarter; required: year)") })
    }
}
