import Foundation

/// A JSON document as a value, so contracts can be validated without knowing Swift types.
///
/// Numbers are kept as `Double`: indicator values are decimals, and JSON Schema treats
/// `1.0` and `1` alike when asking for an integer.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    public enum Kind: String, Sendable, CaseIterable {
        case null, boolean, number, integer, string, array, object
    }

    /// Whether this value belongs to a JSON Schema `type` name; `integer` is a number with no fraction.
    public func isKind(_ kind: Kind) -> Bool {
        switch (kind, self) {
        case (.null, .null), (.boolean, .bool), (.number, .number), (.string, .string),
            (.array, .array), (.object, .object):
            return true
        case (.integer, .number(let n)):
            return n.isFinite && n.rounded(.towardZero) == n
        default:
            return false
        }
    }

    /// The name of this value's type, as an operator would read it in an error.
    public var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number(let n): JSONValue.number(n).isKind(.integer) ? "integer" : "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    public var numberValue: Double? { if case .number(let n) = self { n } else { nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    public var objectValue: JSONObject? { if case .object(let o) = self { o } else { nil } }
}

/// JSON Schema equality: numbers by value, objects by members in any order, and strings by their
/// code points. Swift's own `String ==` treats canonically equivalent strings ("é" precomposed and
/// "e" with a combining accent) as equal, which JSON Schema does not.
extension JSONValue {
    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return sameCodePoints(a, b)
        case (.array(let a), .array(let b)): return a.count == b.count && zip(a, b).allSatisfy { $0 == $1 }
        case (.object(let a), .object(let b)): return a == b
        default: return false
        }
    }

    /// Byte equality of the UTF-8 forms, which is code point equality; compared in place when
    /// both strings are stored contiguously (native strings always are).
    static func sameCodePoints(_ a: String, _ b: String) -> Bool {
        guard a.utf8.count == b.utf8.count else { return false }
        let contiguous = a.utf8.withContiguousStorageIfAvailable { first in
            b.utf8.withContiguousStorageIfAvailable { second in
                first.isEmpty || memcmp(first.baseAddress!, second.baseAddress!, first.count) == 0
            }
        }
        return (contiguous ?? nil) ?? a.utf8.elementsEqual(b.utf8)
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let b): hasher.combine(b)
        case .number(let n): hasher.combine(n)
        case .string(let s):
            hasher.combine(s.utf8.count)
            for byte in s.utf8 { hasher.combine(byte) }
        case .array(let a):
            hasher.combine(a.count)
            for item in a { item.hash(into: &hasher) }
        case .object(let o): o.hash(into: &hasher)
        }
    }
}

extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let bool = try? container.decode(Bool.self) {
            self = .bool(bool)
        } else if let number = try? container.decode(Double.self) {
            self = .number(number)
        } else if let string = try? container.decode(String.self) {
            self = .string(string)
        } else if let array = try? container.decode([JSONValue].self) {
            self = .array(array)
        } else if let object = try? container.decode(JSONObject.self) {
            self = .object(object)
        } else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "not a JSON value")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let b): try container.encode(b)
        case .number(let n):
            // Integral values are written without a fraction so that `100` stays `100` on the wire.
            if n.isFinite, n.rounded(.towardZero) == n, abs(n) < 1e15 {
                try container.encode(Int64(n))
            } else {
                try container.encode(n)
            }
        case .string(let s): try container.encode(s)
        case .array(let a): try container.encode(a)
        case .object(let o): try container.encode(o)
        }
    }
}

extension JSONValue {
    /// Parses UTF-8 JSON text (RFC 8259); the error gives the byte offset.
    public static func parse(_ data: Data) throws -> JSONValue {
        try JSONParser.parse(data)
    }

    /// Canonical serialization: sorted keys, no insignificant white space, so the same value
    /// always gives the same bytes (and so the same digest and signature input).
    public func canonicalData() throws -> Data {
        var writer = CanonicalJSONWriter()
        writer.write(self)
        return Data(writer.output)
    }

    private static var canonicalEncoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// Converts any `Encodable` into a `JSONValue` through its JSON form.
    public init(encoding value: some Encodable) throws {
        let data = try JSONValue.canonicalEncoder.encode(value)
        self = try JSONValue.parse(data)
    }

    /// Decodes a `Decodable` type from this value.
    public func decode<T: Decodable>(as type: T.Type) throws -> T {
        try JSONDecoder().decode(T.self, from: canonicalData())
    }
}
