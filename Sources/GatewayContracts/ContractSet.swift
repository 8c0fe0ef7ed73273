import Foundation
import GatewayJSON

/// The shared contracts of one version, loaded from `Contracts/` and compiled once:
/// the report envelope schema, the observation schema inside it, and the catalogue.
public struct ContractSet: Sendable {
    /// The version reports name in `contract_version`.
    public let version: String
    public let catalogue: IndicatorCatalogue
    public let reportValidator: JSONSchemaValidator
    public let observationValidator: JSONSchemaValidator

    struct Manifest: Decodable {
        struct Version: Decodable {
            let directory: String
            let schema: String
            let catalogue: String
        }
        let current: String
        let versions: [String: Version]
    }

    /// Loads the current version named by `manifest.json` in `directory`, or `version` if given.
    public static func load(from directory: URL, version: String? = nil) throws(ContractError) -> ContractSet {
        let manifestURL = directory.appendingPathComponent("manifest.json")
        let manifest: Manifest = try decodeFile(manifestURL)
        let chosen = version ?? manifest.current
        guard let entry = manifest.versions[chosen] else {
            throw ContractError(
                "\(manifestURL.path): contract version \(chosen) is not listed (have \(manifest.versions.keys.sorted().joined(separator: ", ")))"
            )
        }
        let versionDirectory = directory.appendingPathComponent(entry.directory)
        let schemaURL = versionDirectory.appendingPathComponent(entry.schema)
        let schema: JSONValue = try decodeFile(schemaURL)
        let catalogueURL = versionDirectory.appendingPathComponent(entry.catalogue)
        let catalogue: IndicatorCatalogue = try decodeFile(catalogueURL)
        for (index, indicator) in catalogue.indicators.enumerated() {
            guard let rhythm = indicator.reporting?.rhythm else { continue }
            if let outside = rhythm.first(where: { !indicator.periodicity.contains($0) }) {
                throw ContractError(
                    "\(catalogueURL.path): /indicators/\(index)/reporting/rhythm: \(indicator.code) requires \(outside.rawValue) figures but its periodicity does not accept them"
                )
            }
        }
        let strict = JSONSchemaValidator.Options(rejectUnknownKeywords: true)
        do {
            return ContractSet(
                version: chosen,
                catalogue: catalogue,
                reportValidator: try JSONSchemaValidator(schema: schema, options: strict),
                observationValidator: try JSONSchemaValidator(
                    schema: schema, at: JSONPointer(tokens: ["$defs", "observation"]), options: strict)
            )
        } catch {
            throw ContractError("\(schemaURL.path): \(error.message)")
        }
    }

    private static func decodeFile<T: Decodable>(_ url: URL) throws(ContractError) -> T {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ContractError("\(url.path): cannot be read (\(error.localizedDescription))")
        }
        do { return try JSONDecoder().decode(T.self, from: data) } catch let error as DecodingError {
            throw ContractError("\(url.path): \(DecodingErrorDescription.describe(error))")
        } catch {
            throw ContractError("\(url.path): \(error)")
        }
    }

    /// Checks one mapped record: the observation schema first, then, if its shape is right,
    /// the semantic rules. Returns the observation or every reason it fails.
    public func check(_ record: JSONValue, rules: SemanticRules) -> Result<Observation, QuarantineFailure> {
        // Most records are valid: ask yes or no first, and collect the errors only of those that are not.
        if !observationValidator.isValid(record) {
            let violations = observationValidator.validate(record)
            return .failure(
                QuarantineFailure(
                    reasons: violations.map {
                        QuarantineReason(pointer: $0.instanceLocation.description, rule: "schema.\($0.keyword)", message: $0.message)
                    }))
        }
        let observation: Observation
        do { observation = try Observation(json: record) } catch {
            return .failure(QuarantineFailure(reasons: [.init(pointer: "", rule: "schema.decode", message: "\(error)")]))
        }
        let reasons = rules.check(observation)
        return reasons.isEmpty ? .success(observation) : .failure(QuarantineFailure(reasons: reasons))
    }
}

public struct QuarantineFailure: Error, Sendable, Hashable {
    public var reasons: [QuarantineReason]
    public init(reasons: [QuarantineReason]) { self.reasons = reasons }
}

/// Turns `DecodingError` into a sentence with the field path, for configuration and contract files.
public enum DecodingErrorDescription {
    public static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().drop { $0 == "." }.description
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = path(context.codingPath)
            return "missing field \(parent.isEmpty ? "" : parent + ".")\(key.stringValue)"
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            return "field \(path(context.codingPath)): expected \(type)"
        case .dataCorrupted(let context):
            let location = path(context.codingPath)
            return location.isEmpty ? context.debugDescription : "field \(location): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}

/// Every contract version the manifest lists, so that a report is checked against the version it
/// names and a report made under an older version stays checkable after the gateway moves on.
public struct ContractLibrary: Sendable {
    public let current: String
    public let sets: [String: ContractSet]

    public static func load(from directory: URL) throws(ContractError) -> ContractLibrary {
        let manifestURL = directory.appendingPathComponent("manifest.json")
        let versions: [String]
        let current: String
        do {
            let manifest = try JSONDecoder().decode(ContractSet.Manifest.self, from: Data(contentsOf: manifestURL))
            versions = manifest.versions.keys.sorted()
            current = manifest.current
        } catch {
            throw ContractError("\(manifestURL.path): cannot be read as a contracts manifest (\(error))")
        }
        var sets: [String: ContractSet] = [:]
        for version in versions { sets[version] = try ContractSet.load(from: directory, version: version) }
        return ContractLibrary(current: current, sets: sets)
    }

    /// Why `report` (the signed payload) does not conform to the contract version it names: the
    /// schema's errors, then each observation's semantic rules. Empty when it conforms.
    public func problems(in report: JSONValue, limit: Int = 20) -> [String] {
        guard let version = report["contract_version"]?.stringValue else {
            return ["the report names no contract_version"]
        }
        guard let contracts = sets[version] else {
            return ["the report names contract version \(version), which is not one of \(sets.keys.sorted().joined(separator: ", "))"]
        }
        if !contracts.reportValidator.isValid(report) {
            return contracts.reportValidator.validate(report).prefix(limit).map(\.description)
        }
        let envelope: ReportEnvelope
        do { envelope = try ReportEnvelope(json: report) } catch {
            return ["the report does not decode: \(error)"]
        }
        let rules = SemanticRules(catalogue: contracts.catalogue, province: envelope.province)
        var problems: [String] = []
        for (index, observation) in envelope.observations.enumerated() {
            for reason in rules.check(observation) {
                problems.append("/observations/\(index)\(reason.pointer): \(reason.message) [\(reason.rule)]")
                if problems.count >= limit { return problems }
            }
        }
        return problems
    }
}
