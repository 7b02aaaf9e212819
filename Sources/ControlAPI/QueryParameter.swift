import ChannelStore

/// A query parameter an endpoint takes. The route table lists them, so the router refuses
/// the ones it does not know (400/4000 naming them — a misspelt `userid` filter must not
/// silently return every user's channels) and the OpenAPI document describes each one.
struct QueryParameter: Sendable {
    var name: String
    var schema: JSONValue
    var description: String

    init(_ name: String, _ schema: JSONValue, _ description: String) {
        self.name = name
        self.schema = schema
        self.description = description
    }

    static func string(_ name: String, _ description: String, maxLength: Int = 256) -> QueryParameter {
        QueryParameter(name, .object(["type": .string("string"), "minLength": .number(1), "maxLength": .number(Double(maxLength))]), description)
    }

    static func oneOf(_ name: String, _ values: [String], _ description: String) -> QueryParameter {
        QueryParameter(name, .object(["type": .string("string"), "enum": .array(values.map { .string($0) })]), description)
    }

    static func time(_ name: String, _ description: String) -> QueryParameter {
        QueryParameter(name, .object(["type": .string("string"), "format": .string("date-time")]), description)
    }

    static let limit = QueryParameter("limit", .object(["type": .string("integer"), "minimum": .number(1), "maximum": .number(100),
                                                        "default": .number(20)]), "Page size")
    static let cursor = QueryParameter.string("cursor", "`nextCursor` of the previous page", maxLength: 512)
    /// `limit` and `cursor`: every list.
    static let list = [limit, cursor]

    var json: JSONValue {
        .object(["name": .string(name), "in": .string("query"), "required": .bool(false), "schema": schema, "description": .string(description)])
    }
}
