import Foundation
import GatewayContracts
import Testing
import GatewayJSON

/// The reference: what `JSONValue` was decoded with before it had a parser of its own.
struct ReferenceJSONValue: Decodable {
    let value: JSONValue
    init(from decoder: any Decoder) throws { value = try JSONValue(from: decoder) }
}

@Suite("JSON parser")
struct JSONParserTests {
    func parse(_ text: String) throws -> JSONValue { try JSONValue.parse(Data(text.utf8)) }

    @Test("values, escapes, surrogate pairs, numbers and nesting")
    func accepts() throws {
        #expect(
            try parse(#" {"a": [1, -0.5, 2e3, 1E-2, true, false, null], "b": {}} "#)
                == .object([
                    "a": .array([.number(1), .number(-0.5), .number(2000), .number(0.01), .bool(true), .bool(false), .null]),
                    "b": .object([:]),
                ]))
        #expect(try parse(#""Quý 3\/2025 \"x\" \\ \b\f\n\r\t \u00e9 \ud83d\ude00""#) == .string("Quý 3/2025 \"x\" \\ \u{8}\u{c}\n\r\t é 😀"))
        #expect(try parse("[]") == .array([]))
        #expect(try parse("0") == .number(0))
        #expect(try parse(String(repeating: "[", count: 500) + String(repeating: "]", count: 500)) != .null)
    }

    @Test("strings read eight bytes at a time stop at a quote, escape, control or non-ASCII byte wherever it falls")
    func stringsAtEveryOffset() throws {
        let reference = JSONDecoder()
        for length in 0..<40 {
            let plain = String((0..<length).map { Character(UnicodeScalar(UInt8(ascii: "A") + UInt8($0 % 26))) })
            #expect(try parse("\"\(plain)\"") == .string(plain))
            for position in 0...length {
                let before = String(plain.prefix(position)), after = String(plain.dropFirst(position))
                for insert in [#"\""#, #"\\"#, #"\n"#, #"\u00e9"#, "é", "😀", "\u{7F}", "~"] {
                    let text = "\"" + before + insert + after + "\""
                    let expected = try reference.decode(ReferenceJSONValue.self, from: Data(text.utf8)).value
                    #expect(try parse(text) == expected, "\(text)")
                }
                // A control character, or bytes that are not UTF-8, at this offset.
                for bad in [[UInt8(0x01)], [UInt8(0x1F)], [UInt8(0xFF)], [UInt8(0xC3)]] {
                    let bytes = Array("\"\(before)".utf8) + bad + Array("\(after)\"".utf8)
                    #expect(throws: JSONSyntaxError.self, "\(bad) at \(position) of \(length)") { try JSONValue.parse(Data(bytes)) }
                }
                do {
                    _ = try JSONValue.parse(Data(Array("\"\(before)".utf8) + [0x0A] + Array("\(after)\"".utf8)))
                    Issue.record("a raw line feed at \(position) of \(length) was accepted")
                } catch let error as JSONSyntaxError {
                    #expect(error.offset == 1 + position && error.message.contains("control character"), "\(error)")
                }
            }
        }
    }

    @Test("objects keep members in document order, one per name by code point; large ones are indexed")
    func objects() throws {
        // A repeated name keeps its first place and its last value.
        let repeated = try parse(#"{"b":1,"a":2,"b":3}"#).objectValue!
        #expect(repeated.keys == ["b", "a"])
        #expect(repeated["b"] == .number(3))
        // Canonically equivalent names of other code points are other members (é precomposed, then e
        // and a combining acute; the Kelvin sign and K).
        let equivalent = try parse(#"{"\u00e9":1,"e\u0301":2,"\u212A":3,"K":4}"#).objectValue!
        #expect(equivalent.count == 4)
        #expect(equivalent["\u{e9}"] == .number(1) && equivalent["e\u{301}"] == .number(2))
        #expect(equivalent["\u{212A}"] == .number(3) && equivalent["K"] == .number(4))

        // Past the size searched in place: every member is still found, replaced and removed.
        let names = (0..<300).map { "name\($0)" }
        var large = try parse("{" + names.enumerated().map { "\"\($1)\":\($0)" }.joined(separator: ",") + "}").objectValue!
        #expect(large.keys == names)
        #expect(names.enumerated().allSatisfy { large[$1] == .number(Double($0)) })
        #expect(large["name300"] == nil)
        large["name7"] = .string("seven")
        #expect(large.removeValue(forKey: "name3") == .number(3))
        #expect(large.count == 299 && large["name3"] == nil && large["name7"] == .string("seven") && large["name299"] == .number(299))
        while large.count > 2 { large.removeValue(forKey: large.keys[large.count / 2]) }
        #expect(large.keys == ["name0", "name299"] && large["name299"] == .number(299))

        // Equal and hashed alike in any order, and through Codable. (Foundation's coders key members
        // by `String`, so through them the Kelvin sign and K would be one name; the gateway's own
        // parser and writer are what contracts go through.)
        let forward = try parse(#"{"a":1,"b":[true,{"c":null}]}"#)
        let backward = try parse(#"{"b":[true,{"c":null}],"a":1}"#)
        #expect(forward == backward && forward.hashValue == backward.hashValue)
        #expect(forward != (try parse(#"{"a":1,"b":[true,{"c":0}]}"#)))
        #expect(try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(forward)) == backward)
    }

    @Test(
        "refuses what RFC 8259 refuses, naming the byte",
        arguments: [
            "", "{", "[1,]", "{\"a\":1,}", "01", "1.", ".5", "-", "1e", "+1", "tru", "nul", "\"abc", "\"\\x\"", "\"\\ud800\"",
            "\"\\udc00\"",
            "\"a\u{1}b\"", "[1] 2", "{\"a\" 1}", "{1:2}", "NaN", "1e400",
        ])
    func refuses(_ text: String) {
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(Data(text.utf8)) }
    }

    @Test("refuses invalid UTF-8 and nesting past 512 levels")
    func refusesBytes() {
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(Data([0x22, 0xC3, 0x28, 0x22])) }
        #expect(throws: JSONSyntaxError.self) {
            try JSONValue.parse(Data((String(repeating: "[", count: 600) + String(repeating: "]", count: 600)).utf8))
        }
        do {
            _ = try JSONValue.parse(Data(#"{"a": [1, 2,, 3]}"#.utf8))
        } catch let error as JSONSyntaxError {
            #expect(error.offset == 12, "\(error)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("numbers: the same Double, bit for bit, as Swift's own parsing for 20,000 random texts of every length and form")
    func numbersAgreeWithSwift() throws {
        var generator = SystemRandomNumberGenerator()
        func digits(_ count: Int) -> String {
            String((0..<count).map { _ in Character(String(Int.random(in: 0...9, using: &generator))) })
        }
        var texts = [
            "0", "-0", "0.0", "-0.0", "9007199254740993", "123456789012345", "1234567890123456", "0.1", "0.30000000000000004",
            "999999999999999", "99999999999999.9", "0.000000000000001", "1.7976931348623157e308", "5e-324", "87.5", "-42",
        ]
        for _ in 0..<20_000 {
            let integer =
                Int.random(in: 0...3, using: &generator) == 0
                ? "0" : String(Int.random(in: 1...9, using: &generator)) + digits(Int.random(in: 0...19, using: &generator))
            var text = (Bool.random(using: &generator) ? "-" : "") + integer
            if Bool.random(using: &generator) { text += "." + digits(Int.random(in: 1...24, using: &generator)) }
            if Int.random(in: 0...4, using: &generator) == 0 {
                text += ["e", "E", "e+", "e-"].randomElement(using: &generator)! + String(Int.random(in: 0...30, using: &generator))
            }
            texts.append(text)
        }
        for text in texts {
            let expected = try #require(Double(text))
            let parsed = try parse(text)
            #expect(
                parsed.numberValue?.bitPattern == expected.bitPattern, "\(text): \(String(describing: parsed)) but Swift reads \(expected)")
        }
    }

    @Test("agrees with JSONDecoder on every file of the JSON Schema Test Suite")
    func agreesOnTestSuite() throws {
        let suite = JSONSchemaSuiteTests.suiteDirectory
        let files =
            FileManager.default.enumerator(at: suite, includingPropertiesForKeys: nil)?.compactMap { $0 as? URL }.filter {
                $0.pathExtension == "json"
            } ?? []
        try #require(files.count > 50, "the suite is expected in Tests/JSONSchemaTestSuite")
        for file in files {
            let data = try Data(contentsOf: file)
            #expect(try JSONValue.parse(data) == (try JSONDecoder().decode(ReferenceJSONValue.self, from: data).value), "\(file.path)")
        }
    }
}

@Suite("Canonical JSON")
struct CanonicalJSONTests {
    /// What canonicalData wrote before it had a writer of its own.
    static func reference(_ value: JSONValue) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    @Test("the same bytes as JSONEncoder: numbers, escapes, non-ASCII keys and values")
    func sameBytes() throws {
        let numbers: [Double] = [
            0, -0.0, 1, -1, 7, -7, 10, 100, -1000, 1_234_567_890_123, -999_999_999_999_999, 62.5, 0.1, 1e-7, 123456.789,
            999_999_999_999_999, 1e15, 1.5e20, -2.5e-300, 1e300, 37.87, 88.79,
        ]
        for number in numbers {
            #expect(try JSONValue.number(number).canonicalData() == (try Self.reference(.number(number))), "\(number)")
        }
        let text = "Quý 3/2025 \"x\" \\ \u{1} \u{1f} \n\r\t\u{8}\u{c} é 😀 \u{2028} </script>"
        let value = JSONValue.object([
            "b": .array([.string(text), .null, .bool(true), .bool(false)]),
            "a": .object(["đ": .number(1), "d": .number(2), "Z": .number(3), "ä": .string("")]),
        ])
        #expect(String(decoding: try value.canonicalData(), as: UTF8.self) == String(decoding: try Self.reference(value), as: UTF8.self))
    }

    @Test("the same bytes as JSONEncoder for every file of the JSON Schema Test Suite")
    func sameBytesOnSuite() throws {
        let suite = JSONSchemaSuiteTests.suiteDirectory
        let files =
            FileManager.default.enumerator(at: suite, includingPropertiesForKeys: nil)?.compactMap { $0 as? URL }.filter {
                $0.pathExtension == "json"
            } ?? []
        try #require(files.count > 50)
        for file in files {
            let value = try JSONValue.parse(try Data(contentsOf: file))
            #expect(try value.canonicalData() == (try Self.reference(value)), "\(file.lastPathComponent)")
        }
    }
}
