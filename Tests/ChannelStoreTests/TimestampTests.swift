import LiveGateModel
import ChannelStore
import Foundation
import XCTest

/// Stored times are RFC 3339 with milliseconds; formatting what was parsed gives the same text.
final class TimestampTests: XCTestCase {
    func testFormatOfParseIsTheSameTextForEveryMillisecond() {
        for ms in 0..<1000 {
            let text = "2026-11-28T20:15:26." + String(String(ms + 1000).dropFirst()) + "Z"
            XCTAssertEqual(Timestamp.format(Timestamp.parse(text)), text)
        }
        XCTAssertEqual(Timestamp.format(Date(timeIntervalSince1970: 0)), "1970-01-01T00:00:00.000Z")
        XCTAssertEqual(Timestamp.format(Date(timeIntervalSince1970: 1.9996)), "1970-01-01T00:00:02.000Z", "rounded, carrying into the seconds")
    }
}
