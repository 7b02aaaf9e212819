import NIOCore
import NIOConcurrencyHelpers
import RTMPCore

/// The clip's media as chunk-stream bytes, encoded once and sent by every publisher as slices.
///
/// Every publisher sends the same messages in the same order on the same chunk streams (data,
/// audio, video) with the same message stream id and chunk size, so what its `ChunkEncoder`
/// would write is the same bytes for all of them. At 1,500 real-time publishers, where the load
/// generator needs about a core of the two it shares with the server under test, encoding per
/// publisher (the encoder, a buffer per send, the payload copies) was most of its own code's
/// CPU; with this and `LoopPacer`'s arrays its user-space share fell from 38 % to 27 % of its
/// samples, the rest being the kernel's loopback send (BENCHMARKS.md, "A cheaper load
/// generator"). Here one `ChunkEncoder` encodes the metadata,
/// the first pass of the clip (with the sequence headers) and the passes after it (without), and a
/// send is a slice of those bytes: no copy, no encoding.
///
/// Why two passes are enough: after the first message on each chunk stream every header is
/// relative (fmt 1–3: a timestamp delta, the length and type), and a pass's deltas are the same
/// in every pass after the first — the first differs only by its sequence headers and its fmt 0
/// starts. `init` checks that claim by encoding a third pass and comparing it with the second.
final class EncodedClip: Sendable {
    /// One pass of the clip: its items' chunks back to back.
    struct Pass: Sendable {
        let bytes: ByteBuffer
        /// `ends[i]`: where item `i`'s chunks end (they start where item `i - 1`'s end).
        let ends: [Int]
        /// `messages[i]`: messages among items `0...i` (a sequence header skipped in a later pass
        /// is no message).
        let messages: [Int]

        func start(of item: Int) -> Int { item == 0 ? 0 : ends[item - 1] }

        /// Items `range` as one slice, and how many messages they are.
        func slice(_ range: Range<Int>) -> (bytes: ByteBuffer, messages: Int) {
            let from = start(of: range.lowerBound), to = ends[range.upperBound - 1]
            let before = range.lowerBound == 0 ? 0 : messages[range.lowerBound - 1]
            return (bytes.getSlice(at: bytes.readerIndex + from, length: to - from)!, messages[range.upperBound - 1] - before)
        }
    }

    let streamID: UInt32
    /// `@setDataFrame onMetaData`, sent once before the media.
    let metadata: ByteBuffer?
    let first: Pass
    /// Every pass after the first.
    let later: Pass

    /// `chunkSize`: what the publisher announced with Set Chunk Size before `connect`.
    init(clip: FLVClip, streamID: UInt32, chunkSize: Int) {
        var encoder = ChunkEncoder()
        encoder.setChunkSize(chunkSize)
        if let payload = clip.metadata {
            var out = ByteBuffer()
            encoder.write(RTMPMessage(chunkStreamID: ChunkStreamID.data, timestamp: 0, typeID: .dataAMF0, streamID: streamID, payload: payload), into: &out)
            metadata = out
        } else {
            metadata = nil
        }
        func encode(pass: UInt32) -> Pass {
            var out = ByteBuffer()
            var ends: [Int] = [], messages: [Int] = []
            ends.reserveCapacity(clip.items.count)
            messages.reserveCapacity(clip.items.count)
            var count = 0
            for item in clip.items {
                if pass == 0 || !clip.isSequenceHeader(item) {
                    encoder.write(RTMPMessage(chunkStreamID: item.chunkStreamID, timestamp: item.timestamp &+ pass &* clip.durationMs,
                                              typeID: item.typeID, streamID: streamID, payload: item.payload), into: &out)
                    count += 1
                }
                ends.append(out.readableBytes)
                messages.append(count)
            }
            return Pass(bytes: out, ends: ends, messages: messages)
        }
        first = encode(pass: 0)
        later = encode(pass: 1)
        let third = encode(pass: 2)
        precondition(third.bytes == later.bytes && third.ends == later.ends,
                     "the clip's passes after the first do not encode alike: its timestamps are not monotonic per chunk stream")
        self.streamID = streamID
    }
}

/// The encoded clip for each message stream id the servers gave (`createStream`'s answer; 1 from
/// every server measured here), made by the first publisher that needs it.
final class EncodedClips: Sendable {
    private let clip: FLVClip
    private let chunkSize: Int
    private let byStreamID = NIOLockedValueBox([UInt32: EncodedClip]())

    init(clip: FLVClip, chunkSize: Int) {
        self.clip = clip
        self.chunkSize = chunkSize
    }

    func clip(streamID: UInt32) -> EncodedClip {
        byStreamID.withLockedValue { clips in
            if let made = clips[streamID] { return made }
            let made = EncodedClip(clip: clip, streamID: streamID, chunkSize: chunkSize)
            clips[streamID] = made
            return made
        }
    }
}
