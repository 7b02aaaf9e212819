/// The JSON Canonicalization Scheme (RFC 8785): one byte sequence per JSON value, so two bodies
/// that say the same thing — keys in another order, other whitespace, `1.0` for `1`, `\u00e9`
/// for `é` — compare equal. Idempotency keys compare request bodies this way
/// (docs/api.md, "Idempotency").
public enum CanonicalJSON {
    public static func serialize(_ value: JSONValue) -> String {
        var out: [UInt8] = []
        append(value, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `value`'s canonical bytes. Written byte by byte, not through `String`: every API
    /// answer is rendered this way (`Envelope.response`), and its `data` bytes are what the ETag
    /// hashes — one rendering serves both (BENCHMARKS.md, "API").
    public static func append(_ value: JSONValue, to out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let n): out.append(contentsOf: number(n).utf8)
        case .string(let s): string(s, to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                append(item, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            // Sorted by the member names' UTF-16 code units (RFC 8785 §3.2.3), not by scalars.
            for (i, key) in members.keys.sorted(by: precedes).enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                string(key, to: &out)
                out.append(UInt8(ascii: ":"))
                append(members[key] ?? .null, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// UTF-16 order. For the names the API uses (ASCII) it is byte order, compared without
    /// walking UTF-16 views; the two orders differ only past U+D7FF.
    private static func precedes(_ a: String, _ b: String) -> Bool {
        var a = a, b = b
        if let order = a.withUTF8({ x in b.withUTF8 { y -> Bool? in
            let n = min(x.count, y.count)
            for i in 0..<n where x[i] != y[i] {
                if x[i] < 0x80 && y[i] < 0x80 { return x[i] < y[i] }
                return nil
            }
            return x.count < y.count
        } }) { return order }
        return a.utf16.lexicographicallyPrecedes(b.utf16)
    }

    /// RFC 8785 §3.2.2.2: only `"`, `\` and control characters are escaped, the common ones by
    /// their short forms, the rest as `\u00xx`; everything else is written as itself. Byte-wise
    /// on UTF-8, which is the same: no byte of a multi-byte sequence is below 0x80.
    private static func string(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x08: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// ECMAScript's Number.prototype.toString (RFC 8785 §3.2.2.3): the shortest digits that
    /// read back as the same double (Swift's `description` finds them), laid out as ECMAScript
    /// does — plain notation for exponents from -7 to 20, `d.ddde±x` beyond.
    /// Not a number and the infinities have no JSON spelling: `null`, as an encoder that refused
    /// them would have left the whole value.
    public static func number(_ n: Double) -> String {
        guard n.isFinite else { return "null" }
        if n == 0 { return "0" }
        // Whole numbers below 2^53 (counts, seconds, sizes: nearly every number the API shows)
        // are their integer digits.
        if n.rounded(.towardZero) == n, abs(n) < 9_007_199_254_740_992 { return String(Int64(n)) }
        if n < 0 { return "-" + number(-n) }
        // The shortest round-trip digits and the decimal exponent, from Swift's own rendering.
        let text = n.description
        var mantissa = text, exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = String(text[..<e])
            exponent = Int(text[text.index(after: e)...]) ?? 0
        }
        var digits = mantissa.replacingOccurrences(of: ".", with: "")
        var pointAt = (mantissa.firstIndex(of: ".").map { mantissa.distance(from: mantissa.startIndex, to: $0) } ?? mantissa.count) + exponent
        while digits.hasPrefix("0") && digits.count > 1 { digits.removeFirst(); pointAt -= 1 }
        while digits.hasSuffix("0") && digits.count > 1 { digits.removeLast() }
        let k = digits.count, point = pointAt   // value = 0.digits × 10^point
        if k <= point && point <= 21 { return digits + String(repeating: "0", count: point - k) }
        if 0 < point && point <= 21 {
            let i = digits.index(digits.startIndex, offsetBy: point)
            return digits[..<i] + "." + digits[i...]
        }
        if -6 < point && point <= 0 { return "0." + String(repeating: "0", count: -point) + digits }
        let e = point - 1
        let sign = e < 0 ? "-" : "+"
        let head = String(digits.prefix(1)), tail = String(digits.dropFirst())
        return head + (tail.isEmpty ? "" : "." + tail) + "e" + sign + String(abs(e))
    }
}
