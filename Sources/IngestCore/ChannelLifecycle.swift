import LiveGateModel
import Foundation
import RTMPCore

/// One channel's publishing lifecycle (docs/contract.md §2's decision table, the reconnect window, replace,
/// kicks, limits and their cooldown) as a pure state machine: no I/O, no clock of its own —
/// time comes in with each input — in the shape of `RTMPConnectionStateMachine`. Inputs go in,
/// `Action`s come out; `IngestCoordinator` performs them (store writes, kicks, outputs) and
/// feeds the outcomes of asynchronous ones (`sessionWritten`, `sessionEnded`) back in.
///
///     idle ──publish──▶ starting ──sessionWritten──▶ live ──connection lost──▶ reconnecting
///      ▲                   │ write failed              │ ▲  clean end, kick,        │ same key back
///      │                   ▼                           │ └──────────────────────────┘ inside the window
///      └───sessionEnded── ending ◀─────────────────────┴──── window over ─────────────┘
public struct ChannelLifecycle: Sendable, Equatable {
    public typealias ConnectionID = UInt64

    /// Settings that are not per channel.
    public struct Configuration: Sendable, Equatable {
        /// `ingest.limitCooldownSec`: after a limit ended a session, publishes are refused this long.
        public var limitCooldown: TimeInterval = 60
        /// At most one `channel.publish_rejected` event per this interval while cooling down.
        public var cooldownEventInterval: TimeInterval = 60
        /// `ingest.mediaTimeoutSec`: a publisher ended for silence left this long before its end
        /// was seen — the session's end time is its last media (docs/contract.md §2, "Lifecycle").
        public var mediaTimeout: TimeInterval = 10
        /// How long after a failed end write it is tried again.
        public var endRetryInterval: TimeInterval = 1
        public init(limitCooldown: TimeInterval = 60, cooldownEventInterval: TimeInterval = 60, mediaTimeout: TimeInterval = 10,
                    endRetryInterval: TimeInterval = 1) {
            self.endRetryInterval = endRetryInterval
            self.limitCooldown = limitCooldown
            self.cooldownEventInterval = cooldownEventInterval
            self.mediaTimeout = mediaTimeout
        }
    }

    /// A publish asking for this channel, with what the decision needs to know.
    public struct PublishAttempt: Sendable, Equatable {
        public var connection: ConnectionID
        /// The channel as stored now (enabled, policy, reconnect window).
        public var channel: Channel
        /// The owner's limits.
        public var limits: UserLimits
        /// The owner's other channels live, starting or reconnecting (reservations included).
        public var liveForUser: Int
        /// The id the session gets if this publish starts one (the machine draws no randomness).
        public var newSessionId: String
        public var remoteAddress: String
        public var encoder: String
        public var now: Date
        /// The publisher comes back because this gateway asked it to (an Enhanced-RTMP
        /// ReconnectRequest, its token checked by the caller): it takes the session over
        /// whatever the duplicate policy (docs/contract.md §6, "Moving publishers").
        public var reconnectRequested: Bool

        public init(connection: ConnectionID, channel: Channel, limits: UserLimits, liveForUser: Int, newSessionId: String,
                    remoteAddress: String, encoder: String, now: Date, reconnectRequested: Bool = false) {
            self.reconnectRequested = reconnectRequested
            self.connection = connection
            self.channel = channel
            self.limits = limits
            self.liveForUser = liveForUser
            self.newSessionId = newSessionId
            self.remoteAddress = remoteAddress
            self.encoder = encoder
            self.now = now
        }
    }

    /// A session: from the first accepted publish until the channel goes offline.
    public struct Session: Sendable, Equatable {
        public var id: String
        public var startedAt: Date
        public var remoteAddress: String
        public var encoder: String
        /// Started by a publisher that was asked to reconnect: where another node holds the
        /// session, it is taken over as a `replace` would.
        public var takesOver = false

        public init(id: String, startedAt: Date, remoteAddress: String, encoder: String) {
            self.id = id
            self.startedAt = startedAt
            self.remoteAddress = remoteAddress
            self.encoder = encoder
        }
    }

    /// A publish refusal: what the publisher is told, and what is recorded.
    public struct Rejection: Sendable, Equatable {
        public var status: NetStatus
        public var reason: RejectReason
        public var limit: UserLimit?
        /// Whether to record a `channel.publish_rejected` event (cooldown refusals are rate-limited).
        public var recordEvent: Bool

        public init(status: NetStatus, reason: RejectReason, limit: UserLimit?, recordEvent: Bool) {
            self.status = status
            self.reason = reason
            self.limit = limit
            self.recordEvent = recordEvent
        }
    }

    /// A limit found exceeded during a session.
    public struct LimitViolation: Sendable, Equatable {
        public var limit: UserLimit
        /// The configured value and the measured one, as the event shows them.
        public var configured: JSONValue
        public var measured: JSONValue

        public init(limit: UserLimit, configured: JSONValue, measured: JSONValue) {
            self.limit = limit
            self.configured = configured
            self.measured = measured
        }
    }

    public enum Action: Sendable, Equatable {
        /// Tell this publisher no, and close it.
        case reject(ConnectionID, Rejection)
        /// Record the new session, the channel live and `channel.live` (one transaction), then
        /// feed back `sessionWritten` or `sessionWriteFailed`.
        case writeSession(Session)
        /// Tell this publisher `Publish.Start`.
        case accept(ConnectionID)
        /// Stop a running publisher with this status; the session ends with `reason` when it is
        /// gone (nil: the session continues — a replaced publisher).
        case kick(ConnectionID, NetStatus, reason: OfflineReason?)
        /// The session's first publisher started: start its outputs.
        case startOutputs(ConnectionID, sessionId: String)
        /// A later publisher of the same session (reconnect, replace) started: its outputs continue the session's.
        case continueOutputs(ConnectionID, sessionId: String)
        /// Record `channel.limit_exceeded`.
        case recordLimitExceeded(sessionId: String, LimitViolation)
        /// Record the end (`channel.offline` with `reason`), then feed back `sessionEnded`.
        case endSession(sessionId: String, reason: OfflineReason)
        /// The session went on (or ended) on another node: finish its outputs here, record nothing.
        case releaseSession(sessionId: String)
        /// A publisher asked to reconnect came back as `to`: `from` keeps feeding the session's
        /// outputs until `to` has its first keyframe, then is closed; the session continues.
        case handOver(from: ConnectionID, to: ConnectionID)
    }

    /// A cooldown this machine started. The channel as stored carries it too (written with the
    /// session's end) and is what every node decides by; this copy only covers a publish whose
    /// channel was read just before that write, and goes when the API clears the stored one.
    struct Cooldown: Sendable, Equatable {
        var limit: UserLimit
        var until: Date
    }

    struct Idle: Sendable, Equatable {
        var cooldown: Cooldown?
        /// When the last `channel.publish_rejected` of a cooldown was recorded (at most one per interval).
        var lastCooldownEventAt: Date?
    }

    struct Starting: Sendable, Equatable {
        var session: Session
        /// The publisher to accept once the session is written (a replace may change it).
        var connection: ConnectionID
        /// An API change that arrived before the session was written: end it as soon as it is.
        var cancelled: OfflineReason?
    }

    struct Live: Sendable, Equatable {
        var session: Session
        var connection: ConnectionID
        /// Whether `connection` has started (Publish.Start answered and media flowing).
        var started: Bool
        /// Whether a publisher of this session has started before (outputs exist to continue).
        var outputsStarted: Bool
        /// Why `connection` is being kicked; the session ends with it when the connection is gone.
        var ending: OfflineReason?
        /// The limit that ended it, for the cooldown.
        var violated: UserLimit?
    }

    struct Reconnecting: Sendable, Equatable {
        var session: Session
        var deadline: Date
        var reason: OfflineReason
        var outputsStarted: Bool
        /// When the last publisher left: the session's end time if nobody comes back.
        var leftAt: Date
    }

    struct Ending: Sendable, Equatable {
        var session: Session
        var reason: OfflineReason
        var violated: UserLimit?
        /// A publish that came while the end was being written: it starts the next session then.
        var waiting: PublishAttempt?
        /// The session's true end: when its last publisher left, not when the end was decided.
        var endedAt: Date
        /// The store refused the end (an outage): when `tick` asks for it again.
        var retryAt: Date?
    }

    enum State: Sendable, Equatable {
        case idle(Idle)
        case starting(Starting)
        case live(Live)
        case reconnecting(Reconnecting)
        case ending(Ending)
    }

    public let configuration: Configuration
    private(set) var state: State = .idle(Idle())
    /// The channel as last seen (policy and window apply from the next decision).
    public private(set) var channel: Channel

    public init(channel: Channel, configuration: Configuration = Configuration()) {
        self.channel = channel
        self.configuration = configuration
    }

    // MARK: What the rest of the gateway asks

    /// The current session, while there is one.
    public var session: Session? {
        switch state {
        case .idle: return nil
        case .starting(let s): return s.session
        case .live(let s): return s.session
        case .reconnecting(let s): return s.session
        case .ending(let s): return s.session
        }
    }

    /// Counts against the owner's `maxConcurrentLive`: starting (a reservation), live, reconnecting.
    public var holdsLiveSlot: Bool {
        switch state {
        case .idle, .ending: return false
        case .starting, .live, .reconnecting: return true
        }
    }

    /// The publisher currently carrying the session, if one is connected.
    /// The connection whose publish is being recorded (`starting`), for log lines that join the
    /// listener's (`rtmp.connection.id`).
    public var startingConnection: ConnectionID? {
        if case .starting(let s) = state { return s.connection }
        return nil
    }

    public var connection: ConnectionID? {
        if case .live(let s) = state { return s.connection }
        return nil
    }

    /// While reconnecting: when the window closes and the reason the session ends with then
    /// (the lease carries both, so another node can continue or end the session by them).
    public var reconnectWindow: (endsAt: Date, reason: OfflineReason, leftAt: Date)? {
        if case .reconnecting(let r) = state { return (r.deadline, r.reason, r.leftAt) }
        return nil
    }

    /// While the end is being recorded: the time the session ended (its last publisher left).
    public var endTime: Date? {
        if case .ending(let e) = state { return e.endedAt }
        return nil
    }

    public enum Phase: String, Sendable { case idle, starting, live, reconnecting, ending }

    public var phase: Phase {
        switch state {
        case .idle: return .idle
        case .starting: return .starting
        case .live: return .live
        case .reconnecting: return .reconnecting
        case .ending: return .ending
        }
    }

    /// Whether nothing is left to track (the coordinator may forget the machine).
    public var isIdle: Bool {
        if case .idle(let idle) = state { return idle.cooldown == nil && idle.lastCooldownEventAt == nil }
        return false
    }

    /// The refusal for a key that matches no channel (docs/contract.md §2, first row after the app check).
    public static let unknownKey = Rejection(status: .error(.publishUnauthorized, "unknown stream key"), reason: .unknownKey, limit: nil, recordEvent: true)
    /// The refusal for a key `reset-key` retired in the last day: told as unauthorized like any
    /// wrong key (the publisher learns nothing), recorded with the channel it belonged to.
    public static let keyRotated = Rejection(status: .error(.publishUnauthorized, "unknown stream key"), reason: .keyRotated, limit: nil, recordEvent: true)

    // MARK: Inputs

    /// A publisher asks to publish this channel's key.
    public mutating func publishRequested(_ attempt: PublishAttempt) -> [Action] {
        channel = attempt.channel
        guard attempt.channel.enabled else {
            return [.reject(attempt.connection, Rejection(status: .error(.publishUnauthorized, "channel is disabled"), reason: .disabled,
                                                          limit: nil, recordEvent: true))]
        }
        switch state {
        case .idle(var idle):
            if let cooldown = idle.cooldown, attempt.now >= cooldown.until { idle.cooldown = nil }
            // The stored cooldown (any node may have started it), or the one this machine just started.
            let stored = attempt.channel.cooldown(at: attempt.now)
            if stored != nil || idle.cooldown != nil {
                let until = max(stored?.until ?? .distantPast, idle.cooldown?.until ?? .distantPast)
                let limit = stored?.limit ?? idle.cooldown?.limit
                let record = idle.lastCooldownEventAt.map { attempt.now.timeIntervalSince($0) >= configuration.cooldownEventInterval } ?? true
                if record { idle.lastCooldownEventAt = attempt.now }
                state = .idle(idle)
                let seconds = Int(until.timeIntervalSince(attempt.now).rounded(.up))
                return [.reject(attempt.connection, Rejection(
                    status: .error(.publishRejected, "\(limit?.rawValue ?? "a limit") exceeded; publishing refused for \(seconds) s"),
                    reason: .limitCooldown, limit: limit, recordEvent: record))]
            }
            if let max = attempt.limits.maxConcurrentLive, attempt.liveForUser >= max {
                state = .idle(idle)
                return [.reject(attempt.connection, Rejection(status: .error(.publishRejected, UserLimit.maxConcurrentLive.rawValue),
                                                              reason: .limitExceeded, limit: .maxConcurrentLive, recordEvent: true))]
            }
            var session = Session(id: attempt.newSessionId, startedAt: attempt.now, remoteAddress: attempt.remoteAddress, encoder: attempt.encoder)
            session.takesOver = attempt.reconnectRequested
            state = .starting(Starting(session: session, connection: attempt.connection))
            return [.writeSession(session)]

        case .starting(var starting):
            guard attempt.channel.duplicatePolicy == .replace || attempt.reconnectRequested else { return [Self.duplicate(attempt.connection)] }
            // Replace before the first publisher was even answered: it is refused, the new one
            // waits for the same session write.
            let replaced = starting.connection
            starting.connection = attempt.connection
            state = .starting(starting)
            return [.reject(replaced, Rejection(status: NetStatus(level: .status, code: .unpublishSuccess, description: "replaced by a new publisher"),
                                                reason: .duplicate, limit: nil, recordEvent: false))]

        case .live(var live):
            guard attempt.channel.duplicatePolicy == .replace || attempt.reconnectRequested, live.ending == nil else {
                return [Self.duplicate(attempt.connection)]
            }
            let replaced = live.connection
            live.connection = attempt.connection
            live.started = false
            state = .live(live)
            // Asked to move: no gap — the old connection feeds the outputs until the new one can.
            if attempt.reconnectRequested { return [.handOver(from: replaced, to: attempt.connection), .accept(attempt.connection)] }
            return [.kick(replaced, NetStatus(level: .status, code: .unpublishSuccess, description: "replaced by a new publisher"), reason: nil),
                    .accept(attempt.connection)]

        case .reconnecting(let reconnecting):
            // Back inside the window: the same session, no offline/live pair.
            state = .live(Live(session: reconnecting.session, connection: attempt.connection, started: false,
                               outputsStarted: reconnecting.outputsStarted, ending: nil, violated: nil))
            return [.accept(attempt.connection)]

        case .ending(var ending):
            // The end is being written; this publish starts the next session once it is.
            if let earlier = ending.waiting {
                ending.waiting = attempt
                state = .ending(ending)
                return [.reject(earlier.connection, Rejection(status: NetStatus(level: .status, code: .unpublishSuccess, description: "replaced by a new publisher"),
                                                              reason: .duplicate, limit: nil, recordEvent: false))]
            }
            ending.waiting = attempt
            state = .ending(ending)
            return []
        }
    }

    private static func duplicate(_ connection: ConnectionID) -> Action {
        .reject(connection, Rejection(status: .error(.publishBadName, "this stream key is already publishing"), reason: .duplicate,
                                      limit: nil, recordEvent: true))
    }

    /// The session, the channel's live status and `channel.live` are recorded.
    public mutating func sessionWritten(now: Date) -> [Action] {
        guard case .starting(let starting) = state else { return [] }
        if let reason = starting.cancelled {
            state = .ending(Ending(session: starting.session, reason: reason, violated: nil, waiting: nil, endedAt: now))
            return [.reject(starting.connection, Rejection(status: .error(.publishUnauthorized, "channel \(reason.rawValue.replacingOccurrences(of: "_", with: " "))"),
                                                           reason: reason == .disabled ? .disabled : .unavailable, limit: nil, recordEvent: false)),
                    .endSession(sessionId: starting.session.id, reason: reason)]
        }
        state = .live(Live(session: starting.session, connection: starting.connection, started: false, outputsStarted: false, ending: nil, violated: nil))
        return [.accept(starting.connection)]
    }

    /// The store gave this publish another node's session (issue #14: it reconnected here inside
    /// the window, or replaced that node's publisher): it continues that session — no
    /// offline/live pair — and its outputs continue it as new parts.
    public mutating func sessionAdopted(_ session: Session, now: Date) -> [Action] {
        guard case .starting(let starting) = state else { return [] }
        if let reason = starting.cancelled {
            state = .ending(Ending(session: session, reason: reason, violated: nil, waiting: nil, endedAt: now))
            return [.reject(starting.connection, Rejection(status: .error(.publishUnauthorized, "channel \(reason.rawValue.replacingOccurrences(of: "_", with: " "))"),
                                                           reason: reason == .disabled ? .disabled : .unavailable, limit: nil, recordEvent: false)),
                    .endSession(sessionId: session.id, reason: reason)]
        }
        state = .live(Live(session: session, connection: starting.connection, started: false, outputsStarted: true, ending: nil, violated: nil))
        return [.accept(starting.connection)]
    }

    /// This node restarted and finds a session it handed over (or whose publisher had dropped)
    /// still inside its window: it waits for its publisher again, as before the restart — the
    /// window counted from when the publisher left, not from now; its outputs continue as new parts.
    public mutating func resumed(_ session: Session, deadline: Date, reason: OfflineReason, leftAt: Date, now: Date) -> [Action] {
        guard case .idle = state else { return [] }
        guard deadline > now else { return finish(session, reason: reason, violated: nil, at: leftAt) }
        state = .reconnecting(Reconnecting(session: session, deadline: deadline, reason: reason, outputsStarted: true, leftAt: leftAt))
        return []
    }

    /// A publisher carries the session on another node and the policy is `reject` (docs/contract.md §2
    /// across nodes): this publish gets `BadName`.
    public mutating func sessionBusyElsewhere(now: Date) -> [Action] {
        guard case .starting(let starting) = state else { return [] }
        state = .idle(Idle())
        return [Self.duplicate(starting.connection)]
    }

    /// This node no longer holds the session's lease: another node continued it (a reconnect
    /// there, a `replace` there) or ended it (this node was taken for lost). The publisher here,
    /// if any, is told it was replaced and closed; the outputs here finish as the session's part;
    /// nothing is recorded as an end — the session is not over, or was ended by the other node.
    public mutating func sessionMoved(sessionId: String, now: Date) -> [Action] {
        guard let session, session.id == sessionId else { return [] }
        var actions: [Action] = []
        switch state {
        case .live(let live):
            actions.append(.kick(live.connection, NetStatus(level: .status, code: .unpublishSuccess, description: "replaced by a new publisher"),
                                 reason: nil))
        case .reconnecting:
            break
        case .starting, .ending, .idle:
            // Starting: the write has not returned yet (it decides); ending: the end write decides.
            return []
        }
        state = .idle(Idle())
        actions.append(.releaseSession(sessionId: sessionId))
        return actions
    }

    /// The refusal when the store cannot decide or record a publish (an outage). Whether its
    /// event is recorded is the coordinator's to say (once per address and minute).
    /// The refusal while the node is stopping: the encoder publishes again, and the balancer
    /// (whose `/readyz/ingest` check fails by then) sends it to another node.
    public static let draining = Rejection(status: .error(.publishRejected, "this node is stopping; publish again"), reason: .unavailable,
                                           limit: nil, recordEvent: false)

    public static let unavailable = Rejection(status: .error(.publishRejected, "temporarily unavailable"), reason: .unavailable,
                                              limit: nil, recordEvent: false)

    /// The session could not be recorded: the publisher is refused, nothing went live.
    public mutating func sessionWriteFailed(now: Date) -> [Action] {
        guard case .starting(let starting) = state else { return [] }
        state = .idle(Idle())
        return [.reject(starting.connection, Self.unavailable)]
    }

    /// An accepted publisher answered `Publish.Start` and its media flows.
    public mutating func publisherStarted(_ connection: ConnectionID, now: Date) -> [Action] {
        guard case .live(var live) = state, live.connection == connection, !live.started else { return [] }
        live.started = true
        let continuing = live.outputsStarted
        live.outputsStarted = true
        state = .live(live)
        return [continuing ? .continueOutputs(connection, sessionId: live.session.id) : .startOutputs(connection, sessionId: live.session.id)]
    }

    /// A publisher's connection ended. Only the session's current publisher matters (a
    /// replaced one ending changes nothing).
    public mutating func publisherEnded(_ connection: ConnectionID, reason end: IngestEndReason, now: Date) -> [Action] {
        guard case .live(let live) = state, live.connection == connection else { return [] }
        // A publisher ended for silence left at its last media, the mediaTimeout before its end was seen.
        let leftAt = end == .mediaTimeout ? now.addingTimeInterval(-configuration.mediaTimeout) : now
        if let reason = live.ending {
            return finish(live.session, reason: reason, violated: live.violated, at: leftAt)
        }
        let reason = OfflineReason(end)
        // A clean stop ends the session at once; a lost publisher gets the window to come back —
        // and so does one this gateway let go because it is stopping (`shutdown`): the session is
        // handed over (docs/contract.md §6), continued by the publisher's return to any node, or
        // to this one once it has restarted.
        let lost: Set<IngestEndReason> = [.connectionClosed, .mediaTimeout, .protocolError, .shutdown]
        guard lost.contains(end), channel.reconnectWindowSec > 0 else { return finish(live.session, reason: reason, violated: nil, at: leftAt) }
        state = .reconnecting(Reconnecting(session: live.session, deadline: now.addingTimeInterval(TimeInterval(channel.reconnectWindowSec)),
                                           reason: reason, outputsStarted: live.outputsStarted, leftAt: leftAt))
        return []
    }

    private mutating func finish(_ session: Session, reason: OfflineReason, violated: UserLimit?, at endedAt: Date) -> [Action] {
        state = .ending(Ending(session: session, reason: reason, violated: violated, waiting: nil, endedAt: endedAt))
        return [.endSession(sessionId: session.id, reason: reason)]
    }

    /// The cooldown the end being recorded starts (a limit ended the session): written with the
    /// end, in its transaction, so every node refuses the channel's publishes from then on.
    public var pendingCooldown: (until: Date, limit: UserLimit)? {
        guard case .ending(let ending) = state, let limit = ending.violated, configuration.limitCooldown > 0 else { return nil }
        return (ending.endedAt.addingTimeInterval(configuration.limitCooldown), limit)
    }

    /// The end is recorded. A limit that ended it starts the cooldown; a publish that waited starts the next session.
    public mutating func sessionEnded(now: Date) -> [Action] {
        guard case .ending(let ending) = state else { return [] }
        let cooldown = pendingCooldown.map { Cooldown(limit: $0.limit, until: $0.until) }
        state = .idle(Idle(cooldown: cooldown))
        if let cooldown {
            channel.cooldownUntil = cooldown.until
            channel.cooldownLimit = cooldown.limit
        }
        guard var waiting = ending.waiting else { return [] }
        waiting.now = now
        return publishRequested(waiting)
    }

    /// Recording the end failed (the store is out): `tick` asks for it again after
    /// `endRetryInterval`, with the same reason and end time, until the store takes it.
    public mutating func sessionEndFailed(now: Date) {
        guard case .ending(var ending) = state else { return }
        ending.retryAt = now.addingTimeInterval(configuration.endRetryInterval)
        state = .ending(ending)
    }

    /// The end the store has refused so far (kept on disk if the gateway stops before it is back).
    public var unrecordedEnd: (sessionId: String, reason: OfflineReason, endedAt: Date)? {
        guard case .ending(let ending) = state, ending.retryAt != nil else { return nil }
        return (ending.session.id, ending.reason, ending.endedAt)
    }

    /// Asks for a refused end again now (a shutdown settling what it can), whatever its retry time.
    public mutating func retryEndNow() -> [Action] {
        guard case .ending(var ending) = state, ending.retryAt != nil else { return [] }
        ending.retryAt = nil
        state = .ending(ending)
        return [.endSession(sessionId: ending.session.id, reason: ending.reason)]
    }

    /// A channel change through the API: the publisher is kicked and the session ends with the change's reason.
    public mutating func channelChanged(_ change: ChannelChange, now: Date) -> [Action] {
        let reason = change.offlineReason
        switch state {
        case .idle, .ending:
            return []
        case .starting(var starting):
            starting.cancelled = reason
            state = .starting(starting)
            return []
        case .live(var live):
            guard live.ending == nil else { return [] }
            live.ending = reason
            state = .live(live)
            let status: NetStatus = .error(change == .deleted ? .publishBadName : .publishUnauthorized,
                                           "channel \(reason.rawValue.replacingOccurrences(of: "_", with: " "))")
            return [.kick(live.connection, status, reason: reason)]
        case .reconnecting(let reconnecting):
            return finish(reconnecting.session, reason: reason, violated: nil, at: reconnecting.leftAt)
        }
    }

    /// The gateway is stopping: a session still open (a publisher gone and not back yet, or one
    /// still being written) ends with `shutdown`. Connected publishers are kicked by the listener
    /// and end through `publisherEnded(_, reason: .shutdown)`.
    public mutating func shutdown(now: Date) -> [Action] {
        switch state {
        case .reconnecting(let reconnecting):
            return finish(reconnecting.session, reason: .shutdown, violated: nil, at: reconnecting.leftAt)
        case .live(let live) where !live.started:
            return finish(live.session, reason: live.ending ?? .shutdown, violated: live.violated, at: now)
        case .starting(var starting):
            starting.cancelled = .shutdown
            state = .starting(starting)
            return []
        default:
            return []
        }
    }

    /// The channel was edited (policy, window, its cooldown cleared): applies from the next
    /// decision. A stored cooldown that is gone ends this machine's copy too.
    public mutating func channelEdited(_ channel: Channel) {
        self.channel = channel
        if case .idle(var idle) = state, idle.cooldown != nil, channel.cooldownUntil == nil {
            idle.cooldown = nil
            state = .idle(idle)
        }
    }

    /// A limit measured above its configured value on the current publisher.
    public mutating func limitObserved(_ connection: ConnectionID, _ violation: LimitViolation, now: Date) -> [Action] {
        guard case .live(var live) = state, live.connection == connection, live.ending == nil else { return [] }
        live.ending = .limitExceeded
        live.violated = violation.limit
        state = .live(live)
        return [.recordLimitExceeded(sessionId: live.session.id, violation),
                .kick(connection, .error(.publishRejected, violation.limit.rawValue), reason: .limitExceeded)]
    }

    /// Whether `tick(now:limits:)` has anything to do at `now`: a window closed, `maxSessionSec`
    /// reached, an end to retry, a cooldown or its event interval run out. The coordinator ticks
    /// every channel a few times a second and asks this first — a live channel with nothing due
    /// then costs a switch, not a feed of the machine (docs/architecture.md "The coordinator's
    /// tick"). `tick` does nothing when this says no, so the two cannot disagree.
    public func tickDue(now: Date, limits: UserLimits) -> Bool {
        switch state {
        case .reconnecting(let reconnecting):
            return now >= reconnecting.deadline
        case .live(let live):
            guard live.ending == nil, let max = limits.maxSessionSec else { return false }
            return now.timeIntervalSince(live.session.startedAt) >= Double(max)
        case .ending(let ending):
            return ending.retryAt.map { now >= $0 } ?? false
        case .idle(let idle):
            if let cooldown = idle.cooldown, now >= cooldown.until { return true }
            if let last = idle.lastCooldownEventAt, now.timeIntervalSince(last) >= configuration.cooldownEventInterval { return true }
            return false
        case .starting:
            return false
        }
    }

    /// Time passes: the reconnect window closes, `maxSessionSec` (counted from the session's
    /// start, across its connections) is checked, a cooldown runs out.
    public mutating func tick(now: Date, limits: UserLimits) -> [Action] {
        guard tickDue(now: now, limits: limits) else { return [] }
        switch state {
        case .reconnecting(let reconnecting) where now >= reconnecting.deadline:
            // The window closed: the session ended when its publisher left, not now.
            return finish(reconnecting.session, reason: reconnecting.reason, violated: nil, at: reconnecting.leftAt)
        case .live(let live) where live.ending == nil:
            if let max = limits.maxSessionSec, now.timeIntervalSince(live.session.startedAt) >= Double(max) {
                return limitObserved(live.connection, LimitViolation(limit: .maxSessionSec, configured: .number(Double(max)),
                                                                     measured: .number((now.timeIntervalSince(live.session.startedAt) * 10).rounded() / 10)),
                                     now: now)
            }
            return []
        case .ending(let ending) where ending.retryAt.map { now >= $0 } ?? false:
            return retryEndNow()
        case .idle(var idle):
            if let cooldown = idle.cooldown, now >= cooldown.until { idle.cooldown = nil }
            if let last = idle.lastCooldownEventAt, now.timeIntervalSince(last) >= configuration.cooldownEventInterval { idle.lastCooldownEventAt = nil }
            state = .idle(idle)
            return []
        default:
            return []
        }
    }
}
