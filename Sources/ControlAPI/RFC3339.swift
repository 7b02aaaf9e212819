import LiveGateModel
import Foundation

/// RFC 3339 §5.6 `date-time`, exactly: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`, `T`/`Z` in either
/// case, years 0001–9999, days checked against the month, a leap second (`:60`) read as the
/// last instant of its minute. Written out rather than left to `ISO8601FormatStyle` so that the
/// `format: date-time` query parameters of the OpenAPI document accept what the grammar
/// accepts (offsets, six fractional digits, year 0001) and nothing else.
enum RFC3339 {
    static func parse(_ text: String) -> Date? {
        let b = Array(text.utf8)
        guard b.count >= 20 else { return nil }
        func digits(_ at: Int, _ n: Int) -> Int? {
            guard at + n <= b.count else { return nil }
            var v = 0
            for i in at..<(at + n) {
                guard (48...57).contains(b[i]) else { return nil }
                v = v * 10 + Int(b[i] - 48)
            }
            return v
        }
        guard let year = digits(0, 4), b[4] == 45, let month = digits(5, 2), b[7] == 45, let day = digits(8, 2),
              b[10] == 84 || b[10] == 116, let hour = digits(11, 2), b[13] == 58, let minute = digits(14, 2), b[16] == 58,
              let second = digits(17, 2)
        else { return nil }
        var i = 19
        var fraction = 0.0
        if i < b.count, b[i] == 46 {
            i += 1
            var scale = 0.1
            let start = i
            while i < b.count, (48...57).contains(b[i]) {
                fraction += Double(b[i] - 48) * scale
                scale /= 10
                i += 1
            }
            guard i > start else { return nil }
        }
        guard i < b.count else { return nil }
        var offsetSeconds = 0
        if b[i] == 90 || b[i] == 122 {
            i += 1
        } else if b[i] == 43 || b[i] == 45, let oh = digits(i + 1, 2), i + 3 < b.count, b[i + 3] == 58, let om = digits(i + 4, 2) {
            guard oh <= 23, om <= 59 else { return nil }
            offsetSeconds = (b[i] == 43 ? 1 : -1) * (oh * 3600 + om * 60)
            i += 6
        } else {
            return nil
        }
        guard i == b.count, year >= 1, (1...12).contains(month), day >= 1, day <= Timestamp.daysIn(month: month, year: year), hour <= 23, minute <= 59, second <= 60
        else { return nil }
        let days = Timestamp.days(fromCivil: year, month, day)
        let seconds = Double(days * 86400 + hour * 3600 + minute * 60 + min(second, 59) - offsetSeconds) + (second == 60 ? 0.999 : fraction)
        return Date(timeIntervalSince1970: seconds)
    }
}
