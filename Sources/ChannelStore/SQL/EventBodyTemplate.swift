import LiveGateModel

/// An event's body as the text around its sequence number, for a database that numbers the
/// event itself (PostgreSQL's `livegate_append_event`, migration 23): it joins `parts` with the
/// number it assigns and stores exactly the text `body(seq).jsonText` would have been.
///
/// Found by rendering the body with two sentinel numbers of the same length whose digits all
/// differ: every place the two renderings differ is where the number was written, and nothing
/// else may differ. A body that renders the number any other way (or not at all) has no
/// template, and its event is appended statement by statement instead.
enum EventBodyTemplate {
    /// Exact in a Double and written as an integer by `JSONValue`; 15 digits each, all different.
    static let first: Int64 = 111_111_111_111_111
    static let second: Int64 = 222_222_222_222_222

    static func parts(of body: (Int64) -> JSONValue) -> [String]? {
        let a = Array(body(first).jsonText.utf8), b = Array(body(second).jsonText.utf8)
        guard a.count == b.count else { return nil }
        let digitsA = Array(String(first).utf8), digitsB = Array(String(second).utf8), width = digitsA.count
        var parts: [String] = [], start = 0, i = 0
        while i < a.count {
            guard a[i] != b[i] else { i += 1; continue }
            guard i + width <= a.count, a[i..<i + width].elementsEqual(digitsA), b[i..<i + width].elementsEqual(digitsB) else { return nil }
            parts.append(String(decoding: a[start..<i], as: UTF8.self))
            i += width
            start = i
        }
        guard !parts.isEmpty else { return nil }
        parts.append(String(decoding: a[start...], as: UTF8.self))
        return parts
    }
}
