import NIOCore

/// Gives back the receive buffers a connection no longer needs (docs/architecture.md "Memory
/// per publisher").
///
/// Each connection reads through NIO's receive pool (`NIOPooledRecvBufferAllocator`), which holds
/// up to `maxMessagesPerRead` buffers: when the buffers it has are still referenced as the next
/// read comes, it adds one, and it never lets one go. A connection's first seconds — handshake,
/// `connect`, `publish`, the decision, a ramp under load — leave three or four buffers in it
/// (counted connection by connection at 1,000 real-time publishers), while a steady real-time
/// stream reads into one (nine connections in ten) or two: the rest stayed allocated for the
/// session's life. Setting `maxMessagesPerRead` lowers the pool's capacity, and NIO drops the
/// buffers beyond it; setting it back restores up to `maxMessagesPerRead` reads per wake-up.
///
/// Done at the end of a read cycle at most once per `interval` (the first a whole interval after
/// the connection's first read): a burst's buffers are given back within about a second of its
/// end. The price is a buffer allocated again when a stream that needs two reads into the one
/// kept — an allocation a second at most, where the read path itself allocates none.
struct ReceivePoolTrim {
    /// Reads per wake-up, and so the most buffers a connection's pool may hold.
    static let maxMessagesPerRead: UInt = 16
    static let interval: TimeAmount = .seconds(1)

    private var last: NIODeadline?

    /// Whether to trim at `now` (the end of a read cycle); starts a new interval when it says so.
    mutating func due(at now: NIODeadline) -> Bool {
        guard let last else {
            self.last = now
            return false
        }
        guard now - last >= Self.interval else { return false }
        self.last = now
        return true
    }

    /// Keeps one receive buffer in the channel's pool (the first one; NIO drops the others,
    /// freed once nothing else holds them) and restores the reads per wake-up.
    static func apply(to options: NIOSynchronousChannelOptions) {
        try? options.setOption(ChannelOptions.maxMessagesPerRead, value: 1)
        try? options.setOption(ChannelOptions.maxMessagesPerRead, value: maxMessagesPerRead)
    }
}
