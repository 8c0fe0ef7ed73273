import Foundation

/// Where JSON text stops being JSON.
public struct JSONSyntaxError: Error, Sendable, CustomStringConvertible {
    /// Byte offset from the start of the text.
    public let offset: Int
    public let message: String
    public var description: String { "invalid JSON at byte \(offset): \(message)" }
}

/// RFC 8259 JSON text to `JSONValue`, straight from UTF-8 bytes.
///
/// `JSONDecoder` decoding into `JSONValue` tried each type in turn and threw for every miss; that
/// made decoding a source page the slowest stage after signing.
struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0
    var depth = 0
    static let maximumDepth = 512
    /// The member count of the last object that ended at each depth: the objects of an array tend
    /// to share a shape, and reserving their room up front spares each the four or five
    /// reallocations of growing one member at a time (a record of a dozen fields took five).
    var memberCountsByDepth: [Int] = []
    static let hintedDepths = 16

    static func parse(_ data: Data) throws(JSONSyntaxError) -> JSONValue {
        let result: Result<JSONValue, JSONSyntaxError> = data.withUnsafeBytes { raw in
            var parser = JSONParser(bytes: raw.bindMemory(to: UInt8.self))
            do throws(JSONSyntaxError) {
                parser.skipWhitespace()
                let value = try parser.parseValue()
                parser.skipWhitespace()
                guard parser.index == parser.bytes.count else { throw parser.error("unexpected content after the value") }
                return .success(value)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    func error(_ message: String) -> JSONSyntaxError { JSONSyntaxError(offset: index, message: message) }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    mutating func parseValue() throws(JSONSyntaxError) -> JSONValue {
        guard index < bytes.count else { throw error("unexpected end of text") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expect("true"); return .bool(true)
        case UInt8(ascii: "f"): try expect("false"); return .bool(false)
        case UInt8(ascii: "n"): try expect("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw error("unexpected character")
        }
    }

    mutating func expect(_ word: StaticString) throws(JSONSyntaxError) {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw error("unexpected end of text") }
        for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { throw error("expected \(word)") }
        index += count
    }

    mutating func enter() throws(JSONSyntaxError) {
        depth += 1
        guard depth <= Self.maximumDepth else { throw error("nested deeper than \(Self.maximumDepth) levels") }
    }

    mutating func parseObject() throws(JSONSyntaxError) -> JSONValue {
        try enter()
        defer { depth -= 1 }
        index += 1
        var members = JSONObject()
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        if depth < memberCountsByDepth.count { members.reserveCapacity(memberCountsByDepth[depth]) }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a member name") }
            let nameStart = index + 1
            let key = try parseString()
            // A name read without escapes is its bytes: its key is taken from them, not computed
            // again from the new string.
            let byteCount = key.utf8.count
            let nameKey =
                index - 1 - nameStart == byteCount
                ? MemberName.key(
                    byteCount: byteCount, first: byteCount > 0 ? bytes[nameStart] : 0, second: byteCount > 1 ? bytes[nameStart + 1] : 0)
                : MemberName.key(key)
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("expected ':'") }
            index += 1
            skipWhitespace()
            members.updateValue(try parseValue(), forKey: key, nameKey: nameKey)
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of text in an object") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
            } else if bytes[index] == UInt8(ascii: "}") {
                index += 1
                noteMemberCount(members.count)
                return .object(members)
            } else {
                throw error("expected ',' or '}'")
            }
        }
    }

    mutating func noteMemberCount(_ count: Int) {
        guard depth < Self.hintedDepths else { return }
        if memberCountsByDepth.isEmpty { memberCountsByDepth = Array(repeating: 0, count: Self.hintedDepths) }
        memberCountsByDepth[depth] = count
    }

    mutating func parseArray() throws(JSONSyntaxError) -> JSONValue {
        try enter()
        defer { depth -= 1 }
        index += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue())
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of text in an array") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
            } else if bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(elements)
            } else {
                throw error("expected ',' or ']'")
            }
        }
    }

    static let lowBits: UInt64 = 0x0101_0101_0101_0101
    static let highBits: UInt64 = 0x8080_8080_8080_8080

    /// Whether any of the word's eight bytes is a quote, a backslash or below 0x20 (the classic
    /// "has a zero byte" and "has a byte less than n" tests, exact for the question "any?").
    @inline(__always)
    static func endsPlainRun(_ word: UInt64) -> Bool {
        func hasZeroByte(_ value: UInt64) -> Bool { (value &- lowBits) & ~value & highBits != 0 }
        let quote = word ^ (lowBits &* UInt64(UInt8(ascii: "\"")))
        let backslash = word ^ (lowBits &* UInt64(UInt8(ascii: "\\")))
        let control = (word &- lowBits &* 0x20) & ~word & highBits
        return hasZeroByte(quote) || hasZeroByte(backslash) || control != 0
    }

    mutating func parseString() throws(JSONSyntaxError) -> String {
        index += 1
        let start = index
        // The common case: no escapes, so the bytes are the string.
        var bitsSeen: UInt8 = 0
        // Eight bytes at a time while none of them is a quote, a backslash or a control character:
        // a report's base64 payload is one string of hundreds of kilobytes, and reading it a byte
        // at a time was most of the cost of reading a batch. The bytes after a word that has one
        // are read one by one below.
        if let base = bytes.baseAddress {
            var wordBits: UInt64 = 0
            while index + 8 <= bytes.count {
                let word = UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
                if Self.endsPlainRun(word) { break }
                wordBits |= word
                index += 8
            }
            if wordBits & Self.highBits != 0 { bitsSeen = 0x80 }
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let content = UnsafeBufferPointer(rebasing: bytes[start..<index])
                index += 1
                // ASCII needs no validation, and `String(validating:)` is generic over the encoding
                // (metadata lookups on every call): most names and codes take this way.
                if bitsSeen < 0x80 { return String(decoding: content, as: UTF8.self) }
                guard let text = String(validating: content, as: UTF8.self) else {
                    throw JSONSyntaxError(offset: start, message: "a string is not valid UTF-8")
                }
                return text
            }
            bitsSeen |= byte
            if byte == UInt8(ascii: "\\") { break }
            guard byte >= 0x20 else { throw error("a control character inside a string") }
            index += 1
        }
        var buffer = Array(bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                guard let text = String(validating: buffer, as: UTF8.self) else {
                    throw JSONSyntaxError(offset: start, message: "a string is not valid UTF-8")
                }
                index += 1
                return text
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else { throw error("unexpected end of text in an escape") }
                switch bytes[index] {
                case UInt8(ascii: "\""): buffer.append(0x22)
                case UInt8(ascii: "\\"): buffer.append(0x5C)
                case UInt8(ascii: "/"): buffer.append(0x2F)
                case UInt8(ascii: "b"): buffer.append(0x08)
                case UInt8(ascii: "f"): buffer.append(0x0C)
                case UInt8(ascii: "n"): buffer.append(0x0A)
                case UInt8(ascii: "r"): buffer.append(0x0D)
                case UInt8(ascii: "t"): buffer.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try parseHex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        // A high surrogate must be followed by an escaped low one.
                        guard index + 2 < bytes.count, bytes[index + 1] == UInt8(ascii: "\\"), bytes[index + 2] == UInt8(ascii: "u") else {
                            throw error("a lone high surrogate")
                        }
                        index += 2
                        let low = try parseHex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw error("a high surrogate without its low surrogate") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw error("a lone low surrogate")
                    }
                    buffer.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
                default: throw error("an unknown escape")
                }
                index += 1
            default:
                guard byte >= 0x20 else { throw error("a control character inside a string") }
                buffer.append(byte)
                index += 1
            }
        }
        throw error("unexpected end of text in a string")
    }

    /// Reads the four hex digits after `\u`, leaving `index` on the last one.
    mutating func parseHex4() throws(JSONSyntaxError) -> UInt32 {
        guard index + 4 < bytes.count else { throw error("unexpected end of text in \\u") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            index += 1
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw error("expected a hex digit")
            }
            value = value << 4 | digit
        }
        return value
    }

    mutating func parseNumber() throws(JSONSyntaxError) -> Double {
        let start = index
        func digits(_ parser: inout JSONParser) -> Int {
            let from = parser.index
            while parser.index < parser.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(parser.bytes[parser.index]) {
                parser.index += 1
            }
            return parser.index - from
        }
        let negative = bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        guard index < bytes.count else { throw error("a number without digits") }
        let integerStart = index
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else if digits(&self) == 0 {
            throw error("a number without digits")
        }
        let integerDigits = index - integerStart
        var fractionDigits = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            fractionDigits = digits(&self)
            guard fractionDigits > 0 else { throw error("a fraction without digits") }
        }
        var hasExponent = false
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            hasExponent = true
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits(&self) > 0 else { throw error("an exponent without digits") }
        }
        // Figures as sources write them (`1234`, `87.5`): at most 15 digits are an integer below
        // 2^53, exact as a Double, and so is 10^k up to 10^22; one division of two exact values
        // rounds correctly, as the general parse below does (Clinger's fast path). The general
        // parse was most of the cost of reading a number.
        if !hasExponent, integerDigits + fractionDigits <= 15 {
            var mantissa: Int64 = 0
            for byte in UnsafeBufferPointer(rebasing: bytes[integerStart..<index]) where byte != UInt8(ascii: ".") {
                mantissa = mantissa &* 10 &+ Int64(byte &- UInt8(ascii: "0"))
            }
            var scale = 1.0
            for _ in 0..<fractionDigits { scale *= 10 }
            let magnitude = Double(mantissa) / scale
            return negative ? -magnitude : magnitude
        }
        // Swift's Double parsing rounds correctly; the grammar was checked above.
        guard let value = Double(Substring(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)), value.isFinite
        else {
            throw JSONSyntaxError(offset: start, message: "a number out of range")
        }
        return value
    }
}
