import RTMPCore

/// Decides whether a `publish` may start. Called off the event loop; may take its time
/// (a database lookup) without holding up any other connection.
public protocol IngestAuthorizer: Sendable {
    /// `connectionID` names the publisher in later sink calls (`IngestSession.connectionID`,
    /// `publishAbandoned`), so a decision can wait for, or be about, one connection of several.
    func authorize(_ request: PublishRequest, connectionID: UInt64, remoteAddress: String) async -> PublishDecision
}

/// The authorizer `livegate serve` uses until a channel store is wired in: refuses every key,
/// so an unconfigured gateway never accepts an anonymous stream.
public struct RefuseAllAuthorizer: IngestAuthorizer {
    public init() {}

    public func authorize(_ request: PublishRequest, connectionID: UInt64, remoteAddress: String) async -> PublishDecision {
        .reject(.error(.publishUnauthorized, "no channel store is configured; every stream key is refused"))
    }
}

/// Accepts exactly the given keys (tests, and single-key setups).
public struct StaticKeyAuthorizer: IngestAuthorizer {
    public let keys: Set<String>

    public init(keys: Set<String>) {
        self.keys = keys
    }

    public func authorize(_ request: PublishRequest, connectionID: UInt64, remoteAddress: String) async -> PublishDecision {
        // Compare every key in constant time so timing does not reveal a prefix match.
        var found = false
        for key in keys where constantTimeEquals(key, request.streamKey) { found = true }
        return found ? .accept : .reject(.error(.publishUnauthorized, "unknown stream key"))
    }
}

/// Byte comparison whose duration depends only on the lengths, not on where they differ.
public func constantTimeEquals(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    var diff = UInt8(truncatingIfNeeded: x.count ^ y.count)
    for i in 0..<max(x.count, y.count) {
        diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
    }
    return diff == 0
}
