import Crypto
import LiveGateModel
import Foundation

/// What a publisher asked to move (Enhanced RTMP's `NetConnection.Connect.ReconnectRequest`)
/// carries back in the `tcUrl` it was given: `?reconnect=lgr1.EXPIRY.MAC`, an HMAC-SHA256 with
/// the cluster's key over the channel and the expiry. Any node of the cluster can check it, so
/// the publisher may land on any of them and still take its session over whatever the
/// channel's duplicate policy (docs/contract.md §6, "Moving publishers"). Valid 10 s, as the
/// specification's request is; it names one channel, so it opens nothing else.
enum ReconnectToken {
    static let validity: TimeInterval = 10
    static let parameter = "reconnect"

    static func make(channelId: String, expires: Date, secret: String) -> String {
        let expiry = Int(expires.timeIntervalSince1970)
        return "lgr1.\(expiry).\(mac(channelId: channelId, expiry: expiry, secret: secret))"
    }

    /// Whether `query` (the connect's `app`/`tcUrl` query) carries a valid token for `channelId`.
    static func isValid(query: String?, channelId: String, now: Date, secret: String) -> Bool {
        guard let query else { return false }
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0] == parameter else { continue }
            let fields = parts[1].split(separator: ".")
            guard fields.count == 3, fields[0] == "lgr1", let expiry = Int(fields[1]) else { return false }
            guard Double(expiry) >= now.timeIntervalSince1970, Double(expiry) <= now.timeIntervalSince1970 + validity + 1 else { return false }
            let expected = mac(channelId: channelId, expiry: expiry, secret: secret)
            // Compared in constant time: the token is a credential while it lasts.
            return expected.utf8.count == fields[2].utf8.count && zip(expected.utf8, fields[2].utf8).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
        }
        return false
    }

    /// `base` with the token added to its query.
    static func url(_ base: String, token: String) -> String {
        base + (base.contains("?") ? "&" : "?") + parameter + "=" + token
    }

    private static func mac(channelId: String, expiry: Int, secret: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Data("reconnect\n\(channelId)\n\(expiry)".utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return Hex.lowercase(code)
    }
}
