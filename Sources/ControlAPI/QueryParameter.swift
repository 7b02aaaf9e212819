import LiveGateModel
import ChannelStore

/// A query parameter an endpoint takes. The route table lists them, so the router refuses
/// the ones it does not know (400/4000 naming them — a misspelt `userid` filter must not
/// silently return every user's channels), checks the value of each one it does against the
/// same rule the OpenAPI document states for it (400/4000 naming it), and the document
/// describes each one.
struct QueryParameter: Sendable {
    enum Kind: Sendable {
        case string(maxLength: Int, pattern: String)
        case oneOf([String])
        case dateTime
        case integer(ClosedRange<Int64>)
    }

    var name: String
    var kind: Kind
    var description: String
    var defaultValue: JSONValue?

    init(_ name: String, _ kind: Kind, _ description: String, default defaultValue: JSONValue? = nil) {
        self.name = name
        self.kind = kind
        self.description = description
        self.defaultValue = defaultValue
    }

    static func string(_ name: String, _ description: String, maxLength: Int = 256, pattern: String = InputRules.tokenPattern) -> QueryParameter {
        QueryParameter(name, .string(maxLength: maxLength, pattern: pattern), description)
    }

    static func oneOf(_ name: String, _ values: [String], _ description: String) -> QueryParameter {
        QueryParameter(name, .oneOf(values), description)
    }

    static func time(_ name: String, _ description: String) -> QueryParameter {
        QueryParameter(name, .dateTime, description)
    }

    /// The largest integer a parameter takes: 2^53 − 1, the largest every JSON reader holds
    /// exactly. The document's `maximum` is a JSON number; at `Int64.max` it rounds to 2^63 and a
    /// client (schemathesis found it) may send 9223372036854775999 believing it in range.
    static let largestExactInteger: Int64 = 9_007_199_254_740_991

    static let limit = QueryParameter("limit", .integer(1...100), "Page size", default: .number(20))
    /// `nextCursor` of the previous page: `c<position>.<fingerprint of the query>` (a bare
    /// `c<position>` from an earlier version is taken as it is).
    static let cursorPattern = "^c[0-9]{1,18}(?:\\.[0-9a-f]{8})?$"
    static let cursor = QueryParameter.string("cursor", "`nextCursor` of the previous page, with the same filters and order", maxLength: 28,
                                              pattern: cursorPattern)
    /// `limit` and `cursor`: every list.
    static let list = [limit, cursor]
    /// `limit`, `cursor` and `order`: lists of things a client may want newest first.
    static func ordered(newestFirst: Bool) -> [QueryParameter] {
        list + [.oneOf("order", ["asc", "desc"], newestFirst ? "desc (the default): newest first; asc: oldest first" : "asc (the default): oldest first; desc: newest first")]
    }

    /// Why `value` is not acceptable, or nil.
    func problem(_ value: String) -> String? {
        switch kind {
        case .string(let maxLength, let pattern):
            if value.isEmpty { return "must not be empty" }
            if value.unicodeScalars.count > maxLength { return "must be at most \(maxLength) characters" }
            if pattern == InputRules.tokenPattern { return value.containsControlCharacter ? "must not contain control characters" : nil }
            // A user id's ends are checked by `QueryReader.userId()` (422, as for a body).
            if pattern == InputRules.userIdPattern { return value.containsControlCharacter ? "must not contain control characters" : nil }
            return InputRules.wholeMatch(value, pattern) ? nil : "is not valid (\(pattern == Cursor.pattern ? "pass nextCursor as returned" : "pattern \(pattern)"))"
        case .oneOf(let values):
            return values.contains(value) ? nil : "must be one of \(values.joined(separator: ", "))"
        case .dateTime:
            return RFC3339.parse(value) == nil ? "must be an RFC 3339 date-time (e.g. 2026-12-01T09:30:00Z)" : nil
        case .integer(let range):
            guard value.utf8.allSatisfy({ (48...57).contains($0) || $0 == UInt8(ascii: "-") }), let n = Int64(value), range.contains(n) else {
                return "must be an integer from \(range.lowerBound) to \(range.upperBound)"
            }
            return nil
        }
    }

    var schema: JSONValue {
        var o: [String: JSONValue]
        switch kind {
        case .string(let maxLength, let pattern):
            o = ["type": .string("string"), "minLength": .number(1), "maxLength": .number(Double(maxLength)), "pattern": .string(pattern)]
        case .oneOf(let values):
            o = ["type": .string("string"), "enum": .array(values.map { .string($0) })]
        case .dateTime:
            o = ["type": .string("string"), "format": .string("date-time")]
        case .integer(let range):
            o = ["type": .string("integer"), "minimum": .number(Double(range.lowerBound)), "maximum": .number(Double(range.upperBound))]
        }
        if let defaultValue { o["default"] = defaultValue }
        return .object(o)
    }

    var json: JSONValue {
        .object(["name": .string(name), "in": .string("query"), "required": .bool(false), "schema": schema, "description": .string(description)])
    }
}
