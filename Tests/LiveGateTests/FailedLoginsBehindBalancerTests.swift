import Foundation
import TestSupport
import XCTest

/// Issue #19 item 2 on the real binary behind Debian's HAProxy (`option forwardfor`, from
/// 127.0.0.2, the address in `http.trustedProxies`): one worker with a stale secret used to lock
/// the App Server's correct token out of the whole control plane for a minute. Now its failing
/// attempts are throttled per client — the client HAProxy names, not HAProxy itself — and a
/// correct token is accepted from anywhere, that worker's own address included.
final class FailedLoginsBehindBalancerTests: XCTestCase {
    func testAStaleWorkerBehindTheBalancerIsThrottledAloneAndTheGoodTokenNeverLockedOut() async throws {
        let dir = try MediaTools.temporaryDirectory("logins")
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = freePorts(3), front = port + 2
        let setup = try await liveSetup(dir: dir, port: port, token: "logins", extraEnv: [
            "LIVEGATE_API_AUTH_FAILURES_PER_MINUTE": "5", "LIVEGATE_HTTP_TRUSTED_PROXIES": "127.0.0.2/32",
        ])
        defer { if setup.gateway.isRunning { kill(setup.gateway.processIdentifier, SIGKILL) } }
        let proxy = try await startHAProxy("""
        defaults
          mode http
          timeout connect 5s
          timeout client 30s
          timeout server 30s
        frontend api
          bind 127.0.0.1:\(front)
          option forwardfor
          default_backend node
        backend node
          server a 127.0.0.1:\(port + 1) source 127.0.0.2

        """, in: dir)
        defer { proxy.terminate() }
        let balanced = "http://127.0.0.1:\(front)"

        /// The status of `GET path` from source address `from` with `credentials` (id:secret).
        func status(_ base: String, from: String, _ credentials: String, headers: [String] = []) async throws -> String {
            let r = try await ProcessRunner.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--interface", from, "-u", credentials]
                                                + headers.flatMap { ["-H", $0] } + ["\(base)/v1/channels"], timeout: 10)
            return r.stdout
        }
        let good = "tok_logins:logins-secret-0123456789"
        let stale = "tok_logins:an-old-secret"

        // The stale worker at 127.0.0.3, through the balancer: five failures, then 429s.
        var answers: [String] = []
        for _ in 0..<8 { answers.append(try await status(balanced, from: "127.0.0.3", stale)) }
        XCTAssertEqual(answers, ["401", "401", "401", "401", "401", "429", "429", "429"])
        // The App Server's correct token, from the same address and through the same balancer.
        for _ in 0..<3 {
            let answer = try await status(balanced, from: "127.0.0.3", good)
            XCTAssertEqual(answer, "200", "a correct token is never locked out")
        }
        // Another client behind the same balancer (another token id): its own budget, a plain 401.
        let other = try await status(balanced, from: "127.0.0.4", "tok_nobody:x")
        XCTAssertEqual(other, "401", "the balancer's other clients are not throttled")

        // A direct peer that is not a trusted proxy cannot pick its address with the header.
        for _ in 0..<5 { _ = try await status(setup.api, from: "127.0.0.5", "tok_guess\(UUID().uuidString.prefix(6)):x", headers: ["X-Forwarded-For: 198.51.100.1"]) }
        let direct = try await status(setup.api, from: "127.0.0.5", "tok_guess:x", headers: ["X-Forwarded-For: 198.51.100.2"])
        XCTAssertEqual(direct, "429")

        setup.gateway.terminate()
        setup.gateway.waitUntilExit()
        let log = (try? String(contentsOf: dir.appendingPathComponent("before.log"), encoding: .utf8)) ?? ""
        let throttled = log.split(separator: "\n").filter { $0.contains("failed API logins throttled") }
        XCTAssertTrue(throttled.contains { $0.contains("client=127.0.0.3") && $0.contains("token.id=tok_logins") }, log)
        XCTAssertTrue(throttled.contains { $0.contains("client=127.0.0.5") }, "the direct peer, not the address it claimed: \(throttled)")
        XCTAssertFalse(log.contains("198.51.100"), "a header from an untrusted peer is never believed")
        XCTAssertFalse(throttled.contains { $0.contains("client=127.0.0.2") }, "never the balancer's own address")
        XCTAssertEqual(throttled.filter { $0.contains("client=127.0.0.3") }.count, 1, "logged once per burst: \(throttled)")
    }
}
