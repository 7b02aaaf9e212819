import NIOConcurrencyHelpers
import RTMPCore
import RTMPServer

/// An `IngestEventSink` that counts what arrives per stream key and checks that decode
/// timestamps only ever increase.
public final class RecordingSink: IngestEventSink {
    public struct Stream: Sendable {
        public var started = false
        public var endReason: IngestEndReason?
        public var videoFrames = 0
        public var audioFrames = 0
        public var keyframes = 0
        public var videoSequenceHeaders = 0
        public var audioSequenceHeaders = 0
        public var nonMonotonicDTS = 0
        public var lastVideoDTS: Int64 = .min
        public var lastAudioDTS: Int64 = .min
        public var stats: IngestSessionStats?
        public var metadata: AMFObject?
        public var sessions: [IngestSession] = []
    }

    private let streams = NIOLockedValueBox<[String: Stream]>([:])

    public init() {}

    public func stream(_ key: String) -> Stream? { streams.withLockedValue { $0[key] } }

    public func publishStarted(_ session: IngestSession) {
        streams.withLockedValue { s in
            var st = s[session.request.streamKey] ?? Stream()
            st.started = true
            st.endReason = nil
            st.sessions.append(session)
            s[session.request.streamKey] = st
        }
    }

    public func media(_ frame: MediaFrame, session: IngestSession) {
        streams.withLockedValue { s in
            var st = s[session.request.streamKey] ?? Stream()
            switch (frame.kind, frame.packetType) {
            case (.video, .codedFrames):
                st.videoFrames += 1
                if frame.isKeyframe { st.keyframes += 1 }
                if frame.dts <= st.lastVideoDTS { st.nonMonotonicDTS += 1 }
                st.lastVideoDTS = frame.dts
            case (.audio, .codedFrames):
                st.audioFrames += 1
                if frame.dts <= st.lastAudioDTS { st.nonMonotonicDTS += 1 }
                st.lastAudioDTS = frame.dts
            case (.video, .sequenceHeader): st.videoSequenceHeaders += 1
            case (.audio, .sequenceHeader): st.audioSequenceHeaders += 1
            default: break
            }
            s[session.request.streamKey] = st
        }
    }

    public func metadata(_ metadata: AMFObject, session: IngestSession) {
        streams.withLockedValue { $0[session.request.streamKey, default: Stream()].metadata = metadata }
    }

    public func publishEnded(_ session: IngestSession, reason: IngestEndReason, stats: IngestSessionStats) {
        streams.withLockedValue { s in
            s[session.request.streamKey, default: Stream()].endReason = reason
            s[session.request.streamKey, default: Stream()].stats = stats
        }
    }

    /// Polls until `key` has ended (or `timeout` passes).
    public func waitForEnd(_ key: String, timeout: Double = 5) async -> Stream? {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while ContinuousClock.now < deadline {
            if let s = stream(key), s.endReason != nil { return s }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return stream(key)
    }
}
