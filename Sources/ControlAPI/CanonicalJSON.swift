import LiveGateModel
import ChannelStore

/// The JSON Canonicalization Scheme (RFC 8785): one byte sequence per JSON value, so two bodies
/// that say the same thing — keys in another order, other whitespace, `1.0` for `1`, `\u00e9`
/// for `é` — compare equal. Idempotency keys compare request bodies this way
/// (docs/api.md, "Idempotency").
enum CanonicalJSON {
    static func serialize(_ value: JSONValue) -> String {
        var out = ""
        write(value, to: &out)
        return out
    }

    private static func write(_ value: JSONValue, to out: inout String) {
        switch value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let n): out += number(n)
        case .string(let s): string(s, to: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                write(item, to: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            // Sorted by the member names' UTF-16 code units (RFC 8785 §3.2.3), not by scalars.
            for (i, key) in members.keys.sorted(by: { $0.utf16.lexicographicallyPrecedes($1.utf16) }).enumerated() {
                if i > 0 { out += "," }
                string(key, to: &out)
                out += ":"
                write(members[key] ?? .null, to: &out)
            }
            out += "}"
        }
    }

    /// RFC 8785 §3.2.2.2: only `"`, `\` and control characters are escaped, the common ones by
    /// their short forms, the rest as `\u00xx`; everything else is written as itself.
    private static func string(_ s: String, to out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }

    /// ECMAScript's Number.prototype.toString (RFC 8785 §3.2.2.3): the shortest digits that
    /// read back as the same double (Swift's `description` finds them), laid out as ECMAScript
    /// does — plain notation for exponents from -7 to 20, `d.ddde±x` beyond.
    static func number(_ n: Double) -> String {
        if n == 0 { return "0" }
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
