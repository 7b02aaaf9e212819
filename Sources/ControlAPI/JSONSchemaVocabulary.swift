import LiveGateModel
import ChannelStore

/// A small JSON Schema vocabulary for the OpenAPI document's builders
/// (`OpenAPIEventSchemas`, `OpenAPIResourceSchemas`): conform and write `object([...])`.
protocol JSONSchemaVocabulary {}

extension JSONSchemaVocabulary {
    static var string: JSONValue { .object(["type": .string("string")]) }
    static var integer: JSONValue { .object(["type": .string("integer")]) }
    static var number: JSONValue { .object(["type": .string("number")]) }
    static var boolean: JSONValue { .object(["type": .string("boolean")]) }
    static var dateTime: JSONValue { .object(["type": .string("string"), "format": .string("date-time")]) }
    static var anyValue: JSONValue { .object([:]) }

    static func ref(_ name: String) -> JSONValue { .object(["$ref": .string("#/components/schemas/\(name)")]) }
    static func nullable(_ schema: JSONValue) -> JSONValue { .object(["oneOf": .array([schema, .object(["type": .string("null")])])]) }
    static func array(_ items: JSONValue) -> JSONValue { .object(["type": .string("array"), "items": items]) }
    static func oneOf(_ values: [String]) -> JSONValue { .object(["type": .string("string"), "enum": .array(values.map { .string($0) })]) }
    static func described(_ schema: JSONValue, _ text: String) -> JSONValue {
        guard case .object(var o) = schema else { return schema }
        o["description"] = .string(text)
        return .object(o)
    }

    /// A closed object: every property listed, `required` (default: all) present, nothing else.
    static func object(_ properties: [String: JSONValue], required: [String]? = nil, open: Bool = false) -> JSONValue {
        var o: [String: JSONValue] = ["type": .string("object"), "properties": .object(properties),
                                      "required": .array((required ?? properties.keys.sorted()).map { .string($0) })]
        if !open { o["additionalProperties"] = .bool(false) }
        return .object(o)
    }

    /// A string with the API's own rules (`InputRules`): a length in Unicode scalars and a pattern.
    static func text(_ pattern: String, min: Int = 1, max: Int) -> JSONValue {
        .object(["type": .string("string"), "minLength": .number(Double(min)), "maxLength": .number(Double(max)), "pattern": .string(pattern)])
    }

    /// `schema` or JSON null (a merge patch's "back to the default").
    static func orNull(_ schema: JSONValue) -> JSONValue {
        guard case .object(var o) = schema, case .string(let type)? = o["type"] else { return nullable(schema) }
        o["type"] = .array([.string(type), .string("null")])
        if case .array(let values)? = o["enum"] { o["enum"] = .array(values + [.null]) }
        return .object(o)
    }

    static func integer(_ range: ClosedRange<Int>) -> JSONValue {
        .object(["type": .string("integer"), "minimum": .number(Double(range.lowerBound)), "maximum": .number(Double(range.upperBound))])
    }

    static func array(_ items: JSONValue, maxItems: Int, minItems: Int = 0) -> JSONValue {
        .object(["type": .string("array"), "items": items, "maxItems": .number(Double(maxItems)), "minItems": .number(Double(minItems))])
    }

    /// A closed object with one more property (search results add `type`).
    static func adding(_ schema: JSONValue, _ name: String, _ property: JSONValue) -> JSONValue {
        guard case .object(var o) = schema, case .object(var properties)? = o["properties"], case .array(let required)? = o["required"] else { return schema }
        properties[name] = property
        o["properties"] = .object(properties)
        o["required"] = .array(required + [.string(name)])
        return .object(o)
    }

    /// `{items: [...], nextCursor}`: every list.
    static func page(_ item: JSONValue) -> JSONValue { object(["items": array(item), "nextCursor": nullable(text(QueryParameter.cursorPattern, max: 28))]) }
}
