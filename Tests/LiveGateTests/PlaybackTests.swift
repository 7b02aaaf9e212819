import Foundation
import TestSupport
import XCTest

/// Issue #19 item 7 on the real binary: every channel names its playback URL; a signed channel
/// plays only with a token — minted by the API or by the App Server itself with a signing key
/// (here by Python's hmac, an implementation that is not ours) — on the playlist and on every
/// segment (ffprobe follows the playlist's URIs, which carry the token on); expired, foreign or
/// revoked tokens get 403. At session end the playlist ends with EXT-X-ENDLIST and stays for
/// `hls.keepAfterEndSec`, then goes.
final class PlaybackTests: XCTestCase {
    func testSignedPlaybackWithTokensFromTheAPIAndFromTheAppServerAndAnEndedPlaylist() async throws {
        let dir = try MediaTools.temporaryDirectory("playback")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 8, in: dir)
        let port = freePorts()
        let base = "http://127.0.0.1:\(port + 1)"
        let setup = try await liveSetup(dir: dir, port: port, token: "play", extraEnv: [
            "LIVEGATE_PUBLIC_HTTP_URL": base + "/", "LIVEGATE_HLS_KEEP_AFTER_END_SEC": "3",
        ])
        defer { if setup.gateway.isRunning { kill(setup.gateway.processIdentifier, SIGKILL) } }
        let (api, curl, id) = (setup.api, setup.curl, setup.channelID)
        func data(_ r: [String: Any]) -> [String: Any] { r["data"] as? [String: Any] ?? [:] }
        func status(_ url: String) async throws -> Int {
            Int(try await ProcessRunner.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", url], timeout: 10).stdout) ?? 0
        }
        func body(_ url: String) async throws -> String { try await ProcessRunner.run("curl", ["-s", url], timeout: 10).stdout }

        let channel = data(try await curl(["\(api)/v1/channels/\(id)"]))
        let hlsUrl = "\(base)/hls/\(id)/index.m3u8"
        XCTAssertEqual((channel["playback"] as? [String: Any])?["hlsUrl"] as? String, hlsUrl, "built from publicHttpUrl")
        XCTAssertEqual(channel["playbackPolicy"] as? String, "public")
        let signed = data(try await curl(["-X", "PATCH", "\(api)/v1/channels/\(id)", "--json", #"{"playbackPolicy":"signed"}"#]))
        XCTAssertEqual(signed["playbackPolicy"] as? String, "signed")

        let publisher = Task {
            try await ProcessRunner.run("ffmpeg", ["-re", "-hide_banner", "-loglevel", "error", "-i", clip.path, "-c", "copy", "-f", "flv",
                                                   "rtmp://127.0.0.1:\(port)/live/\(setup.key)"], timeout: 40)
        }
        let live = await setup.receiver.wait { $0.contains { $0.type == "channel.live" } }
        XCTAssertTrue(live)

        // A token from the API.
        let minted = data(try await curl(["-X", "POST", "\(api)/v1/channels/\(id)/playback-tokens", "--json", #"{"expiresInSec":600}"#]))
        let token = try XCTUnwrap(minted["token"] as? String, "\(minted)")
        XCTAssertEqual(minted["hlsUrl"] as? String, hlsUrl + "?token=" + token)
        var playlist = ""
        for _ in 0..<100 {
            playlist = try await body(hlsUrl + "?token=" + token)
            if playlist.contains("#EXTINF") { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        XCTAssertTrue(playlist.contains("#EXTINF"), playlist)
        let segment = try XCTUnwrap(playlist.split(separator: "\n").first { !$0.hasPrefix("#") && !$0.isEmpty }.map(String.init), playlist)
        XCTAssertTrue(segment.hasSuffix("?token=" + token), "segment URIs carry the token on: \(segment)")
        let bare = String(segment.prefix { $0 != "?" })
        let noToken = try await status(hlsUrl)
        XCTAssertEqual(noToken, 403, "a signed channel's playlist without a token")
        let segmentNoToken = try await status("\(base)/hls/\(id)/\(bare)")
        XCTAssertEqual(segmentNoToken, 403, "and its segments")
        let segmentWithToken = try await status("\(base)/hls/\(id)/\(segment)")
        XCTAssertEqual(segmentWithToken, 200)

        // A token the App Server mints itself with a signing key, by the documented formula.
        let key = data(try await curl(["-X", "POST", "\(api)/v1/signing-keys"]))
        let keyID = try XCTUnwrap(key["id"] as? String), secret = try XCTUnwrap(key["secret"] as? String)
        func mint(channel: String, expiresIn: Int) async throws -> String {
            let script = """
            import base64, hashlib, hmac, sys, time
            kid, secret, channel, ttl = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
            b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
            payload = f"v1.{kid}.{channel}.{int(time.time()) + ttl}".encode()
            key = base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))
            print(b64(payload) + "." + b64(hmac.new(key, payload, hashlib.sha256).digest()))
            """
            let r = try await ProcessRunner.run("python3", ["-c", script, keyID, secret, channel, String(expiresIn)], timeout: 10)
            XCTAssertEqual(r.exitCode, 0, r.stderr)
            return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let own = try await mint(channel: id, expiresIn: 600)
        let streams = try await MediaTools.probe(path: hlsUrl + "?token=" + own)
        XCTAssertEqual(streams.first { $0.codecType == "video" }?.codecName, "h264", "ffprobe plays it, segments and all")
        XCTAssertGreaterThan(streams.first { $0.codecType == "video" }?.packets ?? 0, 10)
        for (bad, reason) in [(try await mint(channel: id, expiresIn: -5), "expired"), (try await mint(channel: "ch_other", expiresIn: 600), "otherChannel"),
                              (own.dropLast(2) + "AA", "badSignature"), ("garbage", "malformed")] {
            let r = try await ProcessRunner.run("curl", ["-s", hlsUrl + "?token=" + bad], timeout: 10)
            let answer = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any]
            XCTAssertEqual(answer?["ec"] as? Int, 4030, "\(reason): \(r.stdout)")
            XCTAssertEqual((answer?["data"] as? [String: Any])?["reason"] as? String, reason)
        }
        let listed = data(try await curl(["\(api)/v1/signing-keys"]))["items"] as? [[String: Any]] ?? []
        XCTAssertTrue(listed.contains { $0["id"] as? String == keyID } && !listed.contains { $0["secret"] != nil }, "\(listed)")
        _ = try await curl(["-X", "DELETE", "\(api)/v1/signing-keys/\(keyID)"])
        let revoked = try await status(hlsUrl + "?token=" + own)
        XCTAssertEqual(revoked, 403, "a deleted key's tokens stop at once")

        // The end: the playlist ends with EXT-X-ENDLIST, stays a while, then goes.
        _ = try await publisher.value
        let offline = await setup.receiver.wait(timeout: 20) { $0.contains { $0.type == "channel.offline" } }
        XCTAssertTrue(offline)
        let ended = try await body(hlsUrl + "?token=" + token)
        XCTAssertTrue(ended.hasSuffix("#EXT-X-ENDLIST\n"), "players finish instead of erroring: \(ended)")
        let gone = try await eventually(60, every: .milliseconds(250)) { try await status(hlsUrl + "?token=" + token) == 404 }
        XCTAssertTrue(gone, "removed after hls.keepAfterEndSec")
        setup.gateway.terminate()
        setup.gateway.waitUntilExit()
    }
}
