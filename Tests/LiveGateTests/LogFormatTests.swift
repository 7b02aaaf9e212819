import Foundation
@testable import LiveGate
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
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        XCTAssertEqual(object["msg"] as? String, "publish rejected")
        XCTAssertEqual(object["level"] as? String, "info")
        XCTAssertEqual(object["logger"] as? String, "livegate.rtmp")
        XCTAssertEqual(object["rtmp.connection.id"] as? Int, 7, "a number is a JSON number")
        XCTAssertEqual(object["remote"] as? String, "127.0.0.1:5000")
        XCTAssertEqual(object["channel"] as? String, "ch_x")
        XCTAssertEqual(object["ts"] as? String, "1970-01-01T00:00:00.000Z")
        XCTAssertFalse(line.contains("\n"))
    }

    /// The log's own `level` is always the log level (an H.264 `level` in the metadata used to
    /// overwrite it), and numbers are numbers, strings that only look close stay strings.
    func testJSONKeepsItsLevelAndWritesNumbersAsNumbers() throws {
        let handler = LiveGateLogHandler(label: "livegate.ingest", level: .info, format: .json)
        let line = handler.line(for: event("codec info", ["level": "4.1", "msg": "x", "latency.ms": "12", "drift": "-3.5", "bytes": "1048576",
                                                          "version": "1.2.3", "id": "007", "channel": "ch_1", "rate": "1e3"]),
                                at: Date(timeIntervalSince1970: 0))
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        XCTAssertEqual(object["level"] as? String, "info", "the log level, not the H.264 level")
        XCTAssertEqual(object["meta.level"] as? Double, 4.1)
        XCTAssertEqual(object["msg"] as? String, "codec info")
        XCTAssertEqual(object["meta.msg"] as? String, "x")
        XCTAssertEqual(object["latency.ms"] as? Int, 12)
        XCTAssertEqual(object["drift"] as? Double, -3.5)
        XCTAssertEqual(object["bytes"] as? Int, 1_048_576)
        XCTAssertEqual(object["rate"] as? Double, 1000)
        XCTAssertEqual(object["version"] as? String, "1.2.3")
        XCTAssertEqual(object["id"] as? String, "007", "a leading zero is an identifier, not a number")
        XCTAssertEqual(object["channel"] as? String, "ch_1")
    }

    func testTextLinesAreKeyValueWithQuoting() {
        let handler = LiveGateLogHandler(label: "livegate", level: .info, format: .text)
        let line = handler.line(for: event("publish ended", ["reason": "unpublished", "encoder": "FMLE/3.0 (compatible)"]), at: Date(timeIntervalSince1970: 0))
        XCTAssertEqual(line, #"1970-01-01T00:00:00.000Z INFO [livegate] publish ended encoder="FMLE/3.0 (compatible)" reason=unpublished"#)
    }

    /// Once the node's identity is known every line names it, whichever logger wrote it (a
    /// fleet's logs gathered in one place say which node wrote each line); a line that names a
    /// node itself keeps its own.
    func testEveryLineNamesTheNodeOnceItIsKnown() {
        LogContext.nodeId = nil // an in-process gateway of another test may have set it
        defer { LogContext.nodeId = nil }
        let handler = LiveGateLogHandler(label: "livegate.rtmp", level: .info, format: .text)
        let at = Date(timeIntervalSince1970: 0)
        XCTAssertEqual(handler.line(for: event("connection accepted", [:]), at: at), "1970-01-01T00:00:00.000Z INFO [livegate.rtmp] connection accepted")
        LogContext.nodeId = "node_abc"
        XCTAssertEqual(handler.line(for: event("connection accepted", ["rtmp.connection.id": "7"]), at: at),
                       "1970-01-01T00:00:00.000Z INFO [livegate.rtmp] connection accepted node.id=node_abc rtmp.connection.id=7")
        XCTAssertTrue(handler.line(for: event("node registered", ["node.id": "node_other"]), at: at).hasSuffix("node.id=node_other"))
        let json = LiveGateLogHandler(label: "livegate", level: .info, format: .json)
        XCTAssertTrue(json.line(for: event("x", [:]), at: at).contains(#""node.id":"node_abc""#))
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

    /// The hand-written number check against the regular expression it replaced (Foundation's
    /// engine as the judge), on random strings of number-like characters.
    func testNumberCheckAgreesWithTheRegularExpression() throws {
        let regex = try NSRegularExpression(pattern: #"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$"#)
        let alphabet = Array("0123456789-+.eE x")
        var generator = SystemRandomNumberGenerator()
        var numbers = 0
        for _ in 0..<20_000 {
            let text = String((0..<Int.random(in: 0...8, using: &generator)).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
            // Past a double's range ("1e781") it stays text, as it did.
            let matches = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil && Double(text)?.isFinite == true
            let ours = LiveGateLogHandler.jsonNumber(text)
            XCTAssertEqual(ours != nil, matches, text)
            if let ours { XCTAssertEqual(ours, Double(text)!, text); numbers += 1 }
        }
        XCTAssertGreaterThan(numbers, 100, "the sample held numbers")
        XCTAssertNil(LiveGateLogHandler.jsonNumber("12345678901234567890"), "past 2^53: the digits would change")
        XCTAssertNil(LiveGateLogHandler.jsonNumber(String(repeating: "1", count: 25)))
    }

    func testTextQuotesWhatWouldSplitTheLine() {
        let handler = LiveGateLogHandler(label: "l", level: .info, format: .text)
        let line = handler.line(for: event("m", ["a": "x=y", "b": #"say "hi""#, "c": "", "d": "plain", "e": "ünï"]), at: Date(timeIntervalSince1970: 0))
        XCTAssertEqual(line, #"1970-01-01T00:00:00.000Z INFO [l] m a="x=y" b="say \"hi\"" c="" d=plain e=ünï"#)
    }
}
