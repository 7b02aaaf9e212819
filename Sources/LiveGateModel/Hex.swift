/// Lowercase hexadecimal, for digests shown as text (token hashes, ETags, signatures).
///
/// Not `String(format: "%02x")` per byte: on Linux that goes through Foundation's `NSString`
/// formatting, and a profile of `GET /v1/channels/{id}` under `wrk` put 10 % of the server's CPU
/// there (the token hash and the ETag, 48 bytes a request) — BENCHMARKS.md, "API".
public enum Hex {
    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    public static func lowercase<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
