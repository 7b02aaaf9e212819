import LiveGateModel
import Hummingbird
import NIOCore

/// The request context of the control API: Hummingbird's core context plus the peer address,
/// which the failed-login throttle keys on (or on the
/// client a trusted proxy names: `ClientAddress`).
public struct APIRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// The token that authenticated this request (nil on routes without auth).
    public var grant: TokenGrant?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
        self.grant = nil
    }
}
