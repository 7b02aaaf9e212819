import Foundation
import TestSupport
import XCTest

/// The RTMP listener behind a real TCP balancer (issue #14 item 6): HAProxy from Debian with
/// `send-proxy-v2`, connecting to the gateway from its own source address (127.0.0.2), so the
/// gateway can tell the proxy from the broadcaster (ffmpeg on 127.0.0.1): the broadcaster's
/// address is the one in the session and the logs; a PROXY header from a peer that is not a
/// trusted proxy, or a malformed one from one that is, closes that connection with a reason.
final class ProxyProtocolTests: XCTestCase {
    func testBehindHAProxyTheBroadcastersAddressIsTheOneSeen() async throws {
        let python = try await StandardWebhooksVerifier.python()
        let dir = try MediaTools.temporaryDirectory("proxy-protocol")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 2, in: dir)
        let port = freePorts(4)
        let balancer = port + 2
        let setup = try await liveSetup(dir: dir, port: port, token: "proxy",
                                        extraEnv: ["LIVEGATE_RTMP_PROXY_PROTOCOL": "v2", "LIVEGATE_RTMP_TRUSTED_PROXIES": "127.0.0.2/32"])
        defer { if setup.gateway.isRunning { kill(setup.gateway.processIdentifier, SIGKILL) } }
        let proxy = try await startHAProxy("""
        defaults
          mode tcp
          timeout connect 5s
          timeout client 60s
          timeout server 60s
        frontend rtmp
          bind 127.0.0.1:\(balancer)
          default_backend gateways
        backend gateways
          server gw1 127.0.0.1:\(port) send-proxy-v2 source 127.0.0.2

        """, in: dir)
        defer { proxy.terminate() }

        // Through the balancer: the session's remoteAddr is ffmpeg's 127.0.0.1, not the proxy's 127.0.0.2.
        let published = try await ProcessRunner.run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-i", clip.path, "-c", "copy", "-f", "flv",
                                                               "rtmp://127.0.0.1:\(balancer)/live/\(setup.key)"], timeout: 30)
        XCTAssertEqual(published.exitCode, 0, published.stderr)
        let offline = await setup.receiver.wait(timeout: 15) { $0.contains { $0.type == "channel.offline" } }
        XCTAssertTrue(offline)
        let sessions = (try await setup.curl(["\(setup.api)/v1/channels/\(setup.channelID)/sessions"])["data"] as? [String: Any])?["items"] as? [[String: Any]] ?? []
        let remote = try XCTUnwrap(sessions.first?["remoteAddr"] as? String)
        XCTAssertTrue(remote.hasPrefix("127.0.0.1:"), "the broadcaster, not the proxy: \(remote)")
        let live = try XCTUnwrap(setup.receiver.all.first { $0.type == "channel.live" })
        XCTAssertTrue(live.body.contains("\"remoteAddr\":\"127.0.0.1:"), live.body)
        let log = dir.appendingPathComponent("before.log")
        var text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        let accepted = text.split(separator: "\n").filter { $0.contains("connection accepted") }
        XCTAssertTrue(accepted.contains { $0.contains("remote=127.0.0.1:") && $0.contains("via=127.0.0.2:") }, accepted.joined(separator: "\n"))

        // Directly, without a header, from a peer that is no proxy: accepted as itself.
        let direct = try await ProcessRunner.run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-i", clip.path, "-c", "copy", "-t", "1", "-f", "flv",
                                                            "rtmp://127.0.0.1:\(port)/live/\(setup.key)"], timeout: 30)
        XCTAssertEqual(direct.exitCode, 0, direct.stderr)

        // A forged header from a peer that is not a trusted proxy; a malformed one from the proxy's address.
        let probe = """
            import socket, sys, time
            def send(source, data):
                s = socket.socket(); s.bind((source, 0)); s.settimeout(5); s.connect(("127.0.0.1", \(port)))
                s.sendall(data)
                try:
                    closed = s.recv(1) == b""
                except ConnectionResetError:
                    closed = True
                print(closed)
            send("127.0.0.1", b"PROXY TCP4 198.51.100.9 127.0.0.1 4000 1935\\r\\n\\x03")
            send("127.0.0.2", b"\\r\\n\\r\\n\\x00\\r\\nQUIT\\n\\x21\\x11\\x00\\x03abc")
            send("127.0.0.2", b"\\x03" + bytes(1536))
            """
        let r = try await ProcessRunner.run(python, ["-c", probe], timeout: 30)
        XCTAssertEqual(r.stdout.split(separator: "\n"), ["True", "True", "True"], r.stderr)
        try await Task.sleep(for: .milliseconds(300))
        text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        XCTAssertTrue(text.contains("PROXY header from a peer not in rtmp.trustedProxies"), String(text.suffix(3000)))
        XCTAssertTrue(text.contains("PROXY v2 IPv4 addresses need 12 bytes, got 3"), String(text.suffix(3000)))
        XCTAssertTrue(text.contains("a trusted proxy sent no PROXY v2 header"), String(text.suffix(3000)))
        XCTAssertFalse(text.contains("198.51.100.9"), "a forged address is never believed")
        XCTAssertTrue(setup.gateway.isRunning)
    }
}
