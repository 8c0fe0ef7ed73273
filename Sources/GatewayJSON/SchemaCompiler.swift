import Foundation

/// Where a subschema is: the document it was registered as, and a JSON Pointer inside it.
struct SchemaLocation: Hashable {
    let document: String
    let pointer: JSONPointer

    var text: String {
        document == SchemaCompiler.anonymousBase ? "#" + pointer.description : document + "#" + pointer.description
    }
}

/// The vocabularies of draft 2020-12. A metaschema's `$vocabulary` says which of them a schema uses.
enum Vocabulary: String, CaseIterable {
    case core, applicator, unevaluated, validation, metaData = "meta-data", formatAnnotation = "format-annotation"
    case formatAssertion = "format-assertion", content

    static let uriPrefix = "https://json-schema.org/draft/2020-12/vocab/"
    static let standardDialect: Set<Vocabulary> = Set(allCases).subtracting([.formatAssertion])

    /// Which vocabulary defines each keyword that has an effect on validation or on references.
    static let ofKeyword: [String: Vocabulary] = {
        var map: [String: Vocabulary] = [:]
        for keyword in ["$schema", "$id", "$ref", "$anchor", "$dynamicRef", "$dynamicAnchor", "$vocabulary", "$comment", "$defs"] {
            map[keyword] = .core
        }
        for keyword in [
            "prefixItems", "items", "contains", "additionalProperties", "properties", "patternProperties", "dependentSchemas",
            "propertyNames", "if", "then", "else", "allOf", "anyOf", "oneOf", "not",
        ] {
            map[keyword] = .applicator
        }
        map["unevaluatedItems"] = .unevaluated
        map["unevaluatedProperties"] = .unevaluated
        for keyword in [
            "type", "const", "enum", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength",
            "minLength", "pattern", "maxItems", "minItems", "uniqueItems", "maxContains", "minContains", "maxProperties",
            "minProperties", "required", "dependentRequired",
        ] {
            map[keyword] = .validation
        }
        for keyword in ["title", "description", "default", "deprecated", "readOnly", "writeOnly", "examples"] {
            map[keyword] = .metaData
        }
        map["format"] = .formatAnnotation
        for keyword in ["contentEncoding", "contentMediaType", "contentSchema"] {
            map[keyword] = .content
        }
        return map
    }()
}

/// Turns schema documents into `SchemaNode` trees, resolving `$ref` and `$dynamicRef` by
/// absolute URI (RFC 3986) against the `$id` in force.
final class SchemaCompiler {
    static let anonymousBase = "urn:lgsp-gateway:anonymous-schema"

    private let options: JSONSchemaValidator.Options
    private let remotes: [String: JSONValue]
    /// Documents by the URI they were registered (retrieved) as.
    private var documents: [String: JSONValue] = [:]
    /// Schema resources by absolute URI without fragment: registered documents and every `$id`.
    private var resources: [String: SchemaLocation] = [:]
    /// `$anchor`s and `$dynamicAnchor`s as "resource#name".
    private var anchors: [String: SchemaLocation] = [:]
    /// `$dynamicAnchor`s by resource URI, then name.
    private var dynamicAnchors: [String: [String: SchemaLocation]] = [:]
    private var resourceObjects: [String: SchemaResource] = [:]
    private var compiled: [SchemaLocation: SchemaNode] = [:]
    private var pending: [(NodeReference, SchemaLocation)] = []
    /// Anchor names some `$dynamicRef` may resolve dynamically.
    private var dynamicNames: Set<String> = []
    /// Whether some compiled `$dynamicRef` searches the dynamic scope: without one, evaluation need not keep it.
    var usesDynamicScope: Bool { !dynamicNames.isEmpty }
    private var vocabularyCache: [String: Set<Vocabulary>] = [:]

    init(options: JSONSchemaValidator.Options, remotes: [String: JSONValue]) {
        self.options = options
        self.remotes = remotes
    }

    func register(_ document: JSONValue, uri: String) throws(ContractError) {
        let uri = uri.withoutFragment
        guard documents[uri] == nil else { return }
        documents[uri] = document
        let root = SchemaLocation(document: uri, pointer: JSONPointer())
        resources[uri] = root
        index(document, base: uri, location: root)
    }

    /// Records every `$id`, `$anchor` and `$dynamicAnchor` in places that hold schemas. An `$id`
    /// inside an unknown keyword is just data, as the specification says.
    private func index(_ schema: JSONValue, base: String, location: SchemaLocation) {
        guard case .object(let members) = schema else { return }
        var base = base
        if let id = members["$id"]?.stringValue {
            base = URIReference.resolve(id, against: base).withoutFragment
            if resources[base] == nil { resources[base] = location }
        }
        if let anchor = members["$anchor"]?.stringValue { anchors[base + "#" + anchor] = location }
        if let anchor = members["$dynamicAnchor"]?.stringValue {
            anchors[base + "#" + anchor] = location
            dynamicAnchors[base, default: [:]][anchor] = location
        }
        func child(_ key: String, _ token: String?) -> SchemaLocation {
            var pointer = location.pointer.appending(key)
            if let token { pointer = pointer.appending(token) }
            return SchemaLocation(document: location.document, pointer: pointer)
        }
        for (key, value) in members {
            switch key {
            case "properties", "patternProperties", "$defs", "definitions", "dependentSchemas":
                for (name, sub) in value.objectValue ?? [:] { index(sub, base: base, location: child(key, name)) }
            case "allOf", "anyOf", "oneOf", "prefixItems":
                for (offset, sub) in (value.arrayValue ?? []).enumerated() { index(sub, base: base, location: child(key, String(offset))) }
            case "items", "contains", "not", "if", "then", "else", "additionalProperties", "propertyNames", "unevaluatedItems",
                "unevaluatedProperties", "contentSchema":
                index(value, base: base, location: child(key, nil))
            default:
                break
            }
        }
    }

    /// Makes `uri` available if a remote document or a bundled metaschema has it.
    private func load(_ uri: String) throws(ContractError) -> Bool {
        if resources[uri] != nil { return true }
        if let document = remotes[uri] {
            try register(document, uri: uri)
            return true
        }
        if let text = Metaschemas.texts[uri] {
            do { try register(JSONValue.parse(Data(text.utf8)), uri: uri) } catch {
                throw ContractError("the bundled metaschema \(uri) does not parse: \(error)")
            }
            return true
        }
        return false
    }

    func compileRoot(_ location: SchemaLocation) throws(ContractError) -> SchemaNode {
        guard let document = documents[location.document], location.pointer.resolve(in: document) != nil else {
            throw ContractError("there is no schema at \(location.text)")
        }
        let node = try compile(location)
        try finish()
        return node
    }

    /// Compiles every pending reference target, and each resource's dynamic anchors that some
    /// `$dynamicRef` may pick, until nothing new appears.
    private func finish() throws(ContractError) {
        var changed = true
        while changed {
            changed = false
            while let (reference, location) = pending.popLast() {
                reference.target = try compile(location)
                changed = true
            }
            guard !dynamicNames.isEmpty else { continue }
            for (uri, resource) in Array(resourceObjects) {
                for (name, location) in dynamicAnchors[uri] ?? [:] where dynamicNames.contains(name) && resource.dynamicAnchors[name] == nil
                {
                    resource.dynamicAnchors[name] = try compile(location)
                    changed = true
                }
            }
        }
    }

    private func resourceObject(_ uri: String) -> SchemaResource {
        if let existing = resourceObjects[uri] { return existing }
        let created = SchemaResource(uri: uri)
        resourceObjects[uri] = created
        return created
    }

    /// The base URI and the vocabularies in force at `location`: the nearest enclosing `$id` and `$schema`.
    private func context(of location: SchemaLocation) throws(ContractError) -> (base: String, vocabularies: Set<Vocabulary>) {
        guard var current = documents[location.document] else { throw ContractError("\(location.text) is not loaded") }
        var base = location.document
        var metaschema: String? = nil
        func enter(_ schema: JSONValue) {
            if let id = schema["$id"]?.stringValue { base = URIReference.resolve(id, against: base).withoutFragment }
            if let dialect = schema["$schema"]?.stringValue { metaschema = dialect }
        }
        enter(current)
        for token in location.pointer.tokens {
            guard let next = JSONPointer(tokens: [token]).resolve(in: current) else { break }
            current = next
            enter(current)
        }
        return (base, try vocabularies(declaredBy: metaschema, at: location))
    }

    private func vocabularies(declaredBy metaschema: String?, at location: SchemaLocation) throws(ContractError) -> Set<Vocabulary> {
        guard let metaschema else { return Vocabulary.standardDialect }
        let uri = metaschema.withoutFragment
        if uri == Metaschemas.draft202012 { return Vocabulary.standardDialect }
        if let cached = vocabularyCache[uri] { return cached }
        guard try load(uri), let resource = resources[uri], let document = documents[resource.document],
            let schema = resource.pointer.resolve(in: document)
        else {
            throw ContractError(
                "\(location.text): \"$schema\": \(metaschema) is neither JSON Schema draft 2020-12 nor a metaschema that is loaded")
        }
        var result: Set<Vocabulary> = []
        if let declared = schema["$vocabulary"]?.objectValue {
            for (vocabularyURI, required) in declared {
                if vocabularyURI.hasPrefix(Vocabulary.uriPrefix),
                    let vocabulary = Vocabulary(rawValue: String(vocabularyURI.dropFirst(Vocabulary.uriPrefix.count)))
                {
                    result.insert(vocabulary)
                } else if required == .bool(true) {
                    throw ContractError(
                        "\(location.text): the metaschema \(metaschema) requires the vocabulary \(vocabularyURI), which this validator does not implement"
                    )
                }
            }
        } else {
            result = Vocabulary.standardDialect
        }
        vocabularyCache[uri] = result
        return result
    }

    /// Resolves an absolute reference to the subschema it names.
    private func locate(_ uri: String, from location: SchemaLocation, keyword: String) throws(ContractError) -> SchemaLocation {
        let resourceURI = uri.withoutFragment
        let rawFragment = uri.count > resourceURI.count ? String(uri.dropFirst(resourceURI.count + 1)) : ""
        let fragment = rawFragment.removingPercentEncoding ?? rawFragment
        guard try load(resourceURI), let resource = resources[resourceURI] else {
            throw ContractError(
                "\(location.text): \"\(keyword)\": no schema \(resourceURI) is loaded (nothing is fetched from the network)")
        }
        if fragment.isEmpty { return resource }
        if fragment.hasPrefix("/") {
            let pointer: JSONPointer
            do { pointer = try JSONPointer(parsing: fragment) } catch {
                throw ContractError("\(location.text): \"\(keyword)\": \(error.message)")
            }
            let target = SchemaLocation(document: resource.document, pointer: JSONPointer(tokens: resource.pointer.tokens + pointer.tokens))
            guard let document = documents[target.document], target.pointer.resolve(in: document) != nil else {
                throw ContractError("\(location.text): \"\(keyword)\": \(uri) points at nothing")
            }
            return target
        }
        guard let anchored = anchors[resourceURI + "#" + fragment] else {
            throw ContractError("\(location.text): \"\(keyword)\": there is no anchor \"\(fragment)\" in \(resourceURI)")
        }
        return anchored
    }

    private func compile(_ location: SchemaLocation) throws(ContractError) -> SchemaNode {
        if let existing = compiled[location] { return existing }
        guard let document = documents[location.document], let schema = location.pointer.resolve(in: document) else {
            throw ContractError("\(location.text) does not exist")
        }
        let (base, vocabularies) = try context(of: location)
        // Subschemas form a tree, and references are resolved after compiling, so a node's
        // children are complete before it is built and every node can be immutable.
        let node = try build(from: schema, at: location, base: base, vocabularies: vocabularies, resource: resourceObject(base))
        compiled[location] = node
        return node
    }

    // swiftlint:disable:next cyclomatic_complexity function_body_length
    private func build(
        from schema: JSONValue, at location: SchemaLocation, base: String, vocabularies: Set<Vocabulary>, resource: SchemaResource
    ) throws(ContractError) -> SchemaNode {
        if case .bool(let constant) = schema {
            return SchemaNode(resource: resource, constant: constant, keywords: [], unevaluated: [])
        }
        guard case .object(let members) = schema else {
            throw ContractError("\(location.text): a schema must be an object or a boolean")
        }
        func problem(_ key: String, _ text: String) -> ContractError {
            ContractError(
                "\(SchemaLocation(document: location.document, pointer: location.pointer.appending(key)).text): \"\(key)\" \(text)")
        }
        func sub(_ key: String, _ token: String? = nil) throws(ContractError) -> SchemaNode {
            var pointer = location.pointer.appending(key)
            if let token { pointer = pointer.appending(token) }
            return try compile(SchemaLocation(document: location.document, pointer: pointer))
        }
        func number(_ key: String) throws(ContractError) -> Double {
            guard let n = members[key]?.numberValue else { throw problem(key, "must be a number") }
            return n
        }
        func count(_ key: String) throws(ContractError) -> Int {
            let n = try number(key)
            guard n >= 0, n.rounded() == n, n < Double(Int.max) else { throw problem(key, "must be a non-negative integer") }
            return Int(n)
        }
        func list(_ key: String) throws(ContractError) -> [SchemaNode] {
            guard let items = members[key]?.arrayValue, !items.isEmpty else { throw problem(key, "must be a non-empty array of schemas") }
            var nodes: [SchemaNode] = []
            for index in items.indices { nodes.append(try sub(key, String(index))) }
            return nodes
        }
        func map(_ key: String) throws(ContractError) -> [(String, SchemaNode)] {
            guard let object = members[key]?.objectValue else { throw problem(key, "must be an object whose values are schemas") }
            var nodes: [(String, SchemaNode)] = []
            for name in object.keys.sorted() { nodes.append((name, try sub(key, name))) }
            return nodes
        }
        func regex(_ source: String, _ key: String) throws(ContractError) -> ECMARegex {
            do { return try ECMARegex(source) } catch { throw problem(key, "has \(error.message)") }
        }
        func reference(_ key: String) throws(ContractError) -> (NodeReference, SchemaLocation, String) {
            guard let text = members[key]?.stringValue else { throw problem(key, "must be a string") }
            let target = URIReference.resolve(text, against: base)
            let targetLocation = try locate(target, from: location, keyword: key)
            let reference = NodeReference()
            pending.append((reference, targetLocation))
            return (reference, targetLocation, target)
        }

        let assertFormat = options.assertFormat || vocabularies.contains(.formatAssertion)
        var keywords: [Keyword] = []
        var unevaluated: [Keyword] = []
        for key in members.keys.sorted() {
            let value = members[key]!
            guard let vocabulary = Vocabulary.ofKeyword[key] else {
                if options.rejectUnknownKeywords, !key.hasPrefix("x-") {
                    throw problem(key, "is not a JSON Schema 2020-12 keyword (extensions must start with \"x-\")")
                }
                continue
            }
            let enabled =
                vocabulary == .core || vocabularies.contains(vocabulary)
                || (vocabulary == .formatAnnotation && vocabularies.contains(.formatAssertion))
            guard enabled else { continue }
            var check: Check
            switch key {
            case "$ref":
                check = .reference(try reference(key).0)
            case "$dynamicRef":
                let (target, _, uri) = try reference(key)
                let resourceURI = uri.withoutFragment
                let fragment = uri.count > resourceURI.count ? String(uri.dropFirst(resourceURI.count + 1)) : ""
                // Dynamic only when the statically resolved target itself declares the anchor
                // dynamically (the "bookending" rule); otherwise it behaves as `$ref`.
                if !fragment.isEmpty, !fragment.hasPrefix("/"), dynamicAnchors[resourceURI]?[fragment] != nil {
                    dynamicNames.insert(fragment)
                    check = .dynamicReference(target, anchor: fragment)
                } else {
                    check = .reference(target)
                }
            case "type":
                let names = value.stringValue.map { [$0] } ?? value.arrayValue?.compactMap(\.stringValue) ?? []
                let kinds = names.compactMap(JSONValue.Kind.init(rawValue:))
                guard !kinds.isEmpty, kinds.count == names.count, Set(kinds).count == kinds.count else {
                    throw problem(key, "must name one or more of null, boolean, object, array, number, string, integer, each once")
                }
                check = .type(kinds, mask: kinds.reduce(0) { $0 | Check.typeBit($1) })
            case "enum":
                guard let allowed = value.arrayValue else { throw problem(key, "must be an array") }
                check = .enumeration(allowed)
            case "const":
                check = .constant(value)
            case "multipleOf":
                let divisor = try number(key)
                guard divisor > 0 else { throw problem(key, "must be greater than 0") }
                check = .multipleOf(divisor)
            case "maximum": check = .maximum(try number(key), exclusive: false)
            case "exclusiveMaximum": check = .maximum(try number(key), exclusive: true)
            case "minimum": check = .minimum(try number(key), exclusive: false)
            case "exclusiveMinimum": check = .minimum(try number(key), exclusive: true)
            case "maxLength": check = .maxLength(try count(key))
            case "minLength": check = .minLength(try count(key))
            case "pattern":
                guard let source = value.stringValue else { throw problem(key, "must be a string") }
                check = .pattern(try regex(source, key))
            case "format":
                guard let name = value.stringValue else { throw problem(key, "must be a string") }
                guard assertFormat else { continue }
                check = .format(name)
            case "maxItems": check = .maxItems(try count(key))
            case "minItems": check = .minItems(try count(key))
            case "uniqueItems":
                guard let unique = value.boolValue else { throw problem(key, "must be a boolean") }
                guard unique else { continue }
                check = .uniqueItems
            case "maxProperties": check = .maxProperties(try count(key))
            case "minProperties": check = .minProperties(try count(key))
            case "required":
                guard let names = value.arrayValue, names.allSatisfy({ $0.stringValue != nil }) else {
                    throw problem(key, "must be an array of property names")
                }
                check = .required(names.compactMap(\.stringValue))
            case "dependentRequired":
                guard let object = value.objectValue else { throw problem(key, "must be an object") }
                var dependencies: [(String, [String])] = []
                for name in object.keys.sorted() {
                    guard let names = object[name]?.arrayValue, names.allSatisfy({ $0.stringValue != nil }) else {
                        throw problem(key, "must map each property to an array of property names")
                    }
                    dependencies.append((name, names.compactMap(\.stringValue)))
                }
                check = .dependentRequired(dependencies)
            case "properties":
                check = .properties(try map(key))
            case "patternProperties":
                var pairs: [(ECMARegex, SchemaNode)] = []
                for (name, node) in try map(key) { pairs.append((try regex(name, key), node)) }
                check = .patternProperties(pairs)
            case "additionalProperties":
                let known = Set(members["properties"]?.objectValue?.keys.map(MemberName.init) ?? [])
                var patterns: [ECMARegex] = []
                for name in (members["patternProperties"]?.objectValue ?? [:]).keys.sorted() {
                    patterns.append(try regex(name, "patternProperties"))
                }
                check = .additionalProperties(try sub(key), known: known, patterns: patterns)
            case "propertyNames": check = .propertyNames(try sub(key))
            case "prefixItems": check = .prefixItems(try list(key))
            case "items":
                check = .items(try sub(key), from: members["prefixItems"]?.arrayValue?.count ?? 0)
            case "contains":
                let validation = vocabularies.contains(.validation)
                let minimum = validation && members["minContains"] != nil ? try count("minContains") : 1
                let maximum = validation && members["maxContains"] != nil ? try count("maxContains") : nil
                check = .contains(try sub(key), min: minimum, max: maximum)
            case "allOf": check = .allOf(try list(key))
            case "anyOf": check = .anyOf(try list(key))
            case "oneOf": check = .oneOf(try list(key))
            case "not": check = .not(try sub(key))
            case "if":
                let then = members["then"] == nil ? nil : try sub("then")
                let otherwise = members["else"] == nil ? nil : try sub("else")
                check = .conditional(if: try sub(key), then: then, else: otherwise)
            case "dependentSchemas": check = .dependentSchemas(try map(key))
            case "unevaluatedProperties":
                unevaluated.append(Keyword(name: key, check: .unevaluatedProperties(try sub(key))))
                continue
            case "unevaluatedItems":
                unevaluated.append(Keyword(name: key, check: .unevaluatedItems(try sub(key))))
                continue
            default:
                // Identifiers, annotations, and keywords read by a neighbour (`then`, `minContains`…).
                continue
            }
            keywords.append(Keyword(name: key, check: check))
        }
        unevaluated.sort { $0.name < $1.name }
        return SchemaNode(resource: resource, constant: nil, keywords: keywords, unevaluated: unevaluated)
    }
}
