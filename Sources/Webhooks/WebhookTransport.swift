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

    public init(client: HTTPClient = .shared) {
        self.client = client
    }

    public func post(url: String, headers: [(String, String)], body: String, timeout: TimeInterval) async throws -> (status: Int, body: String) {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await client.execute(request, timeout: .milliseconds(Int64(timeout * 1000)))
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
