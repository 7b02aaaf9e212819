import LiveGateModel
import ChannelStore
import HTTPTypes
import Hummingbird
import Logging

/// Turns everything thrown below it into the docs/contract.md §4 envelope: `APIError` as is, Hummingbird's
/// own errors (unknown route, oversized body) into their rows of the table, store errors into
/// 403/400, and anything else into a logged 500 — never a bare stack trace.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Each route path (`/v1/channels/{id}`) with the methods it answers: a method the router
    /// has no route for (`QUERY`, `PROPFIND` …) on a path that exists is a 405 with `Allow`,
    /// not a 404.
    var methodsByPath: [(segments: [Substring], methods: [HTTPRequest.Method])] = []

    func allowed(_ path: String) -> [HTTPRequest.Method]? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        return methodsByPath.first { entry in
            entry.segments.count == parts.count && zip(entry.segments, parts).allSatisfy { pattern, part in
                (pattern.hasPrefix("{") && !part.isEmpty) || pattern == part
            }
        }?.methods
    }

    /// A page's script says so (the dashboard does): its 401 carries no `WWW-Authenticate`, so
    /// the browser shows the page's own message rather than its login prompt.
    static var requestedWith: HTTPField.Name { HTTPField.Name("X-Requested-With")! }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch var error as APIError {
            if error.status == .unauthorized, request.headers[Self.requestedWith] != nil { error.headers[.wwwAuthenticate] = nil }
            return Envelope.error(error)
        } catch let error as HTTPError {
            switch error.status {
            case .notFound:
                if let methods = allowed(request.uri.path), !methods.contains(request.method) { return Envelope.error(.methodNotAllowed(methods)) }
                return Envelope.error(.notFound("route"))
            case .contentTooLarge: return Envelope.error(.payloadTooLarge)
            case .badRequest: return Envelope.error(.badRequest(error.body ?? "bad request"))
            case .unauthorized: return Envelope.error(.unauthorized)
            default:
                return Envelope.error(APIError(error.status, ec: Int(error.status.code) * 10, error.body ?? error.status.reasonPhrase))
            }
        } catch let error as StoreError {
            switch error {
            case .limitReached("forwards"):
                // A fixed cap of the product, not a user limit (docs/contract.md §4: 403/4031 "a fixed cap reached").
                return Envelope.error(APIError(.forbidden, ec: 4031, "a channel has at most \(Forward.maxPerChannel) forwards",
                                               data: .object(["cap": .string("forwardsPerChannel"), "max": .number(Double(Forward.maxPerChannel))])))
            case .limitReached(let limit): return Envelope.error(.limitReached(limit))
            case .invalidCursor: return Envelope.error(.badRequest("invalid cursor"))
            case .conflict(let what): return Envelope.error(APIError(.conflict, ec: 4090, what))
            }
        } catch where StoreFactory.isUnavailable(error) {
            // An outage, not a bug: the client may retry.
            context.logger.warning("store unavailable", metadata: ["error": "\(StoreFactory.describe(error))", "path": "\(request.uri.path)"])
            return Envelope.error(.storeUnavailable)
        } catch {
            context.logger.error("unhandled error in API handler", metadata: ["error": "\(String(reflecting: error))", "path": "\(request.uri.path)"])
            return Envelope.error(.internalError)
        }
    }
}
