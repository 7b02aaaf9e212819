import HTTPTypes
import Hummingbird
import LiveGateModel
import NIOConcurrencyHelpers

/// HTTP requests by route template, method and status, for `/metrics`
/// (`livegate_http_requests_total`). Labels are bounded: the route is a template from the route
/// table (`/v1/channels/{id}`), `/hls/…` for playback, or `other` — never a raw path or an id.
final class RequestMetrics: Sendable {
    private let counts = NIOLockedValueBox<[String: Int]>([:])
    private let templates = NIOLockedValueBox<[(segments: [Substring], path: String)]>([])

    init() {}

    /// The route table's paths (set when the router is built).
    func setPaths(_ paths: [String]) {
        let sorted = Set(paths).sorted().map { ($0.split(separator: "/", omittingEmptySubsequences: false), $0) }
        templates.withLockedValue { $0 = sorted }
    }

    func route(of path: String) -> String {
        if path.hasPrefix("/hls/") { return "/hls/…" }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        return templates.withLockedValue { $0 }.first { entry in
            entry.segments.count == parts.count && zip(entry.segments, parts).allSatisfy { pattern, part in
                (pattern.hasPrefix("{") && !part.isEmpty) || pattern == part
            }
        }?.path ?? "other"
    }

    func record(path: String, method: HTTPRequest.Method, status: Int) {
        let key = "\(route(of: path))\t\(method.rawValue)\t\(status)"
        counts.withLockedValue { $0[key, default: 0] += 1 }
    }

    func prometheusText() -> String {
        var p = PrometheusText()
        p.family("livegate_http_requests_total", .counter, help: "HTTP requests answered, by route template, method and status.")
        for (key, n) in counts.withLockedValue({ $0 }).sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "\t").map(String.init)
            p.sample("livegate_http_requests_total", [("route", parts[0]), ("method", parts[1]), ("status", parts[2])], Double(n))
        }
        return p.text
    }
}

/// Counts every answer, outermost, so the status is the one the client got.
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: RequestMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            let response = try await next(request, context)
            metrics.record(path: request.uri.path, method: request.method, status: Int(response.status.code))
            return response
        } catch let error as HTTPResponseError {
            metrics.record(path: request.uri.path, method: request.method, status: Int(error.status.code))
            throw error
        } catch {
            metrics.record(path: request.uri.path, method: request.method, status: 500)
            throw error
        }
    }
}
