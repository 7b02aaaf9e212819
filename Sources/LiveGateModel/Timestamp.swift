import Foundation

/// RFC 3339 timestamps with milliseconds, UTC: `YYYY-MM-DDTHH:MM:SS.mmmZ`.
///
/// Written and read by hand, not through Foundation's formatters: every log line, event row,
/// session row and API answer carries one, and a formatter cost more than the rest of a
/// publish together — `ISO8601DateFormatter.string(from:timeZone:formatOptions:)` builds an ICU
/// formatter on each call, ≈ 25 % of the CPU a publish costs (docs/architecture.md,
/// "What a publish costs"). Dates outside years 1–9999, and text not in exactly this shape, go
/// through `ISO8601FormatStyle` as before.
public enum Timestamp {
    /// RFC 3339 in UTC with milliseconds, rounded to the nearest one. (ISO8601FormatStyle
    /// truncates, and a parsed ".931" is a double just below it, so truncating gave ".930": a
    /// stored time drifted by a millisecond on each round trip.)
    public static func format(_ date: Date) -> String {
        let ms = (date.timeIntervalSince1970 * 1000).rounded()
        guard ms.isFinite, ms >= minMilliseconds, ms <= maxMilliseconds else { return formatStyle(ms) }
        let total = Int64(ms)
        let millis = Int(total - floorDiv(total, 1000) * 1000)
        let seconds = floorDiv(total, 1000)
        let days = floorDiv(seconds, 86400)
        let secondOfDay = Int(seconds - days * 86400)
        let (year, month, day) = civil(fromDays: days)
        return String(unsafeUninitializedCapacity: 24) { out in
            func put(_ value: Int, _ width: Int, at index: Int) {
                var v = value
                for i in stride(from: index + width - 1, through: index, by: -1) {
                    out[i] = UInt8(48 + v % 10)
                    v /= 10
                }
            }
            put(year, 4, at: 0); out[4] = 45
            put(month, 2, at: 5); out[7] = 45
            put(day, 2, at: 8); out[10] = 84
            put(secondOfDay / 3600, 2, at: 11); out[13] = 58
            put(secondOfDay / 60 % 60, 2, at: 14); out[16] = 58
            put(secondOfDay % 60, 2, at: 17); out[19] = 46
            put(millis, 3, at: 20); out[23] = 90
            return 24
        }
    }

    /// A stored time back (`format`'s output, or any RFC 3339 text in UTC); the epoch for text
    /// that is not a time.
    public static func parse(_ text: String) -> Date {
        fastParse(text)
            ?? (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt).parse(text))
            ?? (try? Date.ISO8601FormatStyle(timeZone: .gmt).parse(text)) ?? Date(timeIntervalSince1970: 0)
    }

    /// Parses client-supplied RFC 3339 (with or without fractional seconds).
    public static func parseStrict(_ text: String) -> Date? {
        (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)) ?? (try? Date.ISO8601FormatStyle().parse(text))
    }

    /// Exactly `YYYY-MM-DDTHH:MM:SS.mmmZ` with a real date and time in it; nil for anything else.
    static func fastParse(_ text: String) -> Date? {
        var text = text
        return text.withUTF8 { b -> Date? in
            guard b.count == 24, b[4] == 45, b[7] == 45, b[10] == 84, b[13] == 58, b[16] == 58, b[19] == 46, b[23] == 90 else { return nil }
            func digits(_ at: Int, _ n: Int) -> Int? {
                var v = 0
                for i in at..<(at + n) {
                    let d = Int(b[i]) - 48
                    guard d >= 0, d <= 9 else { return nil }
                    v = v * 10 + d
                }
                return v
            }
            guard let year = digits(0, 4), let month = digits(5, 2), let day = digits(8, 2), let hour = digits(11, 2),
                  let minute = digits(14, 2), let second = digits(17, 2), let millis = digits(20, 3),
                  year >= 1, (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year),
                  hour <= 23, minute <= 59, second <= 59
            else { return nil }
            let seconds = Int64(days(fromCivil: year, month, day)) * 86400 + Int64(hour * 3600 + minute * 60 + second)
            // One division, as `format` multiplies: format(parse(s)) == s for every millisecond.
            return Date(timeIntervalSince1970: Double(seconds * 1000 + Int64(millis)) / 1000)
        }
    }

    /// 0001-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z in milliseconds since 1970.
    public static let minMilliseconds = Double(days(fromCivil: 1, 1, 1)) * 86_400_000
    public static let maxMilliseconds = Double(days(fromCivil: 9999, 12, 31) + 1) * 86_400_000 - 1

    private static func formatStyle(_ ms: Double) -> String {
        guard ms.isFinite else { return "1970-01-01T00:00:00.000Z" }
        let seconds = (ms / 1000).rounded(.down)
        let millis = Int(ms - seconds * 1000)
        let whole = Date(timeIntervalSince1970: seconds).formatted(Date.ISO8601FormatStyle(timeZone: .gmt)) // "…T20:15:26Z"
        return String(whole.dropLast()) + "." + String(String(millis + 1000).dropFirst()) + "Z"
    }

    private static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant, "chrono-Compatible
    /// Low-Level Date Algorithms", `days_from_civil`).
    public static func days(fromCivil y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    /// The date `days` after 1970-01-01 (the same paper's `civil_from_days`).
    static func civil(fromDays days: Int64) -> (year: Int, month: Int, day: Int) {
        let z = Int(days) + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}
