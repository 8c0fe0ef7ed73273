import Foundation
import GatewayContracts
import GatewayJSON

/// XML answers, such as WSO2 Data Services give (`<Entries xmlns="http://ws.wso2.org/dataservice">
/// <Entry>…</Entry></Entries>`), read into the JSON shape the mapping's paths use: an element
/// becomes its text when it has neither children nor attributes, otherwise an object of its
/// children by local name (a name that repeats becomes a list) and its attributes as `@name`.
/// Namespace prefixes are dropped, so `$.Entries.Entry` reaches `<ds:Entry>` too.
///
/// A parser of its own rather than libxml2: a data answer needs elements, attributes, text,
/// CDATA and the five entities, and refusing any DTD outright closes the door to entity-expansion
/// and external-entity attacks that a general parser must be configured against.
public enum XMLRecords {
    public struct SyntaxError: Error, CustomStringConvertible {
        public let line: Int
        public let message: String
        public var description: String { "line \(line): \(message)" }
    }

    static let maximumDepth = 256

    public static func parse(_ bytes: [UInt8]) throws(SyntaxError) -> JSONValue {
        var parser = Parser(bytes: bytes)
        return try parser.document()
    }

    struct Element {
        var name: String
        var attributes: [(String, String)] = []
        var children: [(String, JSONValue)] = []
        var text: [UInt8] = []

        var value: JSONValue {
            let ownAttributes = attributes.filter { $0.0 != "xmlns" && !$0.0.hasPrefix("xmlns:") }
            let trimmedText = String(decoding: text, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if children.isEmpty && ownAttributes.isEmpty { return .string(trimmedText) }
            var members = JSONObject()
            for (name, value) in ownAttributes { members["@" + XMLRecords.localName(name)] = .string(value) }
            // Repeated children become one array, placed where the first of them was.
            var byName: [String: [JSONValue]] = [:]
            var names: [String] = []
            for (name, value) in children {
                if byName[name] == nil { names.append(name) }
                byName[name, default: []].append(value)
            }
            for name in names { members[name] = byName[name]!.count == 1 ? byName[name]![0] : .array(byName[name]!) }
            if !trimmedText.isEmpty { members["#text"] = .string(trimmedText) }
            return .object(members)
        }
    }

    static func localName(_ name: String) -> String {
        name.split(separator: ":", maxSplits: 1).last.map(String.init) ?? name
    }

    struct Parser {
        let bytes: [UInt8]
        var index = 0
        var line = 1

        init(bytes: [UInt8]) {
            self.bytes = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? Array(bytes.dropFirst(3)) : bytes
        }

        func fail(_ message: String) -> SyntaxError { SyntaxError(line: line, message: message) }

        var atEnd: Bool { index >= bytes.count }

        func starts(with text: String) -> Bool {
            let pattern = Array(text.utf8)
            return index + pattern.count <= bytes.count && Array(bytes[index..<index + pattern.count]) == pattern
        }

        mutating func advance(_ count: Int = 1) {
            for _ in 0..<count where index < bytes.count {
                if bytes[index] == UInt8(ascii: "\n") { line += 1 }
                index += 1
            }
        }

        mutating func skip(past terminator: String, what: String) throws(SyntaxError) {
            let startLine = line
            while !atEnd, !starts(with: terminator) { advance() }
            guard !atEnd else { throw SyntaxError(line: startLine, message: "\(what) is never closed") }
            advance(terminator.utf8.count)
        }

        mutating func skipSpace() {
            while !atEnd, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { advance() }
        }

        /// Comments, processing instructions and white space, where they may stand between elements.
        mutating func skipMisc() throws(SyntaxError) {
            while true {
                skipSpace()
                if starts(with: "<!--") {
                    try skip(past: "-->", what: "a comment")
                } else if starts(with: "<?") {
                    try skip(past: "?>", what: "a processing instruction")
                } else if starts(with: "<!DOCTYPE") || starts(with: "<!ENTITY") {
                    throw fail("a DTD is not accepted in a data answer")
                } else {
                    return
                }
            }
        }

        mutating func document() throws(SyntaxError) -> JSONValue {
            guard String(bytes: bytes, encoding: .utf8) != nil else { throw SyntaxError(line: 1, message: "the text is not UTF-8") }
            try skipMisc()
            guard starts(with: "<") else { throw fail(atEnd ? "the answer is empty" : "the answer does not start with an element") }
            let root = try element(depth: 0)
            try skipMisc()
            guard atEnd else { throw fail("text after the root element") }
            return .object([Self.local(root.name): root.value])
        }

        static func local(_ name: String) -> String { XMLRecords.localName(name) }

        mutating func name() throws(SyntaxError) -> String {
            let start = index
            while !atEnd,
                !([0x20, 0x09, 0x0A, 0x0D, UInt8(ascii: "/"), UInt8(ascii: ">"), UInt8(ascii: "="), UInt8(ascii: "<")].contains(
                    bytes[index]))
            {
                advance()
            }
            guard index > start else { throw fail("a name is missing") }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        mutating func element(depth: Int) throws(SyntaxError) -> Element {
            guard depth < XMLRecords.maximumDepth else { throw fail("elements nest more than \(XMLRecords.maximumDepth) deep") }
            advance()  // <
            var element = Element(name: try name())
            // Attributes, then > or />.
            while true {
                skipSpace()
                guard !atEnd else { throw fail("the tag <\(element.name)> is never closed") }
                if starts(with: "/>") {
                    advance(2)
                    return element
                }
                if starts(with: ">") {
                    advance()
                    break
                }
                let attribute = try name()
                skipSpace()
                guard starts(with: "=") else { throw fail("the attribute \(attribute) has no value") }
                advance()
                skipSpace()
                guard !atEnd, bytes[index] == UInt8(ascii: "\"") || bytes[index] == UInt8(ascii: "'") else {
                    throw fail("the value of \(attribute) is not quoted")
                }
                let quote = bytes[index]
                advance()
                var raw: [UInt8] = []
                while !atEnd, bytes[index] != quote {
                    raw.append(bytes[index])
                    advance()
                }
                guard !atEnd else { throw fail("the value of \(attribute) is never closed") }
                advance()
                element.attributes.append((attribute, String(decoding: try decodeEntities(raw), as: UTF8.self)))
            }
            // Content up to the matching end tag.
            while true {
                guard !atEnd else { throw fail("<\(element.name)> is never closed") }
                if starts(with: "</") {
                    advance(2)
                    let closing = try name()
                    guard closing == element.name else { throw fail("</\(closing)> closes <\(element.name)>") }
                    skipSpace()
                    guard starts(with: ">") else { throw fail("</\(closing) is not closed with >") }
                    advance()
                    return element
                }
                if starts(with: "<![CDATA[") {
                    advance(9)
                    let startLine = line
                    while !atEnd, !starts(with: "]]>") {
                        element.text.append(bytes[index])
                        advance()
                    }
                    guard !atEnd else { throw SyntaxError(line: startLine, message: "a CDATA section is never closed") }
                    advance(3)
                } else if starts(with: "<!--") {
                    try skip(past: "-->", what: "a comment")
                } else if starts(with: "<?") {
                    try skip(past: "?>", what: "a processing instruction")
                } else if starts(with: "<!") {
                    throw fail("a DTD is not accepted in a data answer")
                } else if starts(with: "<") {
                    let child = try self.element(depth: depth + 1)
                    element.children.append((Self.local(child.name), child.value))
                } else {
                    var raw: [UInt8] = []
                    while !atEnd, bytes[index] != UInt8(ascii: "<") {
                        raw.append(bytes[index])
                        advance()
                    }
                    element.text += try decodeEntities(raw)
                }
            }
        }

        /// The five predefined entities and character references; any other is an error, since
        /// without a DTD none can be defined.
        func decodeEntities(_ raw: [UInt8]) throws(SyntaxError) -> [UInt8] {
            guard raw.contains(UInt8(ascii: "&")) else { return raw }
            var output: [UInt8] = []
            var position = 0
            while position < raw.count {
                guard raw[position] == UInt8(ascii: "&") else {
                    output.append(raw[position])
                    position += 1
                    continue
                }
                guard let end = raw[position...].firstIndex(of: UInt8(ascii: ";")) else { throw fail("an & is not an entity") }
                let entity = String(decoding: raw[(position + 1)..<end], as: UTF8.self)
                switch entity {
                case "lt": output.append(UInt8(ascii: "<"))
                case "gt": output.append(UInt8(ascii: ">"))
                case "amp": output.append(UInt8(ascii: "&"))
                case "quot": output.append(UInt8(ascii: "\""))
                case "apos": output.append(UInt8(ascii: "'"))
                default:
                    let code: UInt32?
                    if entity.hasPrefix("#x") || entity.hasPrefix("#X") {
                        code = UInt32(entity.dropFirst(2), radix: 16)
                    } else if entity.hasPrefix("#") {
                        code = UInt32(entity.dropFirst())
                    } else {
                        throw fail("the entity &\(entity); is not defined")
                    }
                    guard let code, let scalar = Unicode.Scalar(code) else { throw fail("&\(entity); is not a character") }
                    output += Array(String(Character(scalar)).utf8)
                }
                position = end + 1
            }
            return output
        }
    }
}
