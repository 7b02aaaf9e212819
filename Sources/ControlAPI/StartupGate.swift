import LiveGateModel
import Hummingbird
import NIOConcurrencyHelpers

/// The HTTP listener's responder from the first moment of `serve`, before the store is open
/// (PostgreSQL may still be unreachable): `/healthz` answers 200 `starting` so an orchestrator
/// does not kill a process that is waiting for its database, `/readyz` and everything else 503
/// with `Retry-After`. Once the API is built, `open(_:)` hands every request to it.
public final class StartupGate<Context: RequestContext>: HTTPResponder, Sendable {
    private let inner = NIOLockedValueBox<(any HTTPResponder<Context>)?>(nil)
    private let reason = NIOLockedValueBox<String>("starting: opening the store")

    /// The node this listener belongs to (said by `/healthz` from the first moment).
    private let nodeId: String?

    public init(nodeId: String? = nil) {
        self.nodeId = nodeId
    }

    /// From now on requests go to `responder` (the API's router).
    public func open(_ responder: any HTTPResponder<Context>) {
        inner.withLockedValue { $0 = responder }
    }

    /// What `/readyz` says while closed (e.g. the last connection error to the database).
    public func setWaitingReason(_ text: String) {
        reason.withLockedValue { $0 = text }
    }

    public var isOpen: Bool { inner.withLockedValue { $0 != nil } }

    public func respond(to request: Request, context: Context) async throws -> Response {
        if let responder = inner.withLockedValue({ $0 }) {
            return try await responder.respond(to: request, context: context)
        }
        let waiting = reason.withLockedValue { $0 }
        if request.uri.path == "/healthz" {
            var data: [String: JSONValue] = ["status": .string("starting")]
            if let nodeId { data["nodeId"] = .string(nodeId) }
            return Envelope.response(data: .object(data))
        }
        return Envelope.error(APIError(.serviceUnavailable, ec: 5030, waiting, data: .object(["status": .string("starting")]),
                                       headers: [.retryAfter: "5"]))
    }
}
