import Foundation

/// `/v1/channels/{id}/stats` as the ingest side measures it (docs/contract.md §4 channel stats object):
/// one typed shape whether the session has a publisher (`live`), waits for one
/// (`reconnecting`, `starting`) or there is no session (`offline`). ControlAPI renders it —
/// one renderer for every state — so the domain never builds JSON.
public struct ChannelStats: Sendable, Equatable {
    public struct Video: Sendable, Equatable {
        public var codec: String
        public var profile: String?
        public var level: Int?
        public var width: Int?
        public var height: Int?
        /// Luma bit depth and chroma format ("4:2:0" …) where the sequence header says them.
        public var bitDepth: Int?
        public var chromaFormat: String?
        public init(codec: String, profile: String?, level: Int?, width: Int?, height: Int?, bitDepth: Int? = nil, chromaFormat: String? = nil) {
            self.bitDepth = bitDepth
            self.chromaFormat = chromaFormat
            self.codec = codec
            self.profile = profile
            self.level = level
            self.width = width
            self.height = height
        }
    }

    public struct Audio: Sendable, Equatable {
        public var codec: String
        public var sampleRate: Int?
        public var channels: Int?
        public init(codec: String, sampleRate: Int?, channels: Int?) {
            self.codec = codec
            self.sampleRate = sampleRate
            self.channels = channels
        }
    }

    /// One output of the session (HLS, the recording, a forward).
    public struct Output: Sendable, Equatable {
        public var kind: String
        public var id: String?
        public var state: String
        public var droppedPackets: Int
        public var packetsWritten: Int
        public var attempts: Int
        public var lastError: String?
        public init(kind: String, id: String?, state: String, droppedPackets: Int, packetsWritten: Int, attempts: Int, lastError: String?) {
            self.kind = kind
            self.id = id
            self.state = state
            self.droppedPackets = droppedPackets
            self.packetsWritten = packetsWritten
            self.attempts = attempts
            self.lastError = lastError
        }
    }

    public var status: String
    public var sessionId: String?
    public var uptimeSec: Double = 0
    public var bytesIn: UInt64 = 0
    public var videoFrames = 0
    public var audioFrames = 0
    public var bitrateKbps: Double = 0
    public var bitrateKbps10s: Double = 0
    public var fps: Double = 0
    public var keyframeIntervalSec: Double?
    public var video: Video?
    public var audio: Audio?
    public var timestampRepairs = 0
    public var avDriftMs: Int?
    public var outputs: [Output] = []

    public init(status: String, sessionId: String?) {
        self.status = status
        self.sessionId = sessionId
    }

    /// A channel with no session.
    public static func offline(_ channel: Channel) -> ChannelStats { ChannelStats(status: channel.status.rawValue, sessionId: nil) }
}

extension ChannelStats {
    /// The one rendering of the stats object (tenths for measured rates); also the snapshot a
    /// node stores for the other nodes' API (`init(json:)` reads it back).
    public var json: JSONValue {
        func tenths(_ v: Double) -> JSONValue { .number((v * 10).rounded() / 10) }
        return .object([
            "status": .string(status), "sessionId": sessionId.map { .string($0) } ?? .null, "uptimeSec": tenths(uptimeSec),
            "bytesIn": .number(Double(bytesIn)), "videoFrames": .number(Double(videoFrames)), "audioFrames": .number(Double(audioFrames)),
            "bitrateKbps": tenths(bitrateKbps), "bitrateKbps10s": tenths(bitrateKbps10s), "fps": tenths(fps),
            "keyframeIntervalSec": keyframeIntervalSec.map(tenths) ?? .null,
            "video": video.map { v in
                .object(["codec": .string(v.codec), "profile": v.profile.map { .string($0) } ?? .null, "level": v.level.map { .number(Double($0)) } ?? .null,
                         "width": v.width.map { .number(Double($0)) } ?? .null, "height": v.height.map { .number(Double($0)) } ?? .null,
                         "bitDepth": v.bitDepth.map { .number(Double($0)) } ?? .null, "chromaFormat": v.chromaFormat.map { .string($0) } ?? .null])
            } ?? .null,
            "audio": audio.map { a in
                .object(["codec": .string(a.codec), "sampleRate": a.sampleRate.map { .number(Double($0)) } ?? .null,
                         "channels": a.channels.map { .number(Double($0)) } ?? .null])
            } ?? .null,
            "timestampRepairs": .number(Double(timestampRepairs)), "avDriftMs": avDriftMs.map { .number(Double($0)) } ?? .null,
            "outputs": .array(outputs.map(\.json)),
        ])
    }
}

extension ChannelStats.Output {
    public var json: JSONValue {
        .object(["kind": .string(kind), "id": id.map { .string($0) } ?? .null, "state": .string(state),
                 "droppedPackets": .number(Double(droppedPackets)), "packetsWritten": .number(Double(packetsWritten)),
                 "attempts": .number(Double(attempts)), "lastError": lastError.map { .string($0) } ?? .null])
    }
}

extension ChannelStats {
    /// A snapshot another node stored (`json`); nil if it is not one.
    public init?(json: JSONValue) {
        guard case .object(let o) = json, case .string(let status)? = o["status"] else { return nil }
        func number(_ v: JSONValue?) -> Double? { if case .number(let n)? = v { return n } else { return nil } }
        func string(_ v: JSONValue?) -> String? { if case .string(let s)? = v { return s } else { return nil } }
        self.init(status: status, sessionId: string(o["sessionId"]))
        uptimeSec = number(o["uptimeSec"]) ?? 0
        bytesIn = UInt64(max(0, number(o["bytesIn"]) ?? 0))
        videoFrames = Int(number(o["videoFrames"]) ?? 0)
        audioFrames = Int(number(o["audioFrames"]) ?? 0)
        bitrateKbps = number(o["bitrateKbps"]) ?? 0
        bitrateKbps10s = number(o["bitrateKbps10s"]) ?? 0
        fps = number(o["fps"]) ?? 0
        keyframeIntervalSec = number(o["keyframeIntervalSec"])
        if case .object(let v)? = o["video"], let codec = string(v["codec"]) {
            video = Video(codec: codec, profile: string(v["profile"]), level: number(v["level"]).map { Int($0) },
                          width: number(v["width"]).map { Int($0) }, height: number(v["height"]).map { Int($0) },
                          bitDepth: number(v["bitDepth"]).map { Int($0) }, chromaFormat: string(v["chromaFormat"]))
        }
        if case .object(let a)? = o["audio"], let codec = string(a["codec"]) {
            audio = Audio(codec: codec, sampleRate: number(a["sampleRate"]).map { Int($0) }, channels: number(a["channels"]).map { Int($0) })
        }
        timestampRepairs = Int(number(o["timestampRepairs"]) ?? 0)
        avDriftMs = number(o["avDriftMs"]).map { Int($0) }
        if case .array(let items)? = o["outputs"] {
            outputs = items.compactMap { item in
                guard case .object(let x) = item, let kind = string(x["kind"]), let state = string(x["state"]) else { return nil }
                return Output(kind: kind, id: string(x["id"]), state: state, droppedPackets: Int(number(x["droppedPackets"]) ?? 0),
                              packetsWritten: Int(number(x["packetsWritten"]) ?? 0), attempts: Int(number(x["attempts"]) ?? 0),
                              lastError: string(x["lastError"]))
            }
        }
    }
}
