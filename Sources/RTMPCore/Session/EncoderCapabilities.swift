/// What an Enhanced-RTMP client declares in `connect` (E-RTMP v2, "Enhancing NetConnection
/// connect Command"): the codecs it handles — `fourCcList`, or per codec the
/// `videoFourCcInfoMap`/`audioFourCcInfoMap` flags (CanDecode 1, CanEncode 2, CanForward 4; the
/// key `*` for every codec) — and `capsEx` (Reconnect 1, Multitrack 2, ModEx 4,
/// TimestampNanoOffset 8). Kept on the session so an App Server can see what an encoder can do,
/// and so a drain knows whom it may ask to reconnect. Bounded: a peer cannot make it large.
public struct EncoderCapabilities: Sendable, Equatable {
    public struct CapsEx: OptionSet, Sendable, Equatable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        public static let reconnect = CapsEx(rawValue: 0x01)
        public static let multitrack = CapsEx(rawValue: 0x02)
        public static let modEx = CapsEx(rawValue: 0x04)
        public static let timestampNanoOffset = CapsEx(rawValue: 0x08)
    }

    public var fourCcList: [String]
    public var videoFourCcInfoMap: [String: Int]
    public var audioFourCcInfoMap: [String: Int]
    public var capsEx: CapsEx?

    public init(fourCcList: [String] = [], videoFourCcInfoMap: [String: Int] = [:], audioFourCcInfoMap: [String: Int] = [:], capsEx: CapsEx? = nil) {
        self.fourCcList = fourCcList
        self.videoFourCcInfoMap = videoFourCcInfoMap
        self.audioFourCcInfoMap = audioFourCcInfoMap
        self.capsEx = capsEx
    }

    /// At most this many entries per list or map are kept (a real client sends about a dozen).
    static let maxEntries = 32

    /// Read from `connect`'s command object; nil for a classic client that declared none of it.
    public init?(connect object: AMFObject) {
        func fourCC(_ s: String) -> String? {
            s.count <= 4 && s.unicodeScalars.allSatisfy { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F } ? s : nil
        }
        func map(_ value: AMFValue?) -> [String: Int] {
            guard let members = value?.objectValue?.properties else { return [:] }
            var out: [String: Int] = [:]
            for (key, value) in members.prefix(Self.maxEntries) {
                if let k = fourCC(key), let n = value.numberValue, n.isFinite, n >= 0, n < 256 { out[k] = Int(n) }
            }
            return out
        }
        var list: [String] = []
        if case .strictArray(let items)? = object["fourCcList"] {
            list = items.prefix(Self.maxEntries).compactMap { $0.stringValue.flatMap(fourCC) }
        }
        let video = map(object["videoFourCcInfoMap"]), audio = map(object["audioFourCcInfoMap"])
        var caps: CapsEx?
        if let n = object["capsEx"]?.numberValue, n.isFinite, n >= 0, n < 65536 { caps = CapsEx(rawValue: Int(n)) }
        guard !list.isEmpty || !video.isEmpty || !audio.isEmpty || caps != nil else { return nil }
        self.init(fourCcList: list, videoFourCcInfoMap: video, audioFourCcInfoMap: audio, capsEx: caps)
    }

    /// Whether the client said it honours `NetConnection.Connect.ReconnectRequest`.
    public var canReconnect: Bool { capsEx?.contains(.reconnect) == true }

    // MARK: What LiveGate answers

    /// FourCcInfoMask.CanForward: LiveGate passes these codecs through to its outputs (remux,
    /// never decode) — the codecs some output of Debian 12's libavformat can carry.
    static let canForward = 0x04
    public static let serverVideoCodecs = ["avc1", "hvc1", "av01", "vp09"]
    public static let serverAudioCodecs = ["mp4a", "Opus", "fLaC", "ac-3", "ec-3", ".mp3"]

    /// The properties LiveGate adds to `connect`'s `_result` for a client that declared
    /// Enhanced RTMP: the codecs it takes (as `fourCcList` for older clients, and as the info
    /// maps) and its `capsEx` — Multitrack, ModEx and TimestampNanoOffset, and Reconnect when
    /// this server sends ReconnectRequest.
    public static func serverProperties(reconnect: Bool) -> [(key: String, value: AMFValue)] {
        var caps: CapsEx = [.multitrack, .modEx, .timestampNanoOffset]
        if reconnect { caps.insert(.reconnect) }
        let video = AMFObject(serverVideoCodecs.map { (key: $0, value: AMFValue.number(Double(canForward))) })
        let audio = AMFObject(serverAudioCodecs.map { (key: $0, value: AMFValue.number(Double(canForward))) })
        return [
            (key: "fourCcList", value: .strictArray((serverVideoCodecs + serverAudioCodecs).map { .string($0) })),
            (key: "videoFourCcInfoMap", value: .object(video)),
            (key: "audioFourCcInfoMap", value: .object(audio)),
            (key: "capsEx", value: .number(Double(caps.rawValue))),
        ]
    }
}
