import Foundation
import Logging
@testable import MediaPipeline
import TestSupport
import XCTest

/// libav's own messages arrive in the gateway's logger as structured records (not raw stderr),
/// named by the libav component, with stream keys masked.
extension MediaHubTests {
    func testLibavErrorsAreStructuredLogRecordsWithKeysMasked() async throws {
        let dir = try MediaTools.temporaryDirectory("media-log")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try await MediaTools.makeClip(seconds: 2, in: dir)
        let capture = LogCapture()
        let hub = makeHub(dir.appendingPathComponent("data"), events: Events(), logger: capture.logger(label: "test.media")) {
            $0.forwardRetryInitialSeconds = 0.05
            $0.forwardTimeoutSeconds = 1
        }
        hub.sessionStarted(connectionID: 11)
        // Nothing listens on port 9: libav's TCP layer logs the refused connect itself.
        hub.configure(connectionID: 11, plan: plan("lg", hls: false, record: false,
                                                  forwards: [.init(id: "fwd_l", url: "rtmp://127.0.0.1:9/live/topsecretkey")]))
        for f in try frames(clip) { hub.media(f, connectionID: 11) }
        try await waitUntil(timeout: 10) { !capture.matching { $0.metadata["source"] == "libav" }.isEmpty }
        let libav = capture.matching { $0.metadata["source"] == "libav" }
        let refused = try XCTUnwrap(libav.first { $0.message.contains("Connection refused") || $0.message.contains("failed") }, "\(libav)")
        XCTAssertEqual(refused.level, .error)
        XCTAssertEqual(refused.metadata["component"], "tcp", "named by libav's logging object")
        XCTAssertFalse(refused.message.hasSuffix("\n"))
        XCTAssertFalse(capture.all.contains { $0.message.contains("topsecretkey") || $0.metadata.values.contains { $0.contains("topsecretkey") } })
        hub.sessionEnded(connectionID: 11)
        let drained = await hub.drain(timeout: .seconds(5))
        XCTAssertTrue(drained)
    }

    func testURLsInLibavMessagesHaveTheirKeyMasked() {
        XCTAssertEqual(LibavLog.redact("rtmps://push.example.com/app/sk_live_123456: Input/output error"),
                       "rtmps://push.example.com/app/sk_l****: Input/output error")
        XCTAssertEqual(LibavLog.redact("Cannot open connection tls://127.0.0.1:1936"), "Cannot open connection tls://127.0.0.1:1936")
        XCTAssertEqual(LibavLog.level(16), .error)
        XCTAssertEqual(LibavLog.level(8), .critical)
        XCTAssertEqual(LibavLog.level(24), .warning)
    }
}
