import NIOCore

/// `onStatus` / `_result` / `_error` info objects with typed codes, so a misspelt status
/// cannot reach a client. Codes are those of FMS, which every encoder understands.
public struct NetStatus: Sendable, Equatable, CustomStringConvertible {
    public enum Level: String, Sendable { case status, error, warning }

    public struct Code: RawRepresentable, Hashable, Sendable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        public static let connectSuccess = Code(rawValue: "NetConnection.Connect.Success")
        public static let connectRejected = Code(rawValue: "NetConnection.Connect.Rejected")
        public static let connectClosed = Code(rawValue: "NetConnection.Connect.Closed")
        /// Enhanced RTMP v2 ("Reconnect Request"): the client is asked to connect anew.
        public static let connectReconnectRequest = Code(rawValue: "NetConnection.Connect.ReconnectRequest")
        public static let publishStart = Code(rawValue: "NetStream.Publish.Start")
        public static let publishBadName = Code(rawValue: "NetStream.Publish.BadName")
        public static let publishUnauthorized = Code(rawValue: "NetStream.Publish.Unauthorized")
        public static let publishRejected = Code(rawValue: "NetStream.Publish.Rejected")
        public static let unpublishSuccess = Code(rawValue: "NetStream.Unpublish.Success")
        public static let playFailed = Code(rawValue: "NetStream.Play.Failed")
    }

    public var level: Level
    public var code: Code
    /// ffmpeg prints only `description` for errors ("Server error: …"), so for errors it
    /// starts with the code: operators then see the reason in the encoder's log.
    public var description: String

    public init(level: Level, code: Code, description: String) {
        self.level = level
        self.code = code
        self.description = description
    }

    public static func error(_ code: Code, _ reason: String) -> NetStatus {
        NetStatus(level: .error, code: code, description: "\(code.rawValue): \(reason)")
    }

    public var infoObject: AMFObject {
        ["level": .string(level.rawValue), "code": .string(code.rawValue), "description": .string(description)]
    }
}
