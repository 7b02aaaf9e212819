import NIOCore

/// A message's payload as its chunks brought it: the slices of the connection's read buffers
/// that hold its bytes, in order, joined into one buffer only by whoever needs the bytes
/// contiguous (docs/contract.md §2 "Payloads in chunks").
///
/// A video frame larger than the chunk size arrives in several chunks, each behind a chunk
/// header; joining them is a copy of every byte a publisher sends. A channel without outputs
/// (no HLS, recording or forward) never needs the joined bytes — it only counts them — and a
/// channel with outputs joins once, where the frame becomes the outputs' own (`MediaSession`),
/// instead of once in the decoder and again for the outputs.
///
/// Most payloads are one piece (`head` only, `rest` empty): then nothing is allocated.
public struct ChunkedPayload: Sendable, Equatable, CustomStringConvertible {
    /// The first piece (the whole payload when `rest` is empty).
    public private(set) var head: ByteBuffer
    /// The following pieces, in order.
    public private(set) var rest: [ByteBuffer]
    /// Bytes in all pieces.
    public private(set) var readableBytes: Int

    public init(_ whole: ByteBuffer) {
        head = whole
        rest = []
        readableBytes = whole.readableBytes
    }

    /// `readableBytes` must be the pieces' total (the decoder knows it: the message length).
    init(head: ByteBuffer, rest: [ByteBuffer], readableBytes: Int) {
        self.head = head
        self.rest = rest
        self.readableBytes = readableBytes
    }

    /// A payload in the given pieces, in order (`pieces` not empty).
    public init(pieces: [ByteBuffer]) {
        precondition(!pieces.isEmpty)
        self.init(head: pieces[0], rest: Array(pieces.dropFirst()), readableBytes: pieces.reduce(0) { $0 + $1.readableBytes })
    }

    /// The same payload with its head replaced by `newHead` — the head after a header was read
    /// off it (`FLVTagParser`), the rest unchanged.
    public func replacingHead(with newHead: ByteBuffer) -> ChunkedPayload {
        var copy = self
        copy.readableBytes += newHead.readableBytes - head.readableBytes
        copy.head = newHead
        return copy
    }

    /// Whether the payload is one buffer already (`joined()` copies nothing).
    public var isContiguous: Bool { rest.isEmpty }

    /// The payload in one buffer: `head` itself when it is the whole payload, otherwise a new
    /// buffer with every piece copied into it.
    public func joined() -> ByteBuffer {
        guard !rest.isEmpty else { return head }
        var out = ByteBufferAllocator().buffer(capacity: readableBytes)
        out.writeImmutableBuffer(head)
        for piece in rest { out.writeImmutableBuffer(piece) }
        return out
    }

    /// Equal when the bytes are, however they are cut into pieces.
    public static func == (a: ChunkedPayload, b: ChunkedPayload) -> Bool {
        guard a.readableBytes == b.readableBytes else { return false }
        if a.isContiguous && b.isContiguous { return a.head == b.head }
        return a.joined() == b.joined()
    }

    public var description: String { joined().description }
}
