/// What the connection state machine asks its owner to do. The machine itself does no I/O.
public enum RTMPSessionAction: Sendable, Equatable {
    /// Outbound bytes are waiting: write `takeOutbound()` to the peer.
    case send
    case handshakeCompleted(kind: ServerHandshake.Kind, c2Matched: Bool)
    case connected(ConnectInfo)
    /// Decide asynchronously, then call `authorizationDecided(_:)`.
    case authorize(PublishRequest)
    /// `NetStream.Publish.Start` has been queued for sending.
    case publishStarted(PublishRequest)
    case media(MediaFrame)
    /// A media message that could not be parsed was skipped (not fatal).
    case mediaSkipped(reason: String)
    case metadata(AMFObject)
    /// The client ended publishing cleanly (`FCUnpublish`, `deleteStream` or `closeStream`).
    case unpublished
    /// Flush pending output, then close the connection.
    case close(RTMPCloseReason)
}

public enum RTMPCloseReason: Sendable, Equatable, CustomStringConvertible {
    case appRejected(String)
    case publishRejected(NetStatus)
    case playbackNotSupported
    case kicked(NetStatus)

    public var description: String {
        switch self {
        case .appRejected(let app): return "connect to unknown app '\(app)' rejected"
        case .publishRejected(let status): return "publish rejected: \(status.code.rawValue)"
        case .playbackNotSupported: return "play requested; LiveGate is ingest-only"
        case .kicked(let status): return "kicked: \(status.code.rawValue)"
        }
    }
}
