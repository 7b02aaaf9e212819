import LiveGateModel
import ChannelStore
import Foundation
import Hummingbird

/// Query-string parameters; a bad value is a 400 (docs/contract.md §4: "bad query").
struct QueryReader {
    let request: Request

    func string(_ key: String) -> String? {
        guard let v = request.uri.queryParameters.get(key), !v.isEmpty else { return nil }
        return v
    }

    func limit() throws -> Int {
        guard let raw = string("limit") else { return 20 }
        guard let n = Int(raw), (1...100).contains(n) else { throw APIError.badRequest("limit must be an integer from 1 to 100") }
        return n
    }

    func date(_ key: String) throws -> Date? {
        guard let raw = string(key) else { return nil }
        guard let d = RFC3339.parse(raw) else { throw APIError.badRequest("\(key) must be an RFC 3339 timestamp") }
        return d
    }

    func status() throws -> Channel.Status? {
        guard let raw = string("status") else { return nil }
        guard let s = Channel.Status(rawValue: raw) else { throw APIError.badRequest("status must be live, reconnecting or offline") }
        return s
    }

    /// The `userId` filter, NFC-normalised; whitespace or control characters at its ends are
    /// refused with 422 naming it, as everywhere a user id enters (docs/api.md, "User ids").
    func userId() throws -> String? {
        guard let raw = request.uri.queryParameters.get("userId"), !raw.isEmpty else { return nil }
        if let problem = UserIdentifier.problem(raw) { throw APIError.invalid(["userId": problem]) }
        return UserIdentifier.normalize(raw)
    }

    /// `order=desc`, or the list's own default when absent.
    func descending(byDefault: Bool) -> Bool {
        switch string("order") {
        case "desc": return true
        case "asc": return false
        default: return byDefault
        }
    }

    func channelQuery(newestFirst: Bool = false) throws -> ChannelQuery {
        var query = ChannelQuery(status: try status(), userId: try userId(), tag: string("tag"), nameContains: string("q"),
                                 createdFrom: try date("from"), createdTo: try date("to"), limit: try limit(), cursor: string("cursor"),
                                 channelId: string("channelId"))
        query.descending = descending(byDefault: newestFirst)
        query.nodeId = string("node")
        return query
    }
}
