import Foundation
import HTTPTypes
import Hummingbird
import LiveGateModel

/// `GET /v1/channels/{id}/stats/history` (docs/contract.md §4, "Stats history"): the 10 s
/// points the node carrying the channel keeps in memory. Asked on any node: this node's if it
/// has them, else the lease holder's, else (a channel no longer live) whichever node has the
/// freshest — each asked through the signed node-to-node endpoint.
extension ControlAPI {
    static let historyWindow = QueryParameter.string("window", "How far back: 10s to 1h (`90s`, `15m`, `1h`, or seconds); default 1h",
                                                     maxLength: 5, pattern: windowPattern)
    /// 10 … 3600 seconds (`s` optional), 1 … 60 minutes, or `1h`: exactly what is accepted.
    static let windowPattern = "^(?:(?:[1-9][0-9]|[1-9][0-9]{2}|[12][0-9]{3}|3[0-5][0-9]{2}|3600)s?|(?:[1-9]|[1-5][0-9]|60)m|1h)$"

    /// Seconds from `1h`, `15m`, `90s` or `600`; nil when out of 10 s … 1 h.
    static func windowSeconds(_ text: String?) -> TimeInterval? {
        guard let text, !text.isEmpty else { return 3600 }
        var digits = Substring(text), unit = 1.0
        switch text.last {
        case "h": unit = 3600; digits = digits.dropLast()
        case "m": unit = 60; digits = digits.dropLast()
        case "s": digits = digits.dropLast()
        default: break
        }
        guard let n = Double(digits) else { return nil }
        let seconds = n * unit
        return (10...3600).contains(seconds) ? seconds : nil
    }

    func channelStatsHistory(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let id = try parameter(context, "id")
        guard let channel = try await store.channel(id: id) else { throw APIError.notFound("channel") }
        guard let window = Self.windowSeconds(QueryReader(request: request).string("window")) else {
            let problem = "from 10s to 1h: 90s, 15m, 1h or a number of seconds"
            throw APIError(.badRequest, ec: 4000, "query parameter window: \(problem)", data: .object(["fields": .object(["window": .string(problem)])]))
        }
        var series = await sessions.statsHistory(id, window: window)
        if series == nil { series = await peerHistory(channelId: id, window: window) }
        let data: JSONValue
        if let series {
            data = series.json
        } else {
            data = .object(["sessionId": .null, "nodeId": .null, "updatedAt": .null, "intervalSec": .number(10), "points": .array([])])
        }
        guard case .object(var o) = data else { return Envelope.response(data: data) }
        o["channelId"] = .string(channel.id)
        o["status"] = .string(channel.status.rawValue)
        o["windowSec"] = .number(window)
        return Envelope.response(data: .object(o))
    }

    /// The holder's history, or the freshest any other node has.
    func peerHistory(channelId: String, window: TimeInterval) async -> StatsHistorySeries? {
        guard let relay = configuration.peers else { return nil }
        let me = relay.settings.nodeId
        let path = "/internal/v1/channels/\(channelId)/stats/history?window=\(Int(window))s"
        if let holder = await relay.hlsHolder(channelId: channelId), holder != me, let node = await relay.node(id: holder),
           let series = await relay.json(node: node, path: path).flatMap(StatsHistorySeries.init(json:)) {
            return series
        }
        var best: StatsHistorySeries?
        for node in (try? await store.nodes()) ?? [] where node.id != me && node.isHealthy(at: Date()) {
            if let s = await relay.json(node: node, path: path).flatMap(StatsHistorySeries.init(json:)), s.updatedAt > (best?.updatedAt ?? .distantPast) {
                best = s
            }
        }
        return best
    }

    /// `GET /internal/v1/channels/{id}/stats/history`: this node's own points, for another node.
    func internalStatsHistory(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try checkPeer(request)
        let id = try parameter(context, "id")
        let window = Self.windowSeconds(QueryReader(request: request).string("window")) ?? 3600
        guard let series = await sessions.statsHistory(id, window: window) else { throw APIError.notFound("history") }
        return Envelope.response(data: series.json)
    }
}
