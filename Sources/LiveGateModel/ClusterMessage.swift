import Foundation

/// What one node tells the others through the shared store (PostgreSQL `NOTIFY`, issue #14
/// items 2 and 5): a session moved, or the API changed something a live session on another
/// node must apply now. Small JSON payloads (NOTIFY carries at most 8000 bytes); every node
/// also resyncs periodically (lease renewal), so a message lost with a dropped connection
/// delays, but does not lose, what it says.
public enum ClusterMessage: Sendable, Equatable {
    /// A session's lease moved from `from` to `to` (a reconnect or a `replace` on `to`): `from`
    /// lets go of it — kicks its publisher, finishes its outputs — without ending it.
    case leaseMoved(channelId: String, sessionId: String, from: String, to: String)
    /// A key reset, a disable or a delete: the holder kicks the publisher and ends the session.
    case channelChanged(channelId: String, change: ChannelChange, origin: String)
    /// A channel's settings changed (policy, window, outputs): the holder reads it again.
    case channelEdited(channelId: String, origin: String)
    /// A user's limits were replaced: every node drops its cached copy.
    case userLimitsChanged(userId: String, origin: String)
    /// A channel's forwards changed: the holder applies them to the live session.
    case forwardsChanged(channelId: String, origin: String)
    /// `POST /v1/channels/{id}/reconnect` through another node: the holder asks its publisher to move.
    case reconnectRequested(channelId: String, origin: String)

    /// The node that sent it (a node ignores its own).
    public var origin: String {
        switch self {
        case .leaseMoved(_, _, _, let to): return to
        case .channelChanged(_, _, let o), .channelEdited(_, let o), .userLimitsChanged(_, let o), .forwardsChanged(_, let o),
             .reconnectRequested(_, let o): return o
        }
    }

    /// Its name on the wire (`leaseMoved`, `userLimitsChanged` …), for logs.
    public var kind: String {
        switch self {
        case .leaseMoved: return "leaseMoved"
        case .channelChanged: return "channelChanged"
        case .channelEdited: return "channelEdited"
        case .userLimitsChanged: return "userLimitsChanged"
        case .forwardsChanged: return "forwardsChanged"
        case .reconnectRequested: return "reconnectRequested"
        }
    }

    public var payload: String {
        let object: [String: String]
        switch self {
        case .leaseMoved(let c, let s, let from, let to): object = ["t": "leaseMoved", "channel": c, "session": s, "from": from, "to": to]
        case .channelChanged(let c, let change, let o): object = ["t": "channelChanged", "channel": c, "change": change.rawValue, "origin": o]
        case .channelEdited(let c, let o): object = ["t": "channelEdited", "channel": c, "origin": o]
        case .userLimitsChanged(let u, let o): object = ["t": "userLimitsChanged", "user": u, "origin": o]
        case .forwardsChanged(let c, let o): object = ["t": "forwardsChanged", "channel": c, "origin": o]
        case .reconnectRequested(let c, let o): object = ["t": "reconnectRequested", "channel": c, "origin": o]
        }
        return JSONValue.object(object.mapValues { .string($0) }).jsonText
    }

    /// Nil for a payload this version does not know (a newer node's message): ignored.
    public init?(payload: String) {
        guard case .object(let o)? = JSONValue.parse(payload) else { return nil }
        func s(_ key: String) -> String? { if case .string(let v)? = o[key] { return v } else { return nil } }
        switch s("t") {
        case "leaseMoved":
            guard let c = s("channel"), let session = s("session"), let from = s("from"), let to = s("to") else { return nil }
            self = .leaseMoved(channelId: c, sessionId: session, from: from, to: to)
        case "channelChanged":
            guard let c = s("channel"), let change = s("change").flatMap(ChannelChange.init(rawValue:)), let o = s("origin") else { return nil }
            self = .channelChanged(channelId: c, change: change, origin: o)
        case "channelEdited":
            guard let c = s("channel"), let o = s("origin") else { return nil }
            self = .channelEdited(channelId: c, origin: o)
        case "userLimitsChanged":
            guard let u = s("user"), let o = s("origin") else { return nil }
            self = .userLimitsChanged(userId: u, origin: o)
        case "forwardsChanged":
            guard let c = s("channel"), let o = s("origin") else { return nil }
            self = .forwardsChanged(channelId: c, origin: o)
        case "reconnectRequested":
            guard let c = s("channel"), let o = s("origin") else { return nil }
            self = .reconnectRequested(channelId: c, origin: o)
        default:
            return nil
        }
    }
}
