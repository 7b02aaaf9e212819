import Foundation

/// Arbitrary JSON (channel `metadata`, request bodies before validation). Typed, so the API can
/// say which field had the wrong type instead of failing a whole `Decodable`.
public enum JSONValue: Sendable, Equatable, Codable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let n):
            if n.rounded() == n, abs(n) < 9.007e15 { try c.encode(Int64(n)) } else { try c.encode(n) }
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// Compact JSON text, keys sorted (stable in the database and in tests): the canonical form
    /// (RFC 8785, `CanonicalJSON`), written byte by byte — Foundation's `JSONEncoder` cost more
    /// per publish than the store's own work (docs/architecture.md, "What a publish costs").
    public var jsonText: String { CanonicalJSON.serialize(self) }

    /// Nesting the stored JSON may have: request bodies are held to `StrictJSONParser.maxDepth`
    /// before anything is stored; this bound only keeps the parser's recursion shallow.
    static let storedMaxDepth = 128

    /// The value `text` holds, or nil when it is not JSON (or repeats a member name).
    public static func parse(_ text: String) -> JSONValue? {
        try? StrictJSONParser.parse(text.utf8, maxDepth: storedMaxDepth)
    }
}
