import ChannelStore
import Foundation
import Hummingbird
import HummingbirdTesting
@testable import ControlAPI
import LiveGateModel
import Logging
import NIOConcurrencyHelpers
import XCTest

/// Issue #22 item 7: OBS Enhanced Broadcasting against LiveGate. The request bodies are the
/// ones OBS builds (`GoLiveApi::PostData` as nlohmann serialises it, every field, optional ones
/// null; the 2023-05-10 form as OBS 30.1's OBSData code wrote it), and each answer is checked
/// against OBS's own model of the config (`GoLiveApi::Config`: which fields must be present,
/// with which JSON types) — what OBS needs to parse it, not what we happen to send.
class GoLiveConformanceTests: ControlAPITestCase {
    let failures = NIOLockedValueBox([String: Int]())

    override func setUp() async throws {
        try await super.setUp()
        var configuration = ControlAPIConfiguration(version: "test", nodeId: "node-1", publicHost: "live.example.com", rtmpPort: 1935, httpPort: 8080)
        // The RTMP listener's failed-publish counter, as the gateway wires it: 3 per address.
        let failures = self.failures
        configuration.failedPublishes = FailedPublishGate(isThrottled: { ip in failures.withLockedValue { ($0[ip] ?? 0) >= 3 } },
                                                          failed: { ip in failures.withLockedValue { $0[ip, default: 0] += 1 } })
        api = ControlAPI(store: store, configuration: configuration)
    }

    /// OBS 31's body (schema 2024-06-04; 2025-01-25 adds canvases, same top level).
    static func post(_ version: String, key: String, width: Int = 1920, height: Int = 1080, fps: Int = 60, maxTracks: Int? = nil,
                     maxBitrate: Int? = nil, gpuVendor: Int? = nil, clientVersion: String = "31.0.2") -> String {
        let gpu = gpuVendor.map { #"[{"model":"GPU","vendor_id":\#($0),"device_id":9860,"dedicated_video_memory":8589934592,"shared_system_memory":17179869184,"driver_version":"560.94"}]"# } ?? "null"
        if version == "2023-05-10" {
            // OBS 30.1 built this one with OBSData (constructGoLivePost in multitrack-video-output.cpp).
            return #"""
            {"service":"IVS","schema_version":"2023-05-10","stream_attempt_start_time":"2024-05-01T10:00:00.000Z","authentication":"\#(key)",
             "capabilities":{"cpu":{"physical_cores":8,"logical_cores":16,"speed":3600,"name":"AMD Ryzen 7"},"memory":{"total":34359738368,"free":17179869184},
               "gpu":\#(gpu),"system":{"version":"10.0","name":"Windows","build":22631,"release":"23H2","revision":3527,"bits":64,"arm":false,"armEmulation":false}},
             "client":{"name":"obs-studio","version":"30.1.2","vod_track_audio":false,"supported_codecs":["h264"]},
             "preferences":{"maximum_aggregate_bitrate":\#(maxBitrate.map(String.init) ?? "null"),"maximum_video_tracks":\#(maxTracks.map(String.init) ?? "null"),
               "width":\#(width),"height":\#(height),"framerate":{"numerator":\#(fps),"denominator":1},"canvas_width":\#(width),"canvas_height":\#(height)}}
            """#
        }
        return #"""
        {"service":"IVS","schema_version":"\#(version)","authentication":"\#(key)",
         "client":{"name":"obs-studio","version":"\#(clientVersion)","supported_codecs":["h264","h265","av1"]},
         "capabilities":{"cpu":{"physical_cores":8,"logical_cores":16,"speed":null,"name":"AMD Ryzen 7"},"memory":{"total":34359738368,"free":17179869184},
           "gaming_features":null,"system":{"version":"6.8","name":"Ubuntu","build":0,"release":"24.04","revision":0,"bits":64,"arm":false,"armEmulation":false},
           "gpu":\#(gpu),"extra_views":null},
         "preferences":{"maximum_aggregate_bitrate":\#(maxBitrate.map(String.init) ?? "null"),"maximum_video_tracks":\#(maxTracks.map(String.init) ?? "null"),
           "vod_track_audio":false,"width":\#(width),"height":\#(height),"framerate":{"numerator":\#(fps),"denominator":1},
           "canvas_width":\#(width),"canvas_height":\#(height),"composition_gpu_index":null}}
        """#
    }

    /// OBS's `GoLiveApi::Config` as its nlohmann definitions read it: `meta` (all three strings,
    /// NLOHMANN_DEFINE_TYPE_INTRUSIVE: required), `status.result` one of its enum strings,
    /// endpoints and video encoder entries with their types (WITH_DEFAULT: may be absent, must
    /// be the right type when present), every audio entry with `codec`, `track_id`, `channels`,
    /// `settings` (INTRUSIVE: required). Returns what OBS would choke on.
    static func obsModelProblems(_ config: [String: Any]) -> [String] {
        var problems: [String] = []
        func uint(_ v: Any?) -> Bool { (v as? NSNumber).map { $0.doubleValue >= 0 && $0.doubleValue == $0.doubleValue.rounded() } ?? false }
        guard let meta = config["meta"] as? [String: Any] else { return ["meta missing"] }
        for key in ["service", "schema_version", "config_id"] where !(meta[key] is String) { problems.append("meta.\(key)") }
        if let status = config["status"] as? [String: Any] {
            if let r = status["result"], !(r is NSNull), !["success", "warning", "error"].contains(r as? String ?? "?") { problems.append("status.result") }
            if let h = status["html_en_us"], !(h is NSNull), !(h is String) { problems.append("status.html_en_us") }
        }
        for (i, e) in ((config["ingest_endpoints"] as? [[String: Any]]) ?? []).enumerated() {
            if !(e["protocol"] is String) || !(e["url_template"] is String) { problems.append("ingest_endpoints[\(i)]") }
        }
        let scales = ["OBS_SCALE_DISABLE", "OBS_SCALE_POINT", "OBS_SCALE_BICUBIC", "OBS_SCALE_BILINEAR", "OBS_SCALE_LANCZOS", "OBS_SCALE_AREA"]
        for (i, e) in ((config["encoder_configurations"] as? [[String: Any]]) ?? []).enumerated() {
            if !(e["type"] is String) || !uint(e["width"]) || !uint(e["height"]) { problems.append("encoder_configurations[\(i)] type/size") }
            if let f = e["framerate"] as? [String: Any], !(uint(f["numerator"]) && uint(f["denominator"])) { problems.append("encoder_configurations[\(i)].framerate") }
            if let s = e["gpu_scale_type"], !scales.contains(s as? String ?? "?") { problems.append("encoder_configurations[\(i)].gpu_scale_type") }
            if !(e["settings"] is [String: Any]) { problems.append("encoder_configurations[\(i)].settings") }
        }
        guard let audio = config["audio_configurations"] as? [String: Any], let live = audio["live"] as? [[String: Any]] else {
            return problems + ["audio_configurations.live"]
        }
        for (i, a) in live.enumerated() {
            if !(a["codec"] is String) || !uint(a["track_id"]) || !uint(a["channels"]) || a["settings"] == nil { problems.append("audio_configurations.live[\(i)]") }
        }
        return problems
    }

    static func goLive(_ c: Client, _ body: String) async throws -> (status: Int, config: [String: Any], raw: String) {
        let r = try await c.call(.post, "/v1/obs/go-live", body, auth: .some(nil))
        return (r.status, r.body, r.raw)
    }

    func testEverySchemaVersionIsAnsweredInItsOwnShapeWithADefaultLadder() async throws {
        let u = self.u
        try await withClient { c in
            let created_key = try await c.createChannel("obs", user: u)
            let key = try XCTUnwrap(created_key["streamId"] as? String)
            for version in ["2023-05-10", "2024-06-04", "2025-01-25"] {
                let (status, config, raw) = try await Self.goLive(c, Self.post(version, key: key))
                XCTAssertEqual(status, 200, raw)
                XCTAssertEqual(Self.obsModelProblems(config), [], "\(version): \(raw)")
                XCTAssertEqual((config["meta"] as? [String: Any])?["schema_version"] as? String, version, "answered in the client's version")
                XCTAssertEqual((config["status"] as? [String: Any])?["result"] as? String, "success")
                let endpoint = (config["ingest_endpoints"] as? [[String: Any]])?.first
                XCTAssertEqual(endpoint?["protocol"] as? String, "RTMP")
                XCTAssertEqual(endpoint?["url_template"] as? String, "rtmp://live.example.com:1935/live/{stream_key}")
                XCTAssertFalse(raw.contains(key), "the stream key is not sent back")
                let encoders = config["encoder_configurations"] as? [[String: Any]] ?? []
                XCTAssertEqual(encoders.map { "\($0["width"]!)x\($0["height"]!)" }, ["1920x1080", "1280x720", "854x480"], raw)
                XCTAssertTrue(encoders.allSatisfy { $0["type"] as? String == "obs_x264" })
                XCTAssertEqual(encoders.map { (($0["framerate"] as? [String: Any])?["numerator"] as? Int) }, [60, 60, 60])
                let bitrates = encoders.compactMap { ($0["settings"] as? [String: Any])?["bitrate"] as? Int }
                XCTAssertEqual(bitrates, [9000, 4500, 2250], "above 30 fps: half again")
                // 2023-05-10's OBS read the encoder settings from the entry itself.
                XCTAssertEqual(encoders.first?["bitrate"] as? Int, version == "2023-05-10" ? 9000 : nil, version)
                let audio = ((config["audio_configurations"] as? [String: Any])?["live"] as? [[String: Any]])?.first
                XCTAssertEqual(audio?["codec"] as? String, "ffmpeg_aac")
            }
        }
    }

    func testTheLadderKeepsWithinTheOwnersLimitsAndTheClientsPreferences() async throws {
        let u = self.u
        try await withClient { c in
            let created_key = try await c.createChannel("limited", user: u)
            let key = try XCTUnwrap(created_key["streamId"] as? String)
            let limits = try await c.call(.put, "/v1/users/\(u)/config", #"{"maxHeight":720,"maxFps":30,"maxBitrateKbps":3000}"#)
            XCTAssertEqual(limits.status, 200, limits.raw)
            let (_, config, raw) = try await Self.goLive(c, Self.post("2024-06-04", key: key, maxTracks: 2))
            XCTAssertEqual(Self.obsModelProblems(config), [], raw)
            let encoders = config["encoder_configurations"] as? [[String: Any]] ?? []
            XCTAssertEqual(encoders.map { "\($0["width"]!)x\($0["height"]!)" }, ["1280x720", "854x480"], "maxHeight, then maximum_video_tracks: \(raw)")
            let rate = encoders.first?["framerate"] as? [String: Any]
            XCTAssertEqual(Double(rate?["numerator"] as? Int ?? 0) / Double(rate?["denominator"] as? Int ?? 1), 30, "60 fps divided to the 30 allowed")
            let total = encoders.compactMap { ($0["settings"] as? [String: Any])?["bitrate"] as? Int }.reduce(0, +) + GoLiveConfig.audioBitrateKbps
            XCTAssertLessThanOrEqual(total, 3000, "the owner's maxBitrateKbps holds for the sum: \(raw)")
            // The client's own cap, lower still: the top rung goes rather than starve every rung.
            let (_, capped, raw2) = try await Self.goLive(c, Self.post("2024-06-04", key: key, maxBitrate: 1200))
            let sum = (capped["encoder_configurations"] as? [[String: Any]] ?? []).compactMap { ($0["settings"] as? [String: Any])?["bitrate"] as? Int }
            XCTAssertLessThanOrEqual(sum.reduce(0, +) + GoLiveConfig.audioBitrateKbps, 1200, raw2)
            XCTAssertFalse(sum.isEmpty)
            // An NVIDIA GPU: OBS 31's NVENC id (jim_nvenc before).
            let (_, nv, _) = try await Self.goLive(c, Self.post("2025-01-25", key: key, gpuVendor: 0x10DE))
            XCTAssertEqual((nv["encoder_configurations"] as? [[String: Any]])?.first?["type"] as? String, "obs_nvenc_h264_tex")
            let (_, old, _) = try await Self.goLive(c, Self.post("2024-06-04", key: key, gpuVendor: 0x10DE, clientVersion: "30.2.3"))
            XCTAssertEqual((old["encoder_configurations"] as? [[String: Any]])?.first?["type"] as? String, "jim_nvenc")
        }
    }

    /// The channel's own `renditions` setting is what OBS is told (largest first, the owner's
    /// limits still winning); null puts the automatic ladder back; bad settings are 422s.
    func testTheChannelsRenditionsSettingIsTheLadder() async throws {
        let u = self.u
        try await withClient { c in
            let created = try await c.createChannel("set", user: u, extra: #","renditions":[{"width":640,"height":360,"bitrateKbps":800},{"width":1280,"height":720,"bitrateKbps":2500,"fps":30}]"#)
            let key = try XCTUnwrap(created["streamId"] as? String)
            let id = try XCTUnwrap(created["id"] as? String)
            XCTAssertEqual((created["renditions"] as? [[String: Any]])?.map { $0["width"] as? Int }, [1280, 640], "largest first: \(created)")
            let (_, config, raw) = try await Self.goLive(c, Self.post("2024-06-04", key: key))
            XCTAssertEqual(Self.obsModelProblems(config), [], raw)
            let encoders = config["encoder_configurations"] as? [[String: Any]] ?? []
            XCTAssertEqual(encoders.map { "\($0["width"]!)x\($0["height"]!)" }, ["1280x720", "640x360"], raw)
            XCTAssertEqual(encoders.compactMap { ($0["settings"] as? [String: Any])?["bitrate"] as? Int }, [2500, 800])
            XCTAssertEqual(encoders.map { (($0["framerate"] as? [String: Any])?["numerator"] as? Int) }, [30, 60], "its own rate, else the client's")
            // The owner's limit wins over the channel's setting.
            _ = try await c.call(.put, "/v1/users/\(u)/config", #"{"maxHeight":480}"#)
            let (_, limited, _) = try await Self.goLive(c, Self.post("2024-06-04", key: key))
            XCTAssertEqual((limited["encoder_configurations"] as? [[String: Any]] ?? []).map { $0["height"] as? Int }, [360])
            // null: back to the automatic ladder.
            let reset = try await c.call(.patch, "/v1/channels/\(id)", #"{"renditions":null}"#)
            XCTAssertEqual(reset.status, 200, reset.raw)
            XCTAssertTrue(reset.data?["renditions"] is NSNull, reset.raw)
            let (_, auto, _) = try await Self.goLive(c, Self.post("2024-06-04", key: key))
            XCTAssertEqual((auto["encoder_configurations"] as? [[String: Any]] ?? []).first?["height"] as? Int, 480)
            for bad in [#"[{"width":641,"height":360,"bitrateKbps":800}]"#, #"[]"#, #"[{"width":640,"height":360}]"#,
                        #"[{"width":640,"height":360,"bitrateKbps":800,"codec":"h264"}]"#, #"{"width":640}"#,
                        // fps of another type was taken for no fps (schemathesis found `"fps": {}`).
                        #"[{"width":640,"height":360,"bitrateKbps":800,"fps":{}}]"#, #"[{"width":640,"height":360,"bitrateKbps":800,"fps":"30"}]"#,
                        #"[{"width":640,"height":360,"bitrateKbps":800,"fps":true}]"#, #"[{"width":640,"height":360,"bitrateKbps":800,"fps":0.5}]"#,
                        "[" + Array(repeating: #"{"width":640,"height":360,"bitrateKbps":800}"#, count: 6).joined(separator: ",") + "]"] {
                let r = try await c.call(.patch, "/v1/channels/\(id)", #"{"renditions":\#(bad)}"#)
                XCTAssertEqual(r.status, 422, "\(bad): \(r.raw)")
                XCTAssertNotNil(r.fields["renditions"], r.raw)
            }
        }
    }

    /// A wrong key and a disabled channel get the same bytes; wrong keys count as failed
    /// publishes, and a throttled address gets that same answer even with a good key.
    func testKeysCannotBeTestedThroughIt() async throws {
        let u = self.u, failures = self.failures
        try await withClient { c in
            let created_good = try await c.createChannel("good", user: u)
            let good = try XCTUnwrap(created_good["streamId"] as? String)
            let disabled = try await c.createChannel("off", user: u)
            let disabling = try await c.call(.post, "/v1/channels/\(disabled["id"] as! String)/disable")
            XCTAssertEqual(disabling.status, 200)
            let disabledKey = try XCTUnwrap(disabled["streamId"] as? String)
            let off = try await Self.goLive(c, Self.post("2024-06-04", key: disabledKey))
            let wrong = try await Self.goLive(c, Self.post("2024-06-04", key: String(good.reversed())))
            XCTAssertEqual(off.status, 200)
            XCTAssertEqual(wrong.status, off.status)
            XCTAssertEqual(wrong.raw, off.raw, "indistinguishable")
            XCTAssertEqual((off.config["status"] as? [String: Any])?["result"] as? String, "error")
            XCTAssertEqual(Self.obsModelProblems(off.config), [], off.raw)
            XCTAssertEqual((off.config["encoder_configurations"] as? [Any])?.count, 0)
            XCTAssertEqual(failures.withLockedValue { $0.values.reduce(0, +) }, 1, "a wrong key counts; a disabled channel's real key does not")
            _ = try await Self.goLive(c, Self.post("2024-06-04", key: "nope-1"))
            _ = try await Self.goLive(c, Self.post("2024-06-04", key: "nope-2"))
            let throttled = try await Self.goLive(c, Self.post("2024-06-04", key: good))
            XCTAssertEqual(throttled.raw, off.raw, "throttled: the same answer, without a lookup")
        }
    }

    func testMalformedRequestsNameTheField() async throws {
        try await withClient { c in
            let missing = try await c.call(.post, "/v1/obs/go-live", #"{"service":"IVS","schema_version":"2024-06-04"}"#, auth: .some(nil))
            XCTAssertEqual(missing.status, 422)
            XCTAssertNotNil(missing.fields["authentication"], missing.raw)
            let version = try await c.call(.post, "/v1/obs/go-live", #"{"schema_version":"1999-01-01","authentication":"k"}"#, auth: .some(nil))
            XCTAssertEqual(version.status, 422)
            XCTAssertNotNil(version.fields["schema_version"], version.raw)
            let notJSON = try await c.call(.post, "/v1/obs/go-live", nil, auth: .some(nil), headers: [.contentType: "application/json"], rawBody: "{")
            XCTAssertEqual(notJSON.status, 400)
        }
    }
}

final class SQLiteGoLiveTests: GoLiveConformanceTests {
    override func makeStore() async throws -> SQLChannelStore {
        try await StoreFactory.open(url: "", dataDir: FileManager.default.temporaryDirectory.appendingPathComponent("lg-golive-\(UUID())").path,
                                    logger: Logger(label: "test"))
    }

    /// (Linux's XCTest finds a suite by a test it declares itself.)
    func testBackendIsSQLite() { XCTAssertEqual(store.backendName, "sqlite") }
}
