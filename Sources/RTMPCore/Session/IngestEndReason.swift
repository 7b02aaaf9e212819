/// Why a publishing session ended (docs/contract.md §5 offline reasons that the listener can know).
public enum IngestEndReason: String, Sendable, Equatable {
    case unpublished
    case connectionClosed = "connection_closed"
    case mediaTimeout = "media_timeout"
    case kicked
    /// Another publisher of the same key took over (the channel's `replace` policy).
    case replaced
    case protocolError = "protocol_error"
    case shutdown
}
