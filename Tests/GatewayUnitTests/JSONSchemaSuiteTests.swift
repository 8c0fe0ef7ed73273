import Foundation
import GatewayTestKit
import GatewayContracts
import Testing
import GatewayJSON

/// The official JSON Schema Test Suite for draft 2020-12 (vendored under Tests/JSONSchemaTestSuite,
/// MIT licence, upstream commit in COMMIT): every case of every file in draft2020-12/, and every
/// case of optional/format/ with format assertion on. `remotes/` is served to the resolver as
/// http://localhost:1234/ without any network.
@Suite("JSON Schema Test Suite, draft 2020-12")
struct JSONSchemaSuiteTests {
    static let suiteDirectory = repositoryRoot.appendingPathComponent("Tests/JSONSchemaTestSuite")

    /// Cases deliberately not run, by "file: group: case", each with its reason. At most 1% of the cases.
    static let skipped: [String: String] = [:]

    struct Outcome {
        var passed = 0
        var failures: [String] = []
        var skipped = 0
    }

    static func remotes() throws -> [String: JSONValue] {
        let root = suiteDirectory.appendingPathComponent("remotes")
        var documents: [String: JSONValue] = [:]
        let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)
        while let url = enumerator?.nextObject() as? URL {
            guard url.pathExtension == "json" else { continue }
            let relative = url.path.dropFirst(root.path.count + 1)
            documents["http://localhost:1234/" + relative] = try JSONValue.parse(Data(contentsOf: url))
        }
        return documents
    }

    static func files(_ folder: String) throws -> [URL] {
        let directory = suiteDirectory.appendingPathComponent(folder)
        return try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "json" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    static func run(_ file: URL, name: String, assertFormat: Bool, remotes: [String: JSONValue], into outcome: inout Outcome) throws {
        guard case .array(let groups) = try JSONValue.parse(Data(contentsOf: file)) else {
            outcome.failures.append("\(name): not an array of groups")
            return
        }
        for group in groups {
            let description = group["description"]?.stringValue ?? "?"
            let schema = group["schema"] ?? .bool(true)
            let tests = group["tests"]?.arrayValue ?? []
            let validator: JSONSchemaValidator
            do {
                validator = try JSONSchemaValidator(schema: schema, options: .init(assertFormat: assertFormat), remotes: remotes)
            } catch {
                outcome.failures.append("\(name): \(description): schema does not compile: \(error)")
                continue
            }
            for test in tests {
                let caseName = "\(name): \(description): \(test["description"]?.stringValue ?? "?")"
                if skipped[caseName] != nil {
                    outcome.skipped += 1
                    continue
                }
                let data = test["data"] ?? .null
                let expected = test["valid"]?.boolValue ?? false
                let violations = validator.validate(data)
                let quick = validator.isValid(data)
                if violations.isEmpty != expected {
                    outcome.failures.append(
                        "\(caseName): expected \(expected ? "valid" : "invalid"), got \(violations.isEmpty ? "valid" : "invalid \(violations.map(\.description))")"
                    )
                } else if quick != expected {
                    outcome.failures.append("\(caseName): isValid says \(quick), validate says \(!quick)")
                } else {
                    outcome.passed += 1
                }
            }
        }
    }

    @Test("every case passes; skips are listed with reasons and stay under 1%")
    func wholeSuite() throws {
        let remotes = try Self.remotes()
        var outcome = Outcome()
        for file in try Self.files("draft2020-12") {
            try Self.run(file, name: file.lastPathComponent, assertFormat: false, remotes: remotes, into: &outcome)
        }
        for file in try Self.files("draft2020-12/optional/format") {
            try Self.run(file, name: "optional/format/" + file.lastPathComponent, assertFormat: true, remotes: remotes, into: &outcome)
        }
        let total = outcome.passed + outcome.failures.count + outcome.skipped
        // The suite's own count (MANIFEST.tsv), so a file that silently stopped loading is noticed.
        let manifest = try String(contentsOf: Self.suiteDirectory.appendingPathComponent("MANIFEST.tsv"), encoding: .utf8)
        let expectedTotal = manifest.split(separator: "\n").dropFirst().compactMap { Int($0.split(separator: "\t").last ?? "") }.reduce(
            0, +)
        #expect(total == expectedTotal, "ran \(total) cases, the manifest lists \(expectedTotal)")
        #expect(outcome.failures.isEmpty, "\(outcome.failures.count) of \(total) cases fail:\n\(outcome.failures.joined(separator: "\n"))")
        #expect(Double(outcome.skipped) <= Double(total) * 0.01)
        #expect(outcome.skipped == Self.skipped.count, "a listed skip no longer names a case")
    }
}
