import ArgumentParser
import Foundation
import GatewayContracts
import GatewayJSON

struct Contracts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate documents against a JSON Schema, and print the indicator catalogue.",
        subcommands: [ValidateDocuments.self, Catalog.self])
}

/// `contracts validate`: any draft 2020-12 schema against any JSON files, the way the gateway validates.
struct ValidateDocuments: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Validate JSON files against a JSON Schema (draft 2020-12).",
        discussion: """
            Prints one line per file, "PATH: valid" or "PATH: invalid", the latter followed by each error \
            on an indented line: the instance location, the message, and the keyword location in brackets.
            Exits 0 when every file is valid, 1 when any is invalid (a file that is not JSON is invalid), \
            2 when the schema cannot be used or the command is misused.
            """)

    @Option(help: "The schema file.")
    var schema: String

    @Option(name: .customLong("ref"), help: "Another schema file the schema's $refs point to, by its $id or its path (repeatable).")
    var references: [String] = []

    @Flag(help: "Treat \"format\" as an assertion (date-time, email, uri, …) rather than an annotation.")
    var assertFormat = false

    @Argument(help: "The JSON files to validate.")
    var instances: [String]

    func validate() throws {
        guard !instances.isEmpty else { throw ValidationError("name at least one JSON file to validate") }
    }

    func run() async throws {
        var standardError = FileHandle.standardError
        let validator: JSONSchemaValidator
        let schemaURL = URL(fileURLWithPath: schema).standardizedFileURL
        do {
            var remotes: [String: JSONValue] = [:]
            for path in references {
                remotes[URL(fileURLWithPath: path).standardizedFileURL.absoluteString] = try Self.load(path)
            }
            var documents = Array(remotes.values.filter { $0["$id"] != nil })
            var root = try Self.load(schema)
            // Without its own $id the schema's base is its file, so relative $refs find --ref files.
            if root["$id"] == nil, case .object(var members) = root {
                members["$id"] = .string(schemaURL.absoluteString)
                root = .object(members)
            }
            documents.removeAll { $0["$id"] == root["$id"] }
            validator = try JSONSchemaValidator(
                schema: root, options: .init(assertFormat: assertFormat), documents: documents, remotes: remotes)
        } catch {
            // Locations inside the schema are URIs; say them with the path the operator typed.
            print(error.message.replacingOccurrences(of: schemaURL.absoluteString, with: schema), to: &standardError)
            throw ExitCode(2)
        }

        var anyInvalid = false
        for path in instances {
            let instance: JSONValue
            do { instance = try Self.load(path) } catch {
                anyInvalid = true
                print("\(path): invalid")
                print("    \(error.message.replacingOccurrences(of: "\(path): ", with: ""))")
                continue
            }
            let violations = validator.validate(instance)
            if violations.isEmpty {
                print("\(path): valid")
            } else {
                anyInvalid = true
                print("\(path): invalid")
                for violation in violations {
                    let location = violation.instanceLocation.description.isEmpty ? "(document)" : violation.instanceLocation.description
                    print(
                        "    \(location): \(violation.message) [\(violation.keywordLocation.description.isEmpty ? "#" : "#" + violation.keywordLocation.description)]"
                    )
                }
            }
        }
        if anyInvalid { throw ExitCode(1) }
    }

    /// Reads and parses a JSON file; a syntax error names the line and column.
    static func load(_ path: String) throws(ContractError) -> JSONValue {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ContractError("\(path): cannot be read (\((error as NSError).localizedDescription))")
        }
        do { return try JSONValue.parse(data) } catch let error as JSONSyntaxError {
            let prefix = data.prefix(error.offset)
            let line = prefix.count(where: { $0 == UInt8(ascii: "\n") }) + 1
            let column = prefix.count - (prefix.lastIndex(of: UInt8(ascii: "\n")).map { $0 - prefix.startIndex + 1 } ?? 0) + 1
            throw ContractError("\(path): not JSON: line \(line), column \(column): \(error.message)")
        } catch {
            throw ContractError("\(path): not JSON: \(error)")
        }
    }
}

struct Catalog: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Print the indicator catalogue of the contracts: indicators, and each province's targets and baselines with their sources.")

    @Option(
        help:
            "The contracts directory (holding manifest.json). Default: the repository's Contracts/, else /usr/share/lgsp-gateway/contracts."
    )
    var contracts: String?

    @Option(help: "The contract version; default: the current one.")
    var version: String?

    @Flag(help: "Print the catalogue as one JSON object.")
    var json = false

    func run() async throws {
        var standardError = FileHandle.standardError
        let directory = URL(fileURLWithPath: contracts ?? ContractsDirectory.default() ?? ContractsDirectory.installed)
        let set: ContractSet
        do { set = try ContractSet.load(from: directory, version: version) } catch {
            print(error.message, to: &standardError)
            throw ExitCode(2)
        }
        if json {
            print(String(decoding: try JSONValue(encoding: set.catalogue).canonicalData(), as: UTF8.self))
            return
        }
        print("contracts \(set.version): \(set.catalogue.indicators.count) indicators")
        for indicator in set.catalogue.indicators {
            // The levels and periods an indicator is accepted at: what an operator writing an
            // adapter must know before its first dry run refuses a figure by year or level; and
            // the periods the centre requires, which the calendar expects.
            let required = indicator.reporting.map { "; required: " + $0.rhythm.map(\.rawValue).joined(separator: ", ") } ?? ""
            print(
                "  \(indicator.code)  \(indicator.nameVI) (\(indicator.unit) "
                    + "\(SemanticRules.show(indicator.range.min))–\(SemanticRules.show(indicator.range.max)); levels: "
                    + "\(indicator.levels.map(\.rawValue).joined(separator: ", ")); periods: "
                    + "\(indicator.periodicity.map(\.rawValue).joined(separator: ", "))\(required))")
            for target in indicator.targets {
                print("      \(Self.describe(target, unit: indicator.unit))")
            }
        }
    }

    static func describe(_ target: IndicatorTarget, unit: String) -> String {
        let year: String
        switch target.year {
        case .year(let value): year = String(value)
        case .baseline: year = "baseline"
        }
        func number(_ value: Double?) -> String {
            guard let value else { return "?" }
            return value.rounded() == value ? String(Int(value)) : String(value)
        }
        let bound =
            target.comparator == "range" ? "\(number(target.min))–\(number(target.max))" : "\(target.comparator) \(number(target.value))"
        let level = target.level.map { " (\($0.rawValue))" } ?? ""
        return "\(target.province) \(year): \(bound) \(unit)\(level)  [\(target.source.seed)]"
    }
}

/// Where the contracts are when no option names them: the checkout's, else the installed ones.
enum ContractsDirectory {
    static let installed = "/usr/share/lgsp-gateway/contracts"

    static func `default`() -> String? {
        if let repository = RepositoryCheckout.locate() { return repository.appendingPathComponent("Contracts").path }
        return FileManager.default.fileExists(atPath: installed + "/manifest.json") ? installed : nil
    }
}
