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
        /// From an Enhanced-RTMP colour metadata packet: `SDR`, `PQ` or `HLG` (HLS's VIDEO-RANGE),
        /// and the ISO/IEC 23091-2 code points it gave.
        public var dynamicRange: String?
        public var colorPrimaries: Int?
        public var transferCharacteristics: Int?
        public var matrixCoefficients: Int?
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
        /// From an E-RTMP `MultichannelConfig` ("stereo", "5.1", "FL+FR+LFE" …).
        public var channelLayout: String?
        public init(codec: String, sampleRate: Int?, channels: Int?, channelLayout: String? = nil) {
            self.codec = codec
            self.sampleRate = sampleRate
            self.channels = channels
            self.channelLayout = channelLayout
        }
    }

    /// One track of the publish (docs/contract.md §4 `tracks`): track 0 of each kind is what
    /// `video`/`audio` show; an Enhanced-RTMP multitrack publish has more.
    public struct Track: Sendable, Equatable {
        public var trackId: Int
        public var kind: String
        public var codec: String
        public var bitrateKbps: Double
        public var frames: Int
        public var frameRate: Double?
        public var keyframeIntervalSec: Double?
        public var video: Video?
        public var audio: Audio?
        /// Video tracks other than 0: whether their keyframes coincide with track 0's.
        public var aligned: Bool?
        /// False for a track that appeared after the session's outputs were laid out: it
        /// joins at the next session.
        public var inOutputs: Bool
        public init(trackId: Int, kind: String, codec: String, bitrateKbps: Double, frames: Int, frameRate: Double? = nil,
                    keyframeIntervalSec: Double? = nil, video: Video? = nil, audio: Audio? = nil, aligned: Bool? = nil, inOutputs: Bool = true) {
            self.trackId = trackId
            self.kind = kind
            self.codec = codec
            self.bitrateKbps = bitrateKbps
            self.frames = frames
            self.frameRate = frameRate
            self.keyframeIntervalSec = keyframeIntervalSec
            self.video = video
            self.audio = audio
            self.aligned = aligned
            self.inOutputs = inOutputs
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
        /// Tracks this output cannot take, each with why ("video 0 (av1): MPEG-TS cannot carry it").
        public var notCarried: [String] = []
        public init(kind: String, id: String?, state: String, droppedPackets: Int, packetsWritten: Int, attempts: Int, lastError: String?,
                    notCarried: [String] = []) {
            self.notCarried = notCarried
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
    public var tracks: [Track] = []
    /// Stream health while a publisher is connected (docs/contract.md §4, "Stream health").
    public var health: ChannelHealth?

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
            "video": video.map(\.json) ?? .null,
            "audio": audio.map(\.json) ?? .null,
            "timestampRepairs": .number(Double(timestampRepairs)), "avDriftMs": avDriftMs.map { .number(Double($0)) } ?? .null,
            "outputs": .array(outputs.map(\.json)),
            "tracks": .array(tracks.map(\.json)),
            "health": health?.json ?? .null,
        ])
    }
}

extension ChannelStats.Video {
    public var json: JSONValue {
        .object(["codec": .string(codec), "profile": profile.map { .string($0) } ?? .null, "level": level.map { .number(Double($0)) } ?? .null,
                 "width": width.map { .number(Double($0)) } ?? .null, "height": height.map { .number(Double($0)) } ?? .null,
                 "bitDepth": bitDepth.map { .number(Double($0)) } ?? .null, "chromaFormat": chromaFormat.map { .string($0) } ?? .null,
                 "dynamicRange": dynamicRange.map { .string($0) } ?? .null,
                 "colorPrimaries": colorPrimaries.map { .number(Double($0)) } ?? .null,
                 "transferCharacteristics": transferCharacteristics.map { .number(Double($0)) } ?? .null,
                 "matrixCoefficients": matrixCoefficients.map { .number(Double($0)) } ?? .null])
    }

    init?(json: JSONValue?) {
        guard case .object(let v)? = json, case .string(let codec)? = v["codec"] else { return nil }
        self.init(codec: codec, profile: ChannelStats.string(v["profile"]), level: ChannelStats.number(v["level"]).map { Int($0) },
                  width: ChannelStats.number(v["width"]).map { Int($0) }, height: ChannelStats.number(v["height"]).map { Int($0) },
                  bitDepth: ChannelStats.number(v["bitDepth"]).map { Int($0) }, chromaFormat: ChannelStats.string(v["chromaFormat"]))
        dynamicRange = ChannelStats.string(v["dynamicRange"])
        colorPrimaries = ChannelStats.number(v["colorPrimaries"]).map { Int($0) }
        transferCharacteristics = ChannelStats.number(v["transferCharacteristics"]).map { Int($0) }
        matrixCoefficients = ChannelStats.number(v["matrixCoefficients"]).map { Int($0) }
    }
}

extension ChannelStats.Audio {
    public var json: JSONValue {
        .object(["codec": .string(codec), "sampleRate": sampleRate.map { .number(Double($0)) } ?? .null,
                 "channels": channels.map { .number(Double($0)) } ?? .null, "channelLayout": channelLayout.map { .string($0) } ?? .null])
    }

    init?(json: JSONValue?) {
        guard case .object(let a)? = json, case .string(let codec)? = a["codec"] else { return nil }
        self.init(codec: codec, sampleRate: ChannelStats.number(a["sampleRate"]).map { Int($0) },
                  channels: ChannelStats.number(a["channels"]).map { Int($0) }, channelLayout: ChannelStats.string(a["channelLayout"]))
    }
}

extension ChannelStats.Track {
    public var json: JSONValue {
        func tenths(_ v: Double) -> JSONValue { .number((v * 10).rounded() / 10) }
        return .object([
            "trackId": .number(Double(trackId)), "kind": .string(kind), "codec": .string(codec), "bitrateKbps": tenths(bitrateKbps),
            "frames": .number(Double(frames)), "frameRate": frameRate.map { .number(($0 * 1000).rounded() / 1000) } ?? .null,
            "keyframeIntervalSec": keyframeIntervalSec.map(tenths) ?? .null,
            "width": video?.width.map { .number(Double($0)) } ?? .null, "height": video?.height.map { .number(Double($0)) } ?? .null,
            "video": video.map(\.json) ?? .null, "audio": audio.map(\.json) ?? .null,
            "aligned": aligned.map { .bool($0) } ?? .null, "inOutputs": .bool(inOutputs),
        ])
    }

    init?(json: JSONValue) {
        guard case .object(let t) = json, let id = ChannelStats.number(t["trackId"]), let kind = ChannelStats.string(t["kind"]),
              let codec = ChannelStats.string(t["codec"]) else { return nil }
        var aligned: Bool?
        if case .bool(let b)? = t["aligned"] { aligned = b }
        var inOutputs = true
        if case .bool(let b)? = t["inOutputs"] { inOutputs = b }
        self.init(trackId: Int(id), kind: kind, codec: codec, bitrateKbps: ChannelStats.number(t["bitrateKbps"]) ?? 0,
                  frames: Int(ChannelStats.number(t["frames"]) ?? 0), frameRate: ChannelStats.number(t["frameRate"]),
                  keyframeIntervalSec: ChannelStats.number(t["keyframeIntervalSec"]), video: ChannelStats.Video(json: t["video"]),
                  audio: ChannelStats.Audio(json: t["audio"]), aligned: aligned, inOutputs: inOutputs)
    }
}

extension ChannelStats.Output {
    public var json: JSONValue {
        .object(["kind": .string(kind), "id": id.map { .string($0) } ?? .null, "state": .string(state),
                 "droppedPackets": .number(Double(droppedPackets)), "packetsWritten": .number(Double(packetsWritten)),
                 "attempts": .number(Double(attempts)), "lastError": lastError.map { .string($0) } ?? .null,
                 "notCarried": .array(notCarried.map { .string($0) })])
    }
}

extension ChannelStats {
    /// A snapshot another node stored (`json`); nil if it is not one.
    public init?(json: JSONValue) {
        guard case .object(let o) = json, case .string(let status)? = o["status"] else { return nil }
        let number = Self.number, string = Self.string
        self.init(status: status, sessionId: string(o["sessionId"]))
        uptimeSec = number(o["uptimeSec"]) ?? 0
        bytesIn = UInt64(max(0, number(o["bytesIn"]) ?? 0))
        videoFrames = Int(number(o["videoFrames"]) ?? 0)
        audioFrames = Int(number(o["audioFrames"]) ?? 0)
        bitrateKbps = number(o["bitrateKbps"]) ?? 0
        bitrateKbps10s = number(o["bitrateKbps10s"]) ?? 0
        fps = number(o["fps"]) ?? 0
        keyframeIntervalSec = number(o["keyframeIntervalSec"])
        video = Video(json: o["video"])
        audio = Audio(json: o["audio"])
        if case .array(let items)? = o["tracks"] { tracks = items.compactMap(Track.init(json:)) }
        health = ChannelHealth(json: o["health"])
        timestampRepairs = Int(number(o["timestampRepairs"]) ?? 0)
        avDriftMs = number(o["avDriftMs"]).map { Int($0) }
        if case .array(let items)? = o["outputs"] {
            outputs = items.compactMap { item in
                guard case .object(let x) = item, let kind = string(x["kind"]), let state = string(x["state"]) else { return nil }
                return Output(kind: kind, id: string(x["id"]), state: state, droppedPackets: Int(number(x["droppedPackets"]) ?? 0),
                              packetsWritten: Int(number(x["packetsWritten"]) ?? 0), attempts: Int(number(x["attempts"]) ?? 0),
                              lastError: string(x["lastError"]),
                              notCarried: { if case .array(let a)? = x["notCarried"] { return a.compactMap(string) } else { return [] } }())
            }
        }
    }
}

extension ChannelStats {
    static func number(_ v: JSONValue?) -> Double? { if case .number(let n)? = v { return n } else { return nil } }
    static func string(_ v: JSONValue?) -> String? { if case .string(let s)? = v { return s } else { return nil } }
}

extension ChannelStats.Video {
    /// The colour fields, from what the metadata packet said.
    public mutating func setColor(range: String?, primaries: Int?, transfer: Int?, matrix: Int?) {
        dynamicRange = range
        colorPrimaries = primaries
        transferCharacteristics = transfer
        matrixCoefficients = matrix
    }
}
