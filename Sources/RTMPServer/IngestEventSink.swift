import RTMPCore


/// Counters of one session, handed over when it ends.
public struct IngestSessionStats: Sendable, Equatable {
    public var bytesReceived: UInt64
    public var mediaBytes: UInt64
    public var videoFrames: Int
    public var audioFrames: Int
    public var timestampRepairs: Int
    public var skippedMediaMessages: Int
    public var video: VideoCodecParameters?
    public var audio: AudioCodecParameters?

    public init(bytesReceived: UInt64 = 0, mediaBytes: UInt64 = 0, videoFrames: Int = 0, audioFrames: Int = 0, timestampRepairs: Int = 0,
                skippedMediaMessages: Int = 0, video: VideoCodecParameters? = nil, audio: AudioCodecParameters? = nil) {
        self.bytesReceived = bytesReceived
        self.mediaBytes = mediaBytes
        self.videoFrames = videoFrames
        self.audioFrames = audioFrames
        self.timestampRepairs = timestampRepairs
        self.skippedMediaMessages = skippedMediaMessages
        self.video = video
        self.audio = audio
    }
}

/// Receives what publishers send. Methods are called on the connection's event loop and must
/// return quickly: hand work to a queue, never block (no database, file or libav calls here).
public protocol IngestEventSink: Sendable {
    func publishStarted(_ session: IngestSession)
    func media(_ frame: MediaFrame, session: IngestSession)
    func metadata(_ metadata: AMFObject, session: IngestSession)
    func publishEnded(_ session: IngestSession, reason: IngestEndReason, stats: IngestSessionStats)
    /// A connection that asked to publish closed without starting (refused, or gone while its
    /// publish was being decided — after an accept that came too late).
    func publishAbandoned(connectionID: UInt64)
    /// A `connect` named an application this listener does not serve (answered
    /// `NetConnection.Connect.Rejected` and closed): recorded as a refused publish, `unknown_app`.
    func applicationRejected(app: String, remoteAddress: String)
    /// Asked once, right after `publishStarted`: an object the connection hands every frame of
    /// this publish to directly, instead of `media(_:session:)` — so a sink that would look the
    /// session up per frame (a lock and a table) does it once. Nil: frames go to `media`.
    func mediaReceiver(for session: IngestSession) -> (any IngestMediaReceiver)?
}

/// Takes one publish's frames on its connection's event loop (see `IngestEventSink.mediaReceiver`).
/// A class: the connection holds it as one reference (an existential of a struct is copied,
/// with its references retained, on every call).
public protocol IngestMediaReceiver: AnyObject, Sendable {
    func media(_ frame: MediaFrame, session: IngestSession)
}

extension IngestEventSink {
    public func publishStarted(_ session: IngestSession) {}
    public func media(_ frame: MediaFrame, session: IngestSession) {}
    public func metadata(_ metadata: AMFObject, session: IngestSession) {}
    public func publishEnded(_ session: IngestSession, reason: IngestEndReason, stats: IngestSessionStats) {}
    public func publishAbandoned(connectionID: UInt64) {}
    public func applicationRejected(app: String, remoteAddress: String) {}
    public func mediaReceiver(for session: IngestSession) -> (any IngestMediaReceiver)? { nil }
}

/// A sink that ignores everything.
public struct NullIngestEventSink: IngestEventSink {
    public init() {}
}
