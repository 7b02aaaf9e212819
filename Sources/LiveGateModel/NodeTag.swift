/// A short, stable, file-name-safe tag for a node id (8 hex digits, FNV-1a of its UTF-8):
/// HLS segment names carry the tag of the node that wrote them, so any node can tell which
/// node to fetch a segment from, and segments of nodes sharing storage never collide
/// (docs/contract.md §7, "Files on several nodes").
public enum NodeTag {
    public static func of(_ nodeId: String) -> String {
        var hash: UInt32 = 2_166_136_261
        for byte in nodeId.utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 16_777_619
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }

    /// The node tag in an HLS segment name (`sSESSION-TAG-RUN-GEN-NNNNN.ts`); nil for a name
    /// of another shape (one written before tags).
    public static func inSegmentName(_ name: String) -> String? {
        let parts = name.split(separator: "-")
        guard parts.count == 5, parts[1].count == 8, parts[1].allSatisfy(\.isHexDigit) else { return nil }
        return String(parts[1])
    }
}
