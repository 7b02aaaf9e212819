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

    /// A player reads a live stream whole, from its first segment to `EXT-X-ENDLIST`, while the
    /// gateway writes new segments into the files of old ones (docs/contract.md §3, HLS: a
    /// segment stays the playlist's length and one segment after it left, then its file is
    /// reused). With 1-s segments and a 3-segment playlist, segment n goes into segment n − 7's
    /// file from the eighth on, so a 24-s stream reuses files about 17 times. The player is
    /// ffmpeg's HLS demuxer over the gateway's HTTP, decoding every video frame with `-xerror`:
    /// a reused file not truncated shows as a decoding error or a hole in the frames'
    /// timestamps. A second, lagging player fetches segments after they left the playlist, as
    /// late as the RFC lets it: a file taken too early is gone. The segment files on disk are
    /// watched meanwhile: many segments, few files.
    func testAPlayerReadsALiveStreamWholeWhileSegmentFilesAreReused() async throws {
        let dir = try MediaTools.temporaryDirectory("playback-reuse")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (seconds, fps, listSize) = (24, 25, 3)
        let clip = try await MediaTools.makeClip(seconds: seconds, fps: fps, gop: fps, in: dir, name: "clip-1s-gop.flv")
        let port = freePorts()
        let base = "http://127.0.0.1:\(port + 1)"
        let setup = try await liveSetup(dir: dir, port: port, token: "reuse", extraEnv: [
            "LIVEGATE_PUBLIC_HTTP_URL": base + "/", "LIVEGATE_HLS_SEGMENT_SEC": "1", "LIVEGATE_HLS_LIST_SIZE": "\(listSize)",
        ])
        defer { if setup.gateway.isRunning { kill(setup.gateway.processIdentifier, SIGKILL) } }
        let hlsUrl = "\(base)/hls/\(setup.channelID)/index.m3u8"

        let publisher = Task {
            try await ProcessRunner.run("ffmpeg", ["-re", "-hide_banner", "-loglevel", "error", "-i", clip.path, "-c", "copy", "-f", "flv",
                                                   "rtmp://127.0.0.1:\(port)/live/\(setup.key)"], timeout: Double(seconds + 30))
        }
        let listed = try await eventually(20, every: .milliseconds(100)) {
            try await ProcessRunner.run("curl", ["-s", hlsUrl], timeout: 10).stdout.contains("#EXT")
        }
        XCTAssertTrue(listed, "a playlist while live")

        // The segment files on disk, every 100 ms until the player is done: name → inode.
        let hlsDir = dir.appendingPathComponent("hls").path
        let watcher = Task { () -> (names: Set<String>, inodes: Set<UInt64>, mostAtOnce: Int) in
            var names = Set<String>(), inodes = Set<UInt64>(), most = 0
            while !Task.isCancelled {
                let files = (FileManager.default.enumerator(atPath: hlsDir)?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".ts") }
                most = max(most, files.count)
                for file in files {
                    var st = stat()
                    if stat(hlsDir + "/" + file, &st) == 0 { names.insert(file); inodes.insert(UInt64(st.st_ino)) }
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
            return (names, inodes, most)
        }
        // A lagging player: reads the playlist once reuse has begun, then fetches what it listed
        // `listSize` − 0.5 segments later. RFC 8216 §6.2.2 keeps each for the playlist's length
        // and its own after it leaves: all of them must still be there, whole.
        let lagging = Task { () -> [String] in
            try await Task.sleep(for: .seconds(2 * listSize + 4))
            let playlist = try await ProcessRunner.run("curl", ["-s", hlsUrl], timeout: 10).stdout
            let uris = playlist.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }.map(String.init)
            guard uris.count == listSize else { return ["the playlist read at \(2 * listSize + 4) s lists \(uris.count): \(playlist)"] }
            try await Task.sleep(for: .seconds(Double(listSize) - 0.5))
            var failures: [String] = []
            for uri in uris {
                let file = dir.appendingPathComponent("late-" + uri).path
                let got = try await ProcessRunner.run("curl", ["-s", "-o", file, "-w", "%{http_code}", "\(base)/hls/\(setup.channelID)/\(uri)"], timeout: 10)
                let decoded = try await ProcessRunner.run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-xerror", "-i", file, "-f", "null", "-"], timeout: 20)
                if got.stdout != "200" || decoded.exitCode != 0 || !decoded.stderr.isEmpty { failures.append("\(uri): HTTP \(got.stdout), \(decoded.stderr)") }
            }
            return failures
        }
        let player = try await ProcessRunner.run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-xerror", "-live_start_index", "0",
                                                           "-i", hlsUrl, "-map", "0:v", "-f", "framemd5", "-"], timeout: Double(seconds + 40))
        watcher.cancel()
        let disk = await watcher.value
        let published = try await publisher.value
        XCTAssertEqual(published.exitCode, 0, published.stderr)
        let late = try await lagging.value
        XCTAssertEqual(late, [], "segments fetched late by a player that read the playlist before they left it")
        XCTAssertEqual(player.exitCode, 0, "the player read to the end without an error: \(player.stderr)")
        XCTAssertEqual(player.stderr.trimmingCharacters(in: .whitespacesAndNewlines), "", "nothing logged at level error")

        // framemd5: "stream, dts, pts, duration, size, hash" per decoded frame.
        let pts = player.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }
            .compactMap { line in Int(line.split(separator: ",").dropFirst(2).first?.trimmingCharacters(in: .whitespaces) ?? "") }.sorted()
        XCTAssertGreaterThanOrEqual(pts.count, (seconds - 1) * fps, "every frame of the stream decoded (\(seconds * fps) published)")
        let steps = zip(pts, pts.dropFirst()).map { $1 - $0 }
        let step = steps.first ?? 0
        XCTAssertGreaterThan(step, 0)
        let holes = steps.enumerated().filter { $0.element != step }.map { "after frame \($0.offset): \($0.element)" }
        XCTAssertEqual(holes, [], "one frame after another, no hole and no repeat (step \(step))")

        let segments = disk.names.count
        XCTAssertGreaterThanOrEqual(segments, seconds - 4, "about one segment a second came and went")
        XCTAssertLessThanOrEqual(disk.mostAtOnce, 2 * listSize + 1, "files on disk: twice the playlist and one")
        XCTAssertLessThanOrEqual(disk.inodes.count, 2 * listSize + 2, "\(segments) segments in a handful of files")
        setup.gateway.terminate()
        setup.gateway.waitUntilExit()
    }
}
