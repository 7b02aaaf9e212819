import Foundation
import LiveGate
import Logging
import XCTest

final class LogFormatTests: XCTestCase {
    func event(_ message: Logger.Message, _ metadata: Logger.Metadata) -> LogEvent {
        LogEvent(level: .info, message: message, metadata: metadata, source: "RTMPServer", file: #fileID, function: #function, line: #line)
    }

    func testJSONLinesCarryConnectionChannelAndRemote() throws {
        var handler = LiveGateLogHandler(label: "livegate.rtmp", level: .info, format: .json)
        handler[metadataKey: "rtmp.connection.id"] = "7"
        let line = handler.line(for: event("publish rejected", ["remote": "127.0.0.1:5000", "channel": "ch_x", "key": "abcd…(43)",
                                                                 "status": "NetStream.Publish.Unauthorized"]), at: Date(timeIntervalSince1970: 0))
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        XCTAssertEqual(object["msg"], "publish rejected")
        XCTAssertEqual(object["level"], "info")
        XCTAssertEqual(object["logger"], "livegate.rtmp")
        XCTAssertEqual(object["rtmp.connection.id"], "7")
        XCTAssertEqual(object["remote"], "127.0.0.1:5000")
        XCTAssertEqual(object["channel"], "ch_x")
        XCTAssertEqual(object["ts"], "1970-01-01T00:00:00.000Z")
        XCTAssertFalse(line.contains("\n"))
    }

    func testTextLinesAreKeyValueWithQuoting() {
        let handler = LiveGateLogHandler(label: "livegate", level: .info, format: .text)
        let line = handler.line(for: event("publish ended", ["reason": "unpublished", "encoder": "FMLE/3.0 (compatible)"]), at: Date(timeIntervalSince1970: 0))
        XCTAssertEqual(line, #"1970-01-01T00:00:00.000Z INFO [livegate] publish ended encoder="FMLE/3.0 (compatible)" reason=unpublished"#)
    }

    /// A C library's error stack can carry `__FILE__` (BoringSSL: "… at /src/.build/checkouts/
    /// swift-nio-ssl/Sources/CNIOBoringSSL/ssl/ssl_cert.cc:330"); log lines show the file's name.
    func testBuildPathsAreReducedToFileNames() throws {
        let root = String(URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path)
        let handler = LiveGateLogHandler(label: "livegate", level: .info, format: .text)
        let message: Logger.Message = "handshake failed: error:0b000074 at \(root)/.build/checkouts/swift-nio-ssl/Sources/CNIOBoringSSL/ssl/ssl_cert.cc:330"
        let line = handler.line(for: event(message, ["error": "\(root)/Sources/LiveGate/LiveGateApp.swift:42: oops"]), at: Date(timeIntervalSince1970: 0))
        XCTAssertFalse(line.contains(root + "/"), line)
        XCTAssertTrue(line.contains("at ssl_cert.cc:330"), line)
        XCTAssertTrue(line.contains("LiveGateApp.swift:42"), line)
        let json = LiveGateLogHandler(label: "livegate", level: .info, format: .json)
            .line(for: event(message, [:]), at: Date(timeIntervalSince1970: 0))
        let msg = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: String])?["msg"])
        XCTAssertEqual(msg, "handshake failed: error:0b000074 at ssl_cert.cc:330")
        // Paths that are not the build tree (data folders, certificates) stay whole.
        let data = handler.line(for: event("recovered", ["path": "/var/lib/livegate/data/recordings/x.mp4"]), at: Date(timeIntervalSince1970: 0))
        XCTAssertTrue(data.contains("/var/lib/livegate/data/recordings/x.mp4"))
    }
}
