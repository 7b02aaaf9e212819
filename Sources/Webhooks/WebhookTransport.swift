import LiveGateModel
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Sends one signed POST. A protocol so tests can count or fail deliveries without a network.
public protocol WebhookTransport: Sendable {
    func post(url: String, headers: [(String, String)], body: String, timeout: TimeInterval) async throws -> (status: Int, body: String)
}

/// AsyncHTTPClient: SwiftNIO-based like the rest of the gateway (shared event loops, no thread
/// per request), HTTP/1.1 and HTTP/2, TLS through swift-nio-ssl, per-request deadlines.
public struct AsyncHTTPClientTransport: WebhookTransport {
    let client: HTTPClient

    /// The webhooks' own client: a refused connection, a failed DNS lookup or TLS handshake fails
    /// the attempt at once — AsyncHTTPClient's default retries connecting until the request's
    /// deadline, so a receiver that is down cost the whole 5 s timeout. Never shut down: it
    /// lives as long as the process.
    public static let webhooks: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout = .init(connect: .seconds(5))
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    public init(client: HTTPClient = AsyncHTTPClientTransport.webhooks) {
        self.client = client
    }

    public func post(url: String, headers: [(String, String)], body: String, timeout: TimeInterval) async throws -> (status: Int, body: String) {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(string: body))
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .milliseconds(Int64(timeout * 1000)))
        } catch {
            throw WebhookTransportError(url: url, underlying: error)
        }
        // Keep at most 1 KiB of the answer for the delivery log; never buffer a huge body.
        var excerpt = ByteBuffer()
        for try await var chunk in response.body {
            if excerpt.readableBytes < 1024 {
                if let slice = chunk.readSlice(length: min(chunk.readableBytes, 1024 - excerpt.readableBytes)) { excerpt.writeImmutableBuffer(slice) }
            }
        }
        return (Int(response.status.code), String(buffer: excerpt))
    }
}

/// Why an attempt reached no answer, in words for the delivery log's `responseExcerpt`:
/// "connection refused by 127.0.0.1:9", "DNS lookup failed for hooks.example", "TLS: …", "timed out after 5 s".
public struct WebhookTransportError: Error, CustomStringConvertible {
    public var description: String

    init(url: String, underlying: any Error) {
        let host = URLComponents(string: url).map { c in "\(c.host ?? "?")\(c.port.map { ":\($0)" } ?? "")" } ?? "?"
        let text = String(describing: underlying)
        if text.contains("Connection refused") || text.contains("connection refused") {
            description = "connection refused by \(host)"
        } else if text.contains("dnsAError: Optional") || text.contains("dnsAAAAError: Optional") || text.contains("DNS") {
            description = "DNS lookup failed for \(host)"
        } else if let http = underlying as? HTTPClientError, http == .deadlineExceeded || http == .readTimeout || http == .connectTimeout {
            description = "no answer from \(host): \(http)"
        } else if text.contains("SSL") || text.contains("TLS") || text.contains("certificate") {
            description = "TLS with \(host) failed: \(text.prefix(300))"
        } else {
            description = "\(host): \(text.prefix(300))"
        }
    }
}
