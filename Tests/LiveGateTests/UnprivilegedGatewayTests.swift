import Foundation
import TestSupport
import XCTest

/// The release-like path an operator takes: the real binary, run as a user that is not root,
/// with a fresh data directory owned by that user. As root, a privileged socket option
/// (SO_DEBUG, set by mistake for TCP_NODELAY) passed silently; as `nobody` it closed every
/// accepted connection before the handshake.
final class UnprivilegedGatewayTests: XCTestCase {
    let user = UnprivilegedUser.nobody

    func testPublishesOverRTMPAndRTMPSAsAnUnprivilegedUser() async throws {
        let dir = try MediaTools.temporaryDirectory("nonroot")
        defer { try? FileManager.default.removeItem(at: dir) }
        let binary = try gatewayBinaryCopy(in: dir)
        let data = dir.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        try user.own(data.path)
        let (cert, key) = try await MediaTools.selfSignedCertificate(in: dir)
        // The operator makes the key readable by the service user (here: by everyone, a test key).
        for file in [cert, key] { try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file) }
        let clip = try await MediaTools.makeClip(seconds: 2, in: dir)
        let port = freePorts(3)
        let env = ["PATH": "/usr/bin:/bin", "LIVEGATE_DATA_DIR": data.path,
                   "LIVEGATE_RTMP_HOST": "127.0.0.1", "LIVEGATE_HTTP_HOST": "127.0.0.1",
                   "LIVEGATE_RTMP_PORT": "\(port)", "LIVEGATE_HTTP_PORT": "\(port + 1)", "LIVEGATE_RTMP_TLS_PORT": "\(port + 2)",
                   "LIVEGATE_RTMP_TLS_CERTIFICATE": cert, "LIVEGATE_RTMP_TLS_KEY": key,
                   "LIVE_TOKEN_ID": "tok_nr", "LIVE_TOKEN_SECRET": "nr-secret-0123456789"]

        let check = try await user.run(binary, ["check-config"], environment: env)
        XCTAssertEqual(check.exitCode, 0, check.stdout + check.stderr)

        let log = dir.appendingPathComponent("gateway.log")
        let gateway = try user.start(binary, ["serve"], environment: env, log: log)
        defer { if gateway.isRunning { kill(gateway.processIdentifier, SIGKILL) } }
        guard try await waitForLog(log, "RTMP listener started", process: gateway) else { return }
        _ = try await waitForLog(log, "RTMPS listener started", process: gateway)
        if getuid() == 0 { XCTAssertEqual(UnprivilegedUser.effectiveUID(of: gateway.processIdentifier), user.uid, "the gateway runs as \(user.uid)") }

        let api = "http://127.0.0.1:\(port + 1)"
        let created = try await ProcessRunner.run("curl", ["-s", "-u", "tok_nr:nr-secret-0123456789", "-X", "POST", "\(api)/v1/channels",
                                                           "--json", #"{"name":"nonroot","userId":"u1"}"#], timeout: 10)
        let channel = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(created.stdout.utf8)) as? [String: Any])?["data"] as? [String: Any],
                                    created.stdout)
        let id = try XCTUnwrap(channel["id"] as? String), streamKey = try XCTUnwrap(channel["streamId"] as? String)

        for url in ["rtmp://127.0.0.1:\(port)/live/\(streamKey)", "rtmps://127.0.0.1:\(port + 2)/live/\(streamKey)"] {
            let publish = try await ProcessRunner.run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-re", "-i", clip.path,
                                                                 "-c", "copy", "-f", "flv", url], timeout: 30)
            XCTAssertEqual(publish.exitCode, 0, "\(url.prefix(8)): \(publish.stderr)\n\((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
        }
        // Both publishes reached the gateway and were measured: two sessions, every frame counted.
        let source = try await MediaTools.probe(clip)
        var items: [[String: Any]] = []
        for _ in 0..<50 {
            let sessions = try await ProcessRunner.run("curl", ["-s", "-u", "tok_nr:nr-secret-0123456789", "\(api)/v1/channels/\(id)/sessions"], timeout: 10)
            items = ((try? JSONSerialization.jsonObject(with: Data(sessions.stdout.utf8)) as? [String: Any])?["data"] as? [String: Any])?["items"]
                as? [[String: Any]] ?? []
            if items.count == 2 && items.allSatisfy({ $0["reason"] as? String == "unpublished" }) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        XCTAssertEqual(items.count, 2, "\(items)")
        for item in items {
            XCTAssertEqual(item["reason"] as? String, "unpublished")
            XCTAssertEqual(item["videoFrames"] as? Int, source.first { $0.codecType == "video" }?.packets)
            XCTAssertGreaterThan(item["bytesIn"] as? Int ?? 0, 10_000)
        }
        // Its HLS was written as that user too: the ended playlist lists segments it made
        // (MPEGTSSegmenter creates them; `PlaylistFile` swaps the playlist in).
        let playlist = data.appendingPathComponent("hls/\(id)/index.m3u8")
        let text = (try? String(contentsOf: playlist, encoding: .utf8)) ?? ""
        XCTAssertTrue(text.contains("#EXTINF") && text.contains("#EXT-X-ENDLIST"), text)
        // What it wrote belongs to the user it ran as.
        for file in ["livegate.sqlite", "node-id", "hls", "hls/\(id)/index.m3u8"] {
            let owner = try FileManager.default.attributesOfItem(atPath: data.appendingPathComponent(file).path)[.ownerAccountID] as? UInt
            XCTAssertEqual(owner.map(UInt32.init), getuid() == 0 ? user.uid : getuid(), file)
        }
        let logs = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        XCTAssertFalse(logs.contains("connection error"), logs)
        XCTAssertFalse(logs.contains("output failed"), logs)
        gateway.terminate()
        gateway.waitUntilExit()
        XCTAssertEqual(gateway.terminationStatus, 0, logs)
    }

    /// What only a non-root user meets, caught before start with exit 78 and the key named.
    func testCheckConfigAsAnUnprivilegedUser() async throws {
        try XCTSkipUnless(getuid() == 0, "needs root to switch to another user")
        let dir = try MediaTools.temporaryDirectory("nonroot-config")
        defer { try? FileManager.default.removeItem(at: dir) }
        let binary = try gatewayBinaryCopy(in: dir)
        let rootOwned = dir.appendingPathComponent("root-owned")
        try FileManager.default.createDirectory(at: rootOwned, withIntermediateDirectories: true)
        let port = freePorts(2)
        var env = ["PATH": "/usr/bin:/bin", "LIVEGATE_DATA_DIR": rootOwned.path, "LIVEGATE_RTMP_HOST": "127.0.0.1", "LIVEGATE_HTTP_HOST": "127.0.0.1",
                   "LIVEGATE_RTMP_PORT": "\(port)", "LIVEGATE_HTTP_PORT": "\(port + 1)"]
        let check = try await user.run(binary, ["check-config"], environment: env)
        XCTAssertEqual(check.exitCode, 78)
        XCTAssertTrue(check.stdout.contains("environment LIVEGATE_DATA_DIR: dataDir: \(rootOwned.path) is not writable by this user (uid 65534)"), check.stdout)
        let serve = try await user.run(binary, ["serve"], environment: env, timeout: 15)
        XCTAssertEqual(serve.exitCode, 78, serve.stderr)
        XCTAssertTrue(serve.stderr.contains("dataDir: \(rootOwned.path) is not writable by this user"), serve.stderr)

        // A port below the unprivileged limit is refused for this user, with the reason.
        let limit = Int((try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_unprivileged_port_start", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "1024") ?? 1024
        if limit > 80 {
            let writable = dir.appendingPathComponent("data")
            try FileManager.default.createDirectory(at: writable, withIntermediateDirectories: true)
            try user.own(writable.path)
            env["LIVEGATE_DATA_DIR"] = writable.path
            env["LIVEGATE_HTTP_PORT"] = "80"
            let low = try await user.run(binary, ["check-config"], environment: env)
            XCTAssertEqual(low.exitCode, 78)
            XCTAssertTrue(low.stdout.contains("environment LIVEGATE_HTTP_PORT: http.port: the HTTP listener cannot bind 127.0.0.1:80: Permission denied"), low.stdout)
        }
    }
}
