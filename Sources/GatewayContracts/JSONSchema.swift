import Foundation

/// One failed assertion, in the shape of JSON Schema's "basic" output unit.
public struct SchemaViolation: Sendable, Hashable, CustomStringConvertible {
    /// Where in the instance the failure is.
    public let instanceLocation: JSONPointer
    /// The path of keywords followed through the schema, `$ref` included.
    public let keywordLocation: JSONPointer
    /// The keyword that failed, e.g. `maximum`.
    public var keyword: String { keywordLocation.tokens.last ?? "" }
    /// A sentence an operator understands.
    public let message: String

    public var description: String {
        "\(instanceLocation.description.isEmpty ? "/" : instanceLocation.description): \(message) [\(keywordLocation)]"
    }
}

/// A JSON Schema (draft 2020-12) compiled once into a tree of checks and reused for every instance.
///
/// Supported today: `$id`, `$defs`, `$ref` (to this document or to registered documents),
/// `$anchor`, `type`, `enum`, `const`, numeric, string, array and object limits, `multipleOf`,
/// `pattern`, `uniqueItems`, `required`, `dependentRequired`, `properties`, `patternProperties`,
/// `additionalProperties`, `propertyNames`, `prefixItems`, `items`, `contains` with
/// `minContains`/`maxContains`, `allOf`, `anyOf`, `oneOf`, `not`, `if`/`then`/`else`,
/// `dependentSchemas`, and `format` (an annotation unless `assertFormat` is set).
/// Keywords it does not know are rejected at compile time rather than silently ignored, so a
/// contract never claims a check that is not made.
public struct JSONSchemaValidator: Sendable {
    public struct Options: Sendable {
        /// Treat `format` as an assertion rather than an annotation.
        public var assertFormat: Bool
        public init(assertFormat: Bool = false) { self.assertFormat = assertFormat }
    }

    private let root: SchemaNode

    /// Compiles `schema`. `documents` are other schemas its `$ref`s may point to, by `$id`.
    public init(schema: JSONValue, options: Options = .init(), documents: [JSONValue] = []) throws(ContractError) {
        let compiler = SchemaCompiler(options: options)
        for document in documents { try compiler.register(document) }
        try compiler.register(schema)
        self.root = try compiler.compileRoot(schema)
    }

    /// Compiles the subschema at `pointer` (e.g. `/$defs/observation`) of `schema`.
    public init(schema: JSONValue, at pointer: JSONPointer, options: Options = .init()) throws(ContractError) {
        let compiler = SchemaCompiler(options: options)
        try compiler.register(schema)
        let base = schema["$id"]?.stringValue ?? SchemaCompiler.anonymousBase
        self.root = try compiler.node(for: base + "#" + pointer.description)
    }

    /// Every violation in `instance`; empty means valid.
    public func validate(_ instance: JSONValue) -> [SchemaViolation] {
        var violations: [SchemaViolation] = []
        root.evaluate(instance, at: JSONPointer(), keywordPath: JSONPointer(), into: &violations)
        return violations
    }

    public func isValid(_ instance: JSONValue) -> Bool { validate(instance).isEmpty }
}

// MARK: - Compiled tree

/// A compiled schema. A class so `$ref` cycles can point back at a node being compiled;
/// it is never mutated once `SchemaCompiler` has returned, hence `@unchecked Sendable`.
final class SchemaNode: @unchecked Sendable {
    /// `true` or `false` schemas have no keywords.
    var constant: Bool?
    var checks: [(keyword: String, check: Check)] = []

    func evaluate(_ value: JSONValue, at instance: JSONPointer, keywordPath: JSONPointer, into out: inout [SchemaViolation]) {
        if let constant {
            if !constant {
                out.append(.init(instanceLocation: instance, keywordLocation: keywordPath, message: "no value is allowed here"))
            }
            return
        }
        for (keyword, check) in checks {
            check.evaluate(value, at: instance, keywordPath: keywordPath.appending(keyword), into: &out)
        }
    }

    func isValid(_ value: JSONValue) -> Bool {
        var scratch: [SchemaViolation] = []
        evaluate(value, at: JSONPointer(), keywordPath: JSONPointer(), into: &scratch)
        return scratch.isEmpty
    }
}

/// A `$ref` target that may not be compiled yet when the reference is met.
final class NodeReference: @unchecked Sendable {
    var target: SchemaNode?
}

final class CompiledPattern: @unchecked Sendable {
    let source: String
    // NSRegularExpression is documented as safe to use from several threads once built.
    let regex: NSRegularExpression
    init(_ source: String) throws(ContractError) {
        self.source = source
        do { self.regex = try NSRegularExpression(pattern: source) } catch {
            throw ContractError("\"\(source)\" is not a valid regular expression")
        }
    }
    func matches(_ text: String) -> Bool {
        regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }
}

enum Check {
    case type([JSONValue.Kind])
    case enumeration([JSONValue])
    case constant(JSONValue)
    case multipleOf(Double)
    case maximum(Double, exclusive: Bool)
    case minimum(Double, exclusive: Bool)
    case maxLength(Int), minLength(Int)
    case pattern(CompiledPattern)
    case format(String)
    case maxItems(Int), minItems(Int), uniqueItems
    case maxProperties(Int), minProperties(Int)
    case required([String])
    case dependentRequired([String: [String]])
    case properties([String: SchemaNode])
    case patternProperties([(CompiledPattern, SchemaNode)])
    case additionalProperties(SchemaNode, known: Set<String>, patterns: [CompiledPattern])
    case propertyNames(SchemaNode)
    case prefixItems([SchemaNode])
    case items(SchemaNode, from: Int)
    case contains(SchemaNode, min: Int, max: Int?)
    case allOf([SchemaNode]), anyOf([SchemaNode]), oneOf([SchemaNode])
    case not(SchemaNode)
    case conditional(if: SchemaNode, then: SchemaNode?, else: SchemaNode?)
    case dependentSchemas([String: SchemaNode])
    case reference(NodeReference)

    func evaluate(_ value: JSONValue, at here: JSONPointer, keywordPath: JSONPointer, into out: inout [SchemaViolation]) {
        func fail(_ message: String) {
            out.append(.init(instanceLocation: here, keywordLocation: keywordPath, message: message))
        }
        switch self {
        case .type(let kinds):
            if !kinds.contains(where: value.isKind) {
                fail("expected \(kinds.map(\.rawValue).joined(separator: " or ")), found \(value.kindName)")
            }
        case .enumeration(let allowed):
            if !allowed.contains(value) {
                fail("\(Check.show(value)) is not one of \(allowed.map(Check.show).joined(separator: ", "))")
            }
        case .constant(let expected):
            if value != expected { fail("expected \(Check.show(expected)), found \(Check.show(value))") }
        case .multipleOf(let divisor):
            if case .number(let n) = value {
                let quotient = n / divisor
                if !quotient.isFinite || abs(quotient - quotient.rounded()) > 1e-9 {
                    fail("\(Check.show(value)) is not a multiple of \(Check.show(.number(divisor)))")
                }
            }
        case .maximum(let limit, let exclusive):
            if case .number(let n) = value, exclusive ? n >= limit : n > limit {
                fail("\(Check.show(value)) is greater than \(exclusive ? "or equal to " : "")the maximum \(Check.show(.number(limit)))")
            }
        case .minimum(let limit, let exclusive):
            if case .number(let n) = value, exclusive ? n <= limit : n < limit {
                fail("\(Check.show(value)) is less than \(exclusive ? "or equal to " : "")the minimum \(Check.show(.number(limit)))")
            }
        case .maxLength(let limit):
            if case .string(let s) = value, s.count > limit { fail("text is \(s.count) characters long, more than \(limit)") }
        case .minLength(let limit):
            if case .string(let s) = value, s.count < limit { fail("text is \(s.count) characters long, fewer than \(limit)") }
        case .pattern(let pattern):
            if case .string(let s) = value, !pattern.matches(s) {
                fail("\(Check.show(value)) does not match the pattern \(pattern.source)")
            }
        case .format(let format):
            if case .string(let s) = value, let valid = Formats.check(format, s), !valid {
                fail("\(Check.show(value)) is not a valid \(format)")
            }
        case .maxItems(let limit):
            if case .array(let a) = value, a.count > limit { fail("\(a.count) items, more than \(limit)") }
        case .minItems(let limit):
            if case .array(let a) = value, a.count < limit { fail("\(a.count) items, fewer than \(limit)") }
        case .uniqueItems:
            if case .array(let a) = value, Set(a).count != a.count { fail("items are not unique") }
        case .maxProperties(let limit):
            if case .object(let o) = value, o.count > limit { fail("\(o.count) properties, more than \(limit)") }
        case .minProperties(let limit):
            if case .object(let o) = value, o.count < limit { fail("\(o.count) properties, fewer than \(limit)") }
        case .required(let names):
            if case .object(let o) = value {
                for name in names where o[name] == nil {
                    out.append(.init(instanceLocation: here, keywordLocation: keywordPath, message: "required property \"\(name)\" is missing"))
                }
            }
        case .dependentRequired(let dependencies):
            if case .object(let o) = value {
                for (trigger, names) in dependencies.sorted(by: { $0.key < $1.key }) where o[trigger] != nil {
                    for name in names where o[name] == nil {
                        fail("property \"\(name)\" is required when \"\(trigger)\" is present")
                    }
                }
            }
        case .properties(let schemas):
            if case .object(let o) = value {
                for (name, member) in o.sorted(by: { $0.key < $1.key }) {
                    schemas[name]?.evaluate(member, at: here.appending(name), keywordPath: keywordPath.appending(name), into: &out)
                }
            }
        case .patternProperties(let pairs):
            if case .object(let o) = value {
                for (name, member) in o.sorted(by: { $0.key < $1.key }) {
                    for (pattern, schema) in pairs where pattern.matches(name) {
                        schema.evaluate(member, at: here.appending(name), keywordPath: keywordPath.appending(pattern.source), into: &out)
                    }
                }
            }
        case .additionalProperties(let schema, let known, let patterns):
            if case .object(let o) = value {
                for (name, member) in o.sorted(by: { $0.key < $1.key })
                where !known.contains(name) && !patterns.contains(where: { $0.matches(name) }) {
                    if schema.constant == false {
                        out.append(.init(instanceLocation: here.appending(name), keywordLocation: keywordPath, message: "property \"\(name)\" is not allowed"))
                    } else {
                        schema.evaluate(member, at: here.appending(name), keywordPath: keywordPath, into: &out)
                    }
                }
            }
        case .propertyNames(let schema):
            if case .object(let o) = value {
                for name in o.keys.sorted() where !schema.isValid(.string(name)) {
                    fail("property name \"\(name)\" is not allowed")
                }
            }
        case .prefixItems(let schemas):
            if case .array(let a) = value {
                for (index, schema) in schemas.enumerated() where index < a.count {
                    schema.evaluate(a[index], at: here.appending(index), keywordPath: keywordPath.appending(index), into: &out)
                }
            }
        case .items(let schema, let start):
            if case .array(let a) = value, a.count > start {
                for index in start..<a.count {
                    schema.evaluate(a[index], at: here.appending(index), keywordPath: keywordPath, into: &out)
                }
            }
        case .contains(let schema, let minimum, let maximum):
            if case .array(let a) = value {
                let matching = a.count(where: schema.isValid)
                if matching < minimum { fail("\(matching) items match \"contains\", fewer than \(minimum)") }
                if let maximum, matching > maximum { fail("\(matching) items match \"contains\", more than \(maximum)") }
            }
        case .allOf(let schemas):
            for (index, schema) in schemas.enumerated() {
                schema.evaluate(value, at: here, keywordPath: keywordPath.appending(index), into: &out)
            }
        case .anyOf(let schemas):
            var branches: [SchemaViolation] = []
            for (index, schema) in schemas.enumerated() {
                var attempt: [SchemaViolation] = []
                schema.evaluate(value, at: here, keywordPath: keywordPath.appending(index), into: &attempt)
                if attempt.isEmpty { return }
                branches += attempt
            }
            fail("matches none of the \(schemas.count) allowed forms")
            out += branches
        case .oneOf(let schemas):
            let matching = schemas.count(where: { $0.isValid(value) })
            if matching != 1 { fail("matches \(matching) of the forms in \"oneOf\", exactly one is required") }
        case .not(let schema):
            if schema.isValid(value) { fail("must not match the schema in \"not\"") }
        case .conditional(let condition, let then, let otherwise):
            if condition.isValid(value) {
                then?.evaluate(value, at: here, keywordPath: keywordPath.deletingLast().appending("then"), into: &out)
            } else {
                otherwise?.evaluate(value, at: here, keywordPath: keywordPath.deletingLast().appending("else"), into: &out)
            }
        case .dependentSchemas(let schemas):
            if case .object(let o) = value {
                for (trigger, schema) in schemas.sorted(by: { $0.key < $1.key }) where o[trigger] != nil {
                    schema.evaluate(value, at: here, keywordPath: keywordPath.appending(trigger), into: &out)
                }
            }
        case .reference(let reference):
            reference.target?.evaluate(value, at: here, keywordPath: keywordPath, into: &out)
        }
    }

    static func show(_ value: JSONValue) -> String {
        guard let data = try? value.canonicalData(), let text = String(data: data, encoding: .utf8) else { return "value" }
        return text.count > 60 ? String(text.prefix(57)) + "..." : text
    }
}

extension JSONPointer {
    func deletingLast() -> JSONPointer { JSONPointer(tokens: Array(tokens.dropLast())) }
}

// MARK: - Compiler

/// Turns schema documents into `SchemaNode` trees, resolving `$ref` by absolute URI.
final class SchemaCompiler {
    static let anonymousBase = "urn:lgsp-gateway:anonymous-schema"

    let options: JSONSchemaValidator.Options
    /// Schema resources by absolute URI without fragment.
    private var documents: [String: JSONValue] = [:]
    /// `$anchor`s as "base#name" → (document URI, pointer).
    private var anchors: [String: (String, JSONPointer)] = [:]
    /// Compiled nodes by "base#pointer", so shared and recursive references compile once.
    private var compiled: [String: SchemaNode] = [:]
    private var pending: [(NodeReference, String, JSONPointer)] = []

    init(options: JSONSchemaValidator.Options) { self.options = options }

    func register(_ document: JSONValue) throws(ContractError) {
        let base = document["$id"]?.stringValue ?? Self.anonymousBase
        try index(document, resourceBase: base, documentURI: base, pointer: JSONPointer())
    }

    /// Records every embedded `$id` and `$anchor` so references to them resolve.
    private func index(_ schema: JSONValue, resourceBase: String, documentURI: String, pointer: JSONPointer) throws(ContractError) {
        guard case .object(let members) = schema else { return }
        var base = resourceBase
        if let id = members["$id"]?.stringValue {
            base = SchemaCompiler.resolve(id, against: resourceBase).withoutFragment
            // An embedded resource is addressable by its own $id, as a document of its own.
            documents[base] = schema
        } else if pointer.tokens.isEmpty {
            documents[base] = schema
        }
        if let anchor = members["$anchor"]?.stringValue {
            anchors[base + "#" + anchor] = (documentURI, pointer)
        }
        for (key, child) in members {
            switch key {
            case "properties", "patternProperties", "$defs", "dependentSchemas":
                for (name, sub) in child.objectValue ?? [:] {
                    try index(sub, resourceBase: base, documentURI: documentURI, pointer: pointer.appending(key).appending(name))
                }
            case "allOf", "anyOf", "oneOf", "prefixItems":
                for (offset, sub) in (child.arrayValue ?? []).enumerated() {
                    try index(sub, resourceBase: base, documentURI: documentURI, pointer: pointer.appending(key).appending(offset))
                }
            case "items", "contains", "not", "if", "then", "else", "additionalProperties", "propertyNames":
                try index(child, resourceBase: base, documentURI: documentURI, pointer: pointer.appending(key))
            default:
                break
            }
        }
    }

    func compileRoot(_ schema: JSONValue) throws(ContractError) -> SchemaNode {
        let base = schema["$id"]?.stringValue ?? Self.anonymousBase
        let node = try node(for: base + "#")
        try resolvePending()
        return node
    }

    func node(for uri: String) throws(ContractError) -> SchemaNode {
        let (documentURI, pointer) = try locate(uri)
        let node = try compile(documentURI: documentURI, pointer: pointer)
        try resolvePending()
        return node
    }

    private func locate(_ uri: String) throws(ContractError) -> (String, JSONPointer) {
        let parts = uri.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
        let documentURI = String(parts[0])
        let fragment = parts.count > 1 ? String(parts[1]).removingPercentEncoding ?? String(parts[1]) : ""
        if !fragment.isEmpty, !fragment.hasPrefix("/") {
            guard let anchored = anchors[documentURI + "#" + fragment] else {
                throw ContractError("$ref \"\(uri)\": no $anchor \"\(fragment)\" in \(documentURI)")
            }
            return anchored
        }
        guard documents[documentURI] != nil else {
            throw ContractError("$ref \"\(uri)\": no schema with $id \(documentURI) is loaded")
        }
        return (documentURI, try JSONPointer(parsing: fragment))
    }

    private func compile(documentURI: String, pointer: JSONPointer) throws(ContractError) -> SchemaNode {
        let key = documentURI + "#" + pointer.description
        if let existing = compiled[key] { return existing }
        guard let document = documents[documentURI], let schema = pointer.resolve(in: document) else {
            throw ContractError("$ref target \(key) does not exist")
        }
        let node = SchemaNode()
        compiled[key] = node
        // The base URI in force is the nearest enclosing $id; embedded resources were indexed under their own.
        let base = baseURI(documentURI: documentURI, pointer: pointer)
        try fill(node, from: schema, documentURI: documentURI, pointer: pointer, base: base)
        return node
    }

    private func baseURI(documentURI: String, pointer: JSONPointer) -> String {
        var base = documentURI
        guard let document = documents[documentURI] else { return base }
        var current = document
        for token in pointer.tokens {
            guard let next = JSONPointer(tokens: [token]).resolve(in: current) else { break }
            current = next
            if let id = current["$id"]?.stringValue { base = SchemaCompiler.resolve(id, against: base).withoutFragment }
        }
        return base
    }

    private func sub(_ key: String, _ documentURI: String, _ pointer: JSONPointer) throws(ContractError) -> SchemaNode {
        try compile(documentURI: documentURI, pointer: pointer.appending(key))
    }

    private func fill(_ node: SchemaNode, from schema: JSONValue, documentURI: String, pointer: JSONPointer, base: String) throws(ContractError) {
        if case .bool(let constant) = schema {
            node.constant = constant
            return
        }
        guard case .object(let members) = schema else {
            throw ContractError("schema at \(documentURI)#\(pointer) must be an object or a boolean")
        }
        func at(_ key: String) -> JSONPointer { pointer.appending(key) }
        func number(_ key: String) throws(ContractError) -> Double {
            guard let n = members[key]?.numberValue else { throw ContractError("\"\(key)\" at \(documentURI)#\(pointer) must be a number") }
            return n
        }
        func count(_ key: String) throws(ContractError) -> Int {
            let n = try number(key)
            guard n >= 0, n.rounded() == n else { throw ContractError("\"\(key)\" at \(documentURI)#\(pointer) must be a non-negative integer") }
            return Int(n)
        }
        func list(_ key: String) throws(ContractError) -> [SchemaNode] {
            guard let items = members[key]?.arrayValue, !items.isEmpty else {
                throw ContractError("\"\(key)\" at \(documentURI)#\(pointer) must be a non-empty array of schemas")
            }
            var nodes: [SchemaNode] = []
            for index in items.indices { nodes.append(try compile(documentURI: documentURI, pointer: at(key).appending(index))) }
            return nodes
        }
        func map(_ key: String) throws(ContractError) -> [String: SchemaNode] {
            guard let object = members[key]?.objectValue else { throw ContractError("\"\(key)\" at \(documentURI)#\(pointer) must be an object") }
            var nodes: [String: SchemaNode] = [:]
            for name in object.keys { nodes[name] = try compile(documentURI: documentURI, pointer: at(key).appending(name)) }
            return nodes
        }

        var checks: [(String, Check)] = []
        for key in members.keys.sorted() {
            let value = members[key]!
            switch key {
            case "$schema", "$id", "$anchor", "$comment", "$defs", "$vocabulary", "title", "description", "default",
                "examples", "deprecated", "readOnly", "writeOnly", "contentMediaType", "contentEncoding", "contentSchema",
                "then", "else", "minContains", "maxContains", "x-unit", "x-source":
                continue
            case "$ref":
                guard let ref = value.stringValue else { throw ContractError("$ref at \(documentURI)#\(pointer) must be a string") }
                let reference = NodeReference()
                let target = SchemaCompiler.resolve(ref, against: base)
                let (targetDocument, targetPointer) = try locate(target)
                pending.append((reference, targetDocument, targetPointer))
                checks.append((key, .reference(reference)))
            case "type":
                let names = value.stringValue.map { [$0] } ?? value.arrayValue?.compactMap(\.stringValue) ?? []
                let kinds = names.compactMap(JSONValue.Kind.init(rawValue:))
                guard !kinds.isEmpty, kinds.count == names.count else {
                    throw ContractError("\"type\" at \(documentURI)#\(pointer) names an unknown type")
                }
                checks.append((key, .type(kinds)))
            case "enum":
                guard let allowed = value.arrayValue else { throw ContractError("\"enum\" at \(documentURI)#\(pointer) must be an array") }
                checks.append((key, .enumeration(allowed)))
            case "const": checks.append((key, .constant(value)))
            case "multipleOf":
                let divisor = try number(key)
                guard divisor > 0 else { throw ContractError("\"multipleOf\" at \(documentURI)#\(pointer) must be greater than 0") }
                checks.append((key, .multipleOf(divisor)))
            case "maximum": checks.append((key, .maximum(try number(key), exclusive: false)))
            case "exclusiveMaximum": checks.append((key, .maximum(try number(key), exclusive: true)))
            case "minimum": checks.append((key, .minimum(try number(key), exclusive: false)))
            case "exclusiveMinimum": checks.append((key, .minimum(try number(key), exclusive: true)))
            case "maxLength": checks.append((key, .maxLength(try count(key))))
            case "minLength": checks.append((key, .minLength(try count(key))))
            case "pattern":
                guard let source = value.stringValue else { throw ContractError("\"pattern\" at \(documentURI)#\(pointer) must be a string") }
                checks.append((key, .pattern(try CompiledPattern(source))))
            case "format":
                if options.assertFormat, let name = value.stringValue { checks.append((key, .format(name))) }
            case "maxItems": checks.append((key, .maxItems(try count(key))))
            case "minItems": checks.append((key, .minItems(try count(key))))
            case "uniqueItems": if value == .bool(true) { checks.append((key, .uniqueItems)) }
            case "maxProperties": checks.append((key, .maxProperties(try count(key))))
            case "minProperties": checks.append((key, .minProperties(try count(key))))
            case "required":
                guard let names = value.arrayValue?.compactMap(\.stringValue) else {
                    throw ContractError("\"required\" at \(documentURI)#\(pointer) must be an array of strings")
                }
                checks.append((key, .required(names)))
            case "dependentRequired":
                var dependencies: [String: [String]] = [:]
                for (name, list) in value.objectValue ?? [:] { dependencies[name] = list.arrayValue?.compactMap(\.stringValue) ?? [] }
                checks.append((key, .dependentRequired(dependencies)))
            case "properties": checks.append((key, .properties(try map(key))))
            case "patternProperties":
                var pairs: [(CompiledPattern, SchemaNode)] = []
                for name in (value.objectValue ?? [:]).keys.sorted() {
                    pairs.append((try CompiledPattern(name), try compile(documentURI: documentURI, pointer: at(key).appending(name))))
                }
                checks.append((key, .patternProperties(pairs)))
            case "additionalProperties":
                let known = Set(members["properties"]?.objectValue?.keys.map { $0 } ?? [])
                var patterns: [CompiledPattern] = []
                for name in (members["patternProperties"]?.objectValue ?? [:]).keys { patterns.append(try CompiledPattern(name)) }
                checks.append((key, .additionalProperties(try sub(key, documentURI, pointer), known: known, patterns: patterns)))
            case "propertyNames": checks.append((key, .propertyNames(try sub(key, documentURI, pointer))))
            case "prefixItems": checks.append((key, .prefixItems(try list(key))))
            case "items":
                let start = members["prefixItems"]?.arrayValue?.count ?? 0
                checks.append((key, .items(try sub(key, documentURI, pointer), from: start)))
            case "contains":
                let minimum = members["minContains"] == nil ? 1 : try count("minContains")
                let maximum = members["maxContains"] == nil ? nil : try count("maxContains")
                checks.append((key, .contains(try sub(key, documentURI, pointer), min: minimum, max: maximum)))
            case "allOf": checks.append((key, .allOf(try list(key))))
            case "anyOf": checks.append((key, .anyOf(try list(key))))
            case "oneOf": checks.append((key, .oneOf(try list(key))))
            case "not": checks.append((key, .not(try sub(key, documentURI, pointer))))
            case "if":
                let then = members["then"] == nil ? nil : try sub("then", documentURI, pointer)
                let otherwise = members["else"] == nil ? nil : try sub("else", documentURI, pointer)
                checks.append((key, .conditional(if: try sub(key, documentURI, pointer), then: then, else: otherwise)))
            case "dependentSchemas": checks.append((key, .dependentSchemas(try map(key))))
            default:
                throw ContractError("keyword \"\(key)\" at \(documentURI)#\(pointer) is not supported by this validator")
            }
        }
        node.checks = checks
    }

    private func resolvePending() throws(ContractError) {
        while let (reference, documentURI, pointer) = pending.popLast() {
            reference.target = try compile(documentURI: documentURI, pointer: pointer)
        }
    }

    /// RFC 3986 reference resolution, enough for `$id` and `$ref` values.
    static func resolve(_ reference: String, against base: String) -> String {
        if reference.hasPrefix("#") { return base.withoutFragment + reference }
        if reference.contains(":") && !reference.hasPrefix("/") { return reference }
        guard let baseURL = URL(string: base.withoutFragment), let resolved = URL(string: reference, relativeTo: baseURL) else {
            return reference
        }
        return resolved.absoluteString
    }
}

extension String {
    var withoutFragment: String {
        if let hash = firstIndex(of: "#") { return String(self[..<hash]) }
        return self
    }
}

/// Format assertions; `nil` means the format is unknown and so not asserted.
enum Formats {
    static func check(_ format: String, _ text: String) -> Bool? {
        switch format {
        case "date": return PeriodCalendar.parseDate(text) != nil
        case "date-time": return Timestamps.parse(text) != nil
        case "uuid": return UUID(uuidString: text) != nil && text.count == 36
        case "email":
            let parts = text.split(separator: "@", omittingEmptySubsequences: false)
            return parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".")
        default: return nil
        }
    }
}
