import NIOCore

/// The whole server side of one RTMP connection — handshake, chunk stream, commands, the
/// publish flow and media parsing — as a pure state machine.
///
/// Feed bytes with `receive(_:)`, then drain `next()` until it returns `nil` (need more bytes).
/// Each action says what to do (`send`, `authorize`, `media`, `close` …); the machine performs
/// no I/O and reads no clock, so tests and the fuzzer drive it exactly as the server does.
public struct RTMPConnectionStateMachine {
    public struct Configuration: Sendable {
        public var limits: RTMPLimits
        /// Applications accepted by `connect` (docs/contract.md §2: `live`).
        public var allowedApps: Set<String>
        /// Chunk size we announce and send with (docs/contract.md §2: 4096 or more).
        public var outboundChunkSize: Int
        /// Window Acknowledgement Size we ask the peer to honour, and our Set Peer Bandwidth.
        public var windowAcknowledgementSize: UInt32
        /// Whether this server asks publishers to move with `NetConnection.Connect.ReconnectRequest`
        /// (then `capsEx` in the connect answer says Reconnect).
        public var sendsReconnectRequest = false

        public init(limits: RTMPLimits = .default, allowedApps: Set<String> = ["live"], outboundChunkSize: Int = 4096,
                    windowAcknowledgementSize: UInt32 = 5_000_000) {
            self.limits = limits
            self.allowedApps = allowedApps
            self.outboundChunkSize = outboundChunkSize
            self.windowAcknowledgementSize = windowAcknowledgementSize
        }
    }

    public enum PublishState: Equatable, Sendable {
        case idle
        case awaitingAuthorization(PublishRequest)
        case publishing(PublishRequest)
        case unpublished
        case closed
    }

    public let configuration: Configuration
    private var handshake: ServerHandshake
    private var decoder: ChunkDecoder
    private var encoder = ChunkEncoder()
    private var inbound: ByteBuffer
    /// Bytes of a newer read not yet moved into `inbound` (see `receive`).
    private var queuedInput = RTMPConnectionStateMachine.noBytes
    private var outbound: ByteBuffer
    private var pending: [RTMPSessionAction] = []
    private var pendingIndex = 0
    private var failed = false

    public private(set) var connectInfo: ConnectInfo?
    public private(set) var publishState: PublishState = .idle
    private var nextStreamID: UInt32 = 1

    // Acknowledgements (RTMP 1.0 §5.4.3): sent each time the peer's window is crossed.
    private var peerWindowSize: UInt32 = 0
    public private(set) var bytesReceived: UInt64 = 0
    private var bytesAtLastAcknowledgement: UInt64 = 0

    // Media state.
    public private(set) var videoTimeline = TimestampTimeline()
    public private(set) var audioTimeline = TimestampTimeline()
    public private(set) var videoParameters: VideoCodecParameters?
    public private(set) var audioParameters: AudioCodecParameters?
    /// Tracks other than 0 (E-RTMP multitrack): their own timelines and parameters.
    public private(set) var extraTracks: [MediaTrackKey: TrackMeasurement] = [:]
    public private(set) var metadata: AMFObject?
    public private(set) var videoFrames = 0
    public private(set) var audioFrames = 0
    public private(set) var mediaBytes: UInt64 = 0
    public private(set) var skippedMediaMessages = 0
    /// Media received before publish was accepted (dropped).
    public private(set) var droppedEarlyMedia = 0

    public init(configuration: Configuration = Configuration(), handshake: ServerHandshake = ServerHandshake(),
                allocator: ByteBufferAllocator = ByteBufferAllocator()) {
        self.configuration = configuration
        self.handshake = handshake
        self.decoder = ChunkDecoder(limits: configuration.limits)
        self.inbound = Self.noBytes
        self.outbound = allocator.buffer(capacity: 0)
    }

    /// Timestamp repairs on both tracks (non-monotonic DTS).
    public var timestampRepairs: Int { videoTimeline.repairs + audioTimeline.repairs + extraTrackRepairs }
    /// Repairs on tracks other than 0, kept as a sum (read per frame: no walk over the tracks).
    private var extraTrackRepairs = 0

    /// What is known of one track's codec (track 0: `videoParameters`/`audioParameters`).
    public func parameters(of key: MediaTrackKey) -> TrackMeasurement {
        if key.trackId != 0 { return extraTracks[key] ?? TrackMeasurement() }
        return TrackMeasurement(video: key.kind == .video ? videoParameters : nil, audio: key.kind == .audio ? audioParameters : nil)
    }

    // MARK: Input

    /// Appends bytes from the socket. Avoids a copy when nothing is buffered.
    public mutating func receive(_ bytes: ByteBuffer) {
        bytesReceived &+= UInt64(bytes.readableBytes)
        if inbound.readableBytes == 0 && queuedInput.readableBytes == 0 {
            inbound = bytes
        } else if queuedInput.readableBytes == 0 {
            // A chunk is split across reads: keep the new read aside and feed it to `inbound`
            // a chunk at a time (`next()`), so only the bytes that complete the split chunk are
            // copied, not the whole read (up to 64 KiB per read otherwise).
            queuedInput = bytes
        } else {
            queuedInput.writeImmutableBuffer(bytes)
        }
    }

    /// The bytes to write to the peer (after a `.send` action).
    public mutating func takeOutbound() -> ByteBuffer {
        let out = outbound
        // Let go of it rather than `clear()` it: the socket write still holds `out`, so clearing
        // allocated a fresh buffer of the same capacity (4 KiB and more after the handshake) that
        // every connection then kept, empty, for its whole session — 4 KiB per publisher in a
        // heaptrack of 1,000 (BENCHMARKS.md "Memory per publisher"). After the publish starts
        // the machine writes rarely (an acknowledgement per window, a ping answer): the next
        // write allocates what it needs.
        outbound = Self.noBytes
        return out
    }

    /// Bytes received but not yet parsed (a partial chunk or handshake packet).
    public var bufferedInboundBytes: Int { inbound.readableBytes + queuedInput.readableBytes + decoder.partialBytes }

    public var isHandshakeComplete: Bool { handshake.isComplete }

    /// The next thing to do, or `nil` when more bytes are needed. After a throw the
    /// connection must be closed; further calls return `nil`.
    public mutating func next() throws(RTMPProtocolError) -> RTMPSessionAction? {
        while true {
            if pendingIndex < pending.count {
                // Moved out, not copied: a copy retained the frame's buffers here and released
                // them again when the queue was emptied, per message (BENCHMARKS.md "fourteenth session").
                var action = RTMPSessionAction.send
                swap(&action, &pending[pendingIndex])
                pendingIndex += 1
                if pendingIndex == pending.count {
                    pending.removeAll(keepingCapacity: true)
                    pendingIndex = 0
                }
                return action
            }
            if failed || publishState == .closed { return nil }
            do {
                guard try step() else {
                    if queuedInput.readableBytes > 0 {
                        feedQueuedInput()
                        continue
                    }
                    compactInbound()
                    return nil
                }
            } catch {
                failed = true
                throw error
            }
        }
    }

    /// The authorizer's answer to the last `.authorize` action.
    public mutating func authorizationDecided(_ decision: PublishDecision) {
        guard case .awaitingAuthorization(let request) = publishState else { return }
        switch decision {
        case .accept:
            publishState = .publishing(request)
            write(ProtocolControl.userControl(.streamBegin(streamID: request.messageStreamID)))
            sendStatus(NetStatus(level: .status, code: .publishStart, description: "Publishing \(request.maskedKey)."),
                       streamID: request.messageStreamID)
            emit(.send)
            emit(.publishStarted(request))
        case .reject(let status):
            sendStatus(status, streamID: request.messageStreamID)
            publishState = .closed
            emit(.send)
            emit(.close(.publishRejected(status)))
        }
    }

    /// Ends the session from our side (replaced by a new publisher, key reset, disable …):
    /// tells the client why, then asks for the connection to be closed.
    public mutating func kick(_ status: NetStatus) {
        guard publishState != .closed else { return }
        let streamID: UInt32
        switch publishState {
        case .publishing(let r), .awaitingAuthorization(let r): streamID = r.messageStreamID
        default: streamID = 0
        }
        if handshake.isComplete { sendStatus(status, streamID: streamID) }
        publishState = .closed
        emit(.send)
        emit(.close(.kicked(status)))
    }

    /// Enhanced RTMP v2 "Reconnect Request": a NetConnection `onStatus` (transaction 0, no
    /// command object) with code `NetConnection.Connect.ReconnectRequest`, level `status`, and
    /// where to go (`tcUrl`; absent: the current one). The publisher goes on here until it has
    /// connected anew; nothing changes on this connection until then.
    public mutating func requestReconnect(tcUrl: String?, description: String) {
        guard handshake.isComplete, connectInfo != nil, publishState != .closed else { return }
        var info = NetStatus(level: .status, code: .connectReconnectRequest, description: description).infoObject
        if let tcUrl { info["tcUrl"] = .string(tcUrl) }
        write(CommandMessage(name: "onStatus", transactionID: 0, commandObject: .null, arguments: [.object(info)])
            .message(chunkStreamID: ChunkStreamID.command, streamID: 0))
        emit(.send)
    }

    // MARK: Processing

    /// Makes progress on buffered input. Returns false when more bytes are needed.
    private mutating func step() throws(RTMPProtocolError) -> Bool {
        if !handshake.isComplete {
            guard let hs = try handshake.next(&inbound) else { return false }
            switch hs {
            case .send(let bytes):
                outbound.writeImmutableBuffer(bytes)
                emit(.send)
            case .complete(let kind, let matched):
                emit(.handshakeCompleted(kind: kind, c2Matched: matched))
            }
            return true
        }
        guard let message = try decoder.next(&inbound) else { return false }
        try handle(message)
        acknowledgeIfNeeded()
        return true
    }

    /// Moves queued bytes into `inbound`: all of them (no copy) when `inbound` is empty,
    /// otherwise one chunk's worth (header + chunk size), enough for the decoder to progress.
    private mutating func feedQueuedInput() {
        if inbound.readableBytes == 0 {
            inbound = queuedInput
            queuedInput = Self.noBytes
            return
        }
        // A chunk split across two reads: join its two parts in a buffer of their own, exactly
        // that chunk's size, and go back to reading the newer read in place once it is done.
        // Appending to `inbound` instead would copy-on-write the older read's whole buffer (it
        // is shared with NIO's receive pool: up to 64 KiB per join, and each copy then held by
        // the connection — hundreds of KiB per publisher under load, BENCHMARKS.md
        // "Performance, second round") and go on copying the rest of the read piece by piece.
        let have = inbound.readableBytes
        let need: Int
        if !handshake.isComplete {
            need = HandshakeDigest.packetSize + 1
        } else if let chunk = decoder.chunkLength(startingIn: inbound) {
            need = max(1, chunk - have)
        } else {
            need = 18 // the chunk's headers first (at most 3 + 11 + 4 bytes)
        }
        let take = min(queuedInput.readableBytes, need)
        var joined = ByteBufferAllocator().buffer(capacity: have + take)
        joined.writeBuffer(&inbound)
        if var piece = queuedInput.readSlice(length: take) { joined.writeBuffer(&piece) }
        inbound = joined
        if queuedInput.readableBytes == 0 { queuedInput = Self.noBytes }
    }

    /// An empty buffer every connection shares: what `inbound` and `queuedInput` hold once read
    /// to the end. Letting go of the read buffer (rather than `clear()`ing it) matters twice
    /// over: `inbound` is the socket's read buffer itself, shared with NIO's receive pool, so
    /// `clear()` made a fresh buffer of the read's size — an allocation per read, and up to
    /// 64 KiB per idle connection held empty — and the pool could never reuse its buffer
    /// (BENCHMARKS.md, "Performance, second round").
    static let noBytes = ByteBuffer()

    private mutating func compactInbound() {
        decoder.ownPartialMessages()
        if inbound.readableBytes == 0 {
            inbound = Self.noBytes
        } else if inbound.readableBytes * 2 <= inbound.storageCapacity {
            // What is left is a chunk the read's end cut, a slice of the socket's read buffer:
            // copied into a buffer of its own (at most half the read buffer, usually a few KiB),
            // so that buffer is free again when the next read comes. NIO's receive pool reuses
            // a buffer only when nothing else holds it; otherwise it allocates another and keeps
            // that too — two read buffers per connection instead of one (docs/contract.md §2
            // "Read sizes").
            inbound = ByteBuffer(bytes: inbound.readableBytesView)
        } else if inbound.readerIndex > 64 * 1024 {
            inbound.discardReadBytes()
        }
    }

    /// Bytes parsed so far: the handshake plus every chunk decoded.
    private var bytesParsed: UInt64 {
        UInt64(1 + 2 * HandshakeDigest.packetSize) + decoder.bytesConsumed
    }

    private mutating func acknowledgeIfNeeded() {
        let parsed = bytesParsed
        guard peerWindowSize > 0, parsed - bytesAtLastAcknowledgement >= UInt64(peerWindowSize) else { return }
        bytesAtLastAcknowledgement = parsed
        // The sequence number is the byte count so far, wrapping at 2^32 (RTMP 1.0 §5.4.3).
        write(ProtocolControl.acknowledgement(sequenceNumber: UInt32(truncatingIfNeeded: parsed)))
        emit(.send)
    }

    private mutating func handle(_ message: RTMPMessage) throws(RTMPProtocolError) {
        switch message.typeID {
        case .audio, .video:
            handleMedia(message)
        case .commandAMF0, .commandAMF3:
            try handleCommand(CommandMessage(parsing: message, limits: configuration.limits), message: message)
        case .dataAMF0, .dataAMF3:
            if case .publishing = publishState {
                let data = try DataMessage(parsing: message, limits: configuration.limits)
                if let meta = data.metadata {
                    metadata = meta
                    emit(.metadata(meta))
                }
            }
        case .windowAcknowledgementSize:
            guard let size = message.payload.getInteger(at: message.payload.readerIndex, as: UInt32.self) else {
                throw RTMPProtocolError(.chunk, "Window Acknowledgement Size shorter than 4 bytes")
            }
            peerWindowSize = size
        case .userControl:
            if case .pingRequest(let ts) = try UserControlEvent(parsing: message.payload) {
                write(ProtocolControl.userControl(.pingResponse(timestamp: ts)))
                emit(.send)
            }
        case .aggregate:
            try handleAggregate(message)
        default:
            // Set Chunk Size and Abort were applied by the decoder; Acknowledgement, Set Peer
            // Bandwidth and shared objects need nothing from an ingest server.
            break
        }
    }

    private mutating func handleMedia(_ message: RTMPMessage) {
        guard case .publishing = publishState else {
            droppedEarlyMedia += 1
            return
        }
        let video = message.typeID == .video
        let (body, timestamp) = (message.body, message.timestamp)
        do {
            // One frame per message (every classic publish): parsed without an array, and a
            // frame in several chunks keeps them (docs/contract.md §2 "Payloads in chunks").
            if !FLVTagParser.mayHoldSeveralFrames(body.head, video: video) {
                guard let frame = try FLVTagParser.parseFrame(body, video: video, timestamp: timestamp) else { return }
                mediaBytes &+= UInt64(body.readableBytes)
                measureAndEmit(frame, timestamp: timestamp)
                return
            }
            let payload = body.joined()
            let parsed = video ? try FLVTagParser.parseVideoMessage(payload, timestamp: timestamp)
                               : try FLVTagParser.parseAudioMessage(payload, timestamp: timestamp)
            guard !parsed.isEmpty else { return }
            mediaBytes &+= UInt64(payload.readableBytes)
            for frame in parsed { measureAndEmit(frame, timestamp: timestamp) }
        } catch {
            skippedMediaMessages += 1
            emit(.mediaSkipped(reason: error.description))
        }
    }

    /// The frame is taken (`consuming`): it is changed and queued, and the caller is done with it —
    /// a borrowed one was copied here, its buffers retained and released per message.
    private mutating func measureAndEmit(_ frame: consuming MediaFrame, timestamp: UInt32) {
        var frame = frame
        if frame.trackId == 0 {
            measureDefaultTrack(&frame, timestamp: timestamp)
        } else {
            let key = MediaTrackKey(kind: frame.kind, trackId: frame.trackId)
            var track = extraTracks[key] ?? TrackMeasurement()
            let before = track.timeline.repairs
            track.measure(&frame, timestamp: timestamp)
            extraTrackRepairs += track.timeline.repairs - before
            if frame.packetType == .codedFrames { if frame.kind == .video { videoFrames += 1 } else { audioFrames += 1 } }
            extraTracks[key] = track
        }
        emit(.media(consume frame))
    }

    /// Track 0: the session's own timelines and parameters (what `/stats` shows at the top level).
    private mutating func measureDefaultTrack(_ frame: inout MediaFrame, timestamp: UInt32) {
        if frame.kind == .video {
            if frame.packetType == .codedFrames {
                frame.dts = videoTimeline.next(timestamp)
                videoFrames += 1
                // VP9's sequence start carries no size: its first keyframe says it.
                if frame.codec == .vp9, frame.isKeyframe, videoParameters?.width == nil, let size = VideoCodecParameters.keyframeSize(frame) {
                    var known = videoParameters ?? VideoCodecParameters(codec: .vp9)
                    (known.width, known.height) = (size.width, size.height)
                    videoParameters = known
                }
            } else {
                frame.dts = videoTimeline.peek(timestamp)
                if frame.packetType == .sequenceHeader, var params = VideoCodecParameters.parse(frame) {
                    params.color = videoParameters?.color // the colour came in its own packet
                    videoParameters = params
                }
                // (FFmpeg 8 sends a second track's colour without the multitrack wrapper: a
                // metadata packet naming another codec than track 0's is not track 0's.)
                if frame.packetType == .metadata, videoParameters.map({ $0.codec == frame.codec }) ?? true,
                   let color = VideoColorInfo.parse(frame.data) {
                    var known = videoParameters ?? VideoCodecParameters(codec: frame.codec)
                    known.color = color
                    videoParameters = known
                }
            }
        } else {
            if frame.packetType == .codedFrames {
                frame.dts = audioTimeline.next(timestamp)
                audioFrames += 1
                if audioParameters?.sampleRate == nil, let measured = AudioCodecParameters.parse(frame) {
                    // Codecs measured on their frames (MP3, AC-3) — a MultichannelConfig may have come first.
                    audioParameters = measured.keepingLayout(of: audioParameters)
                }
            } else {
                frame.dts = audioTimeline.peek(timestamp)
                if frame.packetType == .sequenceHeader, let params = AudioCodecParameters.parse(frame) { audioParameters = params }
                if frame.packetType == .multichannelConfig, let config = AudioMultichannelConfig.parse(frame.data) {
                    audioParameters = (audioParameters ?? AudioCodecParameters(codec: frame.codec)).applying(config)
                }
            }
        }
    }

    /// Aggregate messages (type 22) carry FLV tags back to back; each becomes a message whose
    /// timestamp is offset from the aggregate's own by the tag's distance from the first tag.
    private mutating func handleAggregate(_ message: RTMPMessage) throws(RTMPProtocolError) {
        var p = message.payload
        var firstTimestamp: UInt32?
        while p.readableBytes > 0 {
            guard p.readableBytes >= 11, let type = p.readInteger(as: UInt8.self), let size = p.readUInt24(),
                  let tsLow = p.readUInt24(), let tsHigh = p.readInteger(as: UInt8.self), p.readUInt24() != nil
            else { throw RTMPProtocolError(.media, "truncated aggregate sub-message header") }
            guard let body = p.readSlice(length: Int(size)) else { throw RTMPProtocolError(.media, "aggregate sub-message overruns") }
            _ = p.readInteger(as: UInt32.self) // previous tag size
            let ts = UInt32(tsHigh) << 24 | tsLow
            let base = firstTimestamp ?? ts
            firstTimestamp = base
            let typeID = MessageTypeID(rawValue: type)
            guard typeID == .audio || typeID == .video else { continue }
            handleMedia(RTMPMessage(chunkStreamID: message.chunkStreamID, timestamp: message.timestamp &+ (ts &- base),
                                    typeID: typeID, streamID: message.streamID, payload: body))
        }
    }

    private mutating func handleCommand(_ command: CommandMessage, message: RTMPMessage) throws(RTMPProtocolError) {
        switch command.name {
        case "connect":
            try handleConnect(command)
        case "createStream":
            guard connectInfo != nil else { throw RTMPProtocolError(.command, "createStream before connect") }
            let id = nextStreamID
            nextStreamID = nextStreamID >= 16 ? 1 : nextStreamID + 1
            sendResult(command.transactionID, [.null, .number(Double(id))])
        case "releaseStream", "FCPublish", "_checkbw":
            if command.transactionID != 0 { sendResult(command.transactionID, [.null, .undefined]) }
        case "getStreamLength":
            if command.transactionID != 0 { sendResult(command.transactionID, [.null, .number(0)]) }
        case "publish":
            try handlePublish(command, message: message)
        case "FCUnpublish", "deleteStream", "closeStream":
            if case .publishing(let request) = publishState {
                publishState = .unpublished
                sendStatus(NetStatus(level: .status, code: .unpublishSuccess, description: "Stopped publishing \(request.maskedKey)."),
                           streamID: request.messageStreamID)
                emit(.unpublished)
            }
            if command.name == "FCUnpublish" && command.transactionID != 0 {
                sendResult(command.transactionID, [.null, .undefined])
            }
        case "play", "play2":
            sendStatus(.error(.playFailed, "playback is not supported by this ingest server"), streamID: message.streamID)
            publishState = .closed
            emit(.send)
            emit(.close(.playbackNotSupported))
        default:
            // Unknown calls are answered so a waiting client does not hang, never fatal.
            if command.transactionID != 0 {
                write(CommandMessage(name: "_error", transactionID: command.transactionID, commandObject: .null,
                                     arguments: [.object(["level": .string("error"), "code": .string("NetConnection.Call.Failed"),
                                                          "description": .string("Method not found (\(command.name.prefix(64))).")])])
                    .message(chunkStreamID: ChunkStreamID.command, streamID: 0))
                emit(.send)
            }
        }
    }

    private mutating func handleConnect(_ command: CommandMessage) throws(RTMPProtocolError) {
        guard connectInfo == nil else { throw RTMPProtocolError(.command, "second connect on one connection") }
        let object = command.commandObject.objectValue ?? AMFObject()
        let rawApp = object["app"]?.stringValue ?? ""
        let appParts = rawApp.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var app = appParts.first.map(String.init) ?? ""
        while app.hasSuffix("/") { app.removeLast() }
        // The query of the app (or of tcUrl): how a client sent elsewhere by a ReconnectRequest
        // brings back what the request's tcUrl carried.
        let tcUrl = object["tcUrl"]?.stringValue
        let query = appParts.count > 1 ? String(appParts[1]) : tcUrl?.split(separator: "?", maxSplits: 1).dropFirst().first.map(String.init)
        var info = ConnectInfo(app: app, tcUrl: tcUrl, flashVer: object["flashVer"]?.stringValue,
                               objectEncoding: object["objectEncoding"]?.numberValue ?? 0, capabilities: EncoderCapabilities(connect: object))
        info.query = query.map { String($0.prefix(512)) }
        guard configuration.allowedApps.contains(app) else {
            let status = NetStatus.error(.connectRejected, "unknown application '\(app.prefix(64))'")
            write(CommandMessage(name: "_error", transactionID: command.transactionID, commandObject: .null,
                                 arguments: [.object(status.infoObject)])
                .message(chunkStreamID: ChunkStreamID.command, streamID: 0))
            publishState = .closed
            emit(.send)
            emit(.close(.appRejected(app)))
            return
        }
        connectInfo = info
        write(ProtocolControl.windowAcknowledgementSize(configuration.windowAcknowledgementSize))
        write(ProtocolControl.setPeerBandwidth(configuration.windowAcknowledgementSize, limit: .dynamic))
        write(ProtocolControl.setChunkSize(UInt32(configuration.outboundChunkSize)))
        encoder.setChunkSize(configuration.outboundChunkSize)
        var info0 = NetStatus(level: .status, code: .connectSuccess, description: "Connection succeeded.").infoObject
        info0["objectEncoding"] = .number(info.objectEncoding)
        var properties: AMFObject = ["fmsVer": .string("FMS/3,5,7,7009"), "capabilities": .number(31), "mode": .number(1)]
        // An Enhanced-RTMP client is told what this server takes (E-RTMP v2: the server states
        // its support in the connect answer); a classic client gets the classic answer.
        if info.capabilities != nil {
            properties.properties += EncoderCapabilities.serverProperties(reconnect: configuration.sendsReconnectRequest)
        }
        write(CommandMessage(name: "_result", transactionID: command.transactionID, commandObject: .object(properties),
                             arguments: [.object(info0)])
            .message(chunkStreamID: ChunkStreamID.command, streamID: 0))
        emit(.send)
        emit(.connected(info))
    }

    private mutating func handlePublish(_ command: CommandMessage, message: RTMPMessage) throws(RTMPProtocolError) {
        guard let connect = connectInfo else { throw RTMPProtocolError(.command, "publish before connect") }
        guard case .idle = publishState else {
            // One publish per connection: a second one is refused, the first carries on.
            sendStatus(.error(.publishBadName, "this connection is already publishing"), streamID: message.streamID)
            emit(.send)
            return
        }
        let name = command.arguments.first?.stringValue ?? ""
        let parts = name.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let key = parts.first.map(String.init) ?? ""
        let request = PublishRequest(app: connect.app, streamKey: key, query: parts.count > 1 ? String(parts[1]) : nil,
                                     publishType: command.arguments.dropFirst().first?.stringValue ?? "live",
                                     messageStreamID: message.streamID, connect: connect)
        publishState = .awaitingAuthorization(request)
        emit(.authorize(request))
    }

    // MARK: Output helpers

    private mutating func emit(_ action: consuming RTMPSessionAction) {
        pending.append(action)
    }

    private mutating func write(_ message: RTMPMessage) {
        encoder.write(message, into: &outbound)
    }

    private mutating func sendResult(_ transactionID: Double, _ values: [AMFValue]) {
        write(CommandMessage(name: "_result", transactionID: transactionID, commandObject: values.first ?? .null,
                             arguments: Array(values.dropFirst()))
            .message(chunkStreamID: ChunkStreamID.command, streamID: 0))
        emit(.send)
    }

    private mutating func sendStatus(_ status: NetStatus, streamID: UInt32) {
        write(CommandMessage(name: "onStatus", transactionID: 0, commandObject: .null, arguments: [.object(status.infoObject)])
            .message(chunkStreamID: ChunkStreamID.streamStatus, streamID: streamID))
    }
}
