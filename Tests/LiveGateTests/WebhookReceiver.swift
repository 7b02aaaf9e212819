import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore
import TestSupport
import Webhooks

/// A real HTTP webhook receiver on loopback that verifies Standard Webhooks signatures and can
/// be told to fail (HTTP 500) for a while.
final class WebhookReceiver: Sendable {
    struct Received: Sendable {
        var id: String
        var type: String
        var seq: Int
        var reason: String?
        var channelId: String?
        var signatureValid: Bool
        var body: String
        var at: Date
        /// The raw headers, for `StandardWebhooksVerifier`.
        var timestampHeader = ""
        var signatureHeader = ""
    }

    private let secretBox: NIOLockedValueBox<String>
    var secret: String { secretBox.withLockedValue { $0 } }
    /// For webhooks whose secret is only known after the receiver's URL was registered.
    func setSecret(_ value: String) { secretBox.withLockedValue { $0 = value } }
    private let received: NIOLockedValueBox<[Received]>
    private let failing: NIOLockedValueBox<Bool>
    private let failures: NIOLockedValueBox<Int>
    private let task: Task<Void, any Error>
    private let delay: NIOLockedValueBox<Duration>
    /// How long from now on each request waits before it is answered.
    func setAnswerAfter(_ value: Duration) { delay.withLockedValue { $0 = value } }
    let port: Int

    /// `answerAfter`: each request is answered that long after it arrived (a slow receiver).
    /// `port`: 0 = any free one; a receiver stopped and started again on its old port is a
    /// receiver that was down (connections refused meanwhile).
    static func start(secret: String, answerAfter: Duration = .zero, port requestedPort: Int = 0) async throws -> WebhookReceiver {
        let secretBox = NIOLockedValueBox(secret)
        let box = NIOLockedValueBox<[Received]>([])
        let failing = NIOLockedValueBox(false)
        let failures = NIOLockedValueBox(0)
        let delay = NIOLockedValueBox(answerAfter)
        let router = Router()
        router.post("/hook") { request, context -> Response in
            var request = request
            let body = String(buffer: try await request.collectBody(upTo: 1 << 20))
            let wait = delay.withLockedValue { $0 }
            if wait > .zero { try await Task.sleep(for: wait) }
            if failing.withLockedValue({ $0 }) {
                failures.withLockedValue { $0 += 1 }
                return Response(status: .internalServerError)
            }
            let id = request.headers[HTTPField.Name("webhook-id")!] ?? ""
            let ts = Int(request.headers[HTTPField.Name("webhook-timestamp")!] ?? "") ?? 0
            let sig = request.headers[HTTPField.Name("webhook-signature")!] ?? ""
            let json = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
            let data = json["data"] as? [String: Any]
            box.withLockedValue {
                $0.append(Received(id: id, type: json["type"] as? String ?? "", seq: json["seq"] as? Int ?? -1,
                                   reason: (data?["session"] as? [String: Any])?["reason"] as? String ?? data?["reason"] as? String,
                                   // A deleted channel's events carry channel null; the session still names it.
                                   channelId: (data?["channel"] as? [String: Any])?["id"] as? String ?? (data?["session"] as? [String: Any])?["channelId"] as? String,
                                   signatureValid: WebhookSignature.verify(secret: secretBox.withLockedValue { $0 }, id: id, timestamp: ts, body: body, header: sig)
                                       && id == json["id"] as? String,
                                   body: body, at: Date(), timestampHeader: request.headers[HTTPField.Name("webhook-timestamp")!] ?? "",
                                   signatureHeader: sig))
            }
            return Response(status: .noContent)
        }
        let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
        var quiet = Logger(label: "test.receiver")
        quiet.logLevel = .critical // cancellation at the end of a test is not an error worth printing
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: requestedPort)),
                              onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) }, logger: quiet)
        let task = Task { try await app.runService() }
        var port = 0
        for await p in stream { port = p; break }
        return WebhookReceiver(secretBox: secretBox, received: box, failing: failing, failures: failures, delay: delay, task: task, port: port)
    }

    private init(secretBox: NIOLockedValueBox<String>, received: NIOLockedValueBox<[Received]>, failing: NIOLockedValueBox<Bool>, failures: NIOLockedValueBox<Int>,
                 delay: NIOLockedValueBox<Duration>, task: Task<Void, any Error>, port: Int) {
        self.delay = delay
        self.secretBox = secretBox
        self.received = received
        self.failing = failing
        self.failures = failures
        self.task = task
        self.port = port
    }

    var url: String { "http://127.0.0.1:\(port)/hook" }
    var all: [Received] { received.withLockedValue { $0 } }
    var failedRequests: Int { failures.withLockedValue { $0 } }
    func setFailing(_ value: Bool) { failing.withLockedValue { $0 = value } }

    func events(_ type: String, channel: String? = nil) -> [Received] {
        all.filter { $0.type == type && (channel == nil || $0.channelId == channel) }
    }

    /// Polls until `predicate` holds over what arrived.
    @discardableResult
    func wait(timeout: Double = 10, _ predicate: @escaping ([Received]) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while ContinuousClock.now < deadline {
            if predicate(all) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return predicate(all)
    }

    /// Every request received, checked by `standardwebhooks` (PyPI) — not by our own verify.
    @discardableResult
    func verifyWithStandardWebhooks() async throws -> Int {
        try await StandardWebhooksVerifier.verify(all.map { .init(id: $0.id, timestamp: $0.timestampHeader, signature: $0.signatureHeader, body: $0.body) },
                                                  secret: secret)
    }

    func stop() async {
        task.cancel()
        _ = await task.result
    }
}
