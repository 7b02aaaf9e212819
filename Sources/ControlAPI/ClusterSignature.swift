import Crypto
import LiveGateModel
import Foundation

/// How one node proves to another that a request on `/internal/…` comes from a node of the same
/// cluster (docs/contract.md §7, "Files on several nodes"): an HMAC-SHA256, keyed with
/// `cluster.secret` (or the secret the shared database made), over the version, the time, the
/// sending node, the method and the path with its query. A request without it, signed with
/// another key, or more than `maxSkew` seconds old or early is refused — an API token never
/// opens these endpoints.
public enum ClusterSignature {
    public static let nodeHeader = "x-livegate-node"
    public static let timeHeader = "x-livegate-time"
    public static let signatureHeader = "x-livegate-signature"
    /// Clocks of nodes on one database agree to well within this (they are NTP-synchronised
    /// machines); a captured request replays for at most this long.
    public static let maxSkew: TimeInterval = 60

    static func message(time: Int, node: String, method: String, path: String) -> String {
        "v1\n\(time)\n\(node)\n\(method.uppercased())\n\(path)"
    }

    /// The three headers a signed request carries.
    public static func headers(secret: String, node: String, method: String, path: String, now: Date) -> [(String, String)] {
        let time = Int(now.timeIntervalSince1970)
        let mac = HMAC<SHA256>.authenticationCode(for: Data(message(time: time, node: node, method: method, path: path).utf8),
                                                  using: SymmetricKey(data: Data(secret.utf8)))
        return [(nodeHeader, node), (timeHeader, String(time)), (signatureHeader, "v1=" + Hex.lowercase(mac))]
    }

    /// Nil when the request is signed by a node holding `secret`; else why not (logged, never
    /// shown to the caller beyond a 403).
    public static func refusal(node: String?, time: String?, signature: String?, method: String, path: String, secret: String, now: Date) -> String? {
        guard let node, !node.isEmpty, let time, let seconds = Int(time), let signature else { return "not signed" }
        guard abs(now.timeIntervalSince1970 - Double(seconds)) <= maxSkew else { return "signed at a time more than \(Int(maxSkew)) s away" }
        guard signature.hasPrefix("v1="), let given = Data(hex: String(signature.dropFirst(3))) else { return "malformed signature" }
        let valid = HMAC<SHA256>.isValidAuthenticationCode(given, authenticating: Data(message(time: seconds, node: node, method: method, path: path).utf8),
                                                           using: SymmetricKey(data: Data(secret.utf8)))
        return valid ? nil : "bad signature"
    }
}

extension Data {
    /// Bytes from lower- or upper-case hex; nil for anything else.
    init?(hex: String) {
        guard hex.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(hex.count / 2)
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        self.init(bytes)
    }
}
