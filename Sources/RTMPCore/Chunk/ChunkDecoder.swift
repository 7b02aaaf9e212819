import NIOCore

/// Reassembles RTMP messages from the chunk stream (RTMP 1.0 §5.3).
///
/// `next(&buffer)` consumes whole chunks only: it returns a message when one completes,
/// `nil` when the buffer holds no further complete chunk (the partial chunk is left in the
/// buffer), and throws on a protocol violation. It never traps on peer input.
///
/// Set Chunk Size and Abort are applied here, because they change how the very next bytes
/// parse; they are still returned so the session can see them.
public struct ChunkDecoder {
    /// Per chunk stream: the last header (for fmt 1–3 compression) and any partial message.
    struct StreamState {
        var timestamp: UInt32 = 0
        /// The last timestamp field: absolute after fmt 0, delta after fmt 1/2. A fmt-3 header
        /// that starts a new message adds it again (as ffmpeg, librtmp and SRS read it).
        var timestampField: UInt32 = 0
        var length: Int = 0
        var typeID: MessageTypeID = .init(rawValue: 0)
        var streamID: UInt32 = 0
        /// The header carried a 4-byte extended timestamp; fmt-3 chunks may repeat it.
        var extended = false
        /// A message in progress (`received > 0`): its first piece, and the chunks after it.
        /// Chunks are kept as slices of the read that brought them while that read is parsed;
        /// at the read's end (`ownPartialMessages`) they are joined into `head`, a buffer of the
        /// message's own, so no read buffer stays held (docs/contract.md §2 "Payloads in chunks").
        var head: ByteBuffer? = nil
        var headOwned = false
        var rest: [ByteBuffer] = []
        var received: Int = 0

        mutating func dropMessage() {
            head = nil
            headOwned = false
            rest = []
            received = 0
        }

        /// Joins the pieces into a buffer of the message's own.
        mutating func ownPieces() {
            guard let first = head, !headOwned || !rest.isEmpty else { return }
            head = nil // uniquely referenced below: appending copies nothing else
            var owned: ByteBuffer
            if headOwned {
                owned = first
            } else {
                owned = ByteBufferAllocator().buffer(capacity: max(first.readableBytes, min(length, 256 * 1024)))
                owned.writeImmutableBuffer(first)
            }
            for piece in rest { owned.writeImmutableBuffer(piece) }
            rest.removeAll(keepingCapacity: true)
            head = owned
            headOwned = true
        }
    }

    public private(set) var chunkSize: Int = 128
    /// Below this chunk size a multi-chunk message is copied chunk by chunk, not sliced.
    static let smallestSlicedChunk = 128
    public let limits: RTMPLimits
    /// Chunk streams 2–63 — the one-byte basic header, where every encoder sends its media and
    /// commands — by index; higher ids in a dictionary. A hash and a dictionary probe per chunk
    /// showed in flat-out profiles (BENCHMARKS.md "Read sizes").
    /// Grown to the highest id seen (a few entries for any encoder), not 64 up front: memory per
    /// connection counts at thousands of publishers.
    private var lowStreams: [StreamState?] = []
    private var highStreams: [UInt32: StreamState] = [:]
    private var streamCount = 0
    /// The most recent chunk stream, cached: media usually arrives on one or two.
    private var bufferedBytes = 0
    /// Bytes consumed from the wire (for acknowledgements).
    public private(set) var bytesConsumed: UInt64 = 0

    public init(limits: RTMPLimits = .default) {
        self.limits = limits
    }

    /// Current bytes held in partially assembled messages.
    public var partialBytes: Int { bufferedBytes }

    public mutating func next(_ buffer: inout ByteBuffer) throws(RTMPProtocolError) -> RTMPMessage? {
        while true {
            let start = buffer.readerIndex
            switch try readChunk(&buffer) {
            case .needMoreBytes:
                buffer.moveReaderIndex(to: start)
                return nil
            case .partial:
                bytesConsumed &+= UInt64(buffer.readerIndex - start)
                continue
            case .message(let message):
                bytesConsumed &+= UInt64(buffer.readerIndex - start)
                try applyControl(message)
                return message
            }
        }
    }

    /// The size of the chunk that begins `buffer` — basic header, message header, extended
    /// timestamp and payload — once its headers are there to read; nil before. Peeks, never
    /// consumes, never throws: a header `next` would refuse gets a size here and the refusal
    /// there. The connection uses it to join a chunk split across two reads by copying exactly
    /// that chunk's bytes (`RTMPConnectionStateMachine.feedQueuedInput`). A fmt-3 continuation of
    /// an extended-timestamp message is counted with its optional 4-byte repeat: at worst 4 bytes
    /// more than needed, which the next chunk's join absorbs.
    public func chunkLength(startingIn buffer: ByteBuffer) -> Int? {
        let start = buffer.readerIndex
        var i = start
        guard let b0 = buffer.getInteger(at: i, as: UInt8.self) else { return nil }
        i += 1
        let fmt = b0 >> 6
        var csid = UInt32(b0 & 0x3F)
        if csid == 0 {
            guard let b1 = buffer.getInteger(at: i, as: UInt8.self) else { return nil }
            csid = 64 + UInt32(b1)
            i += 1
        } else if csid == 1 {
            guard let b1 = buffer.getInteger(at: i, as: UInt8.self), let b2 = buffer.getInteger(at: i + 1, as: UInt8.self) else { return nil }
            csid = 64 + UInt32(b1) + UInt32(b2) * 256
            i += 2
        }
        let state = stream(csid)
        func uint24(_ at: Int) -> UInt32? {
            guard let hi = buffer.getInteger(at: at, as: UInt8.self), let lo = buffer.getInteger(at: at + 1, as: UInt16.self) else { return nil }
            return UInt32(hi) << 16 | UInt32(lo)
        }
        var length = state?.length ?? 0
        var extended = state?.extended ?? false
        var received = state?.received ?? 0
        switch fmt {
        case 0, 1:
            guard let ts = uint24(i), let len = uint24(i + 3), buffer.getInteger(at: i + 6, as: UInt8.self) != nil else { return nil }
            length = Int(len)
            extended = ts == 0xFFFFFF
            received = 0 // a new header starts a new message
            i += fmt == 0 ? 11 : 7
        case 2:
            guard let ts = uint24(i) else { return nil }
            extended = ts == 0xFFFFFF
            received = 0
            i += 3
        default:
            break
        }
        if extended { i += 4 }
        return i - start + min(chunkSize, max(0, length - received))
    }

    private enum ChunkResult {
        case needMoreBytes
        case partial
        case message(RTMPMessage)
    }

    private mutating func readChunk(_ buffer: inout ByteBuffer) throws(RTMPProtocolError) -> ChunkResult {
        // Basic header: 1, 2 or 3 bytes.
        guard let b0 = buffer.readInteger(as: UInt8.self) else { return .needMoreBytes }
        let fmt = b0 >> 6
        var csid = UInt32(b0 & 0x3F)
        if csid == 0 {
            guard let b1 = buffer.readInteger(as: UInt8.self) else { return .needMoreBytes }
            csid = 64 + UInt32(b1)
        } else if csid == 1 {
            guard let b1 = buffer.readInteger(as: UInt8.self), let b2 = buffer.readInteger(as: UInt8.self) else { return .needMoreBytes }
            csid = 64 + UInt32(b1) + UInt32(b2) * 256
        }

        // `state` is a working copy: it goes back into the table only when the chunk has been
        // read whole, so a chunk cut short by the end of the buffer leaves no trace.
        var state: StreamState
        if let known = stream(csid) {
            state = known
        } else {
            guard fmt == 0 else { throw RTMPProtocolError(.chunk, "fmt \(fmt) chunk on chunk stream \(csid) with no previous header") }
            guard streamCount < limits.maxChunkStreams else {
                throw RTMPProtocolError(.limits, "more than \(limits.maxChunkStreams) chunk streams")
            }
            state = StreamState()
        }

        let startsMessage = state.received == 0
        var timestampField: UInt32 = 0
        switch fmt {
        case 0:
            guard buffer.readableBytes >= 11,
                  let ts = buffer.readUInt24(), let length = buffer.readUInt24(),
                  let type = buffer.readInteger(as: UInt8.self),
                  let streamID = buffer.readInteger(endianness: .little, as: UInt32.self)
            else { return .needMoreBytes }
            timestampField = ts
            state.length = Int(length)
            state.typeID = MessageTypeID(rawValue: type)
            state.streamID = streamID
        case 1:
            guard buffer.readableBytes >= 7,
                  let delta = buffer.readUInt24(), let length = buffer.readUInt24(),
                  let type = buffer.readInteger(as: UInt8.self)
            else { return .needMoreBytes }
            timestampField = delta
            state.length = Int(length)
            state.typeID = MessageTypeID(rawValue: type)
        case 2:
            guard let delta = buffer.readUInt24() else { return .needMoreBytes }
            timestampField = delta
        default:
            timestampField = state.timestampField
        }

        if fmt != 3 {
            state.extended = timestampField == 0xFFFFFF
            if state.extended {
                guard let ext = buffer.readInteger(as: UInt32.self) else { return .needMoreBytes }
                timestampField = ext
            }
        } else if state.extended {
            if startsMessage {
                guard let ext = buffer.readInteger(as: UInt32.self) else { return .needMoreBytes }
                timestampField = ext
            } else {
                // Continuation chunk: ffmpeg and FMS repeat the extended timestamp here, some
                // encoders do not. Consume it only if the next four bytes are that value.
                guard let peek = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreBytes }
                if peek == state.timestampField { buffer.moveReaderIndex(forwardBy: 4) }
            }
        }

        if fmt != 3 && !startsMessage {
            // A new header while a message is incomplete: the peer gave up on the old one
            // (an implicit Abort). Drop what we had; the new header starts a fresh message.
            bufferedBytes -= state.received
            state.dropMessage()
        }

        if state.received == 0 {
            guard state.length <= limits.maxMessageBytes else {
                throw RTMPProtocolError(.messageTooLarge, "message of \(state.length) bytes on chunk stream \(csid) exceeds \(limits.maxMessageBytes)")
            }
        }

        let remaining = state.length - state.received
        let chunkPayload = min(chunkSize, remaining)
        guard buffer.readableBytes >= chunkPayload else { return .needMoreBytes }

        if state.received == 0 {
            // First chunk of a message: settle its timestamp.
            if fmt == 0 {
                state.timestamp = timestampField
            } else {
                state.timestamp = state.timestamp &+ timestampField
            }
            state.timestampField = timestampField
        }

        if state.received == 0 && chunkPayload == state.length {
            // Whole message in one chunk: hand out a slice, no copy.
            let payload = buffer.readSlice(length: chunkPayload) ?? ByteBuffer()
            setStream(csid, state)
            return .message(RTMPMessage(chunkStreamID: csid, timestamp: state.timestamp, typeID: state.typeID, streamID: state.streamID, payload: payload))
        }

        guard bufferedBytes + chunkPayload <= limits.maxBufferedBytes else {
            throw RTMPProtocolError(.limits, "more than \(limits.maxBufferedBytes) bytes buffered in partial messages")
        }
        // The working copy and the table share the message's pieces: cleared in the table
        // before appending, or copy-on-write copies them on every chunk (once quadratic in the
        // message's size; perf showed it as a quarter of ingest CPU).
        clearPartial(csid)
        let slice = buffer.readSlice(length: chunkPayload) ?? ByteBuffer()
        if state.head == nil {
            state.head = slice
        } else {
            // Room for the chunks still to come at once (up to 256): one allocation, not one per
            // doubling.
            if state.rest.capacity == 0 { state.rest.reserveCapacity(min(256, (state.length - state.received + chunkSize - 1) / chunkSize)) }
            state.rest.append(slice)
        }
        // Chunks smaller than the protocol's default (only odd or hostile peers set them) are
        // copied as they come: a slice's bookkeeping per few bytes would cost more than the copy
        // and multiply the memory a read's partial messages hold.
        if chunkSize < Self.smallestSlicedChunk { state.ownPieces() }
        state.received += chunkPayload
        bufferedBytes += chunkPayload

        if state.received == state.length {
            bufferedBytes -= state.received
            // Begun in an earlier read: its head is its own buffer, sized for it — the rest goes
            // there too (each byte copied once, as it always was for such a message). Whole in
            // this read: audio and video stay slices for the outputs to join if they need to;
            // commands and control are joined now (small, and parsed whole).
            if state.headOwned { state.ownPieces() }
            var body = ChunkedPayload(head: state.head ?? ByteBuffer(), rest: state.rest, readableBytes: state.length)
            if !body.isContiguous && state.typeID != .audio && state.typeID != .video { body = ChunkedPayload(body.joined()) }
            state.dropMessage()
            setStream(csid, state)
            return .message(RTMPMessage(chunkStreamID: csid, timestamp: state.timestamp, typeID: state.typeID, streamID: state.streamID, body: body))
        }
        setStream(csid, state)
        return .partial
    }

    private func stream(_ csid: UInt32) -> StreamState? {
        csid < 64 ? (Int(csid) < lowStreams.count ? lowStreams[Int(csid)] : nil) : highStreams[csid]
    }

    private mutating func setStream(_ csid: UInt32, _ state: StreamState) {
        if csid < 64 {
            if Int(csid) >= lowStreams.count { lowStreams.append(contentsOf: repeatElement(nil, count: Int(csid) + 1 - lowStreams.count)) }
            if lowStreams[Int(csid)] == nil { streamCount += 1 }
            lowStreams[Int(csid)] = state
        } else if highStreams.updateValue(state, forKey: csid) == nil {
            streamCount += 1
        }
    }

    private mutating func clearPartial(_ csid: UInt32) {
        if Int(csid) < lowStreams.count {
            lowStreams[Int(csid)]?.head = nil
            lowStreams[Int(csid)]?.rest = []
        } else if csid >= 64 {
            highStreams[csid]?.head = nil
            highStreams[csid]?.rest = []
        }
    }

    /// Called once a read has been parsed as far as it goes: every message still in progress
    /// copies the chunks it has so far into a buffer of its own. A chunk kept as a slice would
    /// hold the whole read buffer until its message completes, and NIO's receive pool reuses a
    /// buffer only when nothing else holds it (docs/contract.md §2 "Read sizes"). A message that
    /// begins and ends within one read — most frames when reads are large — is never copied.
    public mutating func ownPartialMessages() {
        guard bufferedBytes > 0 else { return }
        for i in lowStreams.indices where lowStreams[i].map({ $0.head != nil && (!$0.headOwned || !$0.rest.isEmpty) }) == true {
            lowStreams[i]!.ownPieces()
        }
        for key in highStreams.keys where highStreams[key].map({ $0.head != nil && (!$0.headOwned || !$0.rest.isEmpty) }) == true {
            highStreams[key]!.ownPieces()
        }
    }

    private mutating func applyControl(_ message: RTMPMessage) throws(RTMPProtocolError) {
        switch message.typeID {
        case .setChunkSize:
            guard let raw = message.payload.getInteger(at: message.payload.readerIndex, as: UInt32.self) else {
                throw RTMPProtocolError(.chunk, "Set Chunk Size message shorter than 4 bytes")
            }
            let size = raw & 0x7FFF_FFFF // the top bit must be zero; ignore it as nginx-rtmp does
            guard size > 0 else { throw RTMPProtocolError(.chunk, "Set Chunk Size 0") }
            chunkSize = min(Int(size), limits.maxChunkSize)
        case .abort:
            guard let csid = message.payload.getInteger(at: message.payload.readerIndex, as: UInt32.self) else {
                throw RTMPProtocolError(.chunk, "Abort message shorter than 4 bytes")
            }
            if var state = stream(csid), state.received > 0 {
                bufferedBytes -= state.received
                state.dropMessage()
                setStream(csid, state)
            }
        default:
            break
        }
    }
}

extension ByteBuffer {
    @inlinable
    mutating func readUInt24() -> UInt32? {
        guard readableBytes >= 3,
              let hi = readInteger(as: UInt8.self), let mid = readInteger(as: UInt16.self)
        else { return nil }
        return UInt32(hi) << 16 | UInt32(mid)
    }

    @inlinable
    mutating func writeUInt24(_ value: UInt32) {
        writeInteger(UInt8(truncatingIfNeeded: value >> 16))
        writeInteger(UInt16(truncatingIfNeeded: value))
    }
}
