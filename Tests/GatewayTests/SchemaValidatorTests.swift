import Foundation
import GatewayContracts
import Testing

@Suite("JSON Schema validator")
struct SchemaValidatorTests {
    func json(_ text: String) throws -> JSONValue { try JSONValue.parse(Data(text.utf8)) }

    func violations(_ schema: String, _ instance: String, assertFormat: Bool = false) throws -> [SchemaViolation] {
        try JSONSchemaValidator(schema: json(schema), options: .init(assertFormat: assertFormat)).validate(json(instance))
    }

    @Test("each keyword accepts what it should and rejects what it should", arguments: [
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
        (#"{"if":{"properties":{"level":{"const":"commune"}}},"then":{"properties":{"area":{"pattern":"^[0-9]{5}$"}}}}"#,
         #"{"level":"commune","area":"03646"}"#, #"{"level":"commune","area":"14"}"#),
        (#"{"dependentSchemas":{"a":{"required":["b"]}}}"#, #"{"a":1,"b":2}"#, #"{"a":1}"#),
        (##"{"$defs":{"code":{"type":"string"}},"properties":{"p":{"$ref":"#/$defs/code"}}}"##, ##"{"p":"14"}"##, ##"{"p":14}"##),
        (#"{"minProperties":1,"maxProperties":1}"#, #"{"a":1}"#, "{}"),
    ])
    func keyword(schema: String, valid: String, invalid: String) throws {
        #expect(try violations(schema, valid).isEmpty, "\(valid) should be valid against \(schema)")
        #expect(try !violations(schema, invalid).isEmpty, "\(invalid) should be invalid against \(schema)")
    }

    @Test("errors carry instance and keyword locations as JSON Pointers, through $ref")
    func basicOutput() throws {
        let schema = ##"{"$defs":{"obs":{"type":"object","properties":{"value":{"maximum":100}}}},"properties":{"observations":{"items":{"$ref":"#/$defs/obs"}}}}"##
        let found = try violations(schema, #"{"observations":[{"value":1},{"value":130}]}"#)
        #expect(found.count == 1)
        #expect(found.first?.instanceLocation.description == "/observations/1/value")
        #expect(found.first?.keywordLocation.description == "/properties/observations/items/$ref/properties/value/maximum")
        #expect(found.first?.message == "130 is greater than the maximum 100")
    }

    @Test("recursive $ref and $anchor resolve")
    func recursion() throws {
        let schema = ##"{"$id":"urn:test:tree","type":"object","properties":{"children":{"type":"array","items":{"$ref":"#node"}}},"$defs":{"n":{"$anchor":"node","$ref":"urn:test:tree"}}}"##
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

    @Test("a keyword the validator does not implement is refused, not ignored")
    func unknownKeyword() throws {
        #expect(throws: ContractError.self) { try JSONSchemaValidator(schema: json(#"{"unevaluatedProperties":false}"#)) }
        #expect(throws: ContractError.self) { try JSONSchemaValidator(schema: json(##"{"$ref":"#/$defs/missing"}"##)) }
    }
}
