/// A JSON parser for request bodies that refuses what a lenient one lets through
/// (docs/api.md, "Strict JSON"): RFC 8259 text only, a duplicate member name anywhere (which a
/// lenient parser resolves silently, first or last wins) and nesting deeper than `maxDepth`.
/// Each refusal names where it happened, so the 400 can say so. `JSONValue.parse` reads the
/// JSON the store keeps (written by `CanonicalJSON`) with it too: Foundation's `JSONDecoder`
/// cost a publish more than its own database work (docs/architecture.md, "What a publish costs").
///
/// A pure function over bytes: it never traps on any input and its work is linear in the input.
public struct StrictJSONParser {
    public struct Failure: Error, Equatable {
        public enum Kind: Equatable, Sendable {
            case syntax
            case duplicateKey(String)
            case tooDeep
        }

        public var kind: Kind
        /// What went wrong, in words.
        public var message: String
        /// A JSON Pointer to the member or element where it happened ("" = the whole body).
        public var pointer: String
    }

    /// The deepest nesting a request body may have.
    public static let maxDepth = 32

    private let bytes: [UInt8]
    private var index = 0
    private var path: [String] = []

    private let depthLimit: Int

    private init(_ bytes: [UInt8], maxDepth: Int) {
        self.bytes = bytes
        depthLimit = maxDepth
    }

    public static func parse<Bytes: Sequence>(_ input: Bytes, maxDepth: Int = maxDepth) throws(Failure) -> JSONValue where Bytes.Element == UInt8 {
        var parser = StrictJSONParser(Array(input), maxDepth: maxDepth)
        // A UTF-8 byte order mark is not JSON (RFC 8259 §8.1: senders must not add one).
        parser.skipWhitespace()
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.index == parser.bytes.count else { throw parser.fail("unexpected data after the JSON value") }
        return value
    }

    private var pointer: String {
        path.isEmpty ? "" : "/" + path.map { $0.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1") }.joined(separator: "/")
    }

    private func fail(_ message: String, _ kind: Failure.Kind = .syntax) -> Failure {
        Failure(kind: kind, message: kind == .syntax ? "\(message) at byte \(index)" : message, pointer: pointer)
    }

    private mutating func skipWhitespace() {
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
    }

    private mutating func value(depth: Int) throws(Failure) -> JSONValue {
        guard index < bytes.count else { throw fail("unexpected end of the body") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw fail("unexpected character")
        }
    }

    private mutating func literal(_ word: String) throws(Failure) {
        let w = Array(word.utf8)
        guard index + w.count <= bytes.count, Array(bytes[index..<index + w.count]) == w else { throw fail("invalid literal") }
        index += w.count
    }

    private mutating func object(depth: Int) throws(Failure) -> JSONValue {
        guard depth <= depthLimit else { throw fail("nesting deeper than \(depthLimit) levels", .tooDeep) }
        index += 1
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a member name") }
            let key = try string()
            if members[key] != nil {
                path.append(key)
                defer { path.removeLast() }
                throw fail("duplicate member name \"\(String(key.unicodeScalars.prefix(64)))\"", .duplicateKey(key))
            }
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw fail("expected ':'") }
            index += 1
            skipWhitespace()
            path.append(key)
            members[key] = try value(depth: depth)
            path.removeLast()
            skipWhitespace()
            guard index < bytes.count else { throw fail("unexpected end of the body") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
            throw fail("expected ',' or '}'")
        }
    }

    private mutating func array(depth: Int) throws(Failure) -> JSONValue {
        guard depth <= depthLimit else { throw fail("nesting deeper than \(depthLimit) levels", .tooDeep) }
        index += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return .array(elements) }
        while true {
            skipWhitespace()
            path.append(String(elements.count))
            elements.append(try value(depth: depth))
            path.removeLast()
            skipWhitespace()
            guard index < bytes.count else { throw fail("unexpected end of the body") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "]") { index += 1; return .array(elements) }
            throw fail("expected ',' or ']'")
        }
    }

    private mutating func number() throws(Failure) -> Double {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        func digits(_ p: inout StrictJSONParser) -> Int {
            let s = p.index
            while p.index < p.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(p.bytes[p.index]) { p.index += 1 }
            return p.index - s
        }
        guard index < bytes.count else { throw fail("invalid number") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else if digits(&self) == 0 {
            throw fail("invalid number")
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits(&self) > 0 else { throw fail("invalid number") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits(&self) > 0 else { throw fail("invalid number") }
        }
        guard let n = Double(String(decoding: bytes[start..<index], as: UTF8.self)), n.isFinite else { throw fail("number out of range") }
        return n
    }

    private mutating func string() throws(Failure) -> String {
        index += 1
        var scalars = String.UnicodeScalarView()
        var run = [UInt8]()
        func flush(_ run: inout [UInt8], into scalars: inout String.UnicodeScalarView) throws(Failure) {
            guard !run.isEmpty else { return }
            guard let text = String(validating: run, as: UTF8.self) else { throw fail("invalid UTF-8 in a string") }
            scalars.append(contentsOf: text.unicodeScalars)
            run.removeAll(keepingCapacity: true)
        }
        while true {
            guard index < bytes.count else { throw fail("unterminated string") }
            let b = bytes[index]
            if b == UInt8(ascii: "\"") {
                index += 1
                try flush(&run, into: &scalars)
                return String(scalars)
            }
            if b < 0x20 { throw fail("unescaped control character in a string") }
            if b != UInt8(ascii: "\\") {
                run.append(b)
                index += 1
                continue
            }
            try flush(&run, into: &scalars)
            index += 1
            guard index < bytes.count else { throw fail("unterminated string") }
            let e = bytes[index]
            index += 1
            switch e {
            case UInt8(ascii: "\""): scalars.append("\"")
            case UInt8(ascii: "\\"): scalars.append("\\")
            case UInt8(ascii: "/"): scalars.append("/")
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "u"):
                let high = try hex4()
                if (0xD800...0xDBFF).contains(high) {
                    guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                        throw fail("unpaired surrogate in a string")
                    }
                    index += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low), let scalar = Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)) else {
                        throw fail("unpaired surrogate in a string")
                    }
                    scalars.append(scalar)
                } else {
                    guard let scalar = Unicode.Scalar(high) else { throw fail("unpaired surrogate in a string") }
                    scalars.append(scalar)
                }
            default:
                throw fail("invalid escape in a string")
            }
        }
    }

    private mutating func hex4() throws(Failure) -> UInt32 {
        guard index + 4 <= bytes.count else { throw fail("invalid \\u escape") }
        var v: UInt32 = 0
        for b in bytes[index..<index + 4] {
            let d: UInt32
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(b - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(b - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(b - UInt8(ascii: "A") + 10)
            default: throw fail("invalid \\u escape")
            }
            v = v << 4 | d
        }
        index += 4
        return v
    }
}
