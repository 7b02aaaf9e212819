import Foundation
import NIOConcurrencyHelpers
import TestSupport
import Webhooks
import XCTest

/// The outbound URL guard (issue #13 item 5): which addresses a webhook or forward may reach
/// with `blockPrivateNetworks`, every numeric notation of a host, and the check made at
/// delivery/connect time through the resolver — injected here as a hosts(5) file, the same way
/// `network.hostsFile` injects it into the binary below.
final class OutboundGuardTests: XCTestCase {
    static let refused = [
        "0.0.0.0", "0.1.2.3", "10.0.0.1", "10.255.255.255", "100.64.0.1", "100.100.100.200", "127.0.0.1", "127.255.0.9", "169.254.169.254",
        "169.254.0.1", "172.16.0.1", "172.31.255.254", "192.0.0.8", "192.0.2.10", "192.168.1.1", "198.18.0.1", "198.51.100.7", "203.0.113.9",
        "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
        "::", "::1", "::ffff:127.0.0.1", "::ffff:10.1.2.3", "::ffff:169.254.169.254", "::127.0.0.1", "64:ff9b::a00:1", "64:ff9b:1::1", "100::1",
        "2001::1", "2001:db8::1", "2002:c0a8:101::1", "fc00::1", "fd00:ec2::254", "fe80::1", "febf::1", "fec0::1", "ff02::1", "ff0e::1",
    ]
    static let allowed = ["1.1.1.1", "8.8.8.8", "93.184.216.34", "172.32.0.1", "100.128.0.1", "192.169.0.1", "::ffff:8.8.8.8", "64:ff9b::808:808",
                          "2606:4700:4700::1111", "2a00:1450:4001:82a::200e", "2001:4860:4860::8888"]

    func testEveryNonPublicRangeIsRefusedAndPublicAddressesPass() throws {
        for text in Self.refused {
            let address = try XCTUnwrap(OutboundAddressPolicy.literal(text), text)
            XCTAssertNotNil(OutboundAddressPolicy.refusal(address), "\(text) must be refused")
        }
        for text in Self.allowed {
            let address = try XCTUnwrap(OutboundAddressPolicy.literal(text), text)
            XCTAssertNil(OutboundAddressPolicy.refusal(address), "\(text) is public")
        }
    }

    /// Checked against an independent classifier: Python's `ipaddress` — not global, or
    /// multicast, reserved or site-local. Left out: what carries an IPv4 address (judged by it
    /// here, by its prefix there), 6to4, and two ranges where LiveGate is stricter than Python
    /// 3.11 (all of 192.0.0.0/24; RFC 8215's local-use NAT64 64:ff9b:1::/48).
    func testTheRangesAgreeWithPythonsIpaddress() async throws {
        let python = try await StandardWebhooksVerifier.python()
        let script = """
            import ipaddress, sys
            for text in sys.argv[1:]:
                a = ipaddress.ip_address(text)
                print(text, not (a.is_global and not a.is_multicast and not a.is_reserved and not (a.version == 6 and a.is_site_local)))
            """
        let skipped = ["64:ff9b", "::ffff:", "::127.0.0.1", "2002:", "192.0.0.8"]
        let sample = (Self.refused + Self.allowed).filter { address in !skipped.contains { address.hasPrefix($0) } }
        let r = try await ProcessRunner.run(python, ["-c", script] + sample, timeout: 30)
        XCTAssertEqual(r.exitCode, 0, r.stderr)
        var compared = 0
        for line in r.stdout.split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count == 2, let address = OutboundAddressPolicy.literal(String(parts[0])) else { continue }
            XCTAssertEqual(OutboundAddressPolicy.refusal(address) != nil, parts[1] == "True", "\(parts[0]): ipaddress says non-public=\(parts[1])")
            compared += 1
        }
        XCTAssertGreaterThan(compared, 40)
    }

    func testEveryNumericNotationOfLoopbackIsRecognised() throws {
        for notation in ["127.0.0.1", "2130706433", "127.1", "127.0.1", "0x7f.1", "0x7f000001", "0177.0.0.1", "0177.1", "017700000001", "[::1]",
                         "[::ffff:7f00:1]", "[0:0:0:0:0:ffff:127.0.0.1]"] {
            let address = try XCTUnwrap(OutboundAddressPolicy.literal(notation), notation)
            XCTAssertNotNil(OutboundAddressPolicy.refusal(address), "\(notation) is loopback")
        }
        XCTAssertNil(OutboundAddressPolicy.literal("hooks.example.com"))
        XCTAssertNil(OutboundAddressPolicy.literal("1e100.net"))
    }

    /// A name is resolved when it is reached: public and private answers together are refused,
    /// an unknown name fails as DNS; without blocking, plain HTTP goes to the checked address
    /// with the original Host header, HTTPS keeps its name (TLS).
    func testTheGuardedTransportResolvesChecksAndPins() async throws {
        let hosts = HostsFileResolver(text: """
            # hosts(5)
            127.0.0.1   loop.example.test
            93.184.216.34 public.example.test mixed.example.test
            10.0.0.7    mixed.example.test
            2606:4700:4700::1111 six.example.test
            """, fallback: NoResolver())
        let inner = RecordingTransport()
        let blocking = GuardedWebhookTransport(inner, guard: OutboundGuard(blockPrivateNetworks: true, resolver: hosts))
        for url in ["http://loop.example.test:8080/hook", "http://mixed.example.test/hook", "http://2130706433/hook", "http://127.1:9/x", "http://0x7f.1/",
                    "http://[::1]:8080/", "http://169.254.169.254/latest/meta-data/"] {
            do {
                _ = try await blocking.post(url: url, headers: [], body: "{}", timeout: 1)
                XCTFail("\(url) must be refused")
            } catch let refused as OutboundGuard.Refused {
                XCTAssertTrue(refused.description.contains("blocked by blockPrivateNetworks"), refused.description)
            }
        }
        XCTAssertTrue(inner.urls.isEmpty, "nothing refused reached the network: \(inner.urls)")
        do {
            _ = try await blocking.post(url: "http://nowhere.example.test/", headers: [], body: "{}", timeout: 1)
            XCTFail("an unknown name fails")
        } catch let e as HostResolutionError {
            XCTAssertEqual(e.host, "nowhere.example.test")
        }
        _ = try await blocking.post(url: "http://public.example.test:8080/hook?a=1", headers: [("webhook-id", "evt_1")], body: "{}", timeout: 1)
        _ = try await blocking.post(url: "https://public.example.test/hook", headers: [], body: "{}", timeout: 1)
        _ = try await blocking.post(url: "http://six.example.test/hook", headers: [], body: "{}", timeout: 1)
        XCTAssertEqual(inner.urls, ["http://93.184.216.34:8080/hook?a=1", "https://public.example.test/hook", "http://[2606:4700:4700::1111]/hook"])
        XCTAssertEqual(inner.hostHeaders, ["public.example.test:8080", nil, "six.example.test"])
        let open = GuardedWebhookTransport(RecordingTransport(), guard: OutboundGuard(blockPrivateNetworks: false, resolver: hosts))
        let answer = try await open.post(url: "http://loop.example.test:8080/hook", headers: [], body: "{}", timeout: 1)
        XCTAssertEqual(answer.status, 204, "not blocking: loopback names are reachable")
    }

    // MARK: The binary

    /// Through the real gateway: numeric notations refused when saved, a name that resolves to
    /// loopback (hosts file) saved but refused at delivery — the receiver gets nothing — while
    /// the same name on a gateway that does not block delivers (so the refusal is the guard's,
    /// not a broken resolver); a forward to such a name never connects.
    func testTheGatewayRefusesPrivateTargetsWhenSavedAndWhenReached() async throws {
        let dir = try MediaTools.temporaryDirectory("outbound-guard")
        defer { try? FileManager.default.removeItem(at: dir) }
        let hostsFile = dir.appendingPathComponent("hosts")
        try "127.0.0.1 hooks.example.test push.example.test\n".write(to: hostsFile, atomically: true, encoding: .utf8)
        let receiver = try await WebhookReceiver.start(secret: "")
        let target = try await StalledTCPServer.start()
        let port = freePorts()
        let env = ["LIVE_TOKEN_ID": "tok_guard", "LIVE_TOKEN_SECRET": "guard-secret-0123456789", "LIVEGATE_NETWORK_HOSTS_FILE": hostsFile.path,
                   "LIVEGATE_WEBHOOKS_BLOCK_PRIVATE_NETWORKS": "true", "LIVEGATE_FORWARDS_BLOCK_PRIVATE_NETWORKS": "true"]
        let (gateway, log) = try await startGateway(dir: dir, port: port, extraEnv: env, log: "guard.log")
        defer { if gateway.isRunning { kill(gateway.processIdentifier, SIGKILL) } }
        let api = "http://127.0.0.1:\(port + 1)"
        func call(_ method: String, _ path: String, _ body: String? = nil, api: String = api) async throws -> (Int, [String: Any]) {
            let r = try await ProcessRunner.run("curl", ["-s", "-u", "tok_guard:guard-secret-0123456789", "-X", method, "-w", "\n%{http_code}", api + path]
                                                + (body.map { ["--json", $0] } ?? []), timeout: 15)
            let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            return (Int(lines.last ?? "") ?? 0,
                    (try? JSONSerialization.jsonObject(with: Data(lines.dropLast().joined(separator: "\n").utf8))) as? [String: Any] ?? [:])
        }
        let receiverPort = URLComponents(string: receiver.url)?.port ?? 0
        for host in ["127.0.0.1", "2130706433", "127.1", "0x7f.1", "0177.0.0.1", "[::1]", "localhost", "169.254.169.254", "10.1.2.3"] {
            let (status, body) = try await call("POST", "/v1/webhooks", #"{"url":"http://\#(host):\#(receiverPort)/hook"}"#)
            XCTAssertEqual(status, 422, "\(host): \(body)")
            XCTAssertTrue("\(body)".contains("non-public"), "\(host): \(body)")
        }
        let (created, hook) = try await call("POST", "/v1/webhooks", #"{"url":"http://hooks.example.test:\#(receiverPort)/hook"}"#)
        XCTAssertEqual(created, 201, "a name is saved; it is checked when reached")
        let hookID = try XCTUnwrap((hook["data"] as? [String: Any])?["id"] as? String)
        let (pinged, ping) = try await call("POST", "/v1/webhooks/\(hookID)/test")
        XCTAssertEqual(pinged, 200)
        let pingData = ping["data"] as? [String: Any] ?? [:]
        XCTAssertEqual(pingData["delivered"] as? Bool, false)
        XCTAssertTrue((pingData["responseExcerpt"] as? String ?? "").contains("hooks.example.test resolves to 127.0.0.1, loopback"), "\(pingData)")
        XCTAssertTrue(receiver.all.isEmpty, "the receiver on loopback got nothing")

        // A forward to a name on loopback: saved, then refused before every connect.
        let (_, channel) = try await call("POST", "/v1/channels", #"{"name":"guarded","userId":"u1"}"#)
        let channelData = try XCTUnwrap(channel["data"] as? [String: Any])
        let (channelID, key) = (try XCTUnwrap(channelData["id"] as? String), try XCTUnwrap(channelData["streamId"] as? String))
        let (literal, _) = try await call("POST", "/v1/channels/\(channelID)/forwards", #"{"url":"rtmp://127.1:\#(target.port)/live/k"}"#)
        XCTAssertEqual(literal, 422)
        let (forwardCreated, _) = try await call("POST", "/v1/channels/\(channelID)/forwards", #"{"url":"rtmp://push.example.test:\#(target.port)/live/k"}"#)
        XCTAssertEqual(forwardCreated, 201)
        let clip = try await MediaTools.makeClip(seconds: 3, in: dir)
        let published = try await ProcessRunner.run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-i", clip.path, "-c", "copy", "-f", "flv",
                                                               "rtmp://127.0.0.1:\(port)/live/\(key)"], timeout: 30)
        XCTAssertEqual(published.exitCode, 0, published.stderr)
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        XCTAssertTrue(text.contains("push.example.test resolves to 127.0.0.1"), String(text.suffix(3000)))
        XCTAssertEqual(target.acceptedConnections, 0, "the push target was never connected to")
        kill(gateway.processIdentifier, SIGTERM)

        // The control: the same hosts file on a gateway that does not block delivers to the name.
        let open = freePorts()
        var openEnv = env
        openEnv["LIVEGATE_WEBHOOKS_BLOCK_PRIVATE_NETWORKS"] = "false"
        let openDir = dir.appendingPathComponent("open")
        try FileManager.default.createDirectory(at: openDir, withIntermediateDirectories: true)
        let (control, _) = try await startGateway(dir: openDir, port: open, extraEnv: openEnv, log: "open.log")
        defer { if control.isRunning { kill(control.processIdentifier, SIGKILL) } }
        let openAPI = "http://127.0.0.1:\(open + 1)"
        let (_, openHook) = try await call("POST", "/v1/webhooks", #"{"url":"http://hooks.example.test:\#(receiverPort)/hook"}"#, api: openAPI)
        let openID = try XCTUnwrap((openHook["data"] as? [String: Any])?["id"] as? String)
        let (_, delivered) = try await call("POST", "/v1/webhooks/\(openID)/test", api: openAPI)
        XCTAssertEqual((delivered["data"] as? [String: Any])?["delivered"] as? Bool, true, "\(delivered)")
        XCTAssertEqual(receiver.all.count, 1, "the receiver got the ping through the hosts file")
    }
}

/// Resolves nothing: a hosts file alone.
struct NoResolver: HostResolver {
    func addresses(of host: String) throws -> [[UInt8]] { throw HostResolutionError(host: host) }
}

/// Records what would have gone on the wire; answers 204.
final class RecordingTransport: WebhookTransport {
    private let seen = NIOLockedValueBox<[(String, String?)]>([])
    var urls: [String] { seen.withLockedValue { $0.map(\.0) } }
    var hostHeaders: [String?] { seen.withLockedValue { $0.map(\.1) } }

    func post(url: String, headers: [(String, String)], body: String, timeout: TimeInterval) async throws -> (status: Int, body: String) {
        seen.withLockedValue { $0.append((url, headers.first { $0.0 == "host" }?.1)) }
        return (204, "")
    }
}
