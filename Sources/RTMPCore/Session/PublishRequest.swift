/// What a `connect` told us about the client.
public struct ConnectInfo: Sendable, Equatable {
    /// Application name with any query string and trailing slash removed (`live`).
    public var app: String
    public var tcUrl: String?
    /// The encoder's `flashVer` string (e.g. `FMLE/3.0 (compatible; Lavf60.16.100)`, `OBS-Studio/30.0`).
    public var flashVer: String?
    /// 0 (AMF0) or 3 (AMF3), echoed in the connect answer.
    public var objectEncoding: Double
    /// What an Enhanced-RTMP client declared (nil for a classic one).
    public var capabilities: EncoderCapabilities?
    /// The query string of `app` or `tcUrl` (after `?`), at most 512 characters.
    public var query: String?

    public init(app: String, tcUrl: String? = nil, flashVer: String? = nil, objectEncoding: Double = 0, capabilities: EncoderCapabilities? = nil) {
        self.capabilities = capabilities
        self.app = app
        self.tcUrl = tcUrl
        self.flashVer = flashVer
        self.objectEncoding = objectEncoding
    }
}

/// A `publish` awaiting an authorization decision.
public struct PublishRequest: Sendable, Equatable {
    public var app: String
    /// The stream key with any `?query` removed — the value matched against channel records.
    /// A secret: never log it whole.
    public var streamKey: String
    /// The query string after `?`, if any (ignored for matching, kept for operators' hooks).
    public var query: String?
    /// `live`, `record` or `append`, as the client asked (LiveGate treats all as live).
    public var publishType: String
    public var messageStreamID: UInt32
    public var connect: ConnectInfo

    public init(app: String, streamKey: String, query: String? = nil, publishType: String = "live", messageStreamID: UInt32 = 1,
                connect: ConnectInfo) {
        self.app = app
        self.streamKey = streamKey
        self.query = query
        self.publishType = publishType
        self.messageStreamID = messageStreamID
        self.connect = connect
    }

    /// First four characters and the length, for logs: enough to tell keys apart, useless to an attacker.
    public var maskedKey: String { Self.mask(streamKey) }

    public static func mask(_ key: String) -> String {
        "\(key.prefix(4))…(\(key.count))"
    }
}

/// The answer to a `PublishRequest`.
public enum PublishDecision: Sendable, Equatable {
    case accept
    /// Refuse with this status (level `error`) and close the connection.
    case reject(NetStatus)
}
