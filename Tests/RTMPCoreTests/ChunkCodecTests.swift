import NIOCore
import RTMPCore
import XCTest

/// Hand-built chunk streams for the corners real encoders hit less often than they should.
final class ChunkCodecTests: XCTestCase {
    /// Decodes `bytes` whole, byte by byte and in random pieces; all three must agree.
    func decodeAllSplits(_ bytes: ByteBuffer, limits: RTMPLimits = .default, file: StaticString = #filePath, line: UInt = #line) throws -> [RTMPMessage] {
        func decode(_ pieces: [Int]) throws -> [RTMPMessage] {
            var decoder = ChunkDecoder(limits: limits)
            var input = bytes
            var buffer = ByteBuffer()
            var out: [RTMPMessage] = []
            var i = 0
            while input.readableBytes > 0 {
                var piece = input.readSlice(length: max(1, min(pieces[i % pieces.count], input.readableBytes)))!
                i += 1
                buffer.writeBuffer(&piece)
                while let m = try decoder.next(&buffer) { out.append(m) }
            }
            XCTAssertEqual(buffer.readableBytes, 0, "left-over bytes", file: file, line: line)
            return out
        }
        let whole = try decode([bytes.readableBytes])
        XCTAssertEqual(whole, try decode([1]), "byte by byte", file: file, line: line)
        var rng = SeededGenerator(seed: 7)
        XCTAssertEqual(whole, try decode((0..<50).map { _ in Int.random(in: 1...700, using: &rng) }), "random splits", file: file, line: line)
        return whole
    }

    func message(csid: UInt32 = 4, ts: UInt32, type: MessageTypeID = .video, stream: UInt32 = 1, size: Int, fill: UInt8 = 0xAB) -> RTMPMessage {
        RTMPMessage(chunkStreamID: csid, timestamp: ts, typeID: type, streamID: stream, payload: ByteBuffer(repeating: fill, count: size))
    }

    func encode(_ messages: [RTMPMessage], chunkSize: Int = 128) -> ByteBuffer {
        var encoder = ChunkEncoder()
        var out = ByteBuffer()
        if chunkSize != 128 {
            encoder.write(ProtocolControl.setChunkSize(UInt32(chunkSize)), into: &out)
            encoder.setChunkSize(chunkSize)
        }
        for m in messages { encoder.write(m, into: &out) }
        return out
    }

    func testRoundTripWithHeaderCompressionAcrossFormats() throws {
        // Same size and delta → fmt 3; new delta → fmt 2; new size → fmt 1; new stream → fmt 0.
        let input = [
            message(ts: 0, size: 300), message(ts: 40, size: 300), message(ts: 80, size: 300), message(ts: 100, size: 300),
            message(ts: 140, size: 50), message(ts: 140, type: .audio, size: 50), message(ts: 150, stream: 2, size: 10),
            message(csid: 5, ts: 7, type: .dataAMF0, size: 0),
        ]
        let out = try decodeAllSplits(encode(input))
        XCTAssertEqual(out, input)
    }

    func testThreeByteAndTwoByteChunkStreamIDs() throws {
        let input = [message(csid: 64, ts: 1, size: 200), message(csid: 319, ts: 2, size: 200), message(csid: 320, ts: 3, size: 500),
                     message(csid: 1000, ts: 4, size: 129), message(csid: 65599, ts: 5, size: 1)]
        XCTAssertEqual(try decodeAllSplits(encode(input)), input)
    }

    func testChunkSizeOne() throws {
        let input = [message(ts: 10, size: 257), message(csid: 6, ts: 11, type: .audio, size: 3)]
        let bytes = encode(input, chunkSize: 1)
        let out = try decodeAllSplits(bytes)
        XCTAssertEqual(Array(out.dropFirst()), input)
        XCTAssertEqual(out.first?.typeID, .setChunkSize)
        XCTAssertTrue(out[1].body.isContiguous, "one-byte chunks are copied as they come, not kept as 257 slices")
    }

    func testChunkSize16MiBCarriesALargeMessageInOneChunk() throws {
        let big = message(ts: 0, size: 5 * 1024 * 1024)
        var encoder = ChunkEncoder()
        var bytes = ByteBuffer()
        encoder.write(ProtocolControl.setChunkSize(16 * 1024 * 1024), into: &bytes)
        encoder.setChunkSize(16 * 1024 * 1024)
        encoder.write(big, into: &bytes)
        var decoder = ChunkDecoder()
        XCTAssertEqual(try decoder.next(&bytes)?.typeID, .setChunkSize)
        XCTAssertEqual(decoder.chunkSize, 16 * 1024 * 1024)
        XCTAssertEqual(try decoder.next(&bytes), big)
    }

    func testChunkSizeAboveSixteenMiBIsClamped() throws {
        var bytes = encode([ProtocolControl.setChunkSize(0x7FFF_FFFF)])
        var decoder = ChunkDecoder()
        _ = try decoder.next(&bytes)
        XCTAssertEqual(decoder.chunkSize, 16 * 1024 * 1024)
    }

    func testChunkSizeZeroIsAProtocolError() {
        var bytes = encode([ProtocolControl.setChunkSize(0)])
        var decoder = ChunkDecoder()
        XCTAssertThrowsError(try decoder.next(&bytes)) { XCTAssertEqual(($0 as? RTMPProtocolError)?.detail, "Set Chunk Size 0") }
    }

    /// ffmpeg and FMS repeat the extended timestamp on fmt-3 continuation chunks.
    func testExtendedTimestampRepeatedOnContinuationChunks() throws {
        let input = [message(ts: 0x0100_0000, size: 400), message(ts: 0x0100_0000 + 40, size: 400), message(ts: 0xFFFF_FFF0, size: 300)]
        XCTAssertEqual(try decodeAllSplits(encode(input)), input)
    }

    /// Some encoders omit the extended timestamp on continuation chunks; both forms must parse.
    func testExtendedTimestampOmittedOnContinuationChunks() throws {
        var bytes = ByteBuffer()
        let payload = [UInt8](repeating: 0x11, count: 200)
        // fmt 0, csid 4, ts 0xFFFFFF (extended), len 200, type 9, stream 1, ext ts 0x01000000
        bytes.writeBytes([0x04, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 200, 9, 1, 0, 0, 0, 0x01, 0, 0, 0])
        bytes.writeBytes(payload[0..<128])
        bytes.writeBytes([0xC4]) // fmt 3 continuation, no extended timestamp
        bytes.writeBytes(payload[128...])
        let out = try decodeAllSplits(bytes)
        XCTAssertEqual(out, [RTMPMessage(chunkStreamID: 4, timestamp: 0x0100_0000, typeID: .video, streamID: 1, payload: ByteBuffer(bytes: payload))])
    }

    /// A fmt-3 header that starts a new message repeats the previous timestamp field as a delta.
    func testFmt3NewMessageReusesDelta() throws {
        var bytes = ByteBuffer()
        bytes.writeBytes([0x04, 0, 0, 100, 0, 0, 1, 8, 1, 0, 0, 0, 0xAA])   // fmt 0 ts 100
        bytes.writeBytes([0x84, 0, 0, 20, 0xBB])                              // fmt 2 delta 20 → 120
        bytes.writeBytes([0xC4, 0xCC])                                        // fmt 3 → 140
        bytes.writeBytes([0xC4, 0xDD])                                        // fmt 3 → 160
        XCTAssertEqual(try decodeAllSplits(bytes).map(\.timestamp), [100, 120, 140, 160])
    }

    func testInterleavedChunkStreams() throws {
        // Audio chunks interleaved between the chunks of a long video message.
        var bytes = ByteBuffer()
        let video = [UInt8](repeating: 0x01, count: 300)
        bytes.writeBytes([0x06, 0, 0, 0, 0, 0x01, 0x2C, 9, 1, 0, 0, 0]); bytes.writeBytes(video[0..<128])
        bytes.writeBytes([0x04, 0, 0, 0, 0, 0, 3, 8, 1, 0, 0, 0, 0xAF, 1, 0x21])
        bytes.writeBytes([0xC6]); bytes.writeBytes(video[128..<256])
        bytes.writeBytes([0xC6]); bytes.writeBytes(video[256...])
        let out = try decodeAllSplits(bytes)
        XCTAssertEqual(out.map(\.typeID), [.audio, .video])
        XCTAssertEqual(out[1].payload, ByteBuffer(bytes: video))
    }

    func testAbortDropsThePartialMessage() throws {
        var bytes = ByteBuffer()
        bytes.writeBytes([0x06, 0, 0, 0, 0, 0x01, 0x2C, 9, 1, 0, 0, 0]); bytes.writeBytes([UInt8](repeating: 1, count: 128))
        var encoder = ChunkEncoder()
        encoder.write(ProtocolControl.abort(chunkStreamID: 6), into: &bytes)
        bytes.writeBytes([0x06, 0, 0, 5, 0, 0, 2, 9, 1, 0, 0, 0, 7, 7]) // a fresh message on csid 6
        let out = try decodeAllSplits(bytes)
        XCTAssertEqual(out.map(\.typeID), [.abort, .video])
        XCTAssertEqual(out.last?.payload.readableBytes, 2)
    }

    func testFmt1OnUnknownChunkStreamIsAProtocolError() {
        var bytes = ByteBuffer(bytes: [0x44, 0, 0, 0, 0, 0, 1, 8, 0])
        var decoder = ChunkDecoder()
        XCTAssertThrowsError(try decoder.next(&bytes))
    }

    func testMessageLargerThanLimitIsRefusedBeforeAllocation() {
        var bytes = ByteBuffer(bytes: [0x04, 0, 0, 0, 0x90, 0, 0, 9, 1, 0, 0, 0])
        var decoder = ChunkDecoder()
        XCTAssertThrowsError(try decoder.next(&bytes)) { XCTAssertEqual(($0 as? RTMPProtocolError)?.kind, .messageTooLarge) }
    }

    func testTooManyPartialChunkStreamsAreRefused() {
        var bytes = ByteBuffer()
        for csid in 3..<63 { bytes.writeBytes([UInt8(csid), 0, 0, 0, 0, 0x10, 0, 9, 1, 0, 0, 0]); bytes.writeBytes([UInt8](repeating: 0, count: 128)) }
        var decoder = ChunkDecoder(limits: RTMPLimits(maxChunkStreams: 16))
        XCTAssertThrowsError(try { while try decoder.next(&bytes) != nil {} }()) {
            XCTAssertEqual(($0 as? RTMPProtocolError)?.kind, .limits)
        }
    }

    /// Ids 2–63 and 64 and above are kept apart (an array and a dictionary): the limit counts
    /// both, and a stream already known goes on past it.
    func testTheChunkStreamLimitCountsOneAndMultiByteIdsTogether() throws {
        func start(_ csid: Int) -> [UInt8] {
            let basic: [UInt8] = csid < 64 ? [UInt8(csid)] : [0, UInt8(csid - 64)]
            return basic + [0, 0, 0, 0, 0x10, 0, 9, 1, 0, 0, 0] + [UInt8](repeating: 0, count: 128)
        }
        var decoder = ChunkDecoder(limits: RTMPLimits(maxChunkStreams: 16))
        var bytes = ByteBuffer(bytes: (3..<13).flatMap(start) + (100..<106).flatMap(start))
        XCTAssertNil(try decoder.next(&bytes), "16 streams, each with a partial message")
        XCTAssertEqual(bytes.readableBytes, 0)
        for extra in [13, 106] {
            var d = decoder
            var b = ByteBuffer(bytes: start(extra))
            XCTAssertThrowsError(try d.next(&b), "a 17th stream (id \(extra))") { XCTAssertEqual(($0 as? RTMPProtocolError)?.kind, .limits) }
        }
        // fmt 3 continuations of a known low and a known high stream are not new streams.
        var more = ByteBuffer(bytes: [0xC0 | 5] + [UInt8](repeating: 0, count: 128) + [0xC0, 100 - 64] + [UInt8](repeating: 0, count: 128))
        XCTAssertNil(try decoder.next(&more))
        XCTAssertEqual(more.readableBytes, 0)
        XCTAssertEqual(decoder.partialBytes, 18 * 128)
    }

    /// Whether every byte of `piece` lies inside `buffer`'s storage (a slice, not a copy).
    func isSlice(_ piece: ByteBuffer, of buffer: ByteBuffer) -> Bool {
        piece.withUnsafeReadableBytes { p in
            buffer.withVeryUnsafeBytes { b in
                p.baseAddress! >= b.baseAddress! && p.baseAddress! + p.count <= b.baseAddress! + b.count
            }
        }
    }

    func testAFrameInSeveralChunksIsCarriedAsTheChunksSlices() throws {
        // docs/contract.md §2 "Payloads in chunks": 1,000 bytes at chunk size 128 — 8 chunks.
        let sent = RTMPMessage(chunkStreamID: 6, timestamp: 40, typeID: .video, streamID: 1,
                               payload: ByteBuffer(bytes: (0..<1000).map { UInt8(truncatingIfNeeded: $0 * 7) }))
        var bytes = encode([sent])
        let read = bytes
        var decoder = ChunkDecoder()
        let m = try XCTUnwrap(try decoder.next(&bytes))
        XCTAssertEqual(m.body.rest.count, 7, "one piece per chunk")
        XCTAssertEqual(m.body.readableBytes, 1000)
        for piece in [m.body.head] + m.body.rest { XCTAssertTrue(isSlice(piece, of: read), "a piece is the read's own bytes, not a copy") }
        XCTAssertEqual(m.payload, sent.payload, "joined, the bytes are the message's")
        XCTAssertEqual(m, sent)
        XCTAssertEqual(decoder.partialBytes, 0)
    }

    func testACommandInSeveralChunksIsJoinedWhenItCompletes() throws {
        let sent = message(csid: 3, ts: 0, type: .commandAMF0, size: 300, fill: 0x02)
        var bytes = encode([sent])
        var decoder = ChunkDecoder()
        let m = try XCTUnwrap(try decoder.next(&bytes))
        XCTAssertTrue(m.body.isContiguous, "commands and data are parsed whole")
        XCTAssertEqual(m.payload, sent.payload)
    }

    func testAFrameSpanningReadsHoldsNoReadBufferAtTheReadsEnd() throws {
        // The first read ends inside the message: its chunks so far become the message's own
        // bytes at the read's end, so the read's buffer is free for NIO's receive pool.
        let sent = RTMPMessage(chunkStreamID: 6, timestamp: 0, typeID: .video, streamID: 1,
                               payload: ByteBuffer(bytes: (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 13) }))
        let all = encode([sent])
        var first = ByteBuffer()
        first.writeImmutableBuffer(all.getSlice(at: all.readerIndex, length: 12 + 128 + 2 * 129)!) // three whole chunks
        var second = all.getSlice(at: all.readerIndex + first.readableBytes, length: all.readableBytes - first.readableBytes)!
        var decoder = ChunkDecoder()
        var firstRead = first
        XCTAssertNil(try decoder.next(&firstRead))
        XCTAssertEqual(decoder.partialBytes, 3 * 128)
        firstRead = ByteBuffer() // the connection lets go of a read it has parsed to the end
        decoder.ownPartialMessages()
        let before = first.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        let after = first.withUnsafeMutableReadableBytes { UInt(bitPattern: $0.baseAddress) }
        XCTAssertEqual(before, after, "nothing but the test holds the first read's buffer: writing to it copied nothing")
        let m = try XCTUnwrap(try decoder.next(&second))
        XCTAssertTrue(m.body.isContiguous, "begun in an earlier read: completed in the message's own buffer")
        XCTAssertEqual(m.payload, sent.payload)
        XCTAssertEqual(decoder.partialBytes, 0)
    }

    func testSingleChunkMessagesAreSlicesNotCopies() throws {
        var bytes = encode([message(ts: 1, size: 100)])
        var decoder = ChunkDecoder()
        let m = try XCTUnwrap(try decoder.next(&bytes))
        let shared = m.payload.withUnsafeReadableBytes { p in bytes.withUnsafeReadableBytes { b in p.baseAddress! > b.baseAddress! - 200 && p.baseAddress! < b.baseAddress! } }
        XCTAssertTrue(shared, "payload points into the receive buffer")
    }
}
