import Foundation
import GatewayContracts
import Testing
@testable import GatewayJSON

@Suite("JSON Schema validator")
struct SchemaValidatorTests {
    func json(_ text: String) throws -> JSONValue { try JSONValue.parse(Data(text.utf8)) }

    func violations(_ schema: String, _ instance: String, assertFormat: Bool = false) throws -> [SchemaViolation] {
        try JSONSchemaValidator(schema: json(schema), options: .init(assertFormat: assertFormat)).validate(json(instance))
    }

    @Test(
        "each keyword accepts what it should and rejects what it should",
        arguments: [
            (#"{"type":"integer"}"#, "3", "3.5"),
            (#"{"type":["string","null"]}"#, "null", "1"),
            (#"{"enum":[1,"a"]}"#, #""a""#, #""b""#),
            (#"{"const":{"a":[1]}}"#, #"{"a":[1.0]}"#, #"{"a":[2]}"#),
            (#"{"minimum":0,"exclusiveMaximum":100}"#, "99.9", "100"),
            (#"{"multipleOf":0.01}"#, "37.87", "37.875"),
            (#"{"minLength":2,"maxLength":3}"#, #""Quý""#, #""Q""#),
            (#"{"pattern":"^[0-9]{2}$"}"#, #""14""#, #""140""#),
            (#"{"required":["a"],"properties":{"a":{"type":"string"}}}"#, #"{"a":"x"}"#, #"{"b":1}"#),
            (#"{"properties":{"a":true},"additionalProperties":false}"#, #"{"a":1}"#, #"{"a":1,"b":2}"#),
            (#"{"patternProperties":{"^x_":{"type":"number"}},"additionalProperties":false}"#, #"{"x_a":1}"#, #"{"x_a":"1"}"#),
            (#"{"propertyNames":{"maxLength":2}}"#, #"{"ab":1}"#, #"{"abc":1}"#),
            (#"{"dependentRequired":{"numerator":["denominator"]}}"#, #"{"numerator":1,"denominator":2}"#, #"{"numerator":1}"#),
            (#"{"prefixItems":[{"type":"string"}],"items":{"type":"number"}}"#, #"["a",1,2]"#, #"["a","b"]"#),
            (#"{"contains":{"const":1},"minContains":2}"#, "[1,1,2]", "[1,2]"),
            (#"{"uniqueItems":true,"minItems":1,"maxItems":3}"#, "[1,2]", "[1,1]"),
            (#"{"anyOf":[{"type":"string"},{"minimum":10}]}"#, "12", "5"),
            (#"{"oneOf":[{"minimum":0},{"maximum":10}]}"#, "20", "5"),
            (#"{"not":{"type":"null"}}"#, "0", "null"),
            (
                #"{"if":{"properties":{"level":{"const":"commune"}}},"then":{"properties":{"area":{"pattern":"^[0-9]{5}$"}}}}"#,
                #"{"level":"commune","area":"03646"}"#, #"{"level":"commune","area":"14"}"#
            ),
            (#"{"dependentSchemas":{"a":{"required":["b"]}}}"#, #"{"a":1,"b":2}"#, #"{"a":1}"#),
            (##"{"$defs":{"code":{"type":"string"}},"properties":{"p":{"$ref":"#/$defs/code"}}}"##, ##"{"p":"14"}"##, ##"{"p":14}"##),
            (#"{"minProperties":1,"maxProperties":1}"#, #"{"a":1}"#, "{}"),
        ])
    func keyword(schema: String, valid: String, invalid: String) throws {
        #expect(try violations(schema, valid).isEmpty, "\(valid) should be valid against \(schema)")
        #expect(try !violations(schema, invalid).isEmpty, "\(invalid) should be invalid against \(schema)")
    }

    @Test(
        "the yes-or-no path, which fuses properties, required, additionalProperties and dependentRequired, agrees with the reporting path")
    func fusedObjectChecks() throws {
        let schema = try json(
            #"""
            {"type":"object","required":["a"],"additionalProperties":false,
             "properties":{"a":{"type":"string"},"n":{"type":"number"},"d":{"type":"number"}},
             "dependentRequired":{"n":["d"],"d":["n"],"a":["n"]}}
            """#)
        let validator = try JSONSchemaValidator(schema: schema)
        let cases: [(String, Bool)] = [
            (#"{"a":"s","n":1,"d":2}"#, true),
            (#"{"a":"s","n":1}"#, false),  // n requires d
            (#"{"a":"s"}"#, false),  // a requires n
            (#"{"a":"s","n":1,"d":2,"x":1}"#, false),  // x is not allowed
            (#"{"n":1,"d":2}"#, false),  // a is required
        ]
        for (instance, expected) in cases {
            let value = try json(instance)
            #expect(validator.isValid(value) == expected, "\(instance)")
            #expect(validator.validate(value).isEmpty == expected, "\(instance)")
        }
        let open = try JSONSchemaValidator(
            schema: json(
                #"""
                {"required":["a"],"properties":{"a":{"type":"string"},"n":{"type":"number"}},"dependentRequired":{"n":["d"]}}
                """#))
        for (instance, expected) in [
            (#"{"a":"s"}"#, true), (#"{"a":"s","n":1}"#, false), (#"{"a":"s","n":1,"d":"any"}"#, true),
            (#"{"a":"s","d":1}"#, true), (#"{"a":1,"n":1,"d":1}"#, false), (#"{"n":1,"d":1}"#, false),
        ] {
            let value = try json(instance)
            #expect(open.isValid(value) == expected, "\(instance)")
            #expect(open.validate(value).isEmpty == expected, "\(instance)")
        }
        // Member names are compared by code point, as JSON Schema says, on both paths: the Kelvin
        // sign is not K, though Swift's `String ==` takes them for one.
        let byCodePoint: [(schemaName: String, instance: String, valid: Bool)] = [
            ("K", #"{"K":"x"}"#, true), ("K", #"{"K":1}"#, false), ("K", #"{"\u212A":"x"}"#, false),
            ("K", #"{"K":"x","\u212A":"y"}"#, false),
            ("\\u212A", #"{"\u212A":"x"}"#, true), ("\\u212A", #"{"\u212A":1}"#, false), ("\\u212A", #"{"K":"x"}"#, false),
        ]
        for (name, instance, expected) in byCodePoint {
            let kelvin = try JSONSchemaValidator(
                schema: json(#"{"properties":{"\#(name)":{"type":"string"}},"additionalProperties":false}"#))
            let value = try json(instance)
            #expect(kelvin.isValid(value) == expected, "\(name): \(instance)")
            #expect(kelvin.validate(value).isEmpty == expected, "\(name): \(instance)")
        }
        #expect(try json(#"{"K":"x","\u212A":"y"}"#).objectValue?.count == 2)
        // The same for `enum` and `const` values, on the path for lists of ASCII strings and the general one.
        for (schema, instance, expected) in [
            (#"{"enum":["K","province"]}"#, #""K""#, true), (#"{"enum":["K","province"]}"#, #""\u212A""#, false),
            (#"{"enum":["K","province"]}"#, #""provinc""#, false), (#"{"const":"K"}"#, #""\u212A""#, false),
            (#"{"enum":["\u212A",1]}"#, #""K""#, false), (#"{"enum":["\u212A",1]}"#, #""\u212A""#, true), (#"{"enum":["K"]}"#, "1", false),
        ] {
            let validator = try JSONSchemaValidator(schema: json(schema))
            #expect(validator.isValid(try json(instance)) == expected, "\(schema): \(instance)")
            #expect(validator.validate(try json(instance)).isEmpty == expected, "\(schema): \(instance)")
        }
    }

    @Test("errors carry instance and keyword locations as JSON Pointers, through $ref")
    func basicOutput() throws {
        let schema =
            ##"{"$defs":{"obs":{"type":"object","properties":{"value":{"maximum":100}}}},"properties":{"observations":{"items":{"$ref":"#/$defs/obs"}}}}"##
        let found = try violations(schema, #"{"observations":[{"value":1},{"value":130}]}"#)
        #expect(found.count == 1)
        #expect(found.first?.instanceLocation.description == "/observations/1/value")
        #expect(found.first?.keywordLocation.description == "/properties/observations/items/$ref/properties/value/maximum")
        #expect(found.first?.message == "130 is greater than the maximum 100")
    }

    @Test("recursive $ref and $anchor resolve")
    func recursion() throws {
        let schema =
            ##"{"$id":"urn:test:tree","type":"object","properties":{"children":{"type":"array","items":{"$ref":"#node"}}},"$defs":{"n":{"$anchor":"node","$ref":"urn:test:tree"}}}"##
        #expect(try violations(schema, #"{"children":[{"children":[]}]}"#).isEmpty)
        #expect(try !violations(schema, #"{"children":[{"children":[1]}]}"#).isEmpty)
    }

    @Test("format is an annotation unless asserted")
    func format() throws {
        let schema = #"{"format":"date-time"}"#
        #expect(try violations(schema, #""yesterday""#).isEmpty)
        #expect(try !violations(schema, #""yesterday""#, assertFormat: true).isEmpty)
        #expect(try violations(schema, #""2026-11-22T04:00:00+07:00""#, assertFormat: true).isEmpty)
    }

    @Test("an unknown keyword is ignored as the specification says, or refused in strict mode, which the contracts use")
    func unknownKeyword() throws {
        let misspelt = try json(#"{"maximun":3}"#)
        #expect(try JSONSchemaValidator(schema: misspelt).isValid(.number(5)))
        #expect(throws: ContractError.self) { try JSONSchemaValidator(schema: misspelt, options: .init(rejectUnknownKeywords: true)) }
        #expect(
            try JSONSchemaValidator(schema: json(#"{"x-unit":"%","maximum":3}"#), options: .init(rejectUnknownKeywords: true)).isValid(
                .number(3)))
        #expect(throws: ContractError.self) { try JSONSchemaValidator(schema: json(##"{"$ref":"#/$defs/missing"}"##)) }
    }
}

@Suite("Formats and ECMA-262 patterns")
struct FormatAndPatternTests {
    func asserted(_ format: String, _ text: String) throws -> Bool {
        try JSONSchemaValidator(schema: .object(["format": .string(format)]), options: .init(assertFormat: true)).isValid(.string(text))
    }

    // The official suite's optional/format/ covers date, date-time, email, uri and uuid; these are the rest.
    @Test(
        "formats the suite does not cover accept and refuse what their RFCs say",
        arguments: [
            ("time", "23:59:60Z", "23:59:60+01:00"),
            ("time", "08:30:06.283185+07:00", "8:30:06Z"),
            ("duration", "P1Y2M3DT4H5M6S", "P1D2Y"),
            ("duration", "PT36H", "PT"),
            ("duration", "P4W", "P1Y4W"),
            ("hostname", "dvc.sonla.gov.vn", "-dvc.sonla.gov.vn"),
            ("hostname", "xn--sn-la-4va.vn", "a..b"),
            ("ipv4", "192.168.0.1", "192.168.00.1"),
            ("ipv4", "10.0.0.255", "10.0.0.256"),
            ("ipv6", "2001:db8::1", "2001:db8:::1"),
            ("ipv6", "::ffff:192.0.2.128", "1:2:3:4:5:6:7:8:9"),
            ("uri-reference", "../contracts/v1/report.schema.json#/$defs/observation", "\\\\server\\share"),
            ("uri-reference", "//lgsp.sonla.gov.vn/api?x=1", "a b"),
            ("regex", "^[0-9]{2,5}$", "^(unclosed"),
            ("json-pointer", "/observations/0/value", "observations"),
            ("json-pointer", "/a~1b", "/a~2b"),
            ("relative-json-pointer", "1/value", "-1/value"),
        ])
    func format(name: String, valid: String, invalid: String) throws {
        #expect(try asserted(name, valid), "\(valid) should be a valid \(name)")
        #expect(try !asserted(name, invalid), "\(invalid) should not be a valid \(name)")
    }

    func matches(_ pattern: String, _ text: String) throws -> Bool {
        try JSONSchemaValidator(schema: .object(["pattern": .string(pattern)])).isValid(.string(text))
    }

    @Test("patterns mean what ECMA-262 says where ICU differs")
    func ecmaSemantics() throws {
        // \d and \w are ASCII in ECMA-262; ICU would accept the Bengali digit.
        #expect(try !matches(#"^\d+$"#, "1৪"))
        #expect(try !matches(#"^\w+$"#, "é"))
        #expect(try matches(#"^[\d]+$"#, "2025"))
        #expect(try !matches(#"^[\D]$"#, "7"))
        // $ is the very end; ICU would also match before a final newline.
        #expect(try !matches(#"^abc$"#, "abc\n"))
        // \s includes U+FEFF and U+000B in ECMA-262.
        #expect(try matches(#"^\s$"#, "\u{FEFF}"))
        #expect(try matches(#"^\s$"#, "\u{0B}"))
        #expect(try matches(#"\p{Letter}"#, "Sơn La"))
    }

    @Test("the native matcher agrees with ICU on every pattern and string tried")
    func nativeMatcherAgreesWithICU() throws {
        let patterns = [
            "^[0-9]{2}$", "^[0-9]{2,5}$", "^[A-Z][A-Z0-9_]{1,63}$", "^[A-Za-z0-9._-]+$", "^[0-9a-f]{8}-[0-9a-f]{4}$",
            "^[0-9]{4}(-(H[12]|Q[1-4]|0[1-9]|1[0-2]))?$", "^a*b?c+$", "^x\\.y$", "^\\d{4}-\\d{2}$", "^[a-c]{0,3}[d-f]*$",
            "^a*a$", "^(a|ab)(c|bcd)(d*)$", "a+", "^[^0-9]+$", "[\\s\\d]x", "^(?:ab|a)*?b$", "é.", "^.{2}$", "c$", "^(a*)*$",
            "^[\\w-]+@[a-z]+\\.(vn|com)$",
        ]
        let alphabet = Array("0123456789abcdefxyzABCZHQ_.-@é\n \u{2028}")
        var generator = SystemRandomNumberGenerator()
        var tried = 0, asciiTried = 0
        for pattern in patterns {
            let native = try #require(NativeRegex(pattern), "\(pattern) should take the native matcher")
            // Every pattern here is small enough for the ASCII automaton; the thread machine still
            // answers for texts with other characters.
            let automaton = try #require(native.ascii, "\(pattern) should have an ASCII automaton")
            let icu = try NSRegularExpression(pattern: ECMARegex.translate(pattern))
            let regex = try ECMARegex(pattern)
            for _ in 0..<1500 {
                let length = Int.random(in: 0...9, using: &generator)
                var text = String((0..<length).map { _ in alphabet.randomElement(using: &generator)! })
                let expected = icu.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
                #expect(regex.matches(text) == expected, "\(pattern) on \(text.debugDescription)")
                if text.utf8.allSatisfy({ $0 < 0x80 }) {
                    #expect(text.withUTF8 { automaton.matches($0) } == expected, "automaton: \(pattern) on \(text.debugDescription)")
                    asciiTried += 1
                }
                tried += 1
            }
        }
        #expect(tried == patterns.count * 1500)
        #expect(asciiTried > tried / 4)
        // Which of them the differential above checked as one run of classes rather than an automaton.
        let runs = patterns.filter { NativeRegex($0)?.ascii?.run != nil }
        #expect(
            runs == [
                "^[0-9]{2}$", "^[0-9]{2,5}$", "^[A-Z][A-Z0-9_]{1,63}$", "^[A-Za-z0-9._-]+$", "^[0-9a-f]{8}-[0-9a-f]{4}$",
                "^x\\.y$", "^\\d{4}-\\d{2}$", "^a*a$", "^[^0-9]+$", "^.{2}$",
            ])
        #expect(try ECMARegex("^[0-9]{4}(-(H[12]|Q[1-4]))?$").matches("2025-Q3"))
        // What it does not implement is left to ICU rather than guessed.
        for unsupported in ["(a)\\1", "a(?=b)", "\\bword", "\\p{Letter}", "[[:alpha:]]"] {
            #expect(NativeRegex(unsupported) == nil, "\(unsupported)")
        }
    }
}
