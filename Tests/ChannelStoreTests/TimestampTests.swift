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

    /// The hand-written calendar against Foundation's (an independent implementation): dates
    /// spread over 1583–9999 — leap days, century years, before 1970 — format to the text
    /// Foundation's ISO 8601 style gives, and parse back to the same millisecond. (Before
    /// 1582-10-15 Foundation's calendar is Julian; RFC 3339, and `RFC3339.parse`, are proleptic
    /// Gregorian, as `Timestamp` is: checked below against Python's `datetime`, down to year 1.)
    func testFormatAndParseAgreeWithFoundationFrom1583To9999() throws {
        let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)
        var generator = SystemRandomNumberGenerator()
        let low = -12_212_553_600_000.0 /* 1583-01-01 */, high = Timestamp.maxMilliseconds
        var samples: [Double] = [low, high, 0, -1, 951_782_400_000 /* 2000-02-29 */, 4_107_542_400_000 /* 2100-03-01 */,
                                 -2_203_891_200_000 /* 1900-02-28 */, 68_169_600_000 /* 1972-02-29 */]
        for _ in 0..<20_000 { samples.append(Double(Int64.random(in: Int64(low)...Int64(high), using: &generator))) }
        for ms in samples {
            let date = Date(timeIntervalSince1970: ms / 1000)
            let ours = Timestamp.format(date)
            let theirs = Date(timeIntervalSince1970: ms / 1000 + 0.0001).formatted(style) // nudged: the style truncates
            XCTAssertEqual(ours, theirs, "ms \(ms)")
            XCTAssertEqual((Timestamp.parse(ours).timeIntervalSince1970 * 1000).rounded(), ms, ours)
            let foundation = try XCTUnwrap(try? style.parse(ours), ours)
            XCTAssertEqual(Timestamp.parse(ours).timeIntervalSince1970, foundation.timeIntervalSince1970, accuracy: 0.0005, ours)
            if ours != theirs { return }
        }
        for ms in [Timestamp.minMilliseconds, -12_219_292_800_001 /* the day before the Gregorian reform */, -62_104_060_800_000] {
            let text = Timestamp.format(Date(timeIntervalSince1970: ms / 1000))
            XCTAssertEqual((Timestamp.parse(text).timeIntervalSince1970 * 1000).rounded(), ms, text)
        }
        // Before the reform, against Python's datetime (proleptic Gregorian, an independent calendar).
        for (ms, text) in [(Timestamp.minMilliseconds, "0001-01-01T00:00:00.000Z"), (-62_104_060_800_000, "0002-01-01T00:00:00.000Z"),
                           (-50_000_000_000_000, "0385-07-25T07:06:40.000Z"), (-12_219_292_800_001, "1582-10-14T23:59:59.999Z")] {
            XCTAssertEqual(Timestamp.format(Date(timeIntervalSince1970: ms / 1000)), text)
        }
    }

    /// What is not exactly `YYYY-MM-DDTHH:MM:SS.mmmZ` with a real date in it is not taken by the
    /// fast path: other RFC 3339 spellings still parse (through Foundation), nonsense is the epoch.
    func testParseOutsideTheStoredShape() {
        XCTAssertEqual(Timestamp.parse("2026-11-28T20:15:26Z").timeIntervalSince1970, 1_795_896_926)
        XCTAssertEqual(Timestamp.parse("2026-11-28T20:15:26.5Z").timeIntervalSince1970, 1_795_896_926.5, accuracy: 0.0005)
        XCTAssertEqual(Timestamp.parse("2026-13-01T00:00:00.000Z").timeIntervalSince1970, 0)
        XCTAssertEqual(Timestamp.parse("2026-11-28T20:15:2a.000Z").timeIntervalSince1970, 0)
        XCTAssertEqual(Timestamp.parse("").timeIntervalSince1970, 0)
        XCTAssertEqual(Timestamp.format(Date(timeIntervalSince1970: .infinity)), "1970-01-01T00:00:00.000Z")
    }
}
