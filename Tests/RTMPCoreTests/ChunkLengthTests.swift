import NIOCore
import RTMPCore
import XCTest

/// `ChunkDecoder.chunkLength(startingIn:)` against the decoder itself: at every chunk boundary of
/// an encoded stream (fmt 0 and fmt 3 headers, messages longer than the chunk size, two chunk
/// streams interleaved), the peeked size is exactly what the decoder then consumes.
final class ChunkLengthTests: XCTestCase {
    func testThePeekedSizeIsWhatTheDecoderConsumesAtEveryChunk() throws {
        var encoder = ChunkEncoder()
        var wire = ByteBuffer()
        var messages: [RTMPMessage] = []
        for (i, size) in [10, 128, 129, 300, 1000, 4096, 5000].enumerated() {
            let payload = ByteBuffer(bytes: (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ i) })
            messages.append(RTMPMessage(chunkStreamID: i % 2 == 0 ? 6 : 4, timestamp: UInt32(i * 40), typeID: i % 2 == 0 ? .video : .audio,
                                        streamID: 1, payload: payload))
        }
        for m in messages { encoder.write(m, into: &wire) }

        var decoder = ChunkDecoder()
        var decoded = 0
        var chunks = 0
        while wire.readableBytes > 0 {
            let peeked = try XCTUnwrap(decoder.chunkLength(startingIn: wire), "headers complete at chunk \(chunks)")
            // Exactly the peeked bytes: one chunk; the decoder takes all of them, no more.
            var one = wire.getSlice(at: wire.readerIndex, length: peeked)!
            let before = one.readableBytes
            if try decoder.next(&one) != nil { decoded += 1 }
            XCTAssertEqual(before - one.readableBytes, peeked, "chunk \(chunks): the decoder consumed what was peeked")
            XCTAssertEqual(one.readableBytes, 0)
            wire.moveReaderIndex(forwardBy: peeked)
            chunks += 1
        }
        XCTAssertEqual(decoded, messages.count)
        XCTAssertGreaterThan(chunks, messages.count + 50, "messages were split into 128-byte chunks")
        // Too short to tell: nil, never a guess.
        XCTAssertNil(ChunkDecoder().chunkLength(startingIn: ByteBuffer(bytes: [0x06, 0x00])))
    }
}
