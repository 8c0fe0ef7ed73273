import ArgumentParser
import Foundation
import GatewayContracts
import GatewayJSON

/// Validations per second of the report contract on reports of 1, 100 and 10,000 observations, by
/// this validator and, in the same run on the same documents, by Python's jsonschema-rs and jsonschema.
@main
struct LGSPSchemaBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lgsp-schema-bench",
        abstract: "Compare the JSON Schema validator with jsonschema-rs and jsonschema on the report contract.")

    @Option(help: "Seconds to spend on each document and validator, over all rounds.")
    var seconds = 1.0

    @Option(
        help:
            "Rounds alternating this validator and the Python ones; each side's best round is reported, so that a moment of load on a shared machine does not decide the ratio."
    )
    var rounds = 3

    @Option(parsing: .upToNextOption, help: "Observations per report, one document each.")
    var sizes: [Int] = [1, 100, 10_000]

    @Option(help: "The Python interpreter with jsonschema-rs and jsonschema (Tests/interop/requirements.txt).")
    var python = "python3"

    func validate() throws {
        guard rounds >= 1 else { throw ValidationError("--rounds must be 1 or more") }
        guard seconds > 0, !sizes.isEmpty, sizes.allSatisfy({ $0 >= 1 && $0 <= 100_000 }) else {
            throw ValidationError("--seconds must be positive and each size between 1 and 100000 (the contract's maxItems)")
        }
    }

    struct Row: Codable {
        var observations: Int
        var bytes: Int
        var swiftValidPerSecond: Double
        var swiftReportPerSecond: Double
        var jsonschemaRsPerSecond: Double?
        var jsonschemaPerSecond: Double?
        var ratioToJsonschemaRs: Double?
        var ratioToJsonschema: Double?

        enum CodingKeys: String, CodingKey {
            case observations, bytes
            case swiftValidPerSecond = "swift_is_valid_per_s"
            case swiftReportPerSecond = "swift_validate_per_s"
            case jsonschemaRsPerSecond = "jsonschema_rs_per_s"
            case jsonschemaPerSecond = "jsonschema_per_s"
            case ratioToJsonschemaRs = "ratio_to_jsonschema_rs"
            case ratioToJsonschema = "ratio_to_jsonschema"
        }
    }

    func run() throws {
        guard let repository = RepositoryCheckout.locate() else {
            throw ValidationError("run from the repository checkout: Contracts/ and Tests/interop/schema_bench.py are needed")
        }
        let schemaURL = repository.appendingPathComponent("Contracts/v1.1/report.schema.json")
        let schema = try JSONValue.parse(Data(contentsOf: schemaURL))
        let compileStart = ContinuousClock.now
        let validator = try JSONSchemaValidator(schema: schema)
        let compileTime = ContinuousClock.now - compileStart

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lgsp-schema-bench-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        var rows: [Row] = []
        var paths: [String] = []
        var documents: [JSONValue] = []
        for size in sizes {
            let data = try Self.report(observations: size).canonicalData()
            let path = directory.appendingPathComponent("report-\(size).json").path
            try data.write(to: URL(fileURLWithPath: path))
            paths.append(path)
            // Parsed back from the file, as Python reads it: both sides validate the same document.
            let document = try JSONValue.parse(Data(contentsOf: URL(fileURLWithPath: path)))
            guard validator.isValid(document) else {
                throw ValidationError("the generated report of \(size) observations is invalid: \(validator.validate(document).prefix(3))")
            }
            rows.append(Row(observations: size, bytes: data.count, swiftValidPerSecond: 0, swiftReportPerSecond: 0))
            documents.append(document)
        }

        // Both sides take turns, each keeping its best round.
        let share = seconds / Double(rounds)
        var python: JSONValue? = nil
        for _ in 0..<rounds {
            for (index, document) in documents.enumerated() {
                rows[index].swiftValidPerSecond = max(rows[index].swiftValidPerSecond, Self.rate(share) { validator.isValid(document) })
                rows[index].swiftReportPerSecond = max(
                    rows[index].swiftReportPerSecond, Self.rate(share) { validator.validate(document).isEmpty })
            }
            let round = Self.runPython(
                self.python, script: repository.appendingPathComponent("Tests/interop/schema_bench.py").path,
                arguments: [schemaURL.path, String(share)] + paths)
            python = python ?? round
            for (index, path) in paths.enumerated() {
                if let rs = round?["jsonschema_rs"]?["rates"]?[path]?.numberValue {
                    rows[index].jsonschemaRsPerSecond = max(rows[index].jsonschemaRsPerSecond ?? 0, rs)
                }
                if let py = round?["jsonschema"]?["rates"]?[path]?.numberValue {
                    rows[index].jsonschemaPerSecond = max(rows[index].jsonschemaPerSecond ?? 0, py)
                }
            }
        }
        for index in rows.indices {
            rows[index].ratioToJsonschemaRs = rows[index].jsonschemaRsPerSecond.map { rows[index].swiftValidPerSecond / $0 }
            rows[index].ratioToJsonschema = rows[index].jsonschemaPerSecond.map { rows[index].swiftValidPerSecond / $0 }
        }
        var versions: [String: String] = [:]
        for name in ["jsonschema_rs", "jsonschema"] {
            if let version = python?[name]?["version"]?.stringValue { versions[name] = version }
            if let error = python?[name]?["error"]?.stringValue { print("\(name): not measured (\(error))") }
        }

        print(
            "Report contract (Contracts/v1.1/report.schema.json), compiled once in \(compileTime.formatted(.units(allowed: [.milliseconds], fractionalPart: .show(length: 1))))."
        )
        print(
            "Validations per second, the best of \(rounds) rounds of \(String(format: "%.2f", seconds / Double(rounds))) s each, the two sides taking turns; is_valid stops at the first error, validate collects them all."
        )
        print(
            "jsonschema-rs \(versions["jsonschema_rs"] ?? "-"), jsonschema \(versions["jsonschema"] ?? "-") (Python \(Self.pythonVersion(python: self.python)))"
        )
        func number(_ value: Double?) -> String {
            guard let value else { return "-" }
            return value >= 100 ? String(Int(value.rounded())) : String(format: "%.2f", value)
        }
        let header = ["observations", "bytes", "swift is_valid", "swift validate", "jsonschema-rs", "jsonschema", "× rs", "× jsonschema"]
        print(header.map { $0.padding(toLength: 15, withPad: " ", startingAt: 0) }.joined())
        for row in rows {
            let cells = [
                String(row.observations), String(row.bytes), number(row.swiftValidPerSecond), number(row.swiftReportPerSecond),
                number(row.jsonschemaRsPerSecond), number(row.jsonschemaPerSecond), number(row.ratioToJsonschemaRs),
                number(row.ratioToJsonschema),
            ]
            print(cells.map { $0.padding(toLength: 15, withPad: " ", startingAt: 0) }.joined())
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        print(String(decoding: try encoder.encode(["rows": rows]), as: UTF8.self))
    }

    /// Calls per second of `body`, for at least `seconds` and at least three calls.
    static func rate(_ seconds: Double, _ body: () -> Bool) -> Double {
        let clock = ContinuousClock()
        let start = clock.now
        var calls = 0
        var elapsed = Duration.zero
        var allTrue = true
        while elapsed < .seconds(seconds) || calls < 3 {
            allTrue = body() && allTrue
            calls += 1
            elapsed = clock.now - start
        }
        precondition(allTrue, "a benchmark document stopped validating")
        let (whole, attoseconds) = elapsed.components
        return Double(calls) / (Double(whole) + Double(attoseconds) / 1e18)
    }

    /// A report as a provincial gateway sends it: observations of the catalogue's indicators at
    /// province, district and commune level, over years, halves, quarters and months.
    static func report(observations count: Int) -> JSONValue {
        let indicators = ["DVC_TOAN_TRINH", "HS_TRUC_TUYEN", "HSCV_DIEN_TU", "KTS_GRDP", "CAP_QUANG_HO_GD", "TK_THANH_TOAN_DT"]
        let periods = ["2024", "2025-H1", "2025-Q3", "2025-11"]
        var observations: [JSONValue] = []
        observations.reserveCapacity(count)
        for index in 0..<count {
            let level: (String, String) =
                switch index % 3 {
                case 0: ("province", "14")
                case 1: ("district", String(116 + index % 12))
                default: ("commune", String(format: "%05d", 3_646 + index % 200))
                }
            let denominator = Double(200 + index % 800)
            let numerator = (denominator * Double(40 + index % 60) / 100).rounded()
            observations.append(
                .object([
                    "indicator": .string(indicators[index % indicators.count]),
                    "province": .string("14"),
                    "level": .string(level.0),
                    "area": .string(level.1),
                    "period": .string(periods[index % periods.count]),
                    "value": .number((numerator / denominator * 10_000).rounded() / 100),
                    "unit": .string("percent"),
                    "numerator": .number(numerator),
                    "denominator": .number(denominator),
                    "source_system": .string("dvc-portal"),
                    "source_record_id": .string("DVC-\(index)"),
                    "collected_at": .string("2026-11-22T08:00:00+07:00"),
                ]))
        }
        return .object([
            "contract": .string("lgsp-indicator-report"),
            "contract_version": .string("1.1"),
            "report_id": .string("0f8e3c1a-5b7d-4e2f-9a61-3c5d7e9f1b2a"),
            "gateway_id": .string("sonla-gw-1"),
            "province": .string("14"),
            "adapter": .string("dvc-portal"),
            "created_at": .string("2026-11-22T08:00:00+07:00"),
            "observations": .array(observations),
        ])
    }

    static func runPython(_ python: String, script: String, arguments: [String]) -> JSONValue? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, script] + arguments
        let output = Pipe()
        process.standardOutput = output
        do { try process.run() } catch {
            print("\(python): cannot run (\(error)); only this validator is measured")
            return nil
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0, let line = data.split(separator: UInt8(ascii: "\n")).last else {
            print("\(script) failed (exit \(process.terminationStatus)); only this validator is measured")
            return nil
        }
        return try? JSONValue.parse(Data(line))
    }

    static func pythonVersion(python: String) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, "-c", "import platform; print(platform.python_version())"]
        let output = Pipe()
        process.standardOutput = output
        guard (try? process.run()) != nil else { return "?" }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
