import ChannelStore
import Foundation
import LiveGate
import LiveGateModel
import Logging
import ServiceLifecycle
import TestSupport
import XCTest

/// The composition seam (docs/architecture.md, "Composition"): the whole gateway — HTTP behind
/// its start-up gate, the store, the coordinator, the RTMP listener, the dispatcher — built
/// in-process by `buildApplication()` from a configuration, exercised by real clients (curl,
/// ffmpeg), and stopped by the service group's graceful shutdown as SIGTERM would.
final class ApplicationSeamTests: XCTestCase {
    func testTheGatewayBuiltInProcessFromItsConfigurationServesAndStopsGracefully() async throws {
        let dir = try MediaTools.temporaryDirectory("seam")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 3, in: dir)
        let port = freePorts(2)
        let configuration = LiveGateConfiguration(file: nil, environment: [:], overrides: [
            "rtmp.host": "127.0.0.1", "rtmp.port": "\(port)", "http.host": "127.0.0.1", "http.port": "\(port + 1)",
            "dataDir": dir.appendingPathComponent("data").path, "nodeId": "seam-node",
            "api.tokenId": "tok_seam", "api.tokenSecret": "seam-secret-0123456789",
            "publicRtmpUrl": "rtmps://live.example.com:443/live/", "publicHttpUrl": "https://live.example.com",
        ])
        XCTAssertEqual(configuration.problems, [])
        let settings = GatewaySettings(configuration)
        XCTAssertEqual(settings.rtmp.port, port, "read once, typed")
        XCTAssertEqual(settings.http.port, port + 1)
        var logger = Logger(label: "seam")
        logger.logLevel = .warning
        let group = try LiveGateApp(settings: settings, logger: logger).buildApplication(gracefulShutdownSignals: [])
        let running = Task { try await group.run() }

        let api = "http://127.0.0.1:\(port + 1)"
        @Sendable func curl(_ args: [String]) async throws -> (status: Int, json: [String: Any]) {
            let r = try await ProcessRunner.run("curl", ["-s", "-w", "\n%{http_code}", "-u", "tok_seam:seam-secret-0123456789"] + args, timeout: 10)
            let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            let status = Int(lines.last ?? "") ?? 0
            let body = lines.dropLast().joined(separator: "\n")
            return (status, (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:])
        }
        var ready = false
        for _ in 0..<300 where !ready {
            ready = try await curl(["\(api)/readyz"]).status == 200
            if !ready { try await Task.sleep(for: .milliseconds(100)) }
        }
        XCTAssertTrue(ready, "the gate opened onto the API")
        let created = try await curl(["-X", "POST", "\(api)/v1/channels", "--json", #"{"name":"seam","userId":"u1"}"#])
        XCTAssertEqual(created.status, 201)
        let channel = try XCTUnwrap(created.json["data"] as? [String: Any])
        let id = try XCTUnwrap(channel["id"] as? String), key = try XCTUnwrap(channel["streamId"] as? String)
        XCTAssertEqual(channel["streamUrl"] as? String, "rtmps://live.example.com:443/live", "the balancer's address, not this node's")
        XCTAssertEqual((channel["playback"] as? [String: Any])?["hlsUrl"] as? String, "https://live.example.com/hls/\(id)/index.m3u8")
        let document = try await curl(["\(api)/v1/openapi.json"])
        XCTAssertEqual((document.json["servers"] as? [[String: Any]])?.first?["url"] as? String, "https://live.example.com")

        // A publisher that outlives the service group: the graceful stop hands its session over.
        let publisher = Task {
            try await ProcessRunner.run("ffmpeg", ["-re", "-hide_banner", "-loglevel", "error", "-stream_loop", "-1", "-i", clip.path,
                                                   "-t", "30", "-c", "copy", "-f", "flv", "rtmp://127.0.0.1:\(port)/live/\(key)"], timeout: 40)
        }
        var live = false
        for _ in 0..<200 where !live {
            live = ((try await curl(["\(api)/v1/channels/\(id)"]).json["data"] as? [String: Any])?["status"] as? String) == "live"
            if !live { try await Task.sleep(for: .milliseconds(100)) }
        }
        XCTAssertTrue(live, "published through the in-process listener")

        // The channels this node carries, by its id (the one a fleet's /v1/system lists).
        let carried = try await curl(["\(api)/v1/channels?node=seam-node"])
        XCTAssertEqual(((carried.json["data"] as? [String: Any])?["items"] as? [[String: Any]])?.compactMap { $0["id"] as? String }, [id])
        let elsewhere = try await curl(["\(api)/v1/channels?node=another-node"])
        XCTAssertEqual(((elsewhere.json["data"] as? [String: Any])?["items"] as? [Any])?.count, 0)

        // /metrics in Prometheus's own judgement (promtool), with the standard process figures,
        // rates in base units, and every LiveGate metric the shipped alert rules read.
        let scrape = try await ProcessRunner.run("curl", ["-s", "-u", "tok_seam:seam-secret-0123456789", "\(api)/metrics"], timeout: 10)
        let metricsFile = dir.appendingPathComponent("metrics.txt")
        try scrape.stdout.write(to: metricsFile, atomically: true, encoding: .utf8)
        let lint = try await ProcessRunner.run("sh", ["-c", "promtool check metrics < '\(metricsFile.path)'"], timeout: 30)
        XCTAssertEqual(lint.exitCode, 0, "promtool check metrics: \(lint.stdout)\(lint.stderr)")
        for name in ["livegate_build_info{version=", "process_cpu_seconds_total ", "process_resident_memory_bytes ", "livegate_heap_in_use_bytes ", "process_open_fds ",
                     "process_start_time_seconds ", "livegate_channel_ingest_bytes_per_second{channel=\"\(id)\"}", "livegate_leases_held 1",
                     "livegate_webhook_backlog 0", "livegate_webhook_oldest_pending_age_seconds 0", #"livegate_store_up{backend="sqlite"} 1"#,
                     #"livegate_publish_decision_seconds_count{outcome="accepted"} 1"#, #"livegate_publish_decision_seconds_bucket{outcome="accepted",le="+Inf"} 1"#,
                     #"livegate_http_requests_total{route="/v1/channels",method="POST",status="201"} 1"#,
                     #"livegate_http_requests_total{route="/v1/channels/{id}",method="GET",status="200"}"#,
                     #"livegate_http_requests_total{route="/readyz",method="GET",status="200"}"#] {
            XCTAssertTrue(scrape.stdout.contains(name), "\(name) in /metrics")
        }
        XCTAssertFalse(scrape.stdout.contains("route=\"/v1/channels/\(id)\""), "routes are templates, never ids")
        let exported = Set(scrape.stdout.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map { String($0.split(separator: " ")[2]) })
        XCTAssertEqual(try AlertRulesTests.metricNamesInRules().subtracting(exported), [], "the alert rules read only metrics the gateway exports")

        // While the core stops (the HTTP listener stops last), balancers see `draining`.
        let watcher = Task { () -> [String] in
            var seen: [String] = []
            for _ in 0..<400 {
                let r = try await ProcessRunner.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "\(api)/readyz/ingest"], timeout: 5)
                seen.append(r.stdout)
                if r.stdout == "000" { break }
            }
            return seen
        }
        await group.triggerGracefulShutdown()
        try await running.value
        let statuses = try await watcher.value
        XCTAssertTrue(statuses.contains("503"), "draining seen while the node stopped: \(statuses)")
        if let first = statuses.firstIndex(of: "503") {
            XCTAssertFalse(statuses[first...].contains("200"), "never ready again once draining: \(statuses)")
        }
        let result = try await publisher.value
        XCTAssertNotEqual(result.exitCode, 0, "the publisher was let go by the stop, not by its clip's end")
        let unreachable = try await ProcessRunner.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "\(api)/healthz"], timeout: 10)
        XCTAssertEqual(unreachable.stdout, "000", "the HTTP listener is closed")

        // What the stop left in the store.
        let store = try await StoreFactory.open(url: "", dataDir: dir.appendingPathComponent("data").path, logger: Logger(label: "seam.check"))
        let stored = try await store.channel(id: id)
        XCTAssertEqual(stored?.status, .reconnecting, "handed over: its publisher may come back inside the window")
        let lease = try await store.lease(channelId: id)
        XCTAssertEqual(lease?.state, .reconnecting)
        XCTAssertEqual(lease?.endReason, "shutdown")
        let session = try await store.sessions(channelId: id, limit: 1, cursor: nil).items.first
        XCTAssertNil(session?.endedAt)
        XCTAssertEqual(session?.nodeId, "seam-node")
        await store.close()
    }
}
