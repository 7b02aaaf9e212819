import Foundation

/// RFC 3339 timestamps with milliseconds, UTC.
public enum Timestamp {
    /// RFC 3339 in UTC with milliseconds, rounded to the nearest one. (ISO8601FormatStyle
    /// truncates, and a parsed ".931" is a double just below it, so `format(parse(s))` gave
    /// ".930": a stored time drifted by a millisecond on each round trip.)
    public static func format(_ date: Date) -> String {
        let ms = (date.timeIntervalSince1970 * 1000).rounded()
        let seconds = (ms / 1000).rounded(.down)
        let millis = Int(ms - seconds * 1000)
        let whole = Date(timeIntervalSince1970: seconds).formatted(Date.ISO8601FormatStyle(timeZone: .gmt)) // "…T20:15:26Z"
        return String(whole.dropLast()) + "." + String(String(millis + 1000).dropFirst()) + "Z"
    }

    public static func parse(_ text: String) -> Date {
        (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt).parse(text))
            ?? (try? Date.ISO8601FormatStyle(timeZone: .gmt).parse(text)) ?? Date(timeIntervalSince1970: 0)
    }

    /// Parses client-supplied RFC 3339 (with or without fractional seconds).
    public static func parseStrict(_ text: String) -> Date? {
        (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)) ?? (try? Date.ISO8601FormatStyle().parse(text))
    }
}
