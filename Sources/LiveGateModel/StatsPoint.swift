import Foundation

/// One 10 s point of `GET /v1/channels/{id}/stats/history` (docs/contract.md §4, "Stats
/// history"): rates over the 10 s that end at `at` (a multiple of 10 s, UTC); `health` is the worst state seen in them.
public struct StatsPoint: Sendable, Equatable {
    public var at: Date
    public var bitrateKbps: Double
    public var videoKbps: Double
    public var audioKbps: Double
    public var fps: Double
    public var keyframeIntervalSec: Double?
    public var health: HealthState
    public var droppedPackets: Int

    public init(at: Date, bitrateKbps: Double, videoKbps: Double, audioKbps: Double, fps: Double, keyframeIntervalSec: Double?,
                health: HealthState, droppedPackets: Int) {
        self.at = at
        self.bitrateKbps = bitrateKbps
        self.videoKbps = videoKbps
        self.audioKbps = audioKbps
        self.fps = fps
        self.keyframeIntervalSec = keyframeIntervalSec
        self.health = health
        self.droppedPackets = droppedPackets
    }

    public var json: JSONValue {
        .object(["at": .string(Timestamp.format(at)), "bitrateKbps": .number(bitrateKbps), "videoKbps": .number(videoKbps),
                 "audioKbps": .number(audioKbps), "fps": .number(fps), "keyframeIntervalSec": keyframeIntervalSec.map { .number($0) } ?? .null,
                 "health": .string(health.rawValue), "droppedPackets": .number(Double(droppedPackets))])
    }

    public init?(json: JSONValue) {
        guard case .object(let o) = json, case .string(let at)? = o["at"], case .string(let h)? = o["health"], let health = HealthState(rawValue: h)
        else { return nil }
        func n(_ k: String) -> Double? { if case .number(let v)? = o[k] { return v } else { return nil } }
        self.init(at: Timestamp.parse(at), bitrateKbps: n("bitrateKbps") ?? 0, videoKbps: n("videoKbps") ?? 0, audioKbps: n("audioKbps") ?? 0,
                  fps: n("fps") ?? 0, keyframeIntervalSec: n("keyframeIntervalSec"), health: health, droppedPackets: Int(n("droppedPackets") ?? 0))
    }
}

/// A channel's history as `stats/history` answers it: the latest session's points.
public struct StatsHistorySeries: Sendable, Equatable {
    public var sessionId: String
    public var nodeId: String
    public var points: [StatsPoint]
    public var updatedAt: Date

    public init(sessionId: String, nodeId: String, points: [StatsPoint], updatedAt: Date) {
        self.sessionId = sessionId
        self.nodeId = nodeId
        self.points = points
        self.updatedAt = updatedAt
    }

    public var json: JSONValue {
        .object(["sessionId": .string(sessionId), "nodeId": .string(nodeId), "updatedAt": .string(Timestamp.format(updatedAt)),
                 "intervalSec": .number(10), "points": .array(points.map(\.json))])
    }

    public init?(json: JSONValue) {
        guard case .object(let o) = json, case .string(let s)? = o["sessionId"], case .string(let n)? = o["nodeId"],
              case .string(let u)? = o["updatedAt"], case .array(let p)? = o["points"] else { return nil }
        self.init(sessionId: s, nodeId: n, points: p.compactMap(StatsPoint.init(json:)), updatedAt: Timestamp.parse(u))
    }
}
