import Foundation
import LiveGateModel
import RTMPCore

/// The phase of every publishing connection, the second machine beside each channel's
/// `ChannelLifecycle` (composed with it the way postgres-nio composes its connection's
/// sub-machines): which channel a connection asks for, whether its `authorize` call still waits
/// for an answer, whether it was accepted and not started yet (a kick then waits for its start),
/// whether it publishes, and — once its session moved to another node — which session its
/// figures still belong to. Pure: `IngestCoordinator` asks it what a kick, a start, an end or an
/// early close means for a connection, and performs the answer.
///
///     deciding ──answer accept──▶ accepted ──started──▶ publishing ──session moved──▶ released
///        │ └─closed─▶ (abandoned: ended as soon as it is accepted)          │                │
///        └──answer reject / ended─────────────────────────────▶ (forgotten) ◀──ended─────────┘
///
/// `Handle` is what a kick is performed on (the listener's `IngestSession`; anything in tests).
public struct PublishConnections<Handle: Sendable>: Sendable {
    public typealias ConnectionID = UInt64

    /// A kick that has to wait for its publisher to start (it was answered `Publish.Start` but
    /// has not started yet).
    public struct PendingKick: Sendable, Equatable {
        public var status: NetStatus
        public var reason: IngestEndReason
    }

    enum Phase: Sendable {
        /// `authorize` is in progress; the answer the machine gave before the call asked for it,
        /// and whether the connection closed meanwhile.
        case deciding(answer: PublishDecision?, closed: Bool)
        /// Answered `Publish.Start`, not publishing yet.
        case accepted(kick: PendingKick?)
        case publishing(Handle)
        /// Its session moved to another node; still connected until its kick lands. Its figures
        /// are added to that session when it ends.
        case released(Handle, sessionId: String, entry: SessionConnection)
    }

    struct Entry: Sendable {
        var channelId: String
        var remote: String
        var phase: Phase
    }

    private var entries: [ConnectionID: Entry] = [:]
    /// How many entries each channel has: `hasConnections` is asked of idle channels by the
    /// coordinator's tick, and a scan of every entry per channel grew with their product.
    /// Kept by `add` and `remove`, the only ways in and out of `entries`.
    private var perChannel: [String: Int] = [:]

    private mutating func add(_ connection: ConnectionID, _ entry: Entry) {
        remove(connection) // a connection asking again replaces its entry
        entries[connection] = entry
        perChannel[entry.channelId, default: 0] += 1
    }

    @discardableResult
    private mutating func remove(_ connection: ConnectionID) -> Entry? {
        guard let entry = entries.removeValue(forKey: connection) else { return nil }
        let left = (perChannel[entry.channelId] ?? 1) - 1
        perChannel[entry.channelId] = left > 0 ? left : nil
        return entry
    }

    public init() {}

    // MARK: Reading

    /// The channel a connection asks for or publishes to.
    public func channel(of connection: ConnectionID) -> String? { entries[connection]?.channelId }

    public func remote(of connection: ConnectionID) -> String? { entries[connection]?.remote }

    /// Whether any connection still belongs to the channel (its state cannot be forgotten yet).
    public func hasConnections(channelId: String) -> Bool { perChannel[channelId] != nil }

    /// The publisher handle of a connection that publishes (or did, until its session moved).
    public func handle(of connection: ConnectionID) -> Handle? {
        switch entries[connection]?.phase {
        case .publishing(let handle)?, .released(let handle, _, _)?: return handle
        default: return nil
        }
    }

    /// Connections of the channel that publish (not released), with their handles.
    public func publishers(channelId: String) -> [(ConnectionID, Handle)] {
        entries.compactMap { id, entry in
            guard entry.channelId == channelId, case .publishing(let handle) = entry.phase else { return nil }
            return (id, handle)
        }
    }

    public var count: Int { entries.count }

    // MARK: Inputs

    /// An `authorize` call begins for `connection`.
    public mutating func deciding(_ connection: ConnectionID, channelId: String, remote: String) {
        add(connection, Entry(channelId: channelId, remote: remote, phase: .deciding(answer: nil, closed: false)))
    }

    /// What to do with an answer the channel machine gave.
    public enum AnswerOutcome: Sendable, Equatable {
        /// Hand it to the `authorize` call (if it is already waiting) or keep it until it asks.
        case deliver(PublishDecision)
        /// Accepted, but the connection closed while it was decided: deliver the accept and
        /// feed the machine that its publisher ended at once (the reconnect window applies).
        case deliverThenEnded
        /// Nobody asked (an answer for a connection no `authorize` call is deciding).
        case nobody
    }

    /// The channel machine answered `connection`. The answer is held until the `authorize`
    /// call takes it (`answerTaken`), so a call that has not suspended yet still finds it.
    public mutating func answered(_ connection: ConnectionID, _ decision: PublishDecision) -> AnswerOutcome {
        guard let entry = entries[connection], case .deciding(_, let closed) = entry.phase else { return .nobody }
        entries[connection]?.phase = .deciding(answer: decision, closed: closed)
        return decision == .accept && closed ? .deliverThenEnded : .deliver(decision)
    }

    /// The `authorize` call takes its answer: an accepted connection moves on to `accepted`; a
    /// refused one, or one that closed meanwhile, is forgotten.
    public mutating func answerTaken(_ connection: ConnectionID) -> PublishDecision? {
        guard let entry = entries[connection], case .deciding(let answer?, let closed) = entry.phase else { return nil }
        if answer == .accept, !closed {
            entries[connection]?.phase = .accepted(kick: nil)
        } else {
            remove(connection)
        }
        return answer
    }

    /// The `authorize` call failed before the machine was asked (the store could not be read).
    public mutating func forget(_ connection: ConnectionID) {
        remove(connection)
    }

    /// What a kick the channel machine asked for means for a connection in its phase.
    public enum KickOutcome: Sendable {
        /// It publishes: kick it now.
        case kickNow(Handle, NetStatus, IngestEndReason)
        /// Not answered yet: the answer it gets is the refusal.
        case refuse(NetStatus)
        /// Answered, not started: kicked the moment it starts.
        case kickWhenStarted
        case nothing
    }

    /// `reason` nil: replaced by another publisher (its own end says `replaced`).
    public mutating func kick(_ connection: ConnectionID, status: NetStatus, reason: OfflineReason?) -> KickOutcome {
        let end: IngestEndReason = reason == nil ? .replaced : .kicked
        switch entries[connection]?.phase {
        case .publishing(let handle)?, .released(let handle, _, _)?:
            return .kickNow(handle, status, end)
        case .deciding?:
            return .refuse(status)
        case .accepted?:
            entries[connection]?.phase = .accepted(kick: PendingKick(status: status, reason: end))
            return .kickWhenStarted
        case nil:
            return .nothing
        }
    }

    /// What starting means: the channel whose machine hears of it (nil: nobody knows the
    /// connection), and a kick that waited for the start.
    public struct StartOutcome: Sendable {
        public var channelId: String?
        public var kick: PendingKick?
    }

    /// A publisher answered `Publish.Start` and its media flows.
    public mutating func started(_ connection: ConnectionID, handle: Handle) -> StartOutcome {
        guard let entry = entries[connection] else { return StartOutcome(channelId: nil, kick: nil) }
        var kick: PendingKick?
        if case .accepted(let pending) = entry.phase { kick = pending }
        entries[connection]?.phase = .publishing(handle)
        return StartOutcome(channelId: entry.channelId, kick: kick)
    }

    /// What a publisher's end means: the channel whose machine hears of it, and — for a
    /// connection whose session moved to another node — where its figures go.
    public struct EndOutcome: Sendable, Equatable {
        public var channelId: String?
        public var released: (sessionId: String, entry: SessionConnection)?

        public static func == (a: EndOutcome, b: EndOutcome) -> Bool {
            a.channelId == b.channelId && a.released?.sessionId == b.released?.sessionId && a.released?.entry == b.released?.entry
        }
    }

    /// A publisher that started has ended (the listener's `publishEnded`).
    public mutating func ended(_ connection: ConnectionID) -> EndOutcome {
        guard let entry = remove(connection) else { return EndOutcome(channelId: nil, released: nil) }
        if case .released(_, let sessionId, let log) = entry.phase { return EndOutcome(channelId: entry.channelId, released: (sessionId, log)) }
        return EndOutcome(channelId: entry.channelId, released: nil)
    }

    /// What a connection that closed before it started publishing means.
    public enum CloseOutcome: Sendable, Equatable {
        /// The channel's current publisher (accepted, not started): it ended.
        case publisherEnded(channelId: String)
        /// Still being decided: ended as soon as it is accepted.
        case endWhenAccepted
        case forgotten
    }

    /// The listener's `publishAbandoned`: the connection closed before it started publishing.
    /// `isCurrent`: the channel machine holds it as the session's connection. A connection still
    /// being decided stays known until its `authorize` call has taken its answer.
    public mutating func closedBeforeStart(_ connection: ConnectionID, isCurrent: Bool) -> CloseOutcome {
        guard let entry = entries[connection] else { return .forgotten }
        if case .deciding(let answer, _) = entry.phase {
            entries[connection]?.phase = .deciding(answer: answer, closed: true)
            if isCurrent { return .publisherEnded(channelId: entry.channelId) }
            return answer == nil ? .endWhenAccepted : .forgotten
        }
        remove(connection)
        return isCurrent ? .publisherEnded(channelId: entry.channelId) : .forgotten
    }

    /// The channel's session moved to another node: its publishers, still connected until
    /// their kick lands, keep adding their figures to that session.
    public mutating func sessionReleased(channelId: String, sessionId: String, log: [ConnectionID: SessionConnection]) {
        for (connection, entry) in log {
            guard let current = entries[connection], current.channelId == channelId, case .publishing(let handle) = current.phase else { continue }
            entries[connection]?.phase = .released(handle, sessionId: sessionId, entry: entry)
        }
    }
}
