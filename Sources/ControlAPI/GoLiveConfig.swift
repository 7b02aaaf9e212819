import Foundation
import LiveGateModel

/// OBS's Enhanced Broadcasting asks a configuration URL what to encode (its GoLive API): a POST
/// with the encoder's capabilities and preferences, answered with `encoder_configurations` (one
/// per rendition), `audio_configurations` and `ingest_endpoints` (docs/contract.md §4, "OBS
/// Enhanced Broadcasting"). Pure: `GoLiveConfig.ladder` decides the renditions from what the
/// client can do and the owner's limits; `render` writes the answer in the schema version the
/// client asked in. OBS's models: `GoLiveApi::PostData` / `GoLiveApi::Config`, schema versions
/// 2023-05-10 (settings flat in each encoder entry), 2024-06-04 and 2025-01-25 (`settings`).
enum GoLiveConfig {
    static let schemaVersions = ["2023-05-10", "2024-06-04", "2025-01-25"]

    /// What LiveGate reads of the request.
    struct Request: Equatable {
        var schemaVersion: String
        var streamKey: String
        var clientVersion: String?
        var supportedCodecs: [String]
        /// Output size and frame rate the client is set to (`preferences`).
        var width: Int
        var height: Int
        var fpsNumerator: Int
        var fpsDenominator: Int
        var maximumAggregateBitrateKbps: Int?
        var maximumVideoTracks: Int?
        /// PCI vendor ids of its GPUs (`capabilities.gpu[].vendor_id`).
        var gpuVendors: [Int]
    }

    struct Rendition: Equatable {
        var width: Int
        var height: Int
        var fpsNumerator: Int
        var fpsDenominator: Int
        var bitrateKbps: Int
    }

    static let audioBitrateKbps = 160
    /// At most this many renditions unless the client asks for fewer (`maximum_video_tracks`).
    static let defaultMaxTracks = 3
    static let rungHeights = [2160, 1440, 1080, 720, 480, 360, 240]

    /// H.264 bit rate for a height at up to 30 fps (half again above 30), the usual ladder of
    /// the streaming services' recommendations.
    static func bitrate(height: Int, fps: Double) -> Int {
        let base: Int
        switch height {
        case 1441...: base = 14_000
        case 1081...1440: base = 9_000
        case 721...1080: base = 6_000
        case 481...720: base = 3_000
        case 361...480: base = 1_500
        case 241...360: base = 800
        default: base = 400
        }
        return fps > 31 ? base * 3 / 2 : base
    }

    /// The renditions: the client's output size and rate capped by the owner's `maxWidth`,
    /// `maxHeight`, `maxFps`; then the standard heights below it, same aspect; at most
    /// `maximum_video_tracks` (else 3) of them; their sum (with audio) within the client's
    /// `maximum_aggregate_bitrate` and the owner's `maxBitrateKbps` — scaled down evenly while
    /// the top keeps at least 60 % of its rate, else the top rung is dropped.
    static func ladder(_ request: Request, limits: UserLimits) -> [Rendition] {
        var width = max(2, request.width), height = max(2, request.height)
        let aspect = Double(width) / Double(height)
        if let maxH = limits.maxHeight, height > maxH { height = maxH; width = Int((Double(height) * aspect).rounded()) }
        if let maxW = limits.maxWidth, width > maxW { width = maxW; height = Int((Double(width) / aspect).rounded()) }
        width -= width % 2
        height -= height % 2
        var num = max(1, request.fpsNumerator), den = max(1, request.fpsDenominator)
        if let maxFps = limits.maxFps, Double(num) / Double(den) > maxFps + 0.01 {
            // OBS divides its frame rate by a whole number: the largest rate within the limit.
            let divisor = Int((Double(num) / Double(den) / maxFps).rounded(.up))
            den *= max(1, divisor)
        }
        let fps = Double(num) / Double(den)
        var heights = [height] + rungHeights.filter { $0 < height && $0 >= 240 }
        heights = Array(heights.prefix(max(1, min(request.maximumVideoTracks ?? defaultMaxTracks, 5))))
        let rungs = heights.map { h -> Rendition in
            let w = Int((Double(h) * aspect / 2).rounded()) * 2 // the nearest even width (854 for 480 at 16:9)
            return Rendition(width: h == height ? width : w, height: h, fpsNumerator: num, fpsDenominator: den,
                             bitrateKbps: bitrate(height: h, fps: fps))
        }
        return withinBitrate(rungs, request, limits: limits)
    }

    /// The channel's own `renditions`: those within the owner's size limits (an owner's limit
    /// wins over the channel's setting), each at its frame rate (else the client's, capped by
    /// `maxFps`), within the same bit rate caps as the automatic ladder; nil when none is left.
    static func configured(_ renditions: [Channel.Rendition], _ request: Request, limits: UserLimits) -> [Rendition]? {
        let kept = renditions.filter { r in
            limits.maxWidth.map { r.width <= $0 } ?? true && limits.maxHeight.map { r.height <= $0 } ?? true
        }
        guard !kept.isEmpty else { return nil }
        let rungs = kept.prefix(max(1, min(request.maximumVideoTracks ?? 5, 5))).map { r -> Rendition in
            var num = max(1, request.fpsNumerator), den = max(1, request.fpsDenominator)
            if let fps = r.fps {
                (num, den) = fps == fps.rounded() ? (Int(fps), 1) : (Int((fps * 1000).rounded()), 1000)
            }
            if let maxFps = limits.maxFps, Double(num) / Double(den) > maxFps + 0.01 { (num, den) = (Int((maxFps * 1000).rounded()), 1000) }
            return Rendition(width: r.width, height: r.height, fpsNumerator: num, fpsDenominator: den, bitrateKbps: r.bitrateKbps)
        }
        return withinBitrate(Array(rungs), request, limits: limits)
    }

    /// The renditions' sum, with audio, within the client's `maximum_aggregate_bitrate` and the
    /// owner's `maxBitrateKbps`: scaled down evenly while the top keeps 60 %, else the top goes.
    static func withinBitrate(_ input: [Rendition], _ request: Request, limits: UserLimits) -> [Rendition] {
        var rungs = input
        let caps = [request.maximumAggregateBitrateKbps, limits.maxBitrateKbps].compactMap { $0 }
        if let cap = caps.min() {
            let videoCap = max(0, cap - audioBitrateKbps)
            while rungs.count > 1, Double(videoCap) < Double(rungs.map(\.bitrateKbps).reduce(0, +)) * 0.6 { rungs.removeFirst() }
            let total = rungs.map(\.bitrateKbps).reduce(0, +)
            if total > videoCap {
                let factor = Double(videoCap) / Double(total)
                rungs = rungs.map { var r = $0; r.bitrateKbps = max(100, Int(Double(r.bitrateKbps) * factor)); return r }
            }
        }
        return rungs
    }

    /// The OBS encoder to use: NVENC where the client has an NVIDIA GPU (its id changed in OBS
    /// 31), else x264, which every OBS has.
    static func encoderType(_ request: Request) -> String {
        guard request.gpuVendors.contains(0x10DE) else { return "obs_x264" }
        let major = request.clientVersion.flatMap { Int($0.split(separator: ".").first ?? "") } ?? 0
        return major >= 31 ? "obs_nvenc_h264_tex" : "jim_nvenc"
    }

    static func encoderSettings(_ type: String, bitrateKbps: Int) -> [String: JSONValue] {
        var s: [String: JSONValue] = ["rate_control": .string("CBR"), "bitrate": .number(Double(bitrateKbps)), "keyint_sec": .number(2),
                                      "profile": .string("high")]
        if type == "obs_x264" {
            s["preset"] = .string("veryfast")
            s["bf"] = .number(0)
        } else {
            s["preset2"] = .string("p5")
            s["bf"] = .number(2)
        }
        return s
    }

    /// The answer, in the client's schema version.
    static func render(_ request: Request, renditions: [Rendition], ingestURL: String, configId: String) -> JSONValue {
        let type = encoderType(request)
        let flat = request.schemaVersion == "2023-05-10"
        let encoders: [JSONValue] = renditions.map { r in
            let settings = encoderSettings(type, bitrateKbps: r.bitrateKbps)
            var entry: [String: JSONValue] = [
                "type": .string(type), "width": .number(Double(r.width)), "height": .number(Double(r.height)),
                "framerate": .object(["numerator": .number(Double(r.fpsNumerator)), "denominator": .number(Double(r.fpsDenominator))]),
                "gpu_scale_type": .string("OBS_SCALE_BICUBIC"), "settings": .object(settings),
            ]
            if flat { entry.merge(settings) { current, _ in current } }
            return .object(entry)
        }
        let audio: JSONValue = .object(["codec": .string("ffmpeg_aac"), "track_id": .number(1), "channels": .number(2),
                                        "bitrate": .number(Double(audioBitrateKbps)),
                                        "settings": .object(["bitrate": .number(Double(audioBitrateKbps))])])
        return .object([
            "meta": .object(["service": .string("LiveGate"), "schema_version": .string(request.schemaVersion), "config_id": .string(configId)]),
            "status": .object(["result": .string("success"), "html_en_us": .null]),
            "ingest_endpoints": .array([.object(["protocol": .string(ingestURL.lowercased().hasPrefix("rtmps") ? "RTMPS" : "RTMP"),
                                                 "url_template": .string(ingestURL + "/{stream_key}")])]),
            "encoder_configurations": .array(encoders),
            "audio_configurations": .object(["live": .array([audio])]),
        ])
    }

    /// The one answer for every key that may not go live — unknown, disabled, cooling down, or
    /// an address throttled for failed publishes — so the endpoint tells nothing about keys.
    static func refusal(schemaVersion: String) -> JSONValue {
        .object([
            "meta": .object(["service": .string("LiveGate"), "schema_version": .string(schemaVersion), "config_id": .string("")]),
            "status": .object(["result": .string("error"),
                               "html_en_us": .string("This stream key cannot go live now. Check the key in your stream settings.")]),
            "ingest_endpoints": .array([]), "encoder_configurations": .array([]), "audio_configurations": .object(["live": .array([])]),
        ])
    }

    /// The request's fields, or which one is wrong.
    static func read(_ body: [String: JSONValue]) -> Result<Request, FieldProblem> {
        func string(_ v: JSONValue?) -> String? { if case .string(let s)? = v { return s } else { return nil } }
        func int(_ v: JSONValue?) -> Int? {
            if case .number(let n)? = v, n.isFinite, n >= 0, n < 1e12 { return Int(n) } else { return nil }
        }
        func object(_ v: JSONValue?) -> [String: JSONValue]? { if case .object(let o)? = v { return o } else { return nil } }
        // The fields this API documents have their types (the rest of OBS's body is left open).
        for key in ["service", "stream_attempt_start_time"] where body[key] != nil && string(body[key]) == nil {
            return .failure(.init(field: key, reason: "a string"))
        }
        for key in ["client", "capabilities", "preferences"] where body[key] != nil && object(body[key]) == nil {
            return .failure(.init(field: key, reason: "an object"))
        }
        guard let version = string(body["schema_version"]) else { return .failure(.init(field: "schema_version", reason: "required (a string)")) }
        guard schemaVersions.contains(version) else {
            return .failure(.init(field: "schema_version", reason: "one of \(schemaVersions.joined(separator: ", "))"))
        }
        guard let key = string(body["authentication"]), !key.isEmpty, key.utf8.count <= 256 else {
            return .failure(.init(field: "authentication", reason: "required: the stream key"))
        }
        let preferences = object(body["preferences"]) ?? [:]
        let client = object(body["client"]) ?? [:]
        let capabilities = object(body["capabilities"]) ?? [:]
        let framerate = object(preferences["framerate"]) ?? [:]
        var codecs: [String] = []
        if case .array(let items)? = client["supported_codecs"] { codecs = items.prefix(16).compactMap(string) }
        var vendors: [Int] = []
        if case .array(let gpus)? = capabilities["gpu"] { vendors = gpus.prefix(8).compactMap { object($0).flatMap { int($0["vendor_id"]) } } }
        let width = int(preferences["width"]) ?? 1280, height = int(preferences["height"]) ?? 720
        guard (16...7680).contains(width), (16...4320).contains(height) else {
            return .failure(.init(field: "preferences.width", reason: "an output size between 16x16 and 7680x4320"))
        }
        return .success(Request(schemaVersion: version, streamKey: key, clientVersion: string(client["version"]), supportedCodecs: codecs,
                                width: width, height: height,
                                fpsNumerator: min(max(int(framerate["numerator"]) ?? 30, 1), 240),
                                fpsDenominator: min(max(int(framerate["denominator"]) ?? 1, 1), 1001),
                                maximumAggregateBitrateKbps: int(preferences["maximum_aggregate_bitrate"]),
                                maximumVideoTracks: int(preferences["maximum_video_tracks"]), gpuVendors: vendors))
    }

    struct FieldProblem: Error, Equatable {
        var field: String
        var reason: String
    }
}
