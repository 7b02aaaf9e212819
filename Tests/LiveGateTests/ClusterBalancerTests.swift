import Foundation
import TestSupport
import XCTest

/// Two nodes behind HAProxy from Debian (issue #14 item 9): RTMP balanced round robin with
/// `send-proxy-v2` from the proxy's own source address (127.0.0.2), the API round robin too.
/// A publisher that drops and reconnects through the balancer lands on the other node and its
/// session continues there; a duplicate through the balancer is refused wherever it lands; every
/// node sees the broadcaster's address (127.0.0.1), never the proxy's.
final class ClusterBalancerTests: XCTestCase {
    func testReconnectThroughTheBalancerContinuesTheSessionOnTheOtherNode() async throws {
        let cluster = try await startCluster("cluster-haproxy", extraEnv: ["LIVEGATE_RTMP_PROXY_PROTOCOL": "v2", "LIVEGATE_RTMP_TRUSTED_PROXIES": "127.0.0.2/32"])
        var publishers: [Process] = []
        defer { for p in publishers where p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        let clip = try await MediaTools.makeClip(seconds: 2, in: cluster.dir)
        let front = freePorts(2)
        let proxy = try await startHAProxy("""
        defaults
          timeout connect 5s
          timeout client 60s
          timeout server 60s
        frontend rtmp
          mode tcp
          bind 127.0.0.1:\(front)
          default_backend rtmp_nodes
        backend rtmp_nodes
          mode tcp
          balance roundrobin
          server a 127.0.0.1:\(cluster.nodes[0].port) send-proxy-v2 source 127.0.0.2
          server b 127.0.0.1:\(cluster.nodes[1].port) send-proxy-v2 source 127.0.0.2
        frontend api
          mode http
          bind 127.0.0.1:\(front + 1)
          default_backend api_nodes
        backend api_nodes
          mode http
          balance roundrobin
          option httpchk GET /readyz
          server a 127.0.0.1:\(cluster.nodes[0].port + 1) check inter 1s
          server b 127.0.0.1:\(cluster.nodes[1].port + 1) check inter 1s

        """, in: cluster.dir, settle: .milliseconds(1500))
        defer { proxy.terminate() }

        // The API through the balancer: both nodes answer for the same channels.
        let channel = try await cluster.createChannel(#"{"name":"lb","userId":"u1","reconnectWindowSec":15}"#)
        var answeredBy: Set<String> = []
        for _ in 0..<4 {
            let r = try await ProcessRunner.run("curl", ["-s", "-u", "\(ClusterHarness.token):\(ClusterHarness.secret)", "http://127.0.0.1:\(front + 1)/v1/system"], timeout: 10)
            let data = ((try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any])?["data"] as? [String: Any]
            if let node = data?["nodeId"] as? String { answeredBy.insert(node) }
        }
        for _ in 0..<2 {
            let got = try await ProcessRunner.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", "\(ClusterHarness.token):\(ClusterHarness.secret)",
                                                           "http://127.0.0.1:\(front + 1)/v1/channels/\(channel.id)"], timeout: 10)
            XCTAssertEqual(got.stdout, "200")
        }
        XCTAssertEqual(answeredBy, ["node-a", "node-b"], "round robin reached both nodes")

        let url = "rtmp://127.0.0.1:\(front)/live/\(channel.key)"
        let first = try startPublisher(clip, url: url, seconds: 60)
        publishers.append(first)
        let live = await cluster.receiver.wait(timeout: 20) { $0.contains { $0.type == "channel.live" && $0.channelId == channel.id } }
        XCTAssertTrue(live)
        try await Task.sleep(for: .seconds(2))
        let firstNode = try await cluster.sessions(channel.id).first?["nodeId"] as? String
        kill(first.processIdentifier, SIGKILL)
        try await Task.sleep(for: .milliseconds(500))
        let second = try startPublisher(clip, url: url, seconds: 5)
        publishers.append(second)
        let moved = try await eventually(15) {
            let node = try await cluster.sessions(channel.id).first?["nodeId"] as? String
            return node != nil && node != firstNode
        }
        XCTAssertTrue(moved, "the reconnect went to the other node (\(firstNode ?? "?")) and the session with it")
        // A duplicate through the balancer lands on the first node again: refused there.
        let duplicate = try await ProcessRunner.run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-i", clip.path, "-c", "copy", "-t", "1", "-f", "flv", url],
                                                    timeout: 30)
        XCTAssertNotEqual(duplicate.exitCode, 0, "BadName through the balancer")
        let ended = await cluster.receiver.wait(timeout: 30) { $0.contains { $0.type == "channel.offline" && $0.channelId == channel.id } }
        if !ended {
            // The summary on the first line (a CI log keeps only that): where the session is, and
            // what each node said about it.
            let open = try await cluster.sessions(channel.id, via: 1).map { "\($0["id"] ?? "?") node \($0["nodeId"] ?? "?") ended \($0["endedAt"] ?? "?")" }
            let said = (0..<2).map { i in
                cluster.nodes[i].name + ": " + cluster.logText(i).split(separator: "\n").filter { $0.contains(channel.id) || $0.contains("session") }
                    .suffix(12).map { String($0.suffix(220)) }.joined(separator: " / ")
            }
            XCTFail("no channel.offline 30 s after the publisher ended: sessions \(open); events \(cluster.receiver.all.filter { $0.channelId == channel.id }.map(\.type)); "
                    + said.joined(separator: " || "))
        }
        try await Task.sleep(for: .seconds(1))
        let events = cluster.receiver.all.filter { $0.channelId == channel.id }
        XCTAssertEqual(events.filter { $0.type == "channel.live" }.count, 1, "no offline/live pair: \(events.map(\.type))")
        XCTAssertEqual(events.filter { $0.type == "channel.offline" }.count, 1)
        XCTAssertEqual(events.first { $0.type == "channel.offline" }?.reason, "unpublished")
        let sessions = try await cluster.sessions(channel.id, via: 1)
        XCTAssertEqual(sessions.count, 1)
        let connections = sessions.first?["connections"] as? [[String: Any]] ?? []
        XCTAssertEqual(connections.count, 2, "\(connections)")
        XCTAssertTrue(connections.allSatisfy { ($0["remoteAddr"] as? String ?? "").hasPrefix("127.0.0.1:") }, "the broadcaster, not the proxy: \(connections)")
        for i in 0..<2 {
            let accepted = cluster.logText(i).split(separator: "\n").filter { $0.contains("connection accepted") }
            XCTAssertTrue(accepted.contains { $0.contains("remote=127.0.0.1:") && $0.contains("via=127.0.0.2:") }, "\(cluster.nodes[i].name): \(accepted)")
        }
        await cluster.stop()
    }

    /// The shipped balancer file itself (`docker/haproxy.cluster.cfg`), run by Debian's HAProxy
    /// with loopback addresses from the environment: both nodes checked healthy on
    /// `/readyz/ingest`; during a PostgreSQL outage a publish through it reaches LiveGate and is
    /// refused with `Publish.Rejected: temporarily unavailable` (not cut at TCP), and the API
    /// answers LiveGate's own 503 with `Retry-After`; the stats page answers on loopback.
    func testTheShippedBalancerConfigKeepsTheOutagePromises() async throws {
        guard let base = ProcessInfo.processInfo.environment["LIVEGATE_TEST_POSTGRES_URL"], let target = URLComponents(string: base)?.port else {
            throw XCTSkip("LIVEGATE_TEST_POSTGRES_URL not set (make test starts PostgreSQL)")
        }
        let relayPort = freePorts(1)
        let relay = try TCPRelay.start(listenPort: relayPort, targetPort: target)
        defer { relay.terminate() }
        let cluster = try await startCluster("shipped-lb", extraEnv: ["LIVEGATE_RTMP_PROXY_PROTOCOL": "v2", "LIVEGATE_RTMP_TRUSTED_PROXIES": "127.0.0.1/32",
                                                                      "LIVEGATE_HTTP_TRUSTED_PROXIES": "127.0.0.1/32"], databasePort: relayPort)
        // Whatever fails below, the nodes do not outlive the test.
        defer { for node in cluster.nodes where node.process.isRunning { kill(node.process.processIdentifier, SIGKILL) } }
        var publishers: [Process] = []
        defer { for p in publishers where p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        let clip = try await MediaTools.makeClip(seconds: 2, in: cluster.dir)
        let (proxy, front) = try await startShippedBalancer(cluster)
        defer { proxy.terminate() }
        func statsCSV() async throws -> String {
            try await ProcessRunner.run("curl", ["-s", "http://127.0.0.1:\(front + 2)/stats;csv"], timeout: 10).stdout
        }
        let stats = try await statsCSV()
        for backend in ["rtmp_nodes", "http_nodes"] {
            let up = stats.split(separator: "\n").filter { $0.hasPrefix(backend + ",livegate-") && $0.contains(",UP,") }.count
            XCTAssertEqual(up, 2, "\(backend): both nodes checked up on /readyz/ingest: \(stats)")
        }
        let channel = try await cluster.createChannel(#"{"name":"lb2","userId":"u1"}"#)
        let later = try await cluster.createChannel(#"{"name":"lb3","userId":"u2"}"#).key
        let before = try await ProcessRunner.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", "\(ClusterHarness.token):\(ClusterHarness.secret)",
                                                          "http://127.0.0.1:\(front + 1)/v1/channels/\(channel.id)"], timeout: 10)
        XCTAssertEqual(before.stdout, "200")
        let a = try startPublisher(clip, url: "rtmp://127.0.0.1:\(front)/live/\(channel.key)", seconds: 60)
        publishers.append(a)
        let live = await cluster.receiver.wait(timeout: 20) { $0.contains { $0.type == "channel.live" && $0.channelId == channel.id } }
        XCTAssertTrue(live, "a publish through the shipped balancer")

        relay.terminate() // PostgreSQL is gone for both nodes
        try await Task.sleep(for: .seconds(3)) // longer than two health checks: the nodes must stay in
        let during = try await statsCSV()
        XCTAssertEqual(during.split(separator: "\n").filter { $0.hasPrefix("rtmp_nodes,livegate-") && $0.contains(",UP,") }.count, 2,
                       "a store outage does not take the nodes out of the RTMP backend: \(during)")
        let refused = try await ProcessRunner.run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-i", clip.path, "-c", "copy", "-f", "flv",
                                                             "rtmp://127.0.0.1:\(front)/live/\(later)"], timeout: 30)
        XCTAssertNotEqual(refused.exitCode, 0)
        XCTAssertFalse(refused.stderr.contains("Cannot read RTMP handshake"), "not cut at TCP: \(refused.stderr)")
        let logs = cluster.logText(0) + cluster.logText(1)
        XCTAssertTrue(logs.contains("NetStream.Publish.Rejected: temporarily unavailable"), "refused by LiveGate itself")
        let api = try await ProcessRunner.run("curl", ["-s", "-i", "-u", "\(ClusterHarness.token):\(ClusterHarness.secret)",
                                                       "http://127.0.0.1:\(front + 1)/v1/channels/\(channel.id)"], timeout: 20)
        XCTAssertTrue(api.stdout.hasPrefix("HTTP/1.1 503"), api.stdout)
        XCTAssertTrue(api.stdout.lowercased().contains("retry-after:"), "LiveGate's 503, with Retry-After: \(api.stdout)")
        XCTAssertTrue(api.stdout.contains("\"ec\":5030"), "the envelope, not HAProxy's HTML page: \(api.stdout)")
        XCTAssertTrue(a.isRunning, "the live stream goes on through the outage")
        await cluster.stop()
    }
}
