import Foundation
@testable import MediaPipeline
import NIOCore
import RTMPCore
import TestSupport
import XCTest

/// `MPEGTSSegmenter` (with `MPEGTSPacketizer` and `HLSMediaPlaylist`): LiveGate's own MPEG-TS
/// HLS against libavformat's `hls` muxer, which it replaced on the H.264/AAC path. The same clip
/// goes through `HLSWriter` both ways; the playlists must list the same segments with the same
/// durations, the same files must be on disk, and every segment must decode with ffmpeg —
/// strict about errors — to the same frames at the same times. The transport stream's own rules
/// (continuity counters, PSI first, PCR) are checked by a walker written from ISO/IEC 13818-1.
final class MPEGTSSegmenterTests: XCTestCase {
    func frames(_ clip: URL) throws -> [MediaFrame] { try flvClipFrames(clip) }

    struct Written {
        var directory: URL
        var playlist: String
        var entries: [(uri: String, duration: Double, discontinuity: Bool)]
        var files: [String]
    }

    /// `frames` through an `HLSWriter` into `directory`, in `series` segment series (a new
    /// connection each: `finish`, then `open` again), without `close` (the playlist stays live).
    func write(_ frames: [MediaFrame], layout: StreamLayout, into directory: URL, writer: HLSWriter.MPEGTSWriter,
               series: Int = 1, listSize: Int = 6, startNumber: Int? = nil, afterEach: (() throws -> Void)? = nil) throws -> Written {
        var settings = HLSWriter.Settings()
        settings.listSize = listSize
        settings.mpegTSWriter = writer
        settings.startNumber = startNumber
        let w = HLSWriter(directory: directory.path, prefix: "sTEST-node-run", settings: settings, interrupt: InterruptFlag(),
                          releaseDirectory: { true }, schedule: { _, _ in })
        let coded = frames.filter { $0.packetType == .codedFrames }
        let perSeries = (coded.count + series - 1) / series
        for s in 0..<series {
            try w.open(layout)
            for f in coded.dropFirst(s * perSeries).prefix(perSeries) {
                let track = f.kind == .video ? layout.index(of: .video)! : layout.index(of: .audio)!
                try w.write(MediaPacket(kind: f.kind, track: track, dts: f.dts, pts: f.dts + Int64(f.compositionTimeOffset),
                                        isKeyframe: f.isKeyframe, data: f.data))
                try afterEach?()
            }
            try w.finish()
            try afterEach?()
        }
        let text = try String(contentsOf: directory.appendingPathComponent("index.m3u8"), encoding: .utf8)
        var entries: [(String, Double, Bool)] = []
        var duration: Double?
        var discontinuity = false
        for line in text.split(separator: "\n") {
            if line.hasPrefix("#EXTINF:") { duration = Double(line.dropFirst(8).prefix { $0 != "," }) }
            if line == "#EXT-X-DISCONTINUITY" { discontinuity = true }
            if !line.hasPrefix("#"), let d = duration {
                entries.append((String(line), d, discontinuity))
                duration = nil
                discontinuity = false
            }
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".ts") }.sorted()
        return Written(directory: directory, playlist: text, entries: entries, files: files)
    }

    func layout(_ frames: [MediaFrame], audio: Bool = true, video: Bool = true) throws -> StreamLayout {
        var tracks: [TrackFormat] = []
        if video {
            tracks.append(try XCTUnwrap(frames.first { $0.kind == .video && $0.packetType == .sequenceHeader }.flatMap(TrackFormat.video(sequenceHeader:))))
        }
        if audio {
            tracks.append(try XCTUnwrap(frames.first { $0.kind == .audio && $0.packetType == .sequenceHeader }.flatMap(TrackFormat.audio)))
        }
        return StreamLayout(tracks: tracks)
    }

    /// Each packet's stream, times (in 90 kHz) and key flag, as ffprobe reads the file.
    func packets(_ path: String, stream: String) async throws -> [String] {
        let run = try await ProcessRunner.run("ffprobe", ["-v", "error", "-select_streams", stream, "-show_entries", "packet=pts,dts,flags",
                                                          "-of", "csv=p=0", path], timeout: 60)
        XCTAssertEqual(run.exitCode, 0, run.stderr)
        return run.stdout.split(separator: "\n").map(String.init)
    }

    /// MD5 of each decoded frame of one stream with its time (`ffmpeg -f framemd5`), strict about errors.
    func decoded(_ path: String, stream: String) async throws -> [String] {
        let run = try await ProcessRunner.run("ffmpeg", ["-v", "warning", "-xerror", "-i", path, "-map", "0:" + stream, "-f", "framemd5", "-"], timeout: 60)
        XCTAssertEqual(run.exitCode, 0, run.stderr)
        XCTAssertEqual(run.stderr, "", "ffmpeg decodes \(path) without a warning")
        return run.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }.map(String.init)
    }

    /// Two `framemd5` lists hold the same frames: the same content in the same order, each at
    /// the same time within a millisecond. (Our audio PES carries several AAC frames, whose
    /// times a demuxer counts on by samples — 1024 at 48 kHz — where libavformat's one PES per
    /// frame carried the publisher's millisecond times: 21.333 ms becomes 21 or 22.)
    func sameFrames(_ a: [String], _ b: [String], _ what: String, file: StaticString = #filePath, line: UInt = #line) throws {
        func fields(_ l: String) -> [String] { l.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        XCTAssertEqual(a.map { fields($0).last }, b.map { fields($0).last }, what + ": content", file: file, line: line)
        XCTAssertFalse(a.isEmpty, what, file: file, line: line)
        for (x, y) in zip(a, b) {
            // stream, dts, pts, duration, size, md5 — times in the stream's time base (1/48000, 1/25…).
            let (fx, fy) = (fields(x), fields(y))
            XCTAssertEqual(fx[4], fy[4], what, file: file, line: line)
            XCTAssertEqual(Double(fx[2]) ?? .nan, Double(fy[2]) ?? .nan, accuracy: 48, "\(what): \(x) vs \(y)", file: file, line: line)
        }
    }

    /// The same clip, in two series (a reconnect) with a three-segment window, written by us and
    /// by libavformat: the same playlist and files, segments that decode to the same frames.
    func testOurSegmentsMatchLibavformatsSegmentForSegment() async throws {
        let dir = try MediaTools.temporaryDirectory("ts-segmenter")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 16, size: "160x120", in: dir)
        let all = try frames(clip)
        let layout = try layout(all)
        let ours = try write(all, layout: layout, into: dir.appendingPathComponent("ours"), writer: .livegate, series: 2, listSize: 3)
        let theirs = try write(all, layout: layout, into: dir.appendingPathComponent("libav"), writer: .libavformat, series: 2, listSize: 3)

        XCTAssertEqual(ours.entries.map(\.uri), theirs.entries.map(\.uri), ours.playlist + "\n---\n" + theirs.playlist)
        XCTAssertEqual(ours.entries.map(\.discontinuity), theirs.entries.map(\.discontinuity))
        XCTAssertEqual(ours.entries.filter(\.discontinuity).count, 1, "the second series starts after a discontinuity")
        XCTAssertTrue(ours.entries.first { $0.discontinuity }?.uri.contains("-run-1-") ?? false, ours.playlist)
        for (i, (o, t)) in zip(ours.entries, theirs.entries).enumerated() {
            let endsSeries = i == ours.entries.count - 1 || ours.entries[i + 1].discontinuity
            if endsSeries {
                // A series' last segment runs to the end of its last frame in presentation order;
                // libavformat's stopped at the start of the last frame in decode order.
                XCTAssertTrue(o.duration >= t.duration && o.duration <= t.duration + 0.121, "\(o.uri): \(o.duration) vs \(t.duration)")
            } else {
                XCTAssertEqual(o.duration, t.duration, accuracy: 0.0005, o.uri)
            }
        }
        for tag in ["#EXT-X-VERSION:", "#EXT-X-TARGETDURATION:", "#EXT-X-MEDIA-SEQUENCE:", "#EXT-X-INDEPENDENT-SEGMENTS"] {
            XCTAssertEqual(ours.playlist.split(separator: "\n").filter { $0.hasPrefix(tag) }, theirs.playlist.split(separator: "\n").filter { $0.hasPrefix(tag) })
        }
        // The window's segments and, before them, the playlist's length plus one more — a
        // segment stays for its duration plus the playlist's after it leaves (RFC 8216 §6.2.2;
        // libavformat kept one) — older ones gone: the newest names, one after the other.
        let window = ours.entries.map(\.uri)
        let numbers = ours.files.compactMap(Self.segmentNumber)
        let last = try XCTUnwrap(window.last.flatMap(Self.segmentNumber))
        XCTAssertEqual(numbers, Array((last - min(last + 1, 3 + 4) + 1)...last), "\(ours.files)")
        XCTAssertGreaterThan(last + 1, 3 + 4, "more segments than are kept: some were reused")
        XCTAssertEqual(Array(ours.files.suffix(3)), window)
        XCTAssertFalse(ours.playlist.contains("#EXT-X-ENDLIST"))

        for entry in ours.entries {
            let o = ours.directory.appendingPathComponent(entry.uri).path, t = theirs.directory.appendingPathComponent(entry.uri).path
            let oursVideo = try await packets(o, stream: "v:0")
            let theirsVideo = try await packets(t, stream: "v:0")
            XCTAssertEqual(oursVideo, theirsVideo, "video packets of \(entry.uri)")
            XCTAssertEqual(oursVideo.first?.contains(",K"), true, "\(entry.uri) starts on a keyframe")
            for stream in ["v:0", "a:0"] {
                let a = try await decoded(o, stream: stream)
                let b = try await decoded(t, stream: stream)
                try sameFrames(a, b, "decoded \(stream) of \(entry.uri)")
            }
            try checkTransportStream(o)
        }
        let probed = try await MediaTools.probe(path: ours.directory.appendingPathComponent(ours.entries[0].uri).path)
        XCTAssertEqual(probed.map(\.codecName), ["h264", "aac"])
        XCTAssertEqual(probed.first?.profile, "Main")
        XCTAssertEqual(probed.last?.sampleRate, 48000)
    }

    /// Audio alone (an adaptive session's audio rendition, or a radio stream): cut on time, not
    /// keyframes, as libavformat did.
    func testAnAudioOnlyRenditionIsCutOnTime() async throws {
        let dir = try MediaTools.temporaryDirectory("ts-segmenter-audio")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 7, size: "160x120", in: dir)
        let all = try frames(clip).filter { $0.kind == .audio }
        let layout = try layout(all, video: false)
        let ours = try write(all, layout: layout, into: dir.appendingPathComponent("ours"), writer: .livegate)
        let theirs = try write(all, layout: layout, into: dir.appendingPathComponent("libav"), writer: .libavformat)
        XCTAssertEqual(ours.entries.map(\.uri), theirs.entries.map(\.uri), ours.playlist + "\n---\n" + theirs.playlist)
        XCTAssertEqual(ours.entries.count, 4)
        for (o, t) in zip(ours.entries.dropLast(), theirs.entries) { XCTAssertEqual(o.duration, t.duration, accuracy: 0.0005) }
        for entry in ours.entries {
            let a = try await decoded(ours.directory.appendingPathComponent(entry.uri).path, stream: "a:0")
            let b = try await decoded(theirs.directory.appendingPathComponent(entry.uri).path, stream: "a:0")
            try sameFrames(a, b, entry.uri)
            try checkTransportStream(ours.directory.appendingPathComponent(entry.uri).path)
        }
    }

    /// The number in a segment's file name (`…-00042.ts`).
    static func segmentNumber(_ name: String) -> Int? {
        guard name.hasSuffix(".ts"), let dash = name.lastIndex(of: "-") else { return nil }
        return Int(name[name.index(after: dash)...].dropLast(3))
    }

    /// A segment's file is an older segment's, renamed (its inode kept: nothing freed and
    /// allocated per segment), and only once that one has been out of the playlist for the
    /// playlist's length plus one segment: segment n reuses segment n − (2 × window + 1).
    /// Every segment decodes (a reused file holds only its new segment: truncated first).
    func testASegmentReusesTheFileOfOneLongOutOfThePlaylist() async throws {
        let dir = try MediaTools.temporaryDirectory("ts-segmenter-reuse")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 24, size: "160x120", in: dir)
        let all = try frames(clip)
        let out = dir.appendingPathComponent("ours")
        var inodes: [Int: UInt64] = [:]
        let written = try write(all, layout: try layout(all), into: out, writer: .livegate, listSize: 2) {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: out.path)) ?? [] {
                guard let n = Self.segmentNumber(name), inodes[n] == nil else { continue }
                var st = stat()
                guard stat(out.appendingPathComponent(name).path, &st) == 0 else { continue }
                inodes[n] = UInt64(st.st_ino)
            }
        }
        let last = try XCTUnwrap(written.entries.last.flatMap { Self.segmentNumber($0.uri) })
        XCTAssertGreaterThanOrEqual(last, 9, "enough segments to reuse several")
        XCTAssertEqual(inodes.count, last + 1, "every segment seen")
        let span = 2 * 2 + 1
        for n in 0...last {
            if n >= span {
                XCTAssertEqual(inodes[n], inodes[n - span], "segment \(n) in segment \(n - span)'s file")
            } else {
                XCTAssertFalse(Set((0..<n).compactMap { inodes[$0] }).contains(inodes[n] ?? 0), "segment \(n) in a file of its own")
            }
        }
        XCTAssertEqual(written.files.compactMap(Self.segmentNumber), Array((last - span + 1)...last))
        for name in written.files {
            let path = out.appendingPathComponent(name).path
            let frames = try await decoded(path, stream: "v:0")
            XCTAssertFalse(frames.isEmpty, name)
            try checkTransportStream(path)
        }
    }

    /// A session continued from another writer starts at its number, after a discontinuity.
    func testAContinuedSessionStartsAtItsNumberAfterADiscontinuity() async throws {
        let dir = try MediaTools.temporaryDirectory("ts-segmenter-continued")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 5, size: "160x120", in: dir)
        let all = try frames(clip)
        let ours = try write(all, layout: try layout(all), into: dir.appendingPathComponent("ours"), writer: .livegate, startNumber: 1042)
        let theirs = try write(all, layout: try layout(all), into: dir.appendingPathComponent("libav"), writer: .libavformat, startNumber: 1042)
        XCTAssertEqual(ours.entries.map(\.uri), theirs.entries.map(\.uri))
        XCTAssertEqual(ours.entries.first?.uri, "sTEST-node-run-0-01042.ts")
        XCTAssertEqual(ours.entries.map(\.discontinuity), [true, false, false])
        XCTAssertTrue(ours.playlist.contains("#EXT-X-MEDIA-SEQUENCE:1042\n"), ours.playlist)
    }

    /// A malformed keyframe where a segment would be cut is refused before it cuts: the segment
    /// runs on to the next keyframe, and every segment still starts with one.
    func testAMalformedKeyframeDoesNotCut() async throws {
        let dir = try MediaTools.temporaryDirectory("ts-segmenter-malformed")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 7, size: "160x120", in: dir)
        var all = try frames(clip)
        let broken = try XCTUnwrap(all.firstIndex { $0.kind == .video && $0.packetType == .codedFrames && $0.isKeyframe && $0.dts >= 2000 })
        // A NAL unit length (0x50) running past the payload's end.
        all[broken].body = ChunkedPayload(ByteBuffer(bytes: [0, 0, 0, 0x50, 0x65, 0x88]))
        let written = try write(all, layout: try layout(all), into: dir.appendingPathComponent("out"), writer: .livegate)
        XCTAssertEqual(written.entries.map(\.duration).first ?? 0, 4, accuracy: 0.05, "no cut at the broken keyframe: \(written.playlist)")
        for entry in written.entries {
            let video = try await packets(written.directory.appendingPathComponent(entry.uri).path, stream: "v:0")
            XCTAssertEqual(video.first?.contains(",K"), true, "\(entry.uri) starts on a keyframe")
        }
    }

    /// A folder that goes away under a live output (a full or broken disk is the same to it):
    /// the next cut fails with the path and the system's reason, nothing crashes.
    func testAFailedSegmentWriteSaysWhichFileAndWhy() async throws {
        let dir = try MediaTools.temporaryDirectory("ts-segmenter-failure")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 5, size: "160x120", in: dir)
        let all = try frames(clip)
        let layout = try layout(all)
        let out = dir.appendingPathComponent("out")
        let w = HLSWriter(directory: out.path, prefix: "sTEST-node-run", settings: .init(), interrupt: InterruptFlag(),
                          releaseDirectory: { true }, schedule: { _, _ in })
        try w.open(layout)
        try FileManager.default.removeItem(at: out)
        var failure: AVFailure?
        for f in all where f.packetType == .codedFrames {
            do throws(AVFailure) {
                try w.write(MediaPacket(kind: f.kind, track: f.kind == .video ? 0 : 1, dts: f.dts, pts: f.dts + Int64(f.compositionTimeOffset),
                                        isKeyframe: f.isKeyframe, data: f.data))
            } catch {
                failure = error
                break
            }
        }
        let error = try XCTUnwrap(failure, "the first cut cannot create its segment")
        XCTAssertTrue(error.operation.hasPrefix("open " + out.path + "/sTEST-node-run-0-00000.ts"), error.description)
        XCTAssertTrue(error.message.contains("No such file"), error.description)
        w.abort()
    }

    // MARK: The transport stream's own rules

    /// Walks a segment as ISO/IEC 13818-1 lays it out: 188-byte packets on 0x47, PAT then PMT
    /// first, continuity counters advancing by one on each PID's payload packets (repeated on
    /// adaptation-only ones), PCRs not going back and at most 100 ms apart.
    func checkTransportStream(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(bytes.count % 188, 0, path, file: file, line: line)
        var counters: [Int: Int] = [:]
        var lastPCR: Int64 = -1
        var pids: [Int] = []
        for start in stride(from: 0, to: bytes.count, by: 188) {
            let p = bytes[start..<(start + 188)]
            XCTAssertEqual(p[start], 0x47, "sync byte at \(start)", file: file, line: line)
            let pid = Int(p[start + 1] & 0x1F) << 8 | Int(p[start + 2])
            let control = (p[start + 3] >> 4) & 0x3
            let counter = Int(p[start + 3] & 0x0F)
            pids.append(pid)
            if let last = counters[pid] {
                let expected = control & 0x1 != 0 ? (last + 1) & 0xF : last
                XCTAssertEqual(counter, expected, "continuity on PID \(pid) at \(start)", file: file, line: line)
            }
            counters[pid] = counter
            if control & 0x2 != 0 {
                let length = Int(p[start + 4])
                XCTAssertLessThanOrEqual(length, control == 0x2 ? 183 : 182, file: file, line: line)
                if length > 0, p[start + 5] & 0x10 != 0 {
                    let b = (start + 6..<start + 11).map { Int64(bytes[$0]) }
                    let pcr = b[0] << 25 | b[1] << 17 | b[2] << 9 | b[3] << 1 | b[4] >> 7
                    XCTAssertGreaterThanOrEqual(pcr, lastPCR, "PCR at \(start)", file: file, line: line)
                    if lastPCR >= 0 { XCTAssertLessThanOrEqual(pcr - lastPCR, 9_000, "PCRs at most 100 ms apart (at \(start))", file: file, line: line) }
                    lastPCR = pcr
                }
            }
        }
        XCTAssertEqual(Array(pids.prefix(2)), [0, 0x1000], "PAT, then PMT", file: file, line: line)
        XCTAssertGreaterThanOrEqual(lastPCR, 0, "a PCR", file: file, line: line)
    }

    // MARK: Parts

    func testCRCIsMPEG2s() {
        // The catalogued check value of CRC-32/MPEG-2 over "123456789".
        XCTAssertEqual(MPEGTSPacketizer.crc32(Array("123456789".utf8)), 0x0376_E6E7)
    }

    func testThePlaylistSlidesItsWindowAndKeepsAFileThePlaylistsLengthLonger() {
        let p = HLSMediaPlaylist(firstSequence: 7, segmentSeconds: 2, listSize: 2)
        XCTAssertEqual(p.nextSequence, 7)
        XCTAssertEqual(p.append(.init(uri: "a", duration: 2, discontinuity: false)), [])
        XCTAssertEqual(p.append(.init(uri: "b", duration: 2.5, discontinuity: true)), [])
        XCTAssertEqual(p.append(.init(uri: "c", duration: 2, discontinuity: false)), [], "a left the window")
        XCTAssertNil(p.reusableFile(), "a has been out of the playlist for one segment")
        XCTAssertEqual(p.append(.init(uri: "d", duration: 1.4, discontinuity: false)), [])
        XCTAssertEqual(p.mediaSequence, 9)
        XCTAssertEqual(p.nextSequence, 11)
        XCTAssertEqual(p.discontinuitySequence, 1, "b's discontinuity left the window")
        XCTAssertEqual(p.render(), """
            #EXTM3U
            #EXT-X-VERSION:6
            #EXT-X-TARGETDURATION:3
            #EXT-X-MEDIA-SEQUENCE:9
            #EXT-X-DISCONTINUITY-SEQUENCE:1
            #EXT-X-INDEPENDENT-SEGMENTS
            #EXTINF:2.000000,
            c
            #EXTINF:1.400000,
            d

            """, "2.5 s rounds to 3 and the target stays there")
        XCTAssertEqual(HLSMediaPlaylist.sixDecimals(2.0000004), "2.000000")
        XCTAssertEqual(HLSMediaPlaylist.sixDecimals(10.0666667), "10.066667")
        XCTAssertEqual(HLSMediaPlaylist.sixDecimals(0.0000015), "0.000002")
        // a, b, c out of the playlist: a has been out for the playlist's length plus one (3).
        XCTAssertEqual(p.append(.init(uri: "e", duration: 2, discontinuity: false)), [])
        XCTAssertEqual(p.reusableFile(), "a", "taken by the next segment")
        XCTAssertNil(p.reusableFile(), "b has not waited long enough")
        // Not taken (a writer that makes its own files): removed once past the bound.
        XCTAssertEqual(p.append(.init(uri: "f", duration: 2, discontinuity: false)), [])
        XCTAssertEqual(p.append(.init(uri: "g", duration: 2, discontinuity: false)), ["b"])
    }

    func testAPlaylistLibavformatWroteIsContinued() throws {
        let text = """
            #EXTM3U
            #EXT-X-VERSION:7
            #EXT-X-TARGETDURATION:4
            #EXT-X-MEDIA-SEQUENCE:12
            #EXT-X-INDEPENDENT-SEGMENTS
            #EXT-X-MAP:URI="s-0-init.mp4"
            #EXTINF:2.000000,
            s-0-00012.m4s
            #EXT-X-DISCONTINUITY
            #EXTINF:3.966667,
            s-1-00013.m4s

            """
        let p = try XCTUnwrap(HLSMediaPlaylist(continuing: text, segmentSeconds: 2, listSize: 6))
        XCTAssertEqual(p.mediaSequence, 12)
        XCTAssertEqual(p.nextSequence, 14)
        XCTAssertEqual(p.targetDuration, 4)
        XCTAssertEqual(p.entries.map(\.uri), ["s-0-00012.m4s", "s-1-00013.m4s"])
        XCTAssertEqual(p.entries.map(\.discontinuity), [false, true])
        XCTAssertEqual(p.entries[0].otherTags, ["#EXT-X-MAP:URI=\"s-0-init.mp4\""])
        XCTAssertTrue(p.render().contains("#EXT-X-MAP:URI=\"s-0-init.mp4\"\n#EXTINF:2.000000,\ns-0-00012.m4s\n#EXT-X-DISCONTINUITY\n#EXTINF:3.966667,\n"))
        XCTAssertNil(HLSMediaPlaylist(continuing: "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv0.m3u8\n", segmentSeconds: 2, listSize: 6))
    }
}

/// `PlaylistFile`: the playlist is replaced by swapping names with a spare, not by a new file.
final class PlaylistFileTests: XCTestCase {
    func inode(_ path: String) -> UInt64? {
        var s = stat()
        return stat(path, &s) == 0 ? UInt64(s.st_ino) : nil
    }

    /// The session's end: the last segment's swap, then `EXT-X-ENDLIST` at once. A player that
    /// opened the playlist just before that swap holds what is now the spare; the end must not
    /// write over it (it did: a playlist read at a session's end had no segment).
    func testAPlayerHoldingThePlaylistReadsItWholeAcrossTheEnd() throws {
        let dir = try MediaTools.temporaryDirectory("playlist-end")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("index.m3u8").path
        let file = PlaylistFile(path: path)
        try file.write("#EXTM3U\n#EXTINF:2.000000,\ns-00000.ts\n")
        let held = "#EXTM3U\n#EXTINF:2.000000,\ns-00000.ts\n#EXTINF:2.000000,\ns-00001.ts\n"
        try file.write(held)
        let reader = try XCTUnwrap(FileHandle(forReadingAtPath: path), "the player opens the playlist")
        defer { try? reader.close() }
        try file.write(held + "#EXTINF:1.500000,\ns-00002.ts\n") // the last segment
        HLSWriter.appendEndList(path)
        XCTAssertEqual(String(decoding: try reader.readToEnd() ?? Data(), as: UTF8.self), held, "the text it opened, whole")
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), held + "#EXTINF:1.500000,\ns-00002.ts\n#EXT-X-ENDLIST\n")
    }

    func testThePlaylistAndItsSpareTradeNamesAndTheTextIsAlwaysWhole() throws {
        let dir = try MediaTools.temporaryDirectory("playlist-file")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("index.m3u8").path
        let file = PlaylistFile(path: path)
        try file.write("#EXTM3U\nfirst, a longer text than the next one\n")
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "#EXTM3U\nfirst, a longer text than the next one\n")
        XCTAssertNil(inode(file.sparePath), "the first write renames its file into place")
        let first = try XCTUnwrap(inode(path))

        try file.write("#EXTM3U\nsecond\n")
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "#EXTM3U\nsecond\n", "shortened, nothing of the longer text left")
        XCTAssertEqual(inode(file.sparePath), first, "the previous playlist is now the spare")
        XCTAssertEqual(try String(contentsOfFile: file.sparePath, encoding: .utf8), "#EXTM3U\nfirst, a longer text than the next one\n")
        let second = try XCTUnwrap(inode(path))

        try file.write("#EXTM3U\nthird, longer again than the second\n")
        XCTAssertEqual(inode(path), first, "no inode made or freed: the two trade places")
        XCTAssertEqual(inode(file.sparePath), second)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "#EXTM3U\nthird, longer again than the second\n")

        // The playlist removed under it (a cleanup): the next write puts one back.
        try FileManager.default.removeItem(atPath: path)
        try file.write("#EXTM3U\nfourth\n")
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "#EXTM3U\nfourth\n")
        file.removeSpare()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["index.m3u8"])
    }

    func testAFolderThatIsGoneIsAClearFailure() throws {
        let file = PlaylistFile(path: "/nonexistent-livegate-dir/index.m3u8")
        XCTAssertThrowsError(try file.write("#EXTM3U\n")) { error in
            XCTAssertTrue("\(error)".hasPrefix("open /nonexistent-livegate-dir/index.m3u8.tmp: No such file"), "\(error)")
        }
    }
}
