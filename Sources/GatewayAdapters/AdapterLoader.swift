import Foundation
import GatewayConfig
import GatewayContracts
import GatewayHTTP

/// Reads adapter files (`*.yaml` in the adapters directory) into adapters, reporting every
/// problem with its file, line and field before anything runs.
public enum AdapterLoader {
    public static func definitions(directory: String, environment: ConfigEnvironment) throws(ConfigIssues) -> [AdapterSpec] {
        try files(directory: directory, environment: environment).map(\.spec)
    }

    /// Each adapter file read: the adapter, and the figures it declares its source responsible for.
    public static func files(directory: String, environment: ConfigEnvironment) throws(ConfigIssues) -> [AdapterFile] {
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: directory)
                .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        } catch {
            throw ConfigIssues([ConfigIssue(file: directory, line: nil, field: "", message: "the adapters directory cannot be read")])
        }
        var issues: [ConfigIssue] = []
        var definitions: [AdapterFile] = []
        var seen: [String: String] = [:]
        for file in files {
            let path = directory + "/" + file
            let reader = ConfigReader(file: path, environment: environment)
            let definition = reader.root.flatMap { parse($0) }
            let expectations = definition.flatMap { definition in
                reader.root?["expects"].map { DeclaredExpectation.parse($0, adapter: definition.name, file: path) }
            }
            issues += reader.issues
            if let definition, reader.issues.isEmpty {
                if let other = seen[definition.name] {
                    issues.append(
                        ConfigIssue(
                            file: path, line: reader.root?["name"]?.line, field: "name",
                            message: "adapter name \(definition.name) is already used by \(other)"))
                } else {
                    seen[definition.name] = path
                    definitions.append(AdapterFile(spec: definition, file: path, expectations: expectations ?? []))
                }
            }
        }
        if !issues.isEmpty { throw ConfigIssues(issues) }
        return definitions
    }

    /// One adapter file's text, read as `check` reads the file: for documentation blocks and the
    /// fuzzer, which have text rather than a directory.
    public static func definition(file: String, text: String, environment: ConfigEnvironment) throws(ConfigIssues) -> AdapterSpec {
        let reader = ConfigReader(file: file, text: text, environment: environment)
        let definition = reader.root.flatMap { parse($0) }
        guard let definition, reader.issues.isEmpty else {
            throw ConfigIssues(
                reader.issues.isEmpty
                    ? [ConfigIssue(file: file, line: nil, field: "", message: "not an adapter definition")] : reader.issues)
        }
        return definition
    }

    static func parse(_ root: ConfigValue) -> AdapterSpec? {
        if let sourceSystem = root.optionalString("source_system"), let control = SemanticRules.firstControlCharacter(in: sourceSystem) {
            root["source_system"]?.report(
                "holds the control character U+\(String(format: "%04X", control)); it is signed into every observation")
        }
        let name = root.string("name")
        if let name, !name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) {
            root["name"]?.report("use letters, digits, - and _ only")
        }
        switch root.optionalString("kind") ?? "http" {
        case "http": return HTTPAdapter.Definition.parse(root, name: name).map(AdapterSpec.http)
        case "exec": return ExecAdapter.Definition.parse(root, name: name).map(AdapterSpec.exec)
        case "compiled": return CompiledAdapterSpec.parse(root, name: name).map(AdapterSpec.compiled)
        case let kind:
            root["kind"]?.report("unknown adapter kind \"\(kind)\"; this version knows: http, exec, compiled")
            return nil
        }
    }
}
