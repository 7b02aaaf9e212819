internal import CFFmpeg
import Dispatch
import Foundation
import Logging
import NIOConcurrencyHelpers
import RTMPCore

/// What a channel's session should produce (docs/contract.md §3), decided by the coordinator from the
/// channel record when the publish starts.
public struct OutputPlan: Sendable, Equatable {
    public struct ForwardTarget: Sendable, Equatable {
        public var id: String
        public var url: String
        /// Enhanced RTMP target: every track, every codec, through `EnhancedRTMPPusher`.
        public var enhanced: Bool
        public init(id: String, url: String, enhanced: Bool = false) {
            self.id = id
            self.url = url
            self.enhanced = enhanced
        }
    }

    public var channelId: String
    public var userId: String
    public var sessionId: String
    public var hls: Bool
    public var record: Bool
    public var forwards: [ForwardTarget]
    /// The session continued from another node: this node's recording is this part of it
    /// (`SESSION-PART.mp4`; recovery reads the session id back from the name).
    public var part: Int?
    /// When the session began, for a session this node continues (from another node, or from
    /// its own previous run): its HLS media sequence starts past every number an earlier
    /// writer can have used (`HLSWriter.continuationStart`). Nil: a new session, from 0.
    public var continuesSessionStartedAt: Date?

    public init(channelId: String, userId: String, sessionId: String, hls: Bool, record: Bool, forwards: [ForwardTarget]) {
        self.channelId = channelId
        self.userId = userId
        self.sessionId = sessionId
        self.hls = hls
        self.record = record
        self.forwards = forwards
    }

    public var isEmpty: Bool { !hls && !record && forwards.isEmpty }
}

/// What the outputs report back to the rest of the gateway.
public enum MediaEvent: Sendable, Equatable {
    case recordingFinished(plan: OutputPlan, file: RecordingFile)
    /// A forward failed `attempts` times in a row (`forward.failed`). The URL is redacted.
    case forwardFailed(plan: OutputPlan, forwardId: String, url: String, error: String, attempts: Int)
}

/// The media side of the gateway: one `MediaSession` per publishing connection, and the output
/// workers (HLS, MP4, forwards) of each *channel session*, which outlive a connection: a
/// publisher that reconnects inside the window, or a replacing one, feeds the same workers —
/// the recording continues in the same file while the stream's layout is unchanged (timestamps
/// continue after the gap), HLS continues its playlist after an `EXT-X-DISCONTINUITY`. The
/// outputs end with the session (`endSession`). Thread-safe; the per-frame path takes one lock
/// for the connection lookup and one for the connection's `MediaSession`.
public final class MediaHub: Sendable {
    public struct Settings: Sendable {
        public var dataDirectory: String
        public var hlsSegmentSeconds: Double = 2
        /// `hls.segmentFormat`: auto, mpegts or fmp4.
        public var hlsSegmentFormat = "auto"
        public var hlsListSize: Int = 6
        /// `hls.keepAfterEndSec`: an ended session's playlist (with EXT-X-ENDLIST) stays this long.
        public var hlsKeepAfterEndSeconds: Double = 60
        /// Per-output queue bounds; past them the output drops to the next keyframe.
        public var queueMaxPackets: Int = 2048
        public var queueMaxBytes: Int = 32 << 20
        /// Bound on each blocking network call of a forward.
        public var forwardTimeoutSeconds: Double = 5
        public var forwardRetryInitialSeconds: Double = 1
        public var forwardRetryMaxSeconds: Double = 30
        public var forwardFailureThreshold: Int = 3
        /// `rtmps://` targets: verify the certificate chain and host name (libavformat's TLS
        /// does not unless asked), against `forwardTLSCAFile` or the system's trust store.
        public var forwardTLSVerify = true
        public var forwardTLSCAFile = ""
        /// Asked with a forward's host just before each connect (`forwards.blockPrivateNetworks`):
        /// why it may not be reached, or nil. Resolution blocks; it runs on the output's thread.
        public var forwardHostCheck: (@Sendable (String) -> String?)?
        /// How long a forward may take to flush when its session ends before it is cut off.
        public var forwardStopSeconds: Double = 3
        /// How long file outputs (HLS, MP4) let packets gather between wake-ups; HLS segments
        /// are 2 s, so 100 ms is invisible and saves a context switch per packet.
        public var fileBatchPauseSeconds: Double = 0.1
        /// The same for forwards, where it adds to the push's latency.
        public var forwardBatchPauseSeconds: Double = 0.02
        /// Threads that run every channel's HLS output (`OutputThreadPool`): four per core, so
        /// wake-ups per second stay the same at 4 channels or 4,000, and under overload HLS
        /// still gets most of the CPU it needs (the scheduler shares the cores by thread: with
        /// one lane per core a third of the packets were dropped flat out, with four 1–8 %).
        public var hlsThreads: Int = max(1, min(ProcessInfo.processInfo.activeProcessorCount * 4, 32))

        /// This node's tag in HLS segment names (`NodeTag`): any node can tell from a segment's
        /// name which node holds it.
        public var hlsNodeTag = "00000000"
        /// This run's mark in segment names (4 base-36 characters): a session resumed after a
        /// restart, on the same node, never reuses a name the previous run wrote.
        public var hlsRunTag: String = HLSWriter.makeRunTag()

        public init(dataDirectory: String) { self.dataDirectory = dataDirectory }

        public var hlsDirectory: String { dataDirectory + "/hls" }
        /// Where recordings go: `DATA_DIR/recordings`, or this node's own sub-folder of
        /// `recordings.dir` (storage several nodes share).
        public var recordingsDirectoryOverride: String?
        public var recordingsDirectory: String { recordingsDirectoryOverride ?? dataDirectory + "/recordings" }

    }

    /// The outputs of one channel session, across its connections.
    private struct SessionOutputs {
        var plan: OutputPlan
        var workers: [OutputWorker]
        /// The connection feeding them now (nil between connections).
        var connection: UInt64?
        /// Where the last connection left the output timeline, and its layout.
        var carry: MediaSession.Carry?
    }

    private struct Registry {
        var sessions: [UInt64: MediaSession] = [:]
        /// connection → its channel session's id, once configured.
        var sessionOfConnection: [UInt64: String] = [:]
        var outputs: [String: SessionOutputs] = [:]
        var workers: [ObjectIdentifier: OutputWorker] = [:]
        /// channel id → the session whose HLS owns `data/hls/CHANNEL_ID/`.
        var hlsOwners: [String: String] = [:]
        /// Each session's HLS writer's "handed over" flag: set, it keeps its playlist as it is.
        var hlsHandedOver: [String: NIOLockedValueBox<Bool>] = [:]
    }

    public let settings: Settings
    private let logger: Logger
    private let onEvent: @Sendable (MediaEvent) async -> Bool
    private let registry = NIOLockedValueBox(Registry())
    /// Runs every session's HLS output (`Settings.hlsThreads`).
    private let hlsThreads: OutputThreadPool

    /// `onEvent` runs on the output's own thread, which waits for it: when a worker has exited,
    /// its recording is already in the store.
    /// `onEvent` answers whether the event was handled for good; for `recordingFinished`, false
    /// (not on record: the store is down) keeps the recording's `.part` for the next start.
    public init(settings: Settings, logger: Logger, handler onEvent: @escaping @Sendable (MediaEvent) async -> Bool) {
        self.settings = settings
        self.logger = logger
        self.onEvent = onEvent
        hlsThreads = OutputThreadPool(threads: settings.hlsThreads, pause: settings.fileBatchPauseSeconds, name: "livegate-hls")
        var libavLogger = logger
        libavLogger[metadataKey: "source"] = "libav"
        LibavLog.install(libavLogger)
    }

    /// An `onEvent` that always succeeds (tests, listeners that only watch).
    public convenience init(settings: Settings, logger: Logger, onEvent: @escaping @Sendable (MediaEvent) async -> Void) {
        self.init(settings: settings, logger: logger, handler: { event in
            await onEvent(event)
            return true
        })
    }

    // MARK: Ingest side (event loops)

    public func sessionStarted(connectionID: UInt64) {
        registry.withLockedValue { $0.sessions[connectionID] = MediaSession(connectionID: connectionID) }
    }

    public func media(_ frame: MediaFrame, connectionID: UInt64) {
        registry.withLockedValue { $0.sessions[connectionID] }?.ingest(frame)
    }

    /// The connection's media input, looked up once: frames given to it skip the registry's
    /// lock and table (`media(_:connectionID:)` takes both per frame). Nil before
    /// `sessionStarted` and after the connection ended.
    public func input(connectionID: UInt64) -> MediaInput? {
        registry.withLockedValue { $0.sessions[connectionID] }.map(MediaInput.init)
    }

    public func metadata(_ metadata: AMFObject, connectionID: UInt64) {
        let hasVideo = metadata["videocodecid"] != nil || metadata["width"] != nil
        let hasAudio = metadata["audiocodecid"] != nil || metadata["audiosamplerate"] != nil
        let session = registry.withLockedValue { $0.sessions[connectionID] }
        session?.languages(Self.audioLanguages(metadata))
        guard hasVideo || hasAudio else { return }
        session?.announce(hasVideo: hasVideo, hasAudio: hasAudio)
    }

    /// Audio languages from `onMetaData`: `language` for track 0, and E-RTMP v2's
    /// `audioTrackIdInfoMap` (`{"1": {"language": "fr", …}}`) for the others. The specification
    /// leaves the per-track fields open; `language` (or `lang`) is what LiveGate reads — a BCP 47
    /// tag of letters, digits and dashes, at most 35 characters.
    static func audioLanguages(_ metadata: AMFObject) -> [UInt8: String] {
        func tag(_ v: AMFValue?) -> String? {
            guard let s = v?.stringValue, !s.isEmpty, s.count <= 35,
                  s.unicodeScalars.allSatisfy({ ($0.isASCII && CharacterSet.alphanumerics.contains($0)) || $0 == "-" }) else { return nil }
            return s
        }
        var out: [UInt8: String] = [:]
        if let l = tag(metadata["language"]) ?? tag(metadata["lang"]) { out[0] = l }
        for (key, value) in (metadata["audioTrackIdInfoMap"]?.objectValue?.properties ?? []).prefix(64) {
            guard let id = UInt8(key), let info = value.objectValue else { continue }
            if let l = tag(info["language"]) ?? tag(info["lang"]) { out[id] = l }
        }
        return out
    }

    /// A connection ended and its channel session ends with it: the outputs flush and finish.
    public func sessionEnded(connectionID: UInt64) {
        let sessionId = registry.withLockedValue { $0.sessionOfConnection[connectionID] }
        connectionEnded(connectionID: connectionID)
        if let sessionId { endSession(sessionId: sessionId) }
    }

    /// A connection ended but its channel session may go on (the reconnect window): the outputs
    /// stay open and wait for the session's next connection, or for `endSession`.
    public func connectionEnded(connectionID: UInt64) {
        registry.withLockedValue { r in
            guard let session = r.sessions.removeValue(forKey: connectionID) else { return }
            let carry = session.detach()
            guard let id = r.sessionOfConnection.removeValue(forKey: connectionID), r.outputs[id]?.connection == connectionID else { return }
            r.outputs[id]?.connection = nil
            r.outputs[id]?.carry = carry
        }
    }

    /// The channel session is over: its outputs flush and finish (the recording becomes a video).
    /// The workers stay registered (for `drain`) until they have flushed and exited.
    /// `handedOver`: the session is not over — this node stops and hands it over — so its HLS
    /// playlist is kept as it is (no `EXT-X-ENDLIST`, nothing removed) for its continuation.
    public func endSession(sessionId: String, handedOver: Bool = false) {
        let (outputs, current) = registry.withLockedValue { r -> (SessionOutputs?, MediaSession?) in
            let flag = r.hlsHandedOver.removeValue(forKey: sessionId)
            if handedOver { flag?.withLockedValue { $0 = true } }
            guard let outputs = r.outputs.removeValue(forKey: sessionId) else { return (nil, nil) }
            let current = outputs.connection.flatMap { c -> MediaSession? in
                r.sessionOfConnection[c] = nil
                return r.sessions[c]
            }
            return (outputs, current)
        }
        guard let outputs else { return }
        // A connection still attached flushes what it buffered first.
        _ = current?.detach()
        for worker in outputs.workers {
            worker.send(.end)
            if worker.kind == .forward { worker.end(abortAfter: settings.forwardStopSeconds) }
        }
    }

    /// Every session still open ends (shutdown, before `drain`); those `handedOver` keep their playlists.
    public func endAllSessions(handedOver: Set<String> = []) {
        for id in registry.withLockedValue({ Array($0.outputs.keys) }) { endSession(sessionId: id, handedOver: handedOver.contains(id)) }
    }

    /// A channel's HLS folder kept for a session that was handed over: once that session ends
    /// without its publisher coming back here (its window closed, or it went on elsewhere) and
    /// no writer of this node owns the folder, the playlist gets `EXT-X-ENDLIST` (players stop)
    /// and the folder goes after `hls.keepAfterEndSec`.
    public func releaseKeptHLS(channelId: String) {
        guard registry.withLockedValue({ $0.hlsOwners[channelId] == nil }) else { return }
        let directory = settings.hlsDirectory + "/" + channelId
        guard FileManager.default.fileExists(atPath: directory) else { return }
        HLSWriter.endMediaPlaylists(in: directory)
        let registry = self.registry
        HLSWriter.afterDelay(settings.hlsKeepAfterEndSeconds) {
            guard registry.withLockedValue({ $0.hlsOwners[channelId] == nil }) else { return }
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    // MARK: Coordinator side

    /// Starts the outputs the channel wants for this connection's session — or, when the
    /// session already has outputs (a reconnect or a replace), joins the connection to them. A
    /// plan with no outputs keeps the session (a forward may be added while live) with no
    /// workers: its frames then cost a lock and the layout bookkeeping, nothing is copied or queued.
    public func configure(connectionID: UInt64, plan: OutputPlan) {
        enum Found { case none, fresh(MediaSession), continuing(MediaSession, MediaSession?, SessionOutputs) }
        let found = registry.withLockedValue { r -> Found in
            guard let s = r.sessions[connectionID] else { return .none }
            r.sessionOfConnection[connectionID] = plan.sessionId
            guard var outputs = r.outputs[plan.sessionId] else { return .fresh(s) }
            // A replaced publisher still attached stops feeding the outputs now.
            let previous = outputs.connection.flatMap { c -> MediaSession? in
                guard c != connectionID else { return nil }
                r.sessionOfConnection[c] = nil
                return r.sessions[c]
            }
            outputs.connection = connectionID
            r.outputs[plan.sessionId] = outputs
            return .continuing(s, previous, outputs)
        }
        switch found {
        case .none:
            return
        case .continuing(let session, let previous, var outputs):
            if let previous, let carry = previous.detach() { outputs.carry = carry }
            session.attach(outputs.workers, continuing: outputs.carry)
            registry.withLockedValue { $0.outputs[plan.sessionId]?.carry = nil }
            logger.info("outputs continue with a new connection", metadata: ["channel": "\(plan.channelId)", "session": "\(plan.sessionId)",
                                                                             "outputs": "\(outputs.workers.map { $0.kind.rawValue }.joined(separator: ","))"])
            if plan.forwards != outputs.plan.forwards { updateForwards(connectionID: connectionID, forwards: plan.forwards) }
        case .fresh(let session):
            let workers = makeWorkers(plan)
            registry.withLockedValue { r in
                for w in workers { r.workers[ObjectIdentifier(w)] = w }
                r.outputs[plan.sessionId] = SessionOutputs(plan: plan, workers: workers, connection: connectionID)
                if plan.hls { r.hlsOwners[plan.channelId] = plan.sessionId }
            }
            session.attach(workers, continuing: nil)
            guard !workers.isEmpty else { return }
            logger.info("outputs started", metadata: ["channel": "\(plan.channelId)", "session": "\(plan.sessionId)",
                                                      "outputs": "\(workers.map { $0.kind.rawValue }.joined(separator: ","))"])
        }
    }

    private func makeWorkers(_ plan: OutputPlan) -> [OutputWorker] {
        var workers: [OutputWorker] = []
        let log = workerLogger(plan)
        let onExit = workerExited
        if plan.hls {
            let interrupt = InterruptFlag()
            let channelId = plan.channelId, sessionId = plan.sessionId
            let handedOver = NIOLockedValueBox(false)
            let writer = HLSWriter(
                directory: settings.hlsDirectory + "/" + plan.channelId,
                prefix: HLSWriter.prefix(sessionId: sessionId, nodeTag: settings.hlsNodeTag, runTag: settings.hlsRunTag),
                settings: .init(segmentSeconds: settings.hlsSegmentSeconds, listSize: settings.hlsListSize, keepAfterEnd: settings.hlsKeepAfterEndSeconds,
                                startNumber: plan.continuesSessionStartedAt.map {
                                    HLSWriter.continuationStart(sessionStartedAt: $0, now: Date(), segmentSeconds: settings.hlsSegmentSeconds)
                                },
                                segmentFormat: HLSWriter.SegmentFormat(rawValue: settings.hlsSegmentFormat) ?? .auto),
                interrupt: interrupt, handedOver: handedOver,
                ownsDirectory: { [registry] in registry.withLockedValue { $0.hlsOwners[channelId] == sessionId } },
                releaseDirectory: { [registry] in
                    registry.withLockedValue { r in
                        guard r.hlsOwners[channelId] == sessionId else { return false }
                        r.hlsOwners.removeValue(forKey: channelId)
                        return true
                    }
                },
                directoryIsFree: { [registry] in registry.withLockedValue { $0.hlsOwners[channelId] == nil } })
            registry.withLockedValue { $0.hlsHandedOver[sessionId] = handedOver }
            workers.append(OutputWorker(kind: .hls, writer: writer, interrupt: interrupt, queue: makeQueue(), retry: nil,
                                        scheduling: .pool(hlsThreads), logger: log, onExit: onExit))
        }
        if plan.record {
            let interrupt = InterruptFlag()
            let onEvent = self.onEvent
            let writer = MP4Recorder(directory: settings.recordingsDirectory + "/" + plan.channelId, baseName: plan.sessionId + (plan.part.map { "-\($0)" } ?? ""), interrupt: interrupt,
                                     onFinished: { file in
                                         let handled = NIOLockedValueBox(false)
                                         Self.waitFor {
                                             let recorded = await onEvent(.recordingFinished(plan: plan, file: file))
                                             handled.withLockedValue { $0 = recorded }
                                         }
                                         return handled.withLockedValue { $0 }
                                     })
            workers.append(OutputWorker(kind: .record, writer: writer, interrupt: interrupt, queue: makeQueue(), retry: nil,
                                        scheduling: .ownThread(batchPause: settings.fileBatchPauseSeconds), logger: log, onExit: onExit))
        }
        for target in plan.forwards { workers.append(makeForwardWorker(plan: plan, target: target, logger: log, onExit: onExit)) }
        return workers
    }

    /// The outputs' logger: every line names the channel and session.
    private func workerLogger(_ plan: OutputPlan) -> Logger {
        var log = logger
        log[metadataKey: "channel"] = "\(plan.channelId)"
        log[metadataKey: "session"] = "\(plan.sessionId)"
        return log
    }

    /// An output that has flushed and exited leaves the registry (`drain` waits for that).
    private var workerExited: @Sendable (OutputWorker) -> Void {
        { [registry] w in _ = registry.withLockedValue { $0.workers.removeValue(forKey: ObjectIdentifier(w)) } }
    }

    /// One forward's output: FLV over RTMP(S) with bounded calls, reconnects and `forward.failed`.
    private func makeForwardWorker(plan: OutputPlan, target: OutputPlan.ForwardTarget, logger log: Logger,
                                   onExit: @escaping @Sendable (OutputWorker) -> Void) -> OutputWorker {
        let interrupt = InterruptFlag()
        let onEvent = self.onEvent
        let writer: any MediaWriter
        if target.enhanced {
            writer = EnhancedRTMPPusher(url: target.url, timeoutSeconds: settings.forwardTimeoutSeconds, hostCheck: settings.forwardHostCheck)
        } else {
            let pusher = ForwardPusher(url: target.url, interrupt: interrupt, timeoutSeconds: settings.forwardTimeoutSeconds,
                                       tls: .init(verify: settings.forwardTLSVerify, caFile: settings.forwardTLSCAFile), hostCheck: settings.forwardHostCheck)
            writer = TrackSelectingWriter(pusher, select: TrackSelectingWriter.plainRTMP)
        }
        let retry = OutputWorker.RetryPolicy(initialDelay: settings.forwardRetryInitialSeconds, maxDelay: settings.forwardRetryMaxSeconds,
                                             failureThreshold: settings.forwardFailureThreshold)
        var flog = log
        flog[metadataKey: "forward"] = "\(target.id)"
        flog[metadataKey: "target"] = "\(ForwardPusher.redact(target.url))"
        return OutputWorker(
            kind: .forward, id: target.id, writer: writer, interrupt: interrupt, queue: makeQueue(), retry: retry,
            scheduling: .ownThread(batchPause: settings.forwardBatchPauseSeconds), logger: flog,
            onRepeatedFailure: { error, attempts in
                Self.waitFor {
                    _ = await onEvent(.forwardFailed(plan: plan, forwardId: target.id, url: ForwardPusher.redact(target.url), error: error, attempts: attempts))
                }
            },
            onExit: onExit)
    }

    /// A channel's forwards changed while it is live (API): targets that were removed, disabled
    /// or re-pointed stop (flushing, bounded like a session end); new ones start from the next
    /// keyframe. HLS, the recording and the other forwards carry on untouched.
    public func updateForwards(connectionID: UInt64, forwards: [OutputPlan.ForwardTarget]) {
        let found = registry.withLockedValue { r -> (MediaSession, OutputPlan)? in
            guard let session = r.sessions[connectionID], let id = r.sessionOfConnection[connectionID], var plan = r.outputs[id]?.plan else { return nil }
            let old = plan
            plan.forwards = forwards
            r.outputs[id]?.plan = plan
            return (session, old)
        }
        guard let (session, old) = found else { return }
        let kept = Set(forwards.map { "\($0.id) \($0.url) \($0.enhanced)" })
        let stopped = old.forwards.filter { !kept.contains("\($0.id) \($0.url) \($0.enhanced)") }.map(\.id)
        let running = Set(old.forwards.map { "\($0.id) \($0.url) \($0.enhanced)" })
        let added = forwards.filter { !running.contains("\($0.id) \($0.url) \($0.enhanced)") }
        for worker in session.detach(forwardIds: Set(stopped)) { worker.end(abortAfter: settings.forwardStopSeconds) }
        var plan = old
        plan.forwards = forwards
        let log = workerLogger(plan)
        let onExit = workerExited
        let workers = added.map { makeForwardWorker(plan: plan, target: $0, logger: log, onExit: onExit) }
        let stoppedSet = Set(stopped)
        registry.withLockedValue { r in
            for w in workers { r.workers[ObjectIdentifier(w)] = w }
            r.outputs[plan.sessionId]?.workers.removeAll { $0.kind == .forward && $0.id.map(stoppedSet.contains) == true }
            r.outputs[plan.sessionId]?.workers.append(contentsOf: workers)
        }
        session.add(workers)
        if !stopped.isEmpty || !added.isEmpty {
            logger.info("forwards changed while live", metadata: ["channel": "\(plan.channelId)", "session": "\(plan.sessionId)",
                                                                 "started": "\(added.map(\.id).joined(separator: ","))",
                                                                 "stopped": "\(stopped.joined(separator: ","))"])
        }
    }

    /// The outputs of a connection's session, for the channel stats and the forwards API.
    /// Tracks that appeared after the session's outputs were laid out ("video 2 (h264)").
    public func lateTracks(connectionID: UInt64) -> [String] {
        registry.withLockedValue { $0.sessions[connectionID] }?.lateTracks ?? []
    }

    public func outputs(connectionID: UInt64) -> [OutputStatus] {
        registry.withLockedValue { $0.sessions[connectionID] }?.workers.map(\.currentStatus) ?? []
    }

    /// Outputs still running (including those flushing after their session ended).
    public var activeOutputs: Int { registry.withLockedValue { $0.workers.count } }

    /// Waits for every output to finish (SIGTERM: MP4s get their index, recordings their
    /// records). Outputs still busy at the deadline are interrupted.
    public func drain(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while activeOutputs > 0 && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        let remaining = registry.withLockedValue { Array($0.workers.values) }
        guard !remaining.isEmpty else { return true }
        logger.warning("outputs still busy at shutdown; interrupting", metadata: ["outputs": "\(remaining.count)"])
        for w in remaining { w.end(abortAfter: 0) }
        let hard = ContinuousClock.now + .seconds(1)
        while activeOutputs > 0 && ContinuousClock.now < hard { try? await Task.sleep(for: .milliseconds(20)) }
        return activeOutputs == 0
    }

    private func makeQueue() -> OutputQueue { OutputQueue(maxPackets: settings.queueMaxPackets, maxBytes: settings.queueMaxBytes) }

    /// Runs async work from an output thread and blocks that (dedicated, non-pool) thread until done.
    static func waitFor(_ body: @escaping @Sendable () async -> Void) {
        let done = DispatchSemaphore(value: 0)
        Task {
            await body()
            done.signal()
        }
        done.wait()
    }
}

/// One connection's way into its `MediaSession` (`MediaHub.input(connectionID:)`).
public struct MediaInput: Sendable {
    fileprivate let session: MediaSession

    public func media(_ frame: MediaFrame) { session.ingest(frame) }
}
