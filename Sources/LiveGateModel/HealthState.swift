import Foundation

/// A live stream's health as judged from what arrives (docs/contract.md §4, "Stream health").
public enum HealthState: String, Sendable, Equatable, CaseIterable, Comparable {
    case healthy, degraded, starving

    public var rank: Int {
        switch self {
        case .healthy: 0
        case .degraded: 1
        case .starving: 2
        }
    }

    public static func < (a: HealthState, b: HealthState) -> Bool { a.rank < b.rank }
}

/// Seconds spent in each health state (stored with the session: docs/contract.md §4).
public struct HealthSeconds: Sendable, Equatable {
    public var healthy: Double = 0
    public var degraded: Double = 0
    public var starving: Double = 0

    public init(healthy: Double = 0, degraded: Double = 0, starving: Double = 0) {
        self.healthy = healthy
        self.degraded = degraded
        self.starving = starving
    }

    public mutating func add(_ seconds: Double, to state: HealthState) {
        switch state {
        case .healthy: healthy += seconds
        case .degraded: degraded += seconds
        case .starving: starving += seconds
        }
    }

    public var isZero: Bool { healthy == 0 && degraded == 0 && starving == 0 }
}

extension HealthSeconds {
    public var json: JSONValue {
        func tenths(_ v: Double) -> JSONValue { .number((v * 10).rounded() / 10) }
        return .object(["healthySec": tenths(healthy), "degradedSec": tenths(degraded), "starvingSec": tenths(starving)])
    }

    public init?(json: JSONValue?) {
        guard case .object(let o)? = json else { return nil }
        func n(_ k: String) -> Double { if case .number(let v)? = o[k] { return v } else { return 0 } }
        self.init(healthy: n("healthySec"), degraded: n("degradedSec"), starving: n("starvingSec"))
    }
}

/// `health` in `/v1/channels/{id}/stats` (docs/contract.md §4, "Stream health"): the state,
/// why, and the figures it was judged from.
public struct ChannelHealth: Sendable, Equatable {
    public var state: HealthState
    public var reasons: [String]
    public var since: Date
    public var receivedFps: Double?
    public var streamFps: Double?
    public var videoKbps: Double?
    public var audioKbps: Double?
    public var keyframeIntervalSec: Double?
    public var medianKeyframeIntervalSec: Double?
    public var avDriftMs: Int64?
    public var timestampLagMs: Int64?
    public var droppedPackets: Int
    public var seconds: HealthSeconds

    public init(state: HealthState, reasons: [String], since: Date, receivedFps: Double? = nil, streamFps: Double? = nil, videoKbps: Double? = nil,
                audioKbps: Double? = nil, keyframeIntervalSec: Double? = nil, medianKeyframeIntervalSec: Double? = nil, avDriftMs: Int64? = nil,
                timestampLagMs: Int64? = nil, droppedPackets: Int = 0, seconds: HealthSeconds = HealthSeconds()) {
        self.state = state
        self.reasons = reasons
        self.since = since
        self.receivedFps = receivedFps
        self.streamFps = streamFps
        self.videoKbps = videoKbps
        self.audioKbps = audioKbps
        self.keyframeIntervalSec = keyframeIntervalSec
        self.medianKeyframeIntervalSec = medianKeyframeIntervalSec
        self.avDriftMs = avDriftMs
        self.timestampLagMs = timestampLagMs
        self.droppedPackets = droppedPackets
        self.seconds = seconds
    }

    public var json: JSONValue {
        func tenths(_ v: Double?) -> JSONValue { v.map { .number(($0 * 10).rounded() / 10) } ?? .null }
        func int(_ v: Int64?) -> JSONValue { v.map { .number(Double($0)) } ?? .null }
        return .object([
            "state": .string(state.rawValue), "reasons": .array(reasons.map { .string($0) }), "since": .string(Timestamp.format(since)),
            "receivedFps": tenths(receivedFps), "streamFps": tenths(streamFps), "videoKbps": tenths(videoKbps), "audioKbps": tenths(audioKbps),
            "keyframeIntervalSec": tenths(keyframeIntervalSec), "medianKeyframeIntervalSec": tenths(medianKeyframeIntervalSec),
            "avDriftMs": int(avDriftMs), "timestampLagMs": int(timestampLagMs), "droppedPackets": .number(Double(droppedPackets)),
            "seconds": seconds.json,
        ])
    }

    public init?(json: JSONValue?) {
        guard case .object(let o)? = json, case .string(let s)? = o["state"], let state = HealthState(rawValue: s) else { return nil }
        func n(_ k: String) -> Double? { if case .number(let v)? = o[k] { return v } else { return nil } }
        var reasons: [String] = []
        if case .array(let a)? = o["reasons"] { reasons = a.compactMap { if case .string(let r) = $0 { return r } else { return nil } } }
        var since = Date()
        if case .string(let t)? = o["since"] { since = Timestamp.parse(t) }
        self.init(state: state, reasons: reasons, since: since, receivedFps: n("receivedFps"), streamFps: n("streamFps"), videoKbps: n("videoKbps"),
                  audioKbps: n("audioKbps"), keyframeIntervalSec: n("keyframeIntervalSec"), medianKeyframeIntervalSec: n("medianKeyframeIntervalSec"),
                  avDriftMs: n("avDriftMs").map { Int64($0) }, timestampLagMs: n("timestampLagMs").map { Int64($0) },
                  droppedPackets: Int(n("droppedPackets") ?? 0), seconds: HealthSeconds(json: o["seconds"]) ?? HealthSeconds())
    }
}
