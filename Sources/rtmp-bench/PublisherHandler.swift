import NIOCore
import RTMPCore

/// One publisher, as an encoder would behave: handshake (digest, like ffmpeg and OBS), connect,
/// releaseStream/FCPublish/createStream, publish, then the clip's tags — real-time paced or as
/// fast as the socket takes them — for `durationMs`, then FCUnpublish/deleteStream and close.
/// Measures connect-to-`NetStream.Publish.Start`.
final class PublisherHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    struct Options: Sendable {
        var app: String
        var tcUrl: String
        /// How long to stream after `Publish.Start`.
        var durationMs: Int64
        var digestHandshake: Bool
        /// Real-time sends, one tick per event loop; nil: flat out (as fast as the socket takes).
        var pacers: LoopPacers?
        /// The clip's media, encoded once for every publisher.
        var clips: EncodedClips
    }

    /// The chunk size announced before `connect` (and the one `EncodedClips` encodes with).
    static let chunkSize = 4096

    enum Phase { case handshake, connect, createStream, publish, streaming, finished }

    private let clip: FLVClip
    private let options: Options
    private let key: String
    private let report: BenchReport
    private let connectStarted: NIODeadline
    private var phase = Phase.handshake
    private var handshake: ClientHandshake
    private var decoder = ChunkDecoder()
    private var encoder = ChunkEncoder()
    private var inbound = ByteBuffer()
    private var streamID: UInt32 = 1
    /// The next item of the clip to send, and the pass it is in.
    private var cursor = 0
    private var pass: UInt32 = 0
    private var loopOffset: UInt32 { pass &* clip.durationMs }
    /// The encoded clip, once `createStream` gave the message stream id.
    private var encoded: EncodedClip?
    /// Sent since the last report to `BenchReport` (reported when the publisher ends: one lock per
    /// publisher, not one per send).
    private var unreportedBytes = 0
    private var unreportedMessages = 0
    private var streamStart = NIODeadline.now()
    /// Set while this publisher is one of its loop's real-time members.
    private var pacer: LoopPacer?
    /// When each step of the publish flow completed (for the per-phase breakdown).
    private var phaseTimes: [String: Double] = [:]

    private func mark(_ phase: String) { phaseTimes[phase] = Double((NIODeadline.now() - connectStarted).nanoseconds) / 1e6 }

    init(clip: FLVClip, options: Options, key: String, report: BenchReport, connectStarted: NIODeadline = .now()) {
        self.clip = clip
        self.options = options
        self.key = key
        self.report = report
        self.connectStarted = connectStarted
        handshake = ClientHandshake(digest: options.digestHandshake)
    }

    func channelActive(context: ChannelHandlerContext) {
        mark("tcp")
        context.writeAndFlush(wrapOutboundOut(handshake.start(allocator: context.channel.allocator)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        inbound.writeBuffer(&bytes)
        do throws(RTMPProtocolError) {
            if phase == .handshake {
                guard let (c2, _) = try handshake.next(&inbound, allocator: context.channel.allocator) else { return }
                mark("handshake")
                var out = c2
                encoder.setChunkSize(Self.chunkSize)
                encoder.write(ProtocolControl.setChunkSize(UInt32(Self.chunkSize)), into: &out)
                encoder.write(CommandMessage(name: "connect", transactionID: 1, commandObject: .object([
                    "app": .string(options.app), "type": .string("nonprivate"), "flashVer": .string("FMLE/3.0 (compatible; rtmp-bench)"),
                    "tcUrl": .string(options.tcUrl),
                ])).message(chunkStreamID: ChunkStreamID.command, streamID: 0), into: &out)
                context.writeAndFlush(wrapOutboundOut(out), promise: nil)
                phase = .connect
            }
            while let message = try decoder.next(&inbound) { handle(message, context: context) }
            inbound.discardReadBytes()
        } catch {
            fail("protocol: \(error)", context: context)
        }
    }

    private func handle(_ message: RTMPMessage, context: ChannelHandlerContext) {
        switch message.typeID {
        case .commandAMF0:
            guard let command = try? CommandMessage(parsing: message, limits: .default) else { return }
            switch (command.name, phase) {
            case ("_result", .connect) where command.transactionID == 1:
                mark("connect")
                var out = context.channel.allocator.buffer(capacity: 256)
                encoder.write(CommandMessage(name: "releaseStream", transactionID: 2, arguments: [.string(key)])
                    .message(chunkStreamID: ChunkStreamID.command, streamID: 0), into: &out)
                encoder.write(CommandMessage(name: "FCPublish", transactionID: 3, arguments: [.string(key)])
                    .message(chunkStreamID: ChunkStreamID.command, streamID: 0), into: &out)
                encoder.write(CommandMessage(name: "createStream", transactionID: 4).message(chunkStreamID: ChunkStreamID.command, streamID: 0), into: &out)
                context.writeAndFlush(wrapOutboundOut(out), promise: nil)
                phase = .createStream
            case ("_result", .createStream) where command.transactionID == 4:
                mark("createStream")
                streamID = UInt32(command.arguments.first?.numberValue ?? 1)
                var out = context.channel.allocator.buffer(capacity: 128)
                encoder.write(CommandMessage(name: "publish", transactionID: 5, arguments: [.string(key), .string("live")])
                    .message(chunkStreamID: 8, streamID: streamID), into: &out)
                context.writeAndFlush(wrapOutboundOut(out), promise: nil)
                phase = .publish
            case ("_error", _):
                fail("\(command.name) to transaction \(Int(command.transactionID)): \(command.arguments.first?["code"]?.stringValue ?? "?")", context: context)
            case ("onStatus", .publish):
                let code = command.arguments.first?["code"]?.stringValue ?? "?"
                if code == NetStatus.Code.publishStart.rawValue {
                    mark("publish")
                    report.phases(phaseTimes)
                    report.accepted(key: key, latencyMs: Double((NIODeadline.now() - connectStarted).nanoseconds) / 1e6)
                    startStreaming(context: context)
                } else if code.hasPrefix("NetStream.Publish") {
                    fail("refused: \(code)", context: context)
                }
            case ("onStatus", .streaming):
                let code = command.arguments.first?["code"]?.stringValue ?? "?"
                if code.hasPrefix("NetStream.Publish.") || code.contains("Failed") { fail("kicked: \(code)", context: context) }
            default:
                break
            }
        case .userControl:
            if case .pingRequest(let ts)? = try? UserControlEvent(parsing: message.payload) {
                var out = context.channel.allocator.buffer(capacity: 32)
                encoder.write(ProtocolControl.userControl(.pingResponse(timestamp: ts)), into: &out)
                context.writeAndFlush(wrapOutboundOut(out), promise: nil)
            }
        default:
            break
        }
    }

    // MARK: Streaming

    private func startStreaming(context: ChannelHandlerContext) {
        phase = .streaming
        streamStart = .now()
        let encoded = options.clips.clip(streamID: streamID)
        self.encoded = encoded
        if let metadata = encoded.metadata {
            unreportedBytes += metadata.readableBytes
            context.write(wrapOutboundOut(metadata), promise: nil)
        }
        if let pacers = options.pacers {
            let pacer = pacers.pacer(for: context.eventLoop)
            pacer.add(self, context: context)
            self.pacer = pacer
        } else {
            sendWhileWritable(context: context)
        }
    }

    private var elapsedMs: Int64 { (NIODeadline.now() - streamStart).nanoseconds / 1_000_000 }

    /// Real-time: everything whose timestamp has come, in one flush.
    func sendDue(context: ChannelHandlerContext) {
        guard phase == .streaming else { return }
        let now = elapsedMs
        if now >= options.durationMs { return finish(context: context) }
        var wrote = false
        while let (bytes, _) = take(dueBy: now, atMost: .max) {
            context.write(wrapOutboundOut(bytes), promise: nil)
            wrote = true
        }
        if wrote { context.flush() }
    }

    /// Flat out: as much as the socket accepts; resumes on `channelWritabilityChanged`.
    private func sendWhileWritable(context: ChannelHandlerContext) {
        while phase == .streaming && context.channel.isWritable {
            if elapsedMs >= options.durationMs { return finish(context: context) }
            var size = 0
            while size < 60 * 1024, let (bytes, _) = take(dueBy: .max, atMost: 60 * 1024 - size) {
                size += bytes.readableBytes
                context.write(wrapOutboundOut(bytes), promise: nil)
            }
            context.flush()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if options.pacers == nil && phase == .streaming && context.channel.isWritable { sendWhileWritable(context: context) }
        context.fireChannelWritabilityChanged()
    }

    /// The next items of the current pass whose timestamps are at most `dueBy` (ms since the
    /// stream started), as one slice of the encoded clip — at least one item when one is due,
    /// further ones while the slice stays within `atMost` bytes; nil when none is due. Steps to
    /// the next pass (the clip loops) at a pass's end.
    private func take(dueBy: Int64, atMost: Int) -> (bytes: ByteBuffer, messages: Int)? {
        guard let encoded else { return nil }
        let items = clip.items
        let passBytes = pass == 0 ? encoded.first : encoded.later
        let begin = cursor
        let base = passBytes.start(of: begin)
        var end = begin
        while end < items.count, Int64(items[end].timestamp &+ loopOffset) <= dueBy,
              end == begin || passBytes.ends[end] - base <= atMost {
            end += 1
        }
        guard end > begin else { return nil }
        if end == items.count {
            cursor = 0
            pass &+= 1
        } else {
            cursor = end
        }
        let taken = passBytes.slice(begin..<end)
        unreportedBytes += taken.bytes.readableBytes
        unreportedMessages += taken.messages
        return taken
    }

    private func reportSent() {
        report.sent(bytes: unreportedBytes, messages: unreportedMessages)
        unreportedBytes = 0
        unreportedMessages = 0
    }

    private func stopPacing() {
        pacer?.remove(self)
        pacer = nil
    }

    private func finish(context: ChannelHandlerContext) {
        guard phase == .streaming else { return }
        phase = .finished
        stopPacing()
        reportSent()
        var out = context.channel.allocator.buffer(capacity: 128)
        encoder.write(CommandMessage(name: "FCUnpublish", transactionID: 6, arguments: [.string(key)])
            .message(chunkStreamID: ChunkStreamID.command, streamID: 0), into: &out)
        encoder.write(CommandMessage(name: "deleteStream", transactionID: 7, arguments: [.number(Double(streamID))])
            .message(chunkStreamID: ChunkStreamID.command, streamID: 0), into: &out)
        report.completed()
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(out)).whenComplete { _ in bound.value.close(promise: nil) }
    }

    private func fail(_ cause: String, context: ChannelHandlerContext) {
        guard phase != .finished else { return }
        let wasPublishing = phase == .streaming
        phase = .finished
        stopPacing()
        reportSent()
        report.failed(cause, wasPublishing: wasPublishing)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        switch phase {
        case .finished: break
        case .streaming: fail("connection closed while streaming", context: context)
        default: fail("connection closed during \(phase)", context: context)
        }
        stopPacing()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail("socket: \(error)", context: context)
    }

    /// The handshake never finished, or the server never answered the publish.
    func timedOut(context: ChannelHandlerContext) {
        if phase != .streaming && phase != .finished { fail("timeout during \(phase)", context: context) }
    }
}
