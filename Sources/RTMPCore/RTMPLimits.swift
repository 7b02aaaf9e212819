/// Bounds applied to everything a peer sends. Every length read from the wire is checked
/// against these *before* memory is reserved, so a hostile peer can cost us at most
/// `maxMessageBytes` per connection (plus `maxBufferedBytes` across partial messages).
public struct RTMPLimits: Sendable, Equatable {
    /// Largest message (after reassembly) a peer may declare. docs/contract.md §2: 8 MiB default.
    public var maxMessageBytes: Int
    /// Chunk sizes above this are clamped: no message can be longer than 16 MiB (24-bit length).
    public var maxChunkSize: Int
    /// How many chunk streams may carry partially assembled messages at once.
    public var maxChunkStreams: Int
    /// Total bytes held in partially assembled messages across all chunk streams.
    public var maxBufferedBytes: Int
    /// Deepest AMF nesting accepted (objects inside arrays inside objects …).
    public var maxAMFDepth: Int
    /// Most members/elements accepted in one AMF object or array.
    public var maxAMFElements: Int

    public init(
        maxMessageBytes: Int = 8 * 1024 * 1024,
        maxChunkSize: Int = 16 * 1024 * 1024,
        maxChunkStreams: Int = 64,
        maxBufferedBytes: Int = 16 * 1024 * 1024,
        maxAMFDepth: Int = 32,
        maxAMFElements: Int = 4096
    ) {
        self.maxMessageBytes = maxMessageBytes
        self.maxChunkSize = maxChunkSize
        self.maxChunkStreams = maxChunkStreams
        self.maxBufferedBytes = maxBufferedBytes
        self.maxAMFDepth = maxAMFDepth
        self.maxAMFElements = maxAMFElements
    }

    public static let `default` = RTMPLimits()
}
