import CMalloc
import Foundation
import Logging
@testable import MediaPipeline
import NIOConcurrencyHelpers
import NIOCore
import RTMPCore
import TestSupport
import XCTest

/// The media pipeline on real media: clips made by ffmpeg, read tag by tag, fed to the hub as
/// the RTMP listener would, and the outputs checked with ffprobe.
/// Read buffers a test hands frames out of, as the socket's reads would be: which of them
/// something still holds once the frames have been ingested (writing to a held buffer copies it).
struct ReadBuffers {
    private(set) var all: [(buffer: ByteBuffer, address: UInt)] = []

    var count: Int { all.count }

    /// `data` in 128-byte pieces, each a slice of a 4 KiB read buffer of its own (as frames in
    /// several chunks arrive: docs/contract.md §2 "Payloads in chunks").
    mutating func cut(_ data: ByteBuffer) -> ChunkedPayload {
        var data = data
        var pieces: [ByteBuffer] = []
        while data.readableBytes > 0 {
            var piece = data.readSlice(length: min(128, data.readableBytes))!
            pieces.append(slice(&piece))
        }
        return ChunkedPayload(pieces: pieces)
    }

    /// `bytes` as a slice of a 4 KiB read buffer of its own, 10 bytes in.
    mutating func slice(_ bytes: inout ByteBuffer, capacity: Int = 4096) -> ByteBuffer {
        var read = ByteBufferAllocator().buffer(capacity: capacity)
        read.writeRepeatingByte(0, count: 10)
        let length = bytes.readableBytes
        read.writeBuffer(&bytes)
        all.append((read, read.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }))
        return read.getSlice(at: 10, length: length)!
    }

    /// How many of the buffers something besides this list still holds: writing to one in place
    /// copies it then (so this is asked once, at the end).
    mutating func pinned() -> Int {
        var held = 0
        for i in all.indices where all[i].buffer.withUnsafeMutableReadableBytes({ UInt(bitPattern: $0.baseAddress) }) != all[i].address {
            held += 1
        }
        return held
    }
}

final class MediaHubTests: XCTestCase {
    /// Frames of an FLV file with their timestamps on a 64-bit timeline starting at `offset`.
    func frames(_ file: URL, offset: Int64 = 0, audio: Bool = true, video: Bool = true) throws -> [MediaFrame] {
        let reader = try FLVFileReader(bytes: ByteBuffer(bytes: try Data(contentsOf: file)))
        return try reader.tags.compactMap { tag -> MediaFrame? in
            var f: MediaFrame?
            if tag.type == 9, video { f = try FLVTagParser.parseVideo(tag.body, timestamp: tag.timestamp) }
            if tag.type == 8, audio { f = try FLVTagParser.parseAudio(tag.body, timestamp: tag.timestamp) }
            f?.dts += offset
            return f
        }
    }

    final class Events: Sendable {
        let box = NIOLockedValueBox<[MediaEvent]>([])
        var all: [MediaEvent] { box.withLockedValue { $0 } }
    }

    func makeHub(_ dir: URL, events: Events, logger: Logger = Logger(label: "test.media"),
                 settings: (inout MediaHub.Settings) -> Void = { _ in }) -> MediaHub {
        var s = MediaHub.Settings(dataDirectory: dir.path)
        // Removed at the session's end, so the tests can see that they are (the kept playlist
        // has its own test).
        s.hlsKeepAfterEndSeconds = 0
        settings(&s)
        return MediaHub(settings: s, logger: logger, onEvent: { e in events.box.withLockedValue { $0.append(e) } })
    }

    func plan(_ channel: String, hls: Bool = true, record: Bool = true, forwards: [OutputPlan.ForwardTarget] = []) -> OutputPlan {
        OutputPlan(channelId: channel, userId: "u1", sessionId: "ses_\(channel)", hls: hls, record: record, forwards: forwards)
    }

    func recordings(_ events: Events) -> [RecordingFile] {
        events.all.compactMap { if case .recordingFinished(_, let file) = $0 { file } else { nil } }
    }

    func testRecordingAndHLSFromAnH264AACClip() async throws {
        let dir = try MediaTools.temporaryDirectory("media")
        let clip = try await MediaTools.makeClip(seconds: 6, in: dir)
        let source = try await MediaTools.probe(clip)
        let sourceDuration = try await MediaTools.duration(clip.path)
        let all = try frames(clip)
        let events = Events()
        let hub = makeHub(dir.appendingPathComponent("data"), events: events)
        hub.sessionStarted(connectionID: 1)
        hub.metadata(["videocodecid": .number(7), "audiocodecid": .number(10)], connectionID: 1)
        // Half the frames arrive before the outputs are attached: nothing may be lost.
        for f in all.prefix(all.count / 2) { hub.media(f, connectionID: 1) }
        hub.configure(connectionID: 1, plan: plan("ch1"))
        for f in all.dropFirst(all.count / 2) { hub.media(f, connectionID: 1) }

        // While live: the playlist lists finished segments, cut on the 2 s keyframes, that play
        // (probed through a snapshot with ENDLIST, since a live playlist never ends).
        let expectedPackets = all.filter { $0.packetType == .codedFrames }.count
        try await waitUntil(timeout: 20) { hub.outputs(connectionID: 1).allSatisfy { $0.packetsWritten == expectedPackets } }
        let playlist = dir.appendingPathComponent("data/hls/ch1/index.m3u8")
        try await waitUntil(timeout: 10) {
            ((try? String(contentsOf: playlist, encoding: .utf8)) ?? "").components(separatedBy: "#EXTINF").count - 1 >= 2
        }
        let text = try String(contentsOf: playlist, encoding: .utf8)
        XCTAssertTrue(text.contains("#EXT-X-TARGETDURATION:2"), text)
        XCTAssertFalse(text.contains("#EXT-X-ENDLIST"), "live")
        let durations = text.split(separator: "\n").filter { $0.hasPrefix("#EXTINF:") }
            .compactMap { Double($0.dropFirst(8).split(separator: ",")[0]) }
        XCTAssertEqual(durations.count, 2, text)
        for d in durations { XCTAssertEqual(d, 2, accuracy: 0.1, "segments follow the 2 s GOP: \(text)") }
        let snapshot = dir.appendingPathComponent("data/hls/ch1/snapshot.m3u8")
        try (text + "#EXT-X-ENDLIST\n").write(to: snapshot, atomically: true, encoding: .utf8)
        let hlsStreams = try await MediaTools.probe(snapshot)
        XCTAssertEqual(hlsStreams.map(\.codecName).sorted(), ["aac", "h264"])
        XCTAssertEqual(hlsStreams.first { $0.codecType == "video" }?.packets, 100, "two whole 2 s segments at 25 fps, no gap")
        XCTAssertEqual(hub.outputs(connectionID: 1).map(\.state), [.running, .running])

        hub.sessionEnded(connectionID: 1)
        let drained = await hub.drain(timeout: .seconds(10))
        XCTAssertTrue(drained)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("data/hls/ch1").path), "HLS cleaned up after the session")

        let files = recordings(events)
        XCTAssertEqual(files.count, 1)
        let file = try XCTUnwrap(files.first)
        XCTAssertTrue(file.path.hasSuffix("/recordings/ch1/ses_ch1.mp4"), file.path)
        let probed = try await MediaTools.probe(URL(fileURLWithPath: file.path))
        XCTAssertEqual(probed.first { $0.codecType == "video" }?.packets, source.first { $0.codecType == "video" }?.packets, "every video frame")
        XCTAssertEqual(probed.first { $0.codecType == "audio" }?.packets, source.first { $0.codecType == "audio" }?.packets, "every audio frame")
        let duration = try await MediaTools.duration(file.path)
        XCTAssertEqual(duration, sourceDuration, accuracy: 0.5)
        XCTAssertEqual(file.durationSec, duration, accuracy: 0.1)
        XCTAssertEqual(file.videoCodec, "h264")
        XCTAssertEqual(file.audioCodec, "aac")
        XCTAssertEqual(file.width, 320)
        XCTAssertEqual(file.height, 240)
        XCTAssertGreaterThan(file.sizeBytes, 10_000)
        let head = try FileHandle(forReadingFrom: URL(fileURLWithPath: file.path)).readData(ofLength: 64)
        XCTAssertNotNil(head.range(of: Data("moov".utf8)), "faststart: the index comes first")
    }

    func testResolutionChangeStartsANewSegmentOnEveryOutput() async throws {
        let dir = try MediaTools.temporaryDirectory("media-change")
        let small = try await MediaTools.makeClip(seconds: 3, size: "320x240", in: dir, name: "small.flv")
        let large = try await MediaTools.makeClip(seconds: 3, size: "640x360", in: dir, name: "large.flv")
        let events = Events()
        let hub = makeHub(dir.appendingPathComponent("data"), events: events)
        hub.sessionStarted(connectionID: 7)
        hub.configure(connectionID: 7, plan: plan("chg"))
        let first = try frames(small)
        for f in first { hub.media(f, connectionID: 7) }
        let playlist = dir.appendingPathComponent("data/hls/chg/index.m3u8")
        for f in try frames(large, offset: (first.last?.dts ?? 0) + 40) { hub.media(f, connectionID: 7) }
        try await waitUntil(timeout: 10) { (try? String(contentsOf: playlist, encoding: .utf8))?.contains("#EXT-X-DISCONTINUITY") == true }
        hub.sessionEnded(connectionID: 7)
        _ = await hub.drain(timeout: .seconds(10))
        let files = recordings(events).sorted { $0.path < $1.path }
        XCTAssertEqual(files.map { ($0.path as NSString).lastPathComponent }, ["ses_chg-2.mp4", "ses_chg.mp4"])
        XCTAssertEqual(Set(files.compactMap(\.width)), [320, 640])
        for file in files {
            let probed = try await MediaTools.probe(URL(fileURLWithPath: file.path))
            XCTAssertEqual(probed.first { $0.codecType == "video" }?.packets, 75, "each part holds its clip's 3 s at 25 fps")
        }
    }

    func testAudioOnlyAndVideoOnlyPublishers() async throws {
        let dir = try MediaTools.temporaryDirectory("media-single")
        let clip = try await MediaTools.makeClip(seconds: 3, in: dir)
        let events = Events()
        let hub = makeHub(dir.appendingPathComponent("data"), events: events)
        hub.sessionStarted(connectionID: 1)
        hub.metadata(["audiocodecid": .number(10)], connectionID: 1)
        hub.configure(connectionID: 1, plan: plan("audio", hls: false))
        for f in try frames(clip, video: false) { hub.media(f, connectionID: 1) }
        hub.sessionEnded(connectionID: 1)
        // No metadata at all: the layout starts after 1 s of video without an audio header.
        hub.sessionStarted(connectionID: 2)
        hub.configure(connectionID: 2, plan: plan("video", hls: false))
        for f in try frames(clip, audio: false) { hub.media(f, connectionID: 2) }
        hub.sessionEnded(connectionID: 2)
        _ = await hub.drain(timeout: .seconds(10))
        let files = recordings(events)
        let audio = try XCTUnwrap(files.first { $0.path.contains("/audio/") })
        let video = try XCTUnwrap(files.first { $0.path.contains("/video/") })
        let a = try await MediaTools.probe(URL(fileURLWithPath: audio.path))
        let v = try await MediaTools.probe(URL(fileURLWithPath: video.path))
        XCTAssertEqual(a.map(\.codecType), ["audio"])
        XCTAssertEqual(v.map(\.codecType), ["video"])
        XCTAssertEqual(v.first?.packets, 75)
        XCTAssertEqual(audio.durationSec, 3, accuracy: 0.5)
    }

    func testAForwardThatCannotConnectIsRetriedAndReportedWithoutHoldingUpTheSession() async throws {
        let dir = try MediaTools.temporaryDirectory("media-forward")
        let clip = try await MediaTools.makeClip(seconds: 3, in: dir)
        let events = Events()
        let hub = makeHub(dir.appendingPathComponent("data"), events: events) {
            $0.forwardRetryInitialSeconds = 0.05
            $0.forwardRetryMaxSeconds = 0.1
            $0.forwardTimeoutSeconds = 1
        }
        hub.sessionStarted(connectionID: 3)
        // Port 9 on loopback: nothing listens, every connect is refused at once.
        hub.configure(connectionID: 3, plan: plan("fw", hls: false, record: false,
                                                 forwards: [.init(id: "fwd_1", url: "rtmp://127.0.0.1:9/live/secretkey")]))
        // Three passes of the clip at 4x speed: keyframes (reconnect opportunities) every 0.5 s.
        var start: Int64 = 0
        for _ in 0..<3 {
            let pass = try frames(clip, offset: start)
            var last = pass.first?.dts ?? 0
            for f in pass {
                if f.dts - last >= 40 {
                    try await Task.sleep(for: .milliseconds((f.dts - last) / 4))
                    last = f.dts
                }
                hub.media(f, connectionID: 3)
            }
            start = (pass.last?.dts ?? 0) + 40
        }
        try await waitUntil(timeout: 10) { !events.all.isEmpty }
        let status = try XCTUnwrap(hub.outputs(connectionID: 3).first)
        XCTAssertEqual(status.kind, .forward)
        XCTAssertEqual(status.state, .reconnecting)
        XCTAssertGreaterThanOrEqual(status.attempts, 3)
        XCTAssertGreaterThan(status.droppedPackets, 0)
        XCTAssertNotNil(status.lastError)
        guard case .forwardFailed(_, let id, let url, _, let attempts)? = events.all.first else { return XCTFail("\(events.all)") }
        XCTAssertEqual(id, "fwd_1")
        XCTAssertEqual(attempts, 3)
        XCTAssertFalse(url.contains("secretkey"), "the target's key is redacted: \(url)")
        hub.sessionEnded(connectionID: 3)
        let drained = await hub.drain(timeout: .seconds(5))
        XCTAssertTrue(drained)
    }

    func testAStalledOutputDropsToTheNextKeyframeAndCountsTheDrops() {
        let queue = OutputQueue(maxPackets: 10, maxBytes: 1 << 20)
        let video = TrackFormat(kind: .video, codec: .h264, extradata: [1])
        queue.push(.begin(StreamLayout(tracks: [video])))
        func packet(_ i: Int, key: Bool) -> MediaPacket {
            MediaPacket(kind: .video, track: 0, dts: Int64(i * 40), pts: Int64(i * 40), isKeyframe: key, data: ByteBuffer(bytes: [0, 0, 0, 1]))
        }
        for i in 0..<15 { queue.push(.packet(packet(i, key: i == 0))) }
        XCTAssertEqual(queue.dropped, 5, "past 10 queued packets, new ones are dropped")
        var batch = CircularBuffer<OutputItem>()
        queue.takeAll(into: &batch)
        XCTAssertEqual(batch.count, 11, "begin + 10 packets")
        batch.removeAll(keepingCapacity: true)
        queue.push(.packet(packet(15, key: false)))
        XCTAssertEqual(queue.dropped, 6, "still dropping: no keyframe yet, even with room")
        queue.push(.packet(packet(16, key: true)))
        queue.push(.end)
        queue.takeAll(into: &batch)
        XCTAssertEqual(batch.count, 2, "resumes on the keyframe; control items are never dropped")
        guard case .packet(let resumed)? = batch.first, case .end? = batch.last else { return XCTFail("the keyframe, then end: \(batch)") }
        XCTAssertEqual(resumed.dts, 16 * 40, "the keyframe it resumed on")
        XCTAssertEqual(queue.dropped, 6)
        // The buffers take turns: the queue now holds the one handed back, and it is empty.
        batch.removeAll(keepingCapacity: true)
        queue.push(.end)
        queue.takeAll(into: &batch)
        XCTAssertEqual(batch.count, 1, "only what came after the last batch")
    }

    func waitUntil(timeout: Double, _ condition: () -> Bool) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !condition() {
            if Date() > deadline {
                XCTFail("condition not met in \(timeout) s")
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Frames that arrive before a session's outputs are known wait in its backlog; a small one
    /// is a slice of the socket's read buffer, and kept as is it would pin that whole buffer
    /// (up to 64 KiB) until the outputs are decided — seconds on a node short of CPU. They are
    /// the backlog's own: every read buffer is free again once the frames are in.
    /// Per-packet MD5 of one stream of `path`, as ffprobe reads it.
    func packetHashes(_ path: String, stream: String) async throws -> [String] {
        let result = try await ProcessRunner.run("ffprobe", ["-v", "error", "-select_streams", stream, "-show_data_hash", "MD5",
                                                             "-show_entries", "packet=data_hash", "-of", "csv=p=0", path], timeout: 60)
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        return result.stdout.split(separator: "\n").map(String.init)
    }

    func testFramesInPiecesReachTheOutputsWhole() async throws {
        // docs/contract.md §2 "Payloads in chunks": coded frames arrive as 128-byte slices of
        // separate read buffers; the session joins them for its outputs, so the recording holds
        // every frame's bytes exactly (ffprobe's per-packet hashes against the source clip's),
        // and no read buffer is held once the frames are ingested.
        let dir = try MediaTools.temporaryDirectory("pieces")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 3, in: dir)
        let events = Events()
        let hub = makeHub(dir.appendingPathComponent("data"), events: events)
        hub.sessionStarted(connectionID: 1)
        hub.metadata(["videocodecid": .number(7), "audiocodecid": .number(10)], connectionID: 1)
        hub.configure(connectionID: 1, plan: plan("ch1", hls: false, record: true))
        var reads = ReadBuffers()
        var cutFrames = 0
        for var f in try frames(clip) {
            if f.packetType == .codedFrames && f.byteCount > 128 {
                f.body = reads.cut(f.data)
                cutFrames += 1
            }
            hub.media(f, connectionID: 1)
        }
        XCTAssertGreaterThan(cutFrames, 50)
        let pinned = reads.pinned()
        XCTAssertEqual(pinned, 0, "\(pinned) of \(reads.count) read buffers still held after ingest")
        hub.sessionEnded(connectionID: 1)
        let drained = await hub.drain(timeout: .seconds(10))
        XCTAssertTrue(drained)
        let file = try XCTUnwrap(recordings(events).first)
        for stream in ["v", "a"] {
            let source = try await packetHashes(clip.path, stream: stream)
            let recorded = try await packetHashes(file.path, stream: stream)
            XCTAssertGreaterThan(source.count, 50)
            XCTAssertEqual(recorded, source, "every \(stream) packet's bytes, in order")
        }
    }

    func testFramesWaitingForTheLayoutDoNotPinTheirReadBuffers() async throws {
        // Audio is announced but never comes: the layout waits a second of stream for it, and the
        // video frames meanwhile — in 128-byte pieces of separate read buffers — must not hold
        // those buffers while they wait.
        let dir = try MediaTools.temporaryDirectory("pin-layout")
        defer { try? FileManager.default.removeItem(at: dir) }
        let video = try frames(try await MediaTools.makeClip(seconds: 2, in: dir), audio: false)
        let session = MediaSession(connectionID: 1)
        session.announce(hasVideo: true, hasAudio: true)
        var reads = ReadBuffers()
        var waited = 0
        for var f in video where f.dts < 900 {
            if f.packetType == .codedFrames {
                f.body = reads.cut(f.data)
                waited += 1
            }
            session.ingest(f)
        }
        XCTAssertGreaterThan(waited, 15, "frames within the layout's wait")
        let pinned = reads.pinned()
        XCTAssertEqual(pinned, 0, "\(pinned) of \(reads.count) read buffers held by frames waiting for the layout")
    }

    /// A session told it has no outputs keeps none of the bytes it copied before it knew: 400
    /// sessions, each given its first second of stream (copied into its slab, the outputs not yet
    /// known), then `attach([])` and the rest of the clip. glibc's bytes in use grow by far less
    /// than a slab block (32 KiB) per live session.
    func testASessionWithoutOutputsHoldsNoSlabBlock() async throws {
        let dir = try MediaTools.temporaryDirectory("no-outputs")
        defer { try? FileManager.default.removeItem(at: dir) }
        let all = try frames(try await MediaTools.makeClip(seconds: 2, in: dir))
        let early = all.filter { $0.dts < 1000 }, late = all.filter { $0.dts >= 1000 }
        XCTAssertGreaterThan(early.filter { $0.packetType == .codedFrames }.count, 30)
        let count = 400
        var sessions: [MediaSession] = []
        sessions.reserveCapacity(count)
        let before = livegate_heap_in_use()
        for i in 0..<count {
            let session = MediaSession(connectionID: UInt64(i))
            session.announce(hasVideo: true, hasAudio: true)
            for f in early { session.ingest(f) }
            session.attach([], continuing: nil)
            for f in late { session.ingest(f) }
            sessions.append(session)
        }
        let grown = Int(livegate_heap_in_use()) - Int(before)
        XCTAssertEqual(sessions.count, count)
        XCTAssertLessThan(grown / count, 8 * 1024, "heap grown by \(grown / count) bytes per live session without outputs")
    }

    func testFramesWaitingForTheirOutputsDoNotPinTheirReadBuffers() async throws {
        let dir = try MediaTools.temporaryDirectory("pin")
        defer { try? FileManager.default.removeItem(at: dir) }
        let all = try frames(try await MediaTools.makeClip(seconds: 2, in: dir))
        let session = MediaSession(connectionID: 1)
        session.announce(hasVideo: true, hasAudio: true)
        var reads = ReadBuffers()
        for var f in all {
            if f.packetType == .codedFrames && f.data.readableBytes <= 1024 {
                var data = f.data
                f.data = reads.slice(&data, capacity: 64 * 1024)
            }
            session.ingest(f)
        }
        XCTAssertGreaterThan(reads.count, 50, "small frames of a 2 s clip")
        let pinned = reads.pinned() // writing copied it: something else held the buffer
        XCTAssertEqual(pinned, 0, "\(pinned) of \(reads.count) read buffers still held by the backlog")
    }
}
