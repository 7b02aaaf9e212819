/// Which kind of output (docs/contract.md §3).
public enum OutputKind: String, Sendable, Equatable {
    case hls, record, forward
}

public enum OutputState: String, Sendable, Equatable {
    /// Waiting for the tracks or the first keyframe.
    case starting
    case running
    /// A forward lost its target and retries with backoff.
    case reconnecting
    /// A local output (HLS, record) that cannot continue this segment.
    case failed
    case finished
}

/// An output's state as the API and metrics show it (`outputs` in the channel stats).
public struct OutputStatus: Sendable, Equatable {
    public var kind: OutputKind
    /// The forward's id; nil for HLS and record.
    public var id: String?
    public var state: OutputState
    public var droppedPackets: Int
    public var packetsWritten: Int
    /// Connection attempts of a forward (1 after the first successful connect).
    public var attempts: Int
    public var lastError: String?
    /// Tracks the output cannot take, each with why (named, never dropped silently).
    public var notCarried: [String] = []
}
