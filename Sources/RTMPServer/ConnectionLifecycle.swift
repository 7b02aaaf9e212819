import RTMPCore
import NIOCore

/// One connection's own lifecycle, apart from the RTMP protocol (`RTMPConnectionStateMachine`)
/// and the channel's (`ChannelLifecycle` in the app): the handshake deadline, the media and idle
/// timeouts, and which end reason explains the close. Pure: time comes in as an argument (the
/// event loop's `now`, so `EmbeddedEventLoop.advanceTime` drives it in tests).
struct ConnectionLifecycle {
    enum Verdict: Equatable {
        /// Nothing due; check again at this deadline.
        case checkAgain(at: NIODeadline)
        /// Close the connection; `reason` is logged, `endReason` (if any) explains a session's end.
        case close(reason: String, endReason: IngestEndReason?)
    }

    let handshakeTimeout: TimeAmount
    let mediaTimeout: TimeAmount
    private let acceptedAt: NIODeadline
    private var lastActivity: NIODeadline
    private var lastMedia: NIODeadline
    private(set) var handshakeDone = false
    private(set) var publishing = false
    /// The first explanation of the end wins: a kick is not turned into `unpublished` by the
    /// FCUnpublish a kicked encoder may still send, nor a media timeout into `connection_closed`.
    private(set) var endReason: IngestEndReason?

    init(handshakeTimeout: TimeAmount, mediaTimeout: TimeAmount, now: NIODeadline) {
        self.handshakeTimeout = handshakeTimeout
        self.mediaTimeout = mediaTimeout
        self.acceptedAt = now
        self.lastActivity = now
        self.lastMedia = now
    }

    mutating func bytesReceived(now: NIODeadline) { lastActivity = now }

    /// Media arrived in the read that `bytesReceived` just stamped: no second clock read per frame.
    mutating func mediaReceived() { lastMedia = lastActivity }

    mutating func handshakeCompleted() { handshakeDone = true }

    mutating func publishStarted(now: NIODeadline) {
        publishing = true
        lastMedia = now
    }

    /// The publisher unpublished; the connection may stay (and is then judged as idle).
    mutating func publishEnded() { publishing = false }

    /// Something explained why the connection ends (kick, unpublish, protocol error, shutdown …).
    mutating func ending(_ reason: IngestEndReason) {
        if endReason == nil { endReason = reason }
    }

    /// The reason a publishing session ended when the connection closed.
    var closeReason: IngestEndReason { endReason ?? .connectionClosed }

    /// What the timers say at `now`.
    mutating func check(now: NIODeadline) -> Verdict {
        if !handshakeDone {
            let deadline = acceptedAt + handshakeTimeout
            if now >= deadline {
                return .close(reason: "handshake not completed within \(Self.seconds(handshakeTimeout)) s", endReason: nil)
            }
            return .checkAgain(at: min(deadline, lastActivity + mediaTimeout))
        }
        if publishing, now - lastMedia >= mediaTimeout {
            ending(.mediaTimeout)
            return .close(reason: "no media received for \(Self.seconds(mediaTimeout)) s", endReason: .mediaTimeout)
        }
        if now - lastActivity >= mediaTimeout {
            if publishing { ending(.mediaTimeout) }
            return .close(reason: "idle for \(Self.seconds(mediaTimeout)) s", endReason: publishing ? .mediaTimeout : nil)
        }
        // Next at the earliest moment a timeout could be reached — for a streaming publisher one
        // timeout after its last media, i.e. once per timeout, not once a second: every check is
        // a task in NIO's heap of scheduled tasks, and 1,500 publishers re-checked each second
        // kept 1,500 tasks there, pushed and popped 1,500 times a second (the heap's copies were
        // 1.5 % of the gateway's CPU; docs/architecture.md "Merged reads").
        return .checkAgain(at: publishing ? min(lastMedia, lastActivity) + mediaTimeout : lastActivity + mediaTimeout)
    }

    static func seconds(_ t: TimeAmount) -> String {
        let s = Double(t.nanoseconds) / 1e9
        return s == s.rounded() ? String(Int(s)) : String(s)
    }
}
