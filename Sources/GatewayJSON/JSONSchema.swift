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

    /// The same failure of an instance validated on its own, placed where it lies in a larger one.
    package func located(under parent: JSONPointer) -> SchemaViolation {
        SchemaViolation(
            instanceLocation: JSONPointer(tokens: parent.tokens + instanceLocation.tokens), keywordLocation: keywordLocation,
            message: message)
    }
}

/// A JSON Schema (draft 2020-12) compiled once into a tree of checks and reused for every instance.
///
/// Every vocabulary of the draft is implemented: core (`$id`, `$ref`, `$anchor`, `$dynamicRef`,
/// `$dynamicAnchor`, `$vocabulary`), applicator, unevaluated, validation, format (an annotation
/// unless `assertFormat` is set, or the schema's metaschema requires format-assertion), content and
/// meta-data (annotations). The draft's metaschemas are bundled. It passes the official test suite;
/// `Tests/GatewayTests/JSONSchemaSuiteTests.swift` runs all of it.
public struct JSONSchemaValidator: Sendable {
    public struct Options: Sendable {
        /// Treat `format` as an assertion rather than an annotation.
        public var assertFormat: Bool
        /// Refuse keywords that no vocabulary defines (`x-` extensions excepted), so that a contract
        /// never appears to make a check that nothing makes. The specification says to ignore them;
        /// the gateway's own contracts are compiled with this on.
        public var rejectUnknownKeywords: Bool
        public init(assertFormat: Bool = false, rejectUnknownKeywords: Bool = false) {
            self.assertFormat = assertFormat
            self.rejectUnknownKeywords = rejectUnknownKeywords
        }
    }

    private let root: SchemaNode
    private let usesDynamicScope: Bool

    /// Compiles `schema`. `documents` are other schemas its `$ref`s may point to, by their `$id`;
    /// `remotes` are documents by the URI they would be retrieved from (nothing is fetched).
    public init(
        schema: JSONValue, options: Options = .init(), documents: [JSONValue] = [], remotes: [String: JSONValue] = [:]
    ) throws(ContractError) {
        let compiler = SchemaCompiler(options: options, remotes: remotes)
        for document in documents {
            try compiler.register(document, uri: document["$id"]?.stringValue ?? SchemaCompiler.anonymousBase)
        }
        let base =
            schema["$id"]?.stringValue.map { URIReference.resolve($0, against: SchemaCompiler.anonymousBase).withoutFragment }
            ?? SchemaCompiler.anonymousBase
        try compiler.register(schema, uri: base)
        self.root = try compiler.compileRoot(SchemaLocation(document: base, pointer: JSONPointer()))
        self.usesDynamicScope = compiler.usesDynamicScope
    }

    /// Compiles the subschema at `pointer` (e.g. `/$defs/observation`) of `schema`.
    public init(schema: JSONValue, at pointer: JSONPointer, options: Options = .init()) throws(ContractError) {
        let compiler = SchemaCompiler(options: options, remotes: [:])
        let base =
            schema["$id"]?.stringValue.map { URIReference.resolve($0, against: SchemaCompiler.anonymousBase).withoutFragment }
            ?? SchemaCompiler.anonymousBase
        try compiler.register(schema, uri: base)
        self.root = try compiler.compileRoot(SchemaLocation(document: base, pointer: pointer))
        self.usesDynamicScope = compiler.usesDynamicScope
    }

    /// Every violation in `instance`, in the "basic" output's flat form; empty means valid.
    public func validate(_ instance: JSONValue) -> [SchemaViolation] {
        var state = EvaluationState(tracksScope: usesDynamicScope)
        var evaluated: Evaluated? = nil
        _ = root.evaluate(instance, &state, Trace(), &evaluated)
        return state.violations
    }

    /// Whether `instance` is valid, stopping at the first failure and recording nothing.
    public func isValid(_ instance: JSONValue) -> Bool {
        var state = EvaluationState(tracksScope: usesDynamicScope)
        var evaluated: Evaluated? = nil
        return root.evaluate(instance, &state, nil, &evaluated)
    }
}

// MARK: - Evaluation

/// The instance and schema locations of the keyword being evaluated; carried only when errors are
/// reported, so the yes-or-no path builds no pointers.
struct Trace {
    var instance = JSONPointer()
    var keyword = JSONPointer()

    func keyword(_ name: String) -> Trace { Trace(instance: instance, keyword: keyword.appending(name)) }
    func child(_ token: String) -> Trace { Trace(instance: instance.appending(token), keyword: keyword) }
    func keyword(_ name: String, _ index: Int) -> Trace { Trace(instance: instance, keyword: keyword.appending(name).appending(index)) }
}

/// The annotations `unevaluatedProperties` and `unevaluatedItems` read: which members and items
/// some successful subschema at the same instance location has looked at.
struct Evaluated {
    var allProperties = false
    var properties: Set<MemberName> = []
    var allItems = false
    /// Items before this index have been evaluated (`prefixItems`).
    var itemPrefix = 0
    /// Items `contains` matched.
    var itemIndices: Set<Int> = []

    mutating func merge(_ other: Evaluated) {
        allProperties = allProperties || other.allProperties
        if !allProperties { properties.formUnion(other.properties) }
        allItems = allItems || other.allItems
        itemPrefix = max(itemPrefix, other.itemPrefix)
        if !allItems { itemIndices.formUnion(other.itemIndices) }
    }

    func covers(property name: String) -> Bool { allProperties || properties.contains(MemberName(name)) }
    func covers(item index: Int) -> Bool { allItems || index < itemPrefix || itemIndices.contains(index) }
}

struct EvaluationState {
    /// The schema resources entered so far, outermost first: the dynamic scope `$dynamicRef` searches.
    var scope: [SchemaResource] = []
    /// False when no `$dynamicRef` would read `scope`: keeping it cost an array allocation per call.
    let tracksScope: Bool
    /// The last of `scope`, compared on every node without touching reference counts.
    var innermost: ObjectIdentifier?
    var violations: [SchemaViolation] = []
    var depth = 0

    /// Deeper than any sensible schema and instance; reached only by a reference cycle that never
    /// moves into the instance, which would otherwise recurse until the stack overflows.
    static let maximumDepth = 500

    mutating func fail(_ trace: Trace?, _ message: String) {
        guard let trace else { return }
        violations.append(SchemaViolation(instanceLocation: trace.instance, keywordLocation: trace.keyword, message: message))
    }
}

/// A schema resource (a document or a subschema with its own `$id`), for the dynamic scope.
final class SchemaResource: @unchecked Sendable {
    let uri: String
    /// Filled while compiling, read-only afterwards.
    var dynamicAnchors: [String: SchemaNode] = [:]
    init(uri: String) { self.uri = uri }
}

/// A compiled schema. A class so `$ref` cycles can point back at a node being compiled;
/// it is never mutated once `SchemaCompiler` has returned, hence `@unchecked Sendable`.
final class SchemaNode: Sendable {
    /// `true` or `false` schemas have no keywords.
    let constant: Bool?
    /// Every keyword's check, for reporting each failure at its own keyword.
    let checks: [Check]
    let names: [String]
    /// The same checks with `properties`, `additionalProperties` and `required` fused into one
    /// pass over the instance's members, for the yes-or-no path.
    let fastChecks: [Check]
    /// `unevaluatedItems` and `unevaluatedProperties`, which need every other keyword's annotations first.
    let unevaluated: [Check]
    let unevaluatedNames: [String]
    let resource: SchemaResource
    /// Only checks of the value itself (type, pattern, limits…), no subschemas: the yes-or-no path
    /// needs neither the dynamic scope nor the depth guard nor annotations, and skips them.
    let isLeaf: Bool
    /// The same checks of a leaf schema of scalars as plain fields, for the yes-or-no path: a
    /// property's type, pattern and limits are read in one function rather than one dispatch per
    /// keyword, which was most of the time spent on each member of an observation.
    private let scalarChecksStorage: ScalarChecks?
    /// Read on every value: unmanaged, so that costs no reference count (the storage keeps it).
    let scalarChecks: Unmanaged<ScalarChecks>?

    init(resource: SchemaResource, constant: Bool?, keywords: [Keyword], unevaluated: [Keyword]) {
        self.resource = resource
        self.constant = constant
        self.checks = keywords.map(\.check)
        self.names = keywords.map(\.name)
        self.unevaluated = unevaluated.map(\.check)
        self.unevaluatedNames = unevaluated.map(\.name)
        self.fastChecks = ObjectShape.fuse(keywords)
        self.isLeaf = constant == nil && unevaluated.isEmpty && fastChecks.allSatisfy(\.isLeaf)
        self.scalarChecksStorage = isLeaf ? ScalarChecks(fastChecks) : nil
        self.scalarChecks = scalarChecksStorage.map { Unmanaged.passUnretained($0) }
    }

    /// Evaluates `value`; with a `trace`, records every failure, otherwise stops at the first.
    /// When `evaluated` is non-nil the annotations of this schema are merged into it.
    func evaluate(_ value: JSONValue, _ state: inout EvaluationState, _ trace: Trace?, _ evaluated: inout Evaluated?) -> Bool {
        if trace == nil, let scalarChecks { return scalarChecks._withUnsafeGuaranteedRef { $0.isValid(value) } }
        if isLeaf, trace == nil {
            // Iterated in place: a `for` loop copies each check out of the array, retaining its payload.
            return fastChecks.withUnsafeBufferPointer { checks in
                var none: Evaluated? = nil
                for index in checks.indices where !checks[index].evaluate(value, &state, nil, nil, &none) { return false }
                return true
            }
        }
        if let constant {
            if !constant { state.fail(trace, "no value is allowed here") }
            return constant
        }
        let identity = ObjectIdentifier(resource)
        let entered = state.tracksScope && state.innermost != identity
        if entered {
            state.scope.append(resource)
            state.innermost = identity
        }
        state.depth += 1
        defer {
            state.depth -= 1
            if entered {
                state.scope.removeLast()
                state.innermost = state.scope.last.map(ObjectIdentifier.init)
            }
        }
        if state.depth > EvaluationState.maximumDepth {
            state.fail(trace, "the schema refers to itself without end at this point")
            return false
        }
        // This schema's own annotations start empty: `unevaluated*` here must not see what a
        // sibling subschema of the caller evaluated.
        var annotations: Evaluated? = evaluated != nil || !unevaluated.isEmpty ? Evaluated() : nil
        var valid = true
        if let trace {
            for index in checks.indices where !checks[index].evaluate(value, &state, trace.keyword(names[index]), trace, &annotations) {
                valid = false
            }
            for index in unevaluated.indices
            where !unevaluated[index].evaluate(value, &state, trace.keyword(unevaluatedNames[index]), trace, &annotations) {
                valid = false
            }
        } else {
            let passed = fastChecks.withUnsafeBufferPointer { checks in
                for index in checks.indices where !checks[index].evaluate(value, &state, nil, nil, &annotations) { return false }
                return true
            }
            if !passed { return false }
            for check in unevaluated where !check.evaluate(value, &state, nil, nil, &annotations) { return false }
        }
        if let annotations, evaluated != nil { evaluated!.merge(annotations) }
        return valid
    }

    func isValid(_ value: JSONValue, _ state: inout EvaluationState) -> Bool {
        var none: Evaluated? = nil
        return evaluate(value, &state, nil, &none)
    }
}

struct Keyword {
    let name: String
    let check: Check
}

/// A `$ref` or `$dynamicRef` target, filled in once the whole schema is compiled.
final class NodeReference: @unchecked Sendable {
    // Written once while compiling, read on every evaluation: no exclusivity check is needed.
    @exclusivity(unchecked) var target: SchemaNode? {
        didSet { unretainedTarget = target.map { Unmanaged.passUnretained($0) } }
    }
    /// `target`, read without touching its reference count (`target` keeps it alive).
    @exclusivity(unchecked) var unretainedTarget: Unmanaged<SchemaNode>?
}

enum Check: Sendable {
    /// The names, for messages, and a bit per name for the check itself.
    case type([JSONValue.Kind], mask: UInt8)
    case enumeration([JSONValue])
    case constant(JSONValue)
    case multipleOf(Double)
    case maximum(Double, exclusive: Bool)
    case minimum(Double, exclusive: Bool)
    case maxLength(Int), minLength(Int)
    case pattern(ECMARegex)
    case format(String)
    case maxItems(Int), minItems(Int), uniqueItems
    case maxProperties(Int), minProperties(Int)
    case required([String])
    case dependentRequired([(String, [String])])
    case properties([(String, SchemaNode)])
    case patternProperties([(ECMARegex, SchemaNode)])
    case additionalProperties(SchemaNode, known: Set<MemberName>, patterns: [ECMARegex])
    case propertyNames(SchemaNode)
    case prefixItems([SchemaNode])
    case items(SchemaNode, from: Int)
    case contains(SchemaNode, min: Int, max: Int?)
    case allOf([SchemaNode]), anyOf([SchemaNode]), oneOf([SchemaNode])
    case not(SchemaNode)
    case conditional(if: SchemaNode, then: SchemaNode?, else: SchemaNode?)
    case dependentSchemas([(String, SchemaNode)])
    case reference(NodeReference)
    /// A `$dynamicRef` whose static target carries `$dynamicAnchor` `name`: the outermost resource
    /// in the dynamic scope with that anchor wins.
    case dynamicReference(NodeReference, anchor: String)
    case unevaluatedProperties(SchemaNode)
    case unevaluatedItems(SchemaNode)
    /// `properties`, `additionalProperties` and `required` in one pass; never reports errors.
    case objectShape(ObjectShape)

    // swiftlint:disable:next cyclomatic_complexity function_body_length
    /// `trace` is at this keyword; `schemaTrace` at the schema holding it, for `then` and `else`.
    func evaluate(
        _ value: JSONValue, _ state: inout EvaluationState, _ trace: Trace?, _ schemaTrace: Trace?, _ evaluated: inout Evaluated?
    ) -> Bool {
        switch self {
        case .type(let kinds, let mask):
            if mask & Check.typeBits(of: value) != 0 { return true }
            state.fail(trace, "expected \(kinds.map(\.rawValue).joined(separator: " or ")), found \(value.kindName)")
            return false

        case .enumeration(let allowed):
            if allowed.contains(value) { return true }
            state.fail(trace, "\(Check.show(value)) is not one of \(allowed.map(Check.show).joined(separator: ", "))")
            return false

        case .constant(let expected):
            if value == expected { return true }
            state.fail(trace, "expected \(Check.show(expected)), found \(Check.show(value))")
            return false

        case .multipleOf(let divisor):
            guard case .number(let n) = value else { return true }
            let quotient = n / divisor
            // Beyond 2^53 every double is an integer, so the remainder test says nothing; an
            // infinite quotient means the value is far too large to be a multiple of anything small.
            if quotient.isFinite, abs(quotient - quotient.rounded()) < 1e-9 { return true }
            state.fail(trace, "\(Check.show(value)) is not a multiple of \(Check.show(.number(divisor)))")
            return false

        case .maximum(let limit, let exclusive):
            guard case .number(let n) = value, exclusive ? n >= limit : n > limit else { return true }
            state.fail(
                trace, "\(Check.show(value)) is greater than \(exclusive ? "or equal to " : "")the maximum \(Check.show(.number(limit)))")
            return false

        case .minimum(let limit, let exclusive):
            guard case .number(let n) = value, exclusive ? n <= limit : n < limit else { return true }
            state.fail(
                trace, "\(Check.show(value)) is less than \(exclusive ? "or equal to " : "")the minimum \(Check.show(.number(limit)))")
            return false

        case .maxLength(let limit):
            // Lengths count Unicode code points, as the specification says, not grapheme clusters.
            guard case .string(let s) = value, s.utf8.count > limit else { return true }
            let length = s.unicodeScalars.count
            if length <= limit { return true }
            state.fail(trace, "text is \(length) characters long, more than \(limit)")
            return false

        case .minLength(let limit):
            guard case .string(let s) = value, s.utf8.count < limit * 4 else { return true }
            let length = s.unicodeScalars.count
            if length >= limit { return true }
            state.fail(trace, "text is \(length) characters long, fewer than \(limit)")
            return false

        case .pattern(let regex):
            guard case .string(let s) = value, !regex.matches(s) else { return true }
            state.fail(trace, "\(Check.show(value)) does not match the pattern \(regex.source)")
            return false

        case .format(let format):
            guard case .string(let s) = value, let valid = Formats.check(format, s), !valid else { return true }
            state.fail(trace, "\(Check.show(value)) is not a valid \(format)")
            return false

        case .maxItems(let limit):
            guard case .array(let a) = value, a.count > limit else { return true }
            state.fail(trace, "\(a.count) items, more than \(limit)")
            return false

        case .minItems(let limit):
            guard case .array(let a) = value, a.count < limit else { return true }
            state.fail(trace, "\(a.count) items, fewer than \(limit)")
            return false

        case .uniqueItems:
            guard case .array(let a) = value, a.count > 1 else { return true }
            var seen = Set<JSONValue>(minimumCapacity: a.count)
            for (index, item) in a.enumerated() where !seen.insert(item).inserted {
                state.fail(trace, "item \(index) repeats an earlier item")
                return false
            }
            return true

        case .maxProperties(let limit):
            guard case .object(let o) = value, o.count > limit else { return true }
            state.fail(trace, "\(o.count) properties, more than \(limit)")
            return false

        case .minProperties(let limit):
            guard case .object(let o) = value, o.count < limit else { return true }
            state.fail(trace, "\(o.count) properties, fewer than \(limit)")
            return false

        case .required(let names):
            guard case .object(let o) = value else { return true }
            var valid = true
            for name in names where o[name] == nil {
                valid = false
                guard trace != nil else { break }
                state.fail(trace, "required property \"\(name)\" is missing")
            }
            return valid

        case .dependentRequired(let dependencies):
            guard case .object(let o) = value else { return true }
            var valid = true
            for (trigger, names) in dependencies where o[trigger] != nil {
                for name in names where o[name] == nil {
                    valid = false
                    guard trace != nil else { return false }
                    state.fail(trace, "property \"\(name)\" is required when \"\(trigger)\" is present")
                }
            }
            return valid

        case .properties(let schemas):
            guard case .object(let o) = value else { return true }
            var valid = true
            for (property, schema) in schemas {
                guard let member = o[property] else { continue }
                var none: Evaluated? = nil
                if !schema.evaluate(member, &state, trace.map { $0.child(property).keyword(property) }, &none) {
                    valid = false
                    if trace == nil { return false }
                }
                evaluated?.properties.insert(MemberName(property))
            }
            return valid

        case .patternProperties(let pairs):
            guard case .object(let o) = value else { return true }
            var valid = true
            for (property, member) in Check.ordered(o, tracing: trace != nil) {
                for (regex, schema) in pairs where regex.matches(property) {
                    var none: Evaluated? = nil
                    if !schema.evaluate(member, &state, trace.map { $0.child(property).keyword(regex.source) }, &none) {
                        valid = false
                        if trace == nil { return false }
                    }
                    evaluated?.properties.insert(MemberName(property))
                }
            }
            return valid

        case .additionalProperties(let schema, let known, let patterns):
            guard case .object(let o) = value else { return true }
            return Check.apply(
                schema, toMembersOf: o, where: { name in !known.contains(MemberName(name)) && !patterns.contains { $0.matches(name) } },
                &state, trace, &evaluated)

        case .propertyNames(let schema):
            guard case .object(let o) = value else { return true }
            var valid = true
            for property in o.keys.sorted() where !schema.isValid(.string(property), &state) {
                valid = false
                guard trace != nil else { return false }
                state.fail(trace, "property name \"\(property)\" is not allowed")
            }
            return valid

        case .prefixItems(let schemas):
            guard case .array(let a) = value else { return true }
            var valid = true
            for (index, schema) in schemas.enumerated() where index < a.count {
                var none: Evaluated? = nil
                if !schema.evaluate(a[index], &state, trace.map { $0.child(String(index)).keyword(String(index)) }, &none) {
                    valid = false
                    if trace == nil { return false }
                }
            }
            if var annotations = evaluated {
                evaluated = nil
                annotations.itemPrefix = max(annotations.itemPrefix, min(schemas.count, a.count))
                evaluated = annotations
            }
            return valid

        case .items(let schema, let start):
            guard case .array(let a) = value else { return true }
            var valid = true
            if a.count > start {
                // Items read in place rather than copied out of the array, which retains each.
                let allValid = a.withUnsafeBufferPointer { items in
                    for index in start..<items.count {
                        var none: Evaluated? = nil
                        if !schema.evaluate(items[index], &state, trace?.child(String(index)), &none) {
                            valid = false
                            if trace == nil { return false }
                        }
                    }
                    return true
                }
                if !allValid { return false }
            }
            evaluated?.allItems = true
            return valid

        case .contains(let schema, let minimum, let maximum):
            guard case .array(let a) = value else { return true }
            var matching = 0
            for (index, item) in a.enumerated() where schema.isValid(item, &state) {
                matching += 1
                evaluated?.itemIndices.insert(index)
                if evaluated == nil, maximum == nil, matching >= minimum { break }
            }
            if matching < minimum {
                state.fail(
                    trace,
                    a.isEmpty && minimum > 0
                        ? "the array is empty, but must contain a matching item"
                        : "\(matching) items match \"contains\", fewer than \(minimum)")
                return false
            }
            if let maximum, matching > maximum {
                state.fail(trace, "\(matching) items match \"contains\", more than \(maximum)")
                return false
            }
            return true

        case .allOf(let schemas):
            var valid = true
            for (index, schema) in schemas.enumerated()
            where !schema.evaluate(value, &state, trace.map { $0.keyword(String(index)) }, &evaluated) {
                valid = false
                if trace == nil { return false }
            }
            return valid

        case .anyOf(let schemas):
            var valid = false
            for schema in schemas {
                var branch: Evaluated? = evaluated == nil ? nil : Evaluated()
                if schema.evaluate(value, &state, nil, &branch) {
                    valid = true
                    guard let branch else { break }
                    evaluated?.merge(branch)
                }
            }
            if !valid, let trace {
                state.fail(trace, "matches none of the \(schemas.count) allowed forms")
                for (index, schema) in schemas.enumerated() {
                    var none: Evaluated? = nil
                    _ = schema.evaluate(value, &state, trace.keyword(String(index)), &none)
                }
            }
            return valid

        case .oneOf(let schemas):
            var matching: [Int] = []
            var chosen: Evaluated? = nil
            for (index, schema) in schemas.enumerated() {
                var branch: Evaluated? = evaluated == nil ? nil : Evaluated()
                if schema.evaluate(value, &state, nil, &branch) {
                    matching.append(index)
                    chosen = branch
                    if matching.count > 1 { break }
                }
            }
            if matching.count == 1 {
                if let chosen { evaluated?.merge(chosen) }
                return true
            }
            if let trace {
                if matching.isEmpty {
                    state.fail(trace, "matches none of the \(schemas.count) forms in \"oneOf\", exactly one is required")
                    for (index, schema) in schemas.enumerated() {
                        var none: Evaluated? = nil
                        _ = schema.evaluate(value, &state, trace.keyword(String(index)), &none)
                    }
                } else {
                    state.fail(
                        trace, "matches forms \(matching.map(String.init).joined(separator: " and ")) of \"oneOf\", exactly one is required"
                    )
                }
            }
            return false

        case .not(let schema):
            guard schema.isValid(value, &state) else { return true }
            state.fail(trace, "must not match the schema in \"not\"")
            return false

        case .conditional(let condition, let then, let otherwise):
            var conditionAnnotations: Evaluated? = evaluated == nil ? nil : Evaluated()
            if condition.evaluate(value, &state, nil, &conditionAnnotations) {
                if let conditionAnnotations { evaluated?.merge(conditionAnnotations) }
                return then?.evaluate(value, &state, schemaTrace?.keyword("then"), &evaluated) ?? true
            }
            return otherwise?.evaluate(value, &state, schemaTrace?.keyword("else"), &evaluated) ?? true

        case .dependentSchemas(let schemas):
            guard case .object(let o) = value else { return true }
            var valid = true
            for (trigger, schema) in schemas where o[trigger] != nil {
                if !schema.evaluate(value, &state, trace?.keyword(trigger), &evaluated) {
                    valid = false
                    if trace == nil { return false }
                }
            }
            return valid

        case .reference(let reference):
            return reference.unretainedTarget!._withUnsafeGuaranteedRef { $0.evaluate(value, &state, trace, &evaluated) }

        case .dynamicReference(let reference, let anchor):
            var target = reference.target!
            for resource in state.scope {
                if let dynamic = resource.dynamicAnchors[anchor] {
                    target = dynamic
                    break
                }
            }
            return target.evaluate(value, &state, trace, &evaluated)

        case .unevaluatedProperties(let schema):
            guard case .object(let o) = value else { return true }
            let seen = evaluated ?? Evaluated()
            return Check.apply(schema, toMembersOf: o, where: { !seen.covers(property: $0) }, &state, trace, &evaluated)

        case .objectShape(let shape):
            guard case .object(let o) = value else { return true }
            if let probes = shape.probes {
                for probe in probes {
                    guard let position = o.index(forKey: probe.name, nameKey: probe.nameKey) else {
                        if probe.entry.required { return false }
                        continue
                    }
                    guard let node = probe.entry.node else { continue }
                    var none: Evaluated? = nil
                    if !node.evaluate(o.value(at: position), &state, nil, &none) { return false }
                    evaluated?.properties.insert(MemberName(probe.name))
                }
                return true
            }
            var requiredFound = 0
            var present: UInt64 = 0
            // Members are read in place through the buffer: iterating copies each one, retaining
            // its name and value.
            let membersValid = o.storage.withUnsafeBufferPointer { members in
                for position in members.indices {
                    if let slot = shape.members.slot(of: members[position].key, key: members[position].nameKey) {
                        // The entry's fields are read in place: copying it out would retain its node.
                        present |= shape.members.values[slot].bit
                        if shape.members.values[slot].required { requiredFound += 1 }
                        if let scalarChecks = shape.members.values[slot].scalarChecks {
                            if !scalarChecks._withUnsafeGuaranteedRef({ $0.isValid(members[position].value) }) { return false }
                            evaluated?.properties.insert(MemberName(members[position].key))
                            continue
                        }
                        if let node = shape.members.values[slot].node {
                            var none: Evaluated? = nil
                            if !node.evaluate(members[position].value, &state, nil, &none) { return false }
                            evaluated?.properties.insert(MemberName(members[position].key))
                            continue
                        }
                    }
                    if let additional = shape.additional {
                        var none: Evaluated? = nil
                        if !additional.evaluate(members[position].value, &state, nil, &none) { return false }
                    }
                }
                return true
            }
            guard membersValid, requiredFound >= shape.requiredCount else { return false }
            for dependency in shape.dependencies
            where present & dependency.trigger != 0 && present & dependency.required != dependency.required {
                return false
            }
            if shape.additional != nil { evaluated?.allProperties = true }
            return true

        case .unevaluatedItems(let schema):
            guard case .array(let a) = value else { return true }
            let seen = evaluated ?? Evaluated()
            var valid = true
            for (index, item) in a.enumerated() where !seen.covers(item: index) {
                var none: Evaluated? = nil
                if !schema.evaluate(item, &state, trace?.child(String(index)), &none) {
                    valid = false
                    if trace == nil { return false }
                }
            }
            if valid { evaluated?.allItems = true }
            return valid
        }
    }

    /// Whether this check reads only the value itself, never a subschema.
    var isLeaf: Bool {
        switch self {
        case .type, .enumeration, .constant, .multipleOf, .maximum, .minimum, .maxLength, .minLength, .pattern, .format,
            .maxItems, .minItems, .uniqueItems, .maxProperties, .minProperties, .required, .dependentRequired:
            true
        default:
            false
        }
    }

    static func typeBit(_ kind: JSONValue.Kind) -> UInt8 {
        switch kind {
        case .null: 1
        case .boolean: 2
        case .number: 4
        case .integer: 8
        case .string: 16
        case .array: 32
        case .object: 64
        }
    }

    /// The bits of every type name `value` belongs to: an integer is also a number.
    static func typeBits(of value: JSONValue) -> UInt8 {
        switch value {
        case .null: 1
        case .bool: 2
        case .number(let n): n.isFinite && n.rounded(.towardZero) == n ? 4 | 8 : 4
        case .string: 16
        case .array: 32
        case .object: 64
        }
    }

    /// `additionalProperties` and `unevaluatedProperties`: `schema` applies to the members `isLeftOver` picks.
    static func apply(
        _ schema: SchemaNode, toMembersOf object: JSONObject, where isLeftOver: (String) -> Bool,
        _ state: inout EvaluationState, _ trace: Trace?, _ evaluated: inout Evaluated?
    ) -> Bool {
        var valid = true
        for (property, member) in ordered(object, tracing: trace != nil) where isLeftOver(property) {
            if schema.constant == false {
                valid = false
                guard let trace else { return false }
                state.violations.append(
                    .init(
                        instanceLocation: trace.instance.appending(property), keywordLocation: trace.keyword,
                        message: "property \"\(property)\" is not allowed"))
                continue
            }
            var none: Evaluated? = nil
            if !schema.evaluate(member, &state, trace?.child(property), &none) {
                valid = false
                if trace == nil { return false }
            }
        }
        if valid { evaluated?.allProperties = true }
        return valid
    }

    /// Members in name order when errors are reported, so the report is the same every time;
    /// in document order otherwise, which costs nothing.
    static func ordered(_ object: JSONObject, tracing: Bool) -> JSONObject {
        tracing ? JSONObject(uniqueMembers: object.sorted(by: { $0.key < $1.key })) : object
    }

    static func show(_ value: JSONValue) -> String {
        guard let data = try? value.canonicalData(), let text = String(data: data, encoding: .utf8) else { return "value" }
        return text.count > 60 ? String(text.prefix(57)) + "..." : text
    }
}

/// A leaf schema's checks on strings, numbers, booleans and null, as fields. Built only when every
/// check is one of these (`type`, `enum`, `const`, `multipleOf`, `minimum`/`maximum` and their
/// exclusive forms, `minLength`, `maxLength`, `pattern`, asserted `format`); each applies to its
/// own type only, as in `Check.evaluate`, which stays the reference and the reporting path.
final class ScalarChecks: Sendable {
    let typeMask: UInt8
    let minLength: Int?
    let maxLength: Int?
    /// One `pattern` keyword per schema. Unmanaged: the schema's `Check.pattern` keeps it alive, and
    /// reading it here then costs no reference count per value.
    let pattern: Unmanaged<ECMARegex>?
    let formats: [String]
    let lowerBounds: [(Double, exclusive: Bool)]
    let upperBounds: [(Double, exclusive: Bool)]
    let divisors: [Double]
    let allowed: [[JSONValue]]
    /// `allowed` when every value in it is an ASCII string (`"level": {"enum": ["province", …]}`):
    /// an ASCII name and a text of as many bytes are the same code points exactly when `String ==`
    /// says they are equal (only non-ASCII can be canonically equal to ASCII, and it is longer).
    let allowedASCIIStrings: [[String]]?

    init?(_ checks: [Check]) {
        var typeMask: UInt8 = 0x7F
        var (minLength, maxLength): (Int?, Int?) = (nil, nil)
        var pattern: ECMARegex? = nil
        var formats: [String] = [], divisors: [Double] = []
        var lowerBounds: [(Double, exclusive: Bool)] = [], upperBounds: [(Double, exclusive: Bool)] = []
        var allowed: [[JSONValue]] = []
        for check in checks {
            switch check {
            case .type(_, let mask): typeMask &= mask
            case .minLength(let limit): minLength = limit
            case .maxLength(let limit): maxLength = limit
            case .pattern(let regex):
                guard pattern == nil else { return nil }
                pattern = regex
            case .format(let name): formats.append(name)
            case .minimum(let limit, let exclusive): lowerBounds.append((limit, exclusive))
            case .maximum(let limit, let exclusive): upperBounds.append((limit, exclusive))
            case .multipleOf(let divisor): divisors.append(divisor)
            case .enumeration(let values): allowed.append(values)
            case .constant(let value): allowed.append([value])
            default: return nil
            }
        }
        (self.typeMask, self.minLength, self.maxLength, self.formats) = (typeMask, minLength, maxLength, formats)
        self.pattern = pattern.map { Unmanaged.passUnretained($0) }
        (self.lowerBounds, self.upperBounds, self.divisors, self.allowed) = (lowerBounds, upperBounds, divisors, allowed)
        let strings = allowed.map { values in
            values.compactMap { value in value.stringValue.flatMap { $0.utf8.allSatisfy { $0 < 0x80 } ? $0 : nil } }
        }
        allowedASCIIStrings = !allowed.isEmpty && zip(strings, allowed).allSatisfy { $0.count == $1.count } ? strings : nil
    }

    func isValid(_ value: JSONValue) -> Bool {
        switch value {
        case .string(let text):
            guard typeMask & Check.typeBit(.string) != 0 else { return false }
            // Lengths count code points; the byte count bounds them from both sides first.
            if let minLength, text.utf8.count < minLength * 4, text.unicodeScalars.count < minLength { return false }
            if let maxLength, text.utf8.count > maxLength, text.unicodeScalars.count > maxLength { return false }
            if let pattern, !pattern._withUnsafeGuaranteedRef({ $0.matches(text) }) { return false }
            for format in formats where Formats.check(format, text) == false { return false }
            if let allowedASCIIStrings {
                let length = text.utf8.count
                for names in allowedASCIIStrings where !names.contains(where: { $0.utf8.count == length && $0 == text }) { return false }
                return true
            }
        case .number(let number):
            // Whether a number is an integer is asked only when "integer" is allowed and "number" is not.
            if typeMask & Check.typeBit(.number) == 0 {
                guard typeMask & Check.typeBit(.integer) != 0, number.isFinite, number.rounded(.towardZero) == number else { return false }
            }
            for (limit, exclusive) in lowerBounds where exclusive ? number <= limit : number < limit { return false }
            for (limit, exclusive) in upperBounds where exclusive ? number >= limit : number > limit { return false }
            for divisor in divisors {
                let quotient = number / divisor
                guard quotient.isFinite, abs(quotient - quotient.rounded()) < 1e-9 else { return false }
            }
        default:
            guard typeMask & Check.typeBits(of: value) != 0 else { return false }
        }
        if !allowed.isEmpty {
            for values in allowed where !values.contains(value) { return false }
        }
        return true
    }
}

/// `properties`, `additionalProperties` and `required` of one schema, looked up with one hash per
/// member of the instance instead of one per keyword and name. Used only where `patternProperties`
/// is absent, since it would change which members are additional.
final class ObjectShape: Sendable {
    struct Entry: Sendable {
        /// The `properties` subschema; nil for a name only `required` or `dependentRequired` lists.
        let node: SchemaNode?
        let required: Bool
        /// This name's bit in the set of names present, for `dependentRequired`.
        var bit: UInt64 = 0
        /// `node`'s scalar checks, which `node` keeps alive; unmanaged so that reading and calling
        /// them costs no reference count on every member of every instance.
        let scalarChecks: Unmanaged<ScalarChecks>?

        init(node: SchemaNode?, required: Bool) {
            self.node = node
            self.required = required
            self.scalarChecks = node?.scalarChecks
        }
    }
    /// `dependentRequired` as bit sets: when the trigger's bit is present, every required bit must be.
    struct Dependency: Sendable {
        let trigger: UInt64
        let required: UInt64
    }
    let members: PropertyTable<Entry>
    let requiredCount: Int
    let additional: SchemaNode?
    let dependencies: [Dependency]
    /// For a shape of a name or two and nothing said of other members (a condition such as
    /// `if: {required: [revision], properties: {revision: {minimum: 2}}}`): its names, looked up in
    /// the instance, rather than each of the instance's members looked up in the shape, which
    /// doubled the cost of checking an observation of contract 1.2.
    let probes: [(name: String, nameKey: UInt32, entry: Entry)]?

    init(members: [MemberName: Entry], requiredCount: Int, additional: SchemaNode?, dependencies: [Dependency]) {
        self.members = PropertyTable(members)
        self.requiredCount = requiredCount
        self.additional = additional
        self.dependencies = dependencies
        probes =
            additional == nil && dependencies.isEmpty && members.count <= 2
            ? members.sorted { $0.key < $1.key }.map { ($0.key.text, MemberName.key($0.key.text), $0.value) } : nil
    }

    static func fuse(_ keywords: [Keyword]) -> [Check] {
        var properties: [(String, SchemaNode)] = []
        var required: [String] = []
        var additional: SchemaNode? = nil
        var dependentRequired: [(String, [String])]? = nil
        var fused = 0
        var rest: [Check] = []
        for keyword in keywords {
            switch keyword.check {
            case .properties(let list): properties = list; fused += 1
            case .required(let names): required = names; fused += 1
            case .additionalProperties(let node, _, _): additional = node; fused += 1
            case .dependentRequired(let list): dependentRequired = list; rest.append(keyword.check)
            case .patternProperties: return keywords.map(\.check)
            default: rest.append(keyword.check)
            }
        }
        guard fused >= 2 else { return keywords.map(\.check) }
        var members: [MemberName: Entry] = [:]
        for (name, node) in properties { members[MemberName(name)] = Entry(node: node, required: false) }
        let requiredNames = Set(required.map(MemberName.init))
        for name in requiredNames { members[name] = Entry(node: members[name]?.node, required: true) }
        // Names `dependentRequired` mentions join the table (without a subschema, so they are still
        // additional where `properties` does not list them) and its check becomes bit tests.
        var dependencies: [Dependency] = []
        if let dependentRequired {
            var withDependencies = members
            for (trigger, names) in dependentRequired {
                for name in ([trigger] + names).map(MemberName.init) where withDependencies[name] == nil {
                    withDependencies[name] = Entry(node: nil, required: false)
                }
            }
            if withDependencies.count <= 64 {
                let names = withDependencies.keys.sorted()
                for (index, name) in names.enumerated() { withDependencies[name]!.bit = 1 << UInt64(index) }
                members = withDependencies
                dependencies = dependentRequired.map { trigger, names in
                    Dependency(trigger: members[MemberName(trigger)]!.bit, required: names.reduce(0) { $0 | members[MemberName($1)]!.bit })
                }
                rest.removeAll { if case .dependentRequired = $0 { true } else { false } }
            }
        }
        let shape = ObjectShape(members: members, requiredCount: requiredNames.count, additional: additional, dependencies: dependencies)
        return [.objectShape(shape)] + rest
    }
}

/// A schema's few property names, found by length and first two bytes and then compared, instead
/// of hashed: Swift hashes a `String` with SipHash on every lookup (Python caches each string's
/// hash), and that was a tenth of the time of checking an observation.
struct PropertyTable<Value: Sendable>: Sendable {
    private let names: [String]
    /// Per name: whether it is ASCII, so that `String ==` (canonical equivalence) with equal byte
    /// counts is code point equality: a text canonically equal to ASCII with as many bytes is that ASCII.
    private let asciiNames: [Bool]
    let values: [Value]
    private let slots: [Int]
    private let mask: Int

    init(_ dictionary: [MemberName: Value]) {
        let pairs = dictionary.sorted { $0.key < $1.key }
        names = pairs.map(\.key.text)
        asciiNames = names.map { $0.utf8.allSatisfy { $0 < 0x80 } }
        values = pairs.map(\.value)
        var size = 8
        while size < pairs.count * 4 { size *= 2 }
        mask = size - 1
        var slots = [Int](repeating: -1, count: size)
        for (index, name) in names.enumerated() {
            var slot = Int(MemberName.key(name)) & mask
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            slots[slot] = index
        }
        self.slots = slots
    }

    /// The index in `values` of `name`'s entry, names compared by code point.
    func slot(of name: String, key: UInt32) -> Int? {
        var slot = Int(key) & mask
        while true {
            let index = slots[slot]
            if index < 0 { return nil }
            if asciiNames[index] {
                if names[index] == name && names[index].utf8.count == name.utf8.count { return index }
            } else if JSONValue.sameCodePoints(names[index], name) {
                return index
            }
            slot = (slot + 1) & mask
        }
    }
}
