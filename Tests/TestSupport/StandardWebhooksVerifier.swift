import Foundation

/// Checks webhook signatures with the `standardwebhooks` package from PyPI
/// (`scripts/verify-webhooks.py`), not with LiveGate's own `WebhookSignature`: our `verify` of
/// our own `sign` would agree with any mistake the two share.
public enum StandardWebhooksVerifier {
    public struct Request: Sendable, Encodable {
        public var id: String
        public var timestamp: String
        public var signature: String
        public var body: String

        public init(id: String, timestamp: String, signature: String, body: String) {
            self.id = id
            self.timestamp = timestamp
            self.signature = signature
            self.body = body
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    static var root: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// The virtualenv's python (`LIVEGATE_TEST_PYTHON`, set by `make test`; otherwise made by
    /// `scripts/python-tools.sh` on first use).
    public static func python() async throws -> String {
        if let path = ProcessInfo.processInfo.environment["LIVEGATE_TEST_PYTHON"], FileManager.default.isExecutableFile(atPath: path) { return path }
        let made = try await ProcessRunner.run(root.appendingPathComponent("scripts/python-tools.sh").path, [], timeout: 300)
        guard made.exitCode == 0, let path = made.stdout.split(separator: "\n").last.map(String.init) else {
            throw Failure(description: "scripts/python-tools.sh failed: \(made.stderr.suffix(800))")
        }
        return path
    }

    /// Verifies every request with `secret`; returns how many verified, throws naming any that did not.
    @discardableResult
    public static func verify(_ requests: [Request], secret: String) async throws -> Int {
        struct Input: Encodable { var secret: String; var requests: [Request] }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("webhooks-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        try JSONEncoder().encode(Input(secret: secret, requests: requests)).write(to: file)
        let result = try await ProcessRunner.run(try await python(), [root.appendingPathComponent("scripts/verify-webhooks.py").path, file.path], timeout: 60)
        struct Output: Decodable { var verified: Int }
        guard result.exitCode == 0, let output = try? JSONDecoder().decode(Output.self, from: Data(result.stdout.utf8)) else {
            throw Failure(description: "standardwebhooks rejected signatures: \(result.stdout.prefix(2000)) \(result.stderr.suffix(800))")
        }
        return output.verified
    }
}
