import Logging
import NIOCore
import RTMPCore

/// Drives one connection's `RTMPConnectionStateMachine` from SwiftNIO events. Thin on purpose:
/// protocol decisions live in the state machine; this type does I/O, timers and hand-offs.
final class RTMPConnectionHandler: ChannelInboundHandler, MergedReadWaiter {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    struct Dependencies: Sendable {
        var configuration: RTMPServerConfiguration
        var authorizer: any IngestAuthorizer
        var sink: any IngestEventSink
        var limiter: ConnectionLimiter
        var throttle: PublishThrottle
        var logger: Logger
        /// The bound ports, for the advice given to a client on the wrong transport.
        var ports: BoundPorts
        /// Publish decisions' durations, `publish` read to answer written (`/metrics`).
        var decisionTimes = PublishDecisionTimes()
        /// One merged-read timer per event loop (`RTMPServer.run` makes them).
        var mergedReads = MergedReadTimers()
    }

    private let deps: Dependencies
    private let connectionID: UInt64
    private var machine: RTMPConnectionStateMachine
    /// Audio tracks whose sample rate is known (by track id): their frames carry no parameters.
    private var audioMeasured = [Bool](repeating: false, count: 256)
    private var logger: Logger
    private var remoteIP = "unknown"
    private var remoteAddress = "unknown"
    private var holdsSlot = false
    private var session: IngestSession?
    /// Where this publish's frames go (`IngestEventSink.mediaReceiver`), else the sink itself.
    private var mediaReceiver: (any IngestMediaReceiver)?
    /// VP9: its size came with a keyframe, after the codec line was logged; logged once more then.
    private var loggedKeyframeSize = false
    /// The publish being decided or running, for log lines (masked key only).
    private var request: PublishRequest?
    /// When the `publish` being decided was read (`PublishDecisionTimes`); nil once answered.
    private var decisionStartedAt: NIODeadline?
    private var closing = false
    /// The connection's timers and end reason (`ConnectionLifecycle`); nil until active.
    private var lifecycle: ConnectionLifecycle?
    private var timer: Scheduled<Void>?
    private var needsFlush = false
    /// Whether the first byte has been looked at (a TLS client on the plain port is told so).
    private var firstByteSeen = false
    /// The client spoke the other transport (logged once by `PlainOnTLSPortDetector`).
    private var transportMismatch = false

    /// Whether the connection came in on the RTMPS (TLS) listener; logged when accepted.
    private let secure: Bool

    init(connectionID: UInt64, dependencies: Dependencies, secure: Bool = false) {
        self.deps = dependencies
        self.connectionID = connectionID
        self.secure = secure
        self.machine = RTMPConnectionStateMachine(configuration: dependencies.configuration.stateMachineConfiguration)
        var logger = dependencies.logger
        logger[metadataKey: "rtmp.connection.id"] = "\(connectionID)"
        self.logger = logger
    }

    // MARK: Lifecycle

    /// The broadcaster behind a trusted proxy (PROXY protocol), told before `channelActive`.
    private var proxied: ProxiedPeer?

    func channelActive(context: ChannelHandlerContext) {
        let address = context.channel.remoteAddress
        if let proxied {
            remoteIP = proxied.ip
            remoteAddress = proxied.ip.contains(":") ? "[\(proxied.ip)]:\(proxied.port)" : "\(proxied.ip):\(proxied.port)"
            logger[metadataKey: "via"] = "\(address.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "unknown")"
        } else {
            remoteIP = address?.ipAddress ?? "unknown"
            remoteAddress = address.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "unknown"
        }
        logger[metadataKey: "remote"] = "\(remoteAddress)"
        if let refusal = deps.limiter.acquire(ip: remoteIP) {
            logger.warning("connection refused", metadata: ["reason": "\(refusal)"])
            context.close(promise: nil)
            return
        }
        holdsSlot = true
        logger.info("connection accepted", metadata: ["transport": "\(secure ? "rtmps" : "rtmp")"])
        lifecycle = ConnectionLifecycle(handshakeTimeout: .milliseconds(Int64(deps.configuration.handshakeTimeoutSeconds * 1000)),
                                        mediaTimeout: .milliseconds(Int64(deps.configuration.mediaTimeoutSeconds * 1000)),
                                        now: context.eventLoop.now)
        checkTimers(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        if holdsSlot {
            deps.limiter.release(ip: remoteIP)
            holdsSlot = false
        }
        if session == nil, request != nil {
            // Asked to publish but never started (refused, or gone while being decided): the
            // authorizer may be holding a place for it.
            deps.sink.publishAbandoned(connectionID: connectionID)
        }
        finishSession(reason: lifecycle?.closeReason ?? .connectionClosed)
        logger.info("connection closed", metadata: ["bytes.in": "\(machine.bytesReceived)"])
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Resets and the like: the connection is gone; log at a level operators can filter.
        // After a transport mismatch (already explained in one line) the TLS layer's complaint is noise.
        if !transportMismatch { logger.notice("connection error", metadata: ["error": "\(error)"]) }
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let peer = event as? ProxiedPeer {
            proxied = peer
            return
        }
        if event is TransportMismatchEvent {
            transportMismatch = true
            lifecycle?.ending(.protocolError)
            return
        }
        if let request = event as? ReconnectRequestEvent {
            logger.info("publisher asked to reconnect", metadata: ["tcUrl": "\(request.tcUrl.map(Self.redactQuery) ?? "-")"])
            machine.requestReconnect(tcUrl: request.tcUrl, description: request.description)
            drain(context: context)
            flushIfNeeded(context: context)
            return
        }
        if let kick = event as? KickEvent {
            lifecycle?.ending(kick.reason)
            logger.info("publisher kicked", metadata: ["reason": "\(kick.reason.rawValue)", "status": "\(kick.status.code.rawValue)"])
            machine.kick(kick.status)
            drain(context: context)
            flushIfNeeded(context: context)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// A URL without its query (a reconnect token is a credential for 10 s: not for logs).
    static func redactQuery(_ url: String) -> String {
        url.split(separator: "?", maxSplits: 1).first.map { String($0) + (url.contains("?") ? "?…" : "") } ?? url
    }

    // MARK: Input

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        lifecycle?.bytesReceived(now: context.eventLoop.now)
        // The frames of this read arrived now (the loop's clock is a test's in embedded tests;
        // the statistics are read against the real one).
        readAtMs = Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000)
        let bytes = unwrapInboundIn(data)
        bytesSinceReadComplete &+= bytes.readableBytes
        if !firstByteSeen {
            firstByteSeen = true
            if !secure, bytes.getInteger(at: bytes.readerIndex, as: UInt8.self) == TransportMismatch.tlsHandshakeRecord {
                let tlsPort = deps.ports.tls
                logger.warning("\(TransportMismatch.tlsOnPlainPort(host: TransportMismatch.host(of: context.channel.localAddress), tlsPort: tlsPort))")
                lifecycle?.ending(.protocolError)
                closeAfterFlush(context: context)
                return
            }
        }
        machine.receive(bytes)
        drain(context: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushIfNeeded(context: context)
        context.fireChannelReadComplete()
        let bytes = bytesSinceReadComplete
        bytesSinceReadComplete = 0
        let now = context.eventLoop.now
        if let ceiling = readSize.record(bytes: bytes, at: now) { setReadCeiling(ceiling, context: context) }
        if poolTrim.due(at: now), let options = context.channel.syncOptions { ReceivePoolTrim.apply(to: options) }
        if merging { scheduleMergedRead(afterReading: bytes, context: context) }
    }

    // MARK: Read sizes

    /// The ceiling of one read follows the connection's rate (`ReadSizePolicy`).
    private var readSize = ReadSizePolicy()
    /// The receive pool keeps only the buffer a steady stream reads into (`ReceivePoolTrim`).
    private var poolTrim = ReceivePoolTrim()

    private func setReadCeiling(_ ceiling: Int, context: ChannelHandlerContext) {
        // A fresh adaptive allocator starts at the new ceiling when lowering and at the old one
        // when raising; it then grows by the reads that fill it, as NIO's default does.
        let allocator = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: min(ceiling, ReadSizePolicy.floor), maximum: ceiling)
        try? context.channel.syncOptions?.setOption(ChannelOptions.recvAllocator, value: allocator)
        logger.debug("read ceiling", metadata: ["bytes": "\(ceiling)"])
    }

    // MARK: Merged reads

    /// Reads are merged (`RTMPServerConfiguration.mergeReadsMilliseconds`): on once the publish
    /// has started — the handshake and commands before it are answered at once.
    private var merging = false
    /// Bytes the reads since the last `channelReadComplete` brought.
    private var bytesSinceReadComplete = 0
    /// Set while waiting on the loop's `MergedReadTimer`: the context to read on when it is due.
    private var mergedReadContext: ChannelHandlerContext?
    /// This connection's own timer, when its loop is not one of the server's (embedded tests).
    private var ownMergedReadTimer: MergedReadTimer?

    private func startMergingReads(context: ChannelHandlerContext) {
        guard deps.configuration.mergeReadsMilliseconds > 0, !merging else { return }
        merging = true
        // Turning auto-read off also stops the read interest NIO held; the publish usually
        // starts outside a read (the authorizer answered), so no `channelReadComplete` would
        // come to ask for the next one: ask now.
        try? context.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: false)
        context.read()
    }

    /// The next read: at once after a large one (the stream is fast, or behind), else after the
    /// merge interval, so the bytes of several messages are read together.
    private func scheduleMergedRead(afterReading bytes: Int, context: ChannelHandlerContext) {
        guard mergedReadContext == nil, !closing else { return }
        if bytes >= deps.configuration.mergeReadsBelowBytes {
            context.read()
            return
        }
        mergedReadContext = context
        let timer = deps.mergedReads.timer(for: context.eventLoop) ?? {
            let own = ownMergedReadTimer ?? MergedReadTimer(eventLoop: context.eventLoop, delay: .milliseconds(Int64(deps.configuration.mergeReadsMilliseconds)))
            ownMergedReadTimer = own
            return own
        }()
        timer.add(self)
    }

    func mergedReadDue() {
        guard let context = mergedReadContext else { return }
        mergedReadContext = nil
        guard !closing, context.channel.isActive else { return }
        context.read()
    }

    /// Runs the state machine until it needs more bytes.
    private func drain(context: ChannelHandlerContext) {
        defer { recordFrameStats() }
        while !closing {
            let action: RTMPSessionAction?
            do {
                action = try machine.next()
            } catch {
                closeWithError(context: context, reason: error.description)
                return
            }
            guard let action else { return }
            // Taken apart, not copied (a media frame's buffers retained and released per message).
            switch consume action {
            case .media(let frame):
                received(frame)
            case let other:
                // Anything else may start or end the session, or read its figures: the frames
                // before it are recorded first.
                recordFrameStats()
                perform(other, context: context)
            }
        }
    }

    private func perform(_ action: RTMPSessionAction, context: ChannelHandlerContext) {
        switch action {
        case .send:
            context.write(wrapOutboundOut(machine.takeOutbound()), promise: nil)
            needsFlush = true
        case .handshakeCompleted(let kind, let c2Matched):
            lifecycle?.handshakeCompleted()
            logger.debug("handshake completed", metadata: ["handshake": "\(kind.rawValue)", "c2.matched": "\(c2Matched)"])
        case .connected(let info):
            logger.info("rtmp connect", metadata: ["app": "\(info.app)", "encoder": "\(info.flashVer ?? "")"])
        case .authorize(let request):
            self.request = request
            decisionStartedAt = .now()
            authorize(request, context: context)
        case .publishStarted(let request):
            let session = IngestSession(connectionID: connectionID, request: request, remoteAddress: remoteAddress,
                                        startedAt: .now(), channel: context.channel)
            self.session = session
            lifecycle?.publishStarted(now: context.eventLoop.now)
            logger.info("publish accepted", metadata: ["key": "\(request.maskedKey)", "encoder": "\(request.connect.flashVer ?? "")"])
            if let started = decisionStartedAt {
                deps.decisionTimes.record(.accepted, .now() - started)
                decisionStartedAt = nil
            }
            deps.sink.publishStarted(session)
            mediaReceiver = deps.sink.mediaReceiver(for: session)
            startMergingReads(context: context)
        case .media:
            break // `received(_:)`, above
        case .mediaSkipped(let reason):
            logger.debug("media message skipped", metadata: ["reason": "\(reason)"])
        case .metadata(let meta):
            if let session { deps.sink.metadata(meta, session: session) }
        case .unpublished:
            lifecycle?.ending(.unpublished)
            lifecycle?.publishEnded()
            finishSession(reason: lifecycle?.closeReason ?? .unpublished)
        case .close(let reason):
            switch reason {
            case .publishRejected(let status):
                if let started = decisionStartedAt {
                    deps.decisionTimes.record(.refused, .now() - started)
                    decisionStartedAt = nil
                }
                logger.info("publish rejected", metadata: ["status": "\(status.code.rawValue)", "reason": "\(status.description)",
                                                           "key": "\(request?.maskedKey ?? "-")", "app": "\(request?.app ?? "-")"])
            case .kicked:
                break
            case .appRejected(let app):
                logger.info("connection rejected", metadata: ["reason": "\(reason)"])
                deps.sink.applicationRejected(app: String(app.prefix(64)), remoteAddress: remoteAddress)
            default:
                logger.info("connection rejected", metadata: ["reason": "\(reason)"])
            }
            closeAfterFlush(context: context)
        }
    }

    // MARK: Media

    /// The ordinary frames of the read being handled (coded frames that change no codec
    /// parameters), recorded in the session's statistics together once the read's actions are
    /// done (`recordFrameStats`): one lock per read, not per frame (docs/architecture.md
    /// "Merged reads"). Flushed before any other action, so a session's start or end, and a
    /// frame that carries parameters, see them in order.
    private var frameStats: [FrameFacts] = []
    /// When the latest read arrived (monotonic milliseconds): the time of the frames it brought.
    private var readAtMs: Int64 = 0

    private func recordFrameStats() {
        guard !frameStats.isEmpty else { return }
        session?.record(frameStats, repairs: machine.timestampRepairs, nowMs: readAtMs)
        // A burst can bring hundreds of frames in one read: their room is not kept for the session.
        if frameStats.capacity > 64 { frameStats = [] } else { frameStats.removeAll(keepingCapacity: true) }
    }

    private func received(_ frame: MediaFrame) {
        lifecycle?.mediaReceived()
        if let session {
            let key = MediaTrackKey(kind: frame.kind, trackId: frame.trackId)
            if frame.packetType == .sequenceHeader || frame.packetType == .multichannelConfig {
                logCodec(frame, machine.parameters(of: key))
            } else if frame.packetType == .metadata, frame.kind == .video, let color = machine.parameters(of: key).video?.color {
                logger.info("video colour", metadata: ["track": "\(frame.trackId)", "range": "\(color.videoRange ?? "-")",
                                                       "transfer": "\(color.transferCharacteristics.map(String.init) ?? "-")",
                                                       "primaries": "\(color.colorPrimaries.map(String.init) ?? "-")",
                                                       "max.cll": "\(color.maxCLL.map(String.init) ?? "-")"])
            } else if frame.codec == .vp9, frame.isKeyframe, frame.trackId == 0, !loggedKeyframeSize, machine.parameters(of: key).video?.width != nil {
                loggedKeyframeSize = true // VP9: the size its first keyframe gave
                logCodec(frame, machine.parameters(of: key))
            }
            // Codec parameters only with a frame that can change them (most frames carry none:
            // no copies per frame); an audio track counts as measured once its rate is known.
            if frame.packetType == .codedFrames && !(frame.kind == .video && frame.isKeyframe)
                && !(frame.kind == .audio && !audioMeasured[Int(frame.trackId)]) {
                frameStats.append(FrameFacts(frame))
            } else {
                let track = machine.parameters(of: key)
                if frame.kind == .audio, track.audio?.sampleRate != nil { audioMeasured[Int(frame.trackId)] = true }
                recordFrameStats() // in order: the read's frames before this one
                session.record(frame, repairs: machine.timestampRepairs, video: track.video, audio: track.audio, nowMs: readAtMs)
            }
            if let mediaReceiver { mediaReceiver.media(frame, session: session) } else { deps.sink.media(frame, session: session) }
        }
    }

    private func logCodec(_ frame: MediaFrame, _ track: TrackMeasurement) {
        if frame.kind == .video, let v = track.video {
            logger.info("video codec", metadata: ["track": "\(frame.trackId)", "codec": "\(v.codec.rawValue)", "profile": "\(v.profileName ?? "-")",
                                                  "level": "\(v.level ?? 0)", "width": "\(v.width ?? 0)", "height": "\(v.height ?? 0)",
                                                  "bit.depth": "\(v.bitDepth.map(String.init) ?? "-")", "chroma": "\(v.chromaFormat ?? "-")"])
        } else if frame.kind == .audio, let a = track.audio {
            logger.info("audio codec", metadata: ["track": "\(frame.trackId)", "codec": "\(a.codec.rawValue)", "sampleRate": "\(a.sampleRate ?? 0)",
                                                  "channels": "\(a.channels ?? 0)", "layout": "\(a.channelLayout ?? "-")"])
        }
    }

    // MARK: Authorization

    private func authorize(_ request: PublishRequest, context: ChannelHandlerContext) {
        var meta: Logger.Metadata = ["key": "\(request.maskedKey)", "app": "\(request.app)"]
        if deps.throttle.isThrottled(ip: remoteIP) {
            meta["reason"] = "throttled"
            logger.warning("publish refused without lookup: too many failed attempts from this IP", metadata: meta)
            machine.authorizationDecided(.reject(.error(.publishUnauthorized, "too many failed publish attempts; try again later")))
            drain(context: context)
            flushIfNeeded(context: context)
            return
        }
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        let authorizer = deps.authorizer
        let remote = remoteAddress
        let promise = loop.makePromise(of: PublishDecision.self)
        let connectionID = self.connectionID
        promise.completeWithTask { await authorizer.authorize(request, connectionID: connectionID, remoteAddress: remote) }
        promise.futureResult.whenSuccess { decision in
            let (handler, context) = bound.value
            handler.authorizationDecided(decision, context: context)
        }
    }

    private func authorizationDecided(_ decision: PublishDecision, context: ChannelHandlerContext) {
        guard !closing, context.channel.isActive else { return }
        if case .reject(let status) = decision, status.code == .publishUnauthorized {
            deps.throttle.recordFailure(ip: remoteIP)
        }
        machine.authorizationDecided(decision)
        drain(context: context)
        flushIfNeeded(context: context)
    }

    // MARK: Timers and closing

    /// Asks the connection's lifecycle what its timers say, and acts or re-arms.
    private func checkTimers(context: ChannelHandlerContext) {
        guard !closing, var lifecycle else { return }
        let verdict = lifecycle.check(now: context.eventLoop.now)
        self.lifecycle = lifecycle
        switch verdict {
        case .checkAgain(let at):
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            timer = context.eventLoop.scheduleTask(deadline: at) {
                let (handler, context) = bound.value
                handler.checkTimers(context: context)
            }
        case .close(let reason, let endReason):
            if !lifecycle.handshakeDone {
                closeWithError(context: context, reason: reason)
            } else if endReason == .mediaTimeout, session != nil {
                logger.warning("no media received", metadata: ["timeout.sec": "\(deps.configuration.mediaTimeoutSeconds)"])
                closeAfterFlush(context: context)
            } else {
                logger.notice("idle connection closed", metadata: ["timeout.sec": "\(deps.configuration.mediaTimeoutSeconds)"])
                closeAfterFlush(context: context)
            }
        }
    }

    private func closeWithError(context: ChannelHandlerContext, reason: String) {
        guard !closing else { return }
        logger.warning("protocol error; closing connection", metadata: ["reason": "\(reason)"])
        lifecycle?.ending(.protocolError)
        closeAfterFlush(context: context)
    }

    private func closeAfterFlush(context: ChannelHandlerContext) {
        guard !closing else { return }
        closing = true
        flushIfNeeded(context: context)
        context.close(promise: nil)
    }

    private func flushIfNeeded(context: ChannelHandlerContext) {
        if needsFlush {
            needsFlush = false
            context.flush()
        }
    }

    private func finishSession(reason: IngestEndReason) {
        recordFrameStats()
        guard let session else { return }
        self.session = nil
        mediaReceiver = nil
        let stats = IngestSessionStats(
            bytesReceived: machine.bytesReceived, mediaBytes: machine.mediaBytes, videoFrames: machine.videoFrames,
            audioFrames: machine.audioFrames, timestampRepairs: machine.timestampRepairs,
            skippedMediaMessages: machine.skippedMediaMessages, video: machine.videoParameters, audio: machine.audioParameters)
        let duration = Double((NIODeadline.now() - session.startedAt).nanoseconds) / 1e9
        logger.info("publish ended", metadata: [
            "key": "\(session.request.maskedKey)", "reason": "\(reason.rawValue)",
            "duration.sec": "\(String(format: "%.1f", duration))", "bytes": "\(stats.bytesReceived)",
            "frames.video": "\(stats.videoFrames)", "frames.audio": "\(stats.audioFrames)",
            "timestamp.repairs": "\(stats.timestampRepairs)",
        ])
        deps.sink.publishEnded(session, reason: reason, stats: stats)
    }
}
