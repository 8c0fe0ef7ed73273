import Foundation

/// Writes a `JSONValue` as its canonical bytes: keys sorted, no insignificant white space,
/// integral numbers below 10^15 without a fraction, `/` not escaped. The bytes are those
/// `JSONEncoder` (`.sortedKeys`, `.withoutEscapingSlashes`) gave before; written directly because
/// going through `Encodable` was a seventh of the cost of signing a report.
package struct CanonicalJSONWriter {
    package var output: [UInt8] = []
    /// `JSONEncoder` writes `/` as `\/`; set to write what it writes.
    var escapesSlash = false

    package init(escapesSlash: Bool = false) { self.escapesSlash = escapesSlash }

    package mutating func write(_ value: JSONValue) {
        switch value {
        case .null: output.append(contentsOf: "null".utf8)
        case .bool(let flag): output.append(contentsOf: (flag ? "true" : "false").utf8)
        case .number(let number): writeNumber(number)
        case .string(let text): writeString(text)
        case .array(let elements):
            output.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                write(element)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let members):
            output.append(UInt8(ascii: "{"))
            // Objects the gateway builds are mostly in order already: checked in one pass rather
            // than sorted into a new array each time.
            if members.indices.dropFirst().allSatisfy({ members[$0 - 1].key < members[$0].key }) {
                writeMembers(members)
            } else {
                writeMembers(members.sorted(by: { $0.key < $1.key }))
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    package mutating func writeMembers(_ members: some Collection<(key: String, value: JSONValue)>) {
        var first = true
        for member in members {
            if !first { output.append(UInt8(ascii: ",")) }
            first = false
            writeString(member.key)
            output.append(UInt8(ascii: ":"))
            write(member.value)
        }
    }

    package mutating func writeNumber(_ number: Double) {
        if number.isFinite, number.rounded(.towardZero) == number, abs(number) < 1e15 {
            writeInteger(Int64(number))
        } else {
            var text = number.description
            // Swift writes 1e-07 and 1.5e+20 as JSONEncoder does; only a trailing ".0" differs.
            if text.hasSuffix(".0") { text.removeLast(2) }
            output.append(contentsOf: text.utf8)
        }
    }

    /// Text known to need no escaping, such as a member's name with its quotes and colon.
    package mutating func writeRaw(_ text: StaticString) {
        text.withUTF8Buffer { output.append(contentsOf: $0) }
    }

    /// Digits written straight into the output: `String(Int64)` made a string of each number only
    /// for its bytes to be copied out again, three times per observation.
    package mutating func writeInteger(_ number: Int64) {
        if number < 0 { output.append(UInt8(ascii: "-")) }
        var magnitude = number.magnitude
        // Callers pass less than 10^15: at most 15 digits, written from the last.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var start = digits.count
            repeat {
                start -= 1
                digits[start] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            output.append(contentsOf: UnsafeBufferPointer(rebasing: digits[start...]))
        }
    }

    package mutating func writeString(_ text: String) {
        output.append(UInt8(ascii: "\""))
        // Most text needs no escape: copied whole, rather than appended byte by byte. The scan
        // runs over the contiguous bytes; through the generic `UTF8View` it was the largest item
        // of signing a report. Read in place: `withUTF8` needs a mutable copy, a retain and a
        // release of every string written.
        let slash = escapesSlash ? UInt8(ascii: "/") : UInt8(ascii: "\"")
        let plain = text.utf8.withContiguousStorageIfAvailable { bytes in
            for byte in bytes where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte == slash {
                return false
            }
            output.append(contentsOf: bytes)
            return true
        }
        if plain == true {
            output.append(UInt8(ascii: "\""))
            return
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): output.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): output.append(contentsOf: #"\\"#.utf8)
            case UInt8(ascii: "/") where escapesSlash: output.append(contentsOf: #"\/"#.utf8)
            case 0x0A: output.append(contentsOf: #"\n"#.utf8)
            case 0x0D: output.append(contentsOf: #"\r"#.utf8)
            case 0x09: output.append(contentsOf: #"\t"#.utf8)
            case 0x08: output.append(contentsOf: #"\b"#.utf8)
            case 0x0C: output.append(contentsOf: #"\f"#.utf8)
            case 0..<0x20:
                output.append(contentsOf: #"\u00"#.utf8)
                output.append(Hex.digit(byte >> 4))
                output.append(Hex.digit(byte & 0x0F))
            default: output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }
}
