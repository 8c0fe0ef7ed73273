/// A JSON object: its members in document order, one per name, names compared by code point.
///
/// Not a `Dictionary<String, JSONValue>`, for two reasons. Swift compares `String` keys by
/// canonical equivalence, so a dictionary takes `"K"` and `"\u{212A}"` (the Kelvin sign) for one
/// name, where JSON and JSON Schema see two. And a validator walks every member of every object:
/// members stored side by side in one array are read in order, where a dictionary's are spread
/// over its buckets, hashed with SipHash on every lookup and retained on every step of a walk.
/// Small objects are searched in place; an object with many members also keeps an index by name.
public struct JSONObject: Sendable {
    public typealias Element = (key: String, value: JSONValue)

    /// The members in the order they were read or inserted; names are unique by code point.
    private(set) var storage: [Member]
    /// Positions by name, kept only for objects larger than a search in place should walk.
    private var positions: [MemberName: Int]?

    static let indexedCount = 24

    package struct Member: Sendable {
        package let key: String
        package var value: JSONValue
        /// The name's `MemberName.key`, computed once when the member is added rather than on every
        /// lookup of every validation (as Python keeps a string's hash); it fits in what would be
        /// padding after the value.
        let nameKey: UInt32

        package init(key: String, value: JSONValue, nameKey: UInt32? = nil) {
            self.key = key
            self.value = value
            self.nameKey = nameKey ?? MemberName.key(key)
        }
    }

    public init() {
        storage = []
    }

    /// Members in name order, since a dictionary has none of its own to keep.
    public init(_ dictionary: [String: JSONValue]) {
        self.init(uniqueMembers: dictionary.sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) })
    }

    /// Members already known to have distinct names, as from a dictionary.
    init(uniqueMembers: [Element]) {
        self.init(uniqueMembers: uniqueMembers.map { Member(key: $0.key, value: $0.value) })
    }

    package init(uniqueMembers: [Member]) {
        storage = uniqueMembers
        if storage.count > Self.indexedCount { rebuildPositions() }
    }

    public var count: Int { storage.count }
    public var isEmpty: Bool { storage.isEmpty }
    public var keys: [String] { storage.map(\.key) }
    public var values: [JSONValue] { storage.map(\.value) }

    /// The position of `name`'s member.
    public func index(forKey name: String) -> Int? {
        index(forKey: name, nameKey: MemberName.key(name))
    }

    /// The key lookups compare before names, for callers that look the same names up many times
    /// and compute it once.
    package static func nameKey(_ name: String) -> UInt32 { MemberName.key(name) }

    /// Room for `count` members without growing.
    package mutating func reserveCapacity(_ count: Int) { storage.reserveCapacity(count) }

    package func index(forKey name: String, nameKey: UInt32) -> Int? {
        if let positions { return positions[MemberName(name)] }
        for position in storage.indices where storage[position].nameKey == nameKey {
            if JSONValue.sameCodePoints(storage[position].key, name) { return position }
        }
        return nil
    }

    /// The members in order, for a reader that takes each member once, as it comes, rather than
    /// looking each name it knows up.
    package var members: [Member] { storage }

    /// The value at `position` alone: the collection's subscript also gives (and retains) the name.
    package func value(at position: Int) -> JSONValue { storage[position].value }

    public subscript(name: String) -> JSONValue? {
        get {
            guard let position = index(forKey: name) else { return nil }
            return storage[position].value
        }
        set {
            if let newValue {
                updateValue(newValue, forKey: name)
            } else {
                removeValue(forKey: name)
            }
        }
    }

    /// Sets `name`'s value, appending a member if there is none; a name read twice keeps its first
    /// position and its last value, as most parsers do.
    @discardableResult
    public mutating func updateValue(_ value: JSONValue, forKey name: String) -> JSONValue? {
        // The name's key once, for the search and the new member: parsing computed it twice.
        updateValue(value, forKey: name, nameKey: MemberName.key(name))
    }

    /// `updateValue` with `name`'s `MemberName.key` already known.
    @discardableResult
    package mutating func updateValue(_ value: JSONValue, forKey name: String, nameKey: UInt32) -> JSONValue? {
        if let position = index(forKey: name, nameKey: nameKey) {
            let old = storage[position].value
            storage[position].value = value
            return old
        }
        storage.append(Member(key: name, value: value, nameKey: nameKey))
        if positions != nil {
            positions![MemberName(name)] = storage.count - 1
        } else if storage.count > Self.indexedCount {
            rebuildPositions()
        }
        return nil
    }

    @discardableResult
    public mutating func removeValue(forKey name: String) -> JSONValue? {
        guard let position = index(forKey: name) else { return nil }
        let old = storage.remove(at: position).value
        if positions != nil {
            if storage.count > Self.indexedCount { rebuildPositions() } else { positions = nil }
        }
        return old
    }

    private mutating func rebuildPositions() {
        var positions: [MemberName: Int] = [:]
        positions.reserveCapacity(storage.count)
        for (position, member) in storage.enumerated() { positions[MemberName(member.key)] = position }
        self.positions = positions
    }

}

/// A member name hashed and compared by its UTF-8 bytes, which is by code point, where `String`
/// would take canonically equivalent names for one.
struct MemberName: Hashable, Sendable, Comparable {
    let text: String
    init(_ text: String) { self.text = text }
    static func == (a: MemberName, b: MemberName) -> Bool { JSONValue.sameCodePoints(a.text, b.text) }
    static func < (a: MemberName, b: MemberName) -> Bool { a.text.utf8.lexicographicallyPrecedes(b.text.utf8) }

    /// Byte count and first two bytes: what tells a schema's few property names apart, cheaper
    /// than hashing the whole name with SipHash as a `Dictionary` does on every lookup.
    static func key(_ name: String) -> UInt32 {
        var bytes = name.utf8.makeIterator()
        guard let first = bytes.next() else { return 0 }
        return key(byteCount: name.utf8.count, first: first, second: bytes.next() ?? 0)
    }

    /// The key of a name of `byteCount` UTF-8 bytes starting with `first` and `second` (either
    /// ignored when the name is shorter).
    static func key(byteCount: Int, first: UInt8, second: UInt8) -> UInt32 {
        switch byteCount {
        case 0: 0
        case 1: UInt32(1) &* 31 &+ UInt32(first) &* 131
        default: UInt32(truncatingIfNeeded: byteCount) &* 31 &+ UInt32(first) &* 131 &+ UInt32(second) &* 7
        }
    }
    func hash(into hasher: inout Hasher) {
        hasher.combine(text.utf8.count)
        for byte in text.utf8 { hasher.combine(byte) }
    }
}

extension JSONObject: RandomAccessCollection {
    public var startIndex: Int { 0 }
    public var endIndex: Int { storage.count }
    public subscript(position: Int) -> Element { (key: storage[position].key, value: storage[position].value) }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    /// A literal's members in the order written; a name written twice keeps the last value.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init()
        for (name, value) in elements { updateValue(value, forKey: name) }
    }
}

/// Equal when both have the same names with equal values, in any order (JSON Schema's equality).
extension JSONObject: Hashable {
    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.count == rhs.count else { return false }
        for (name, value) in lhs {
            guard let other = rhs[name], other == value else { return false }
        }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        // Order-independent, as equality is.
        var combined = 0
        for (name, value) in self {
            var member = Hasher()
            for byte in name.utf8 { member.combine(byte) }
            value.hash(into: &member)
            combined ^= member.finalize()
        }
        hasher.combine(storage.count)
        hasher.combine(combined)
    }
}

extension JSONObject: Codable {
    private struct MemberKey: CodingKey {
        let stringValue: String
        init(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: MemberKey.self)
        self.init()
        for key in container.allKeys {
            updateValue(try container.decode(JSONValue.self, forKey: key), forKey: key.stringValue)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: MemberKey.self)
        for (name, value) in self { try container.encode(value, forKey: MemberKey(stringValue: name)) }
    }
}
