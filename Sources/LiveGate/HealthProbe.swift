import LiveGateModel
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOSSL

/// What `livegate healthcheck` (the Docker HEALTHCHECK) does: one GET to this gateway's own
/// HTTP listener, built from the same configuration `serve` reads — the configured port, HTTPS
/// when `http.tlsCertificate` is set — so the check cannot point at the wrong place when an
/// operator changes either.
public struct HealthProbe: Sendable {
    public struct Result: Sendable {
        public var healthy: Bool
        public var summary: String
        /// The node id the answer names (`/healthz` says which node answered).
        public var nodeId: String? = nil
    }

    public let url: String
    public let timeoutSeconds: Double

    public init(configuration: LiveGateConfiguration, path: String, timeoutSeconds: Double) {
        let tls = !configuration.string("http.tlsCertificate").isEmpty
        self.url = "\(tls ? "https" : "http")://\(Self.connectHost(configuration.string("http.host"))):\(configuration.int("http.port"))\(path)"
        self.timeoutSeconds = timeoutSeconds
    }

    /// A wildcard listen address is reached on loopback; a specific one as configured.
    static func connectHost(_ host: String) -> String {
        switch host {
        case "", "0.0.0.0": return "127.0.0.1"
        case "::", "[::]": return "[::1]"
        default: return host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        }
    }

    public func run() async -> Result {
        var configuration = HTTPClient.Configuration()
        // Our own listener on loopback: its certificate names the public host, not 127.0.0.1.
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .none
        configuration.tlsConfiguration = tls
        configuration.timeout = .init(connect: .milliseconds(Int64(timeoutSeconds * 1000)), read: .milliseconds(Int64(timeoutSeconds * 1000)))
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let result: Result
        do {
            var request = HTTPClientRequest(url: url)
            request.method = .GET
            let response = try await client.execute(request, timeout: .milliseconds(Int64(timeoutSeconds * 1000)))
            let body = try await response.body.collect(upTo: 64 * 1024)
            let text = String(buffer: body)
            let data = (JSONValue.parse(text)?.objectValue?["data"])?.objectValue
            var nodeId: String?
            if case .string(let id)? = data?["nodeId"] { nodeId = id }
            result = Result(healthy: response.status.code == 200, summary: "\(url): \(response.status.code) \(text.prefix(300))", nodeId: nodeId)
        } catch {
            result = Result(healthy: false, summary: "\(url): \(error)")
        }
        try? await client.shutdown()
        return result
    }
}
