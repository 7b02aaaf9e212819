import LiveGateModel
import ChannelStore
import Crypto
import Foundation
import HTTPTypes

/// Validators and preconditions (RFC 9110 §8.8 and §13) for channels, webhooks, videos and
/// video files (docs/api.md, "Conditional requests").
///
/// A resource's `ETag` is a strong tag over its JSON representation in canonical form (RFC
/// 8785), so every node computes the same tag for the same state, and anything the answer shows
/// — a channel going live included — changes it. `Last-Modified` is the resource's `updatedAt`
/// (or `createdAt` when it has none).
enum ConditionalRequest {
    static let ifMatch = HTTPField.Name("If-Match")!
    static let ifNoneMatch = HTTPField.Name("If-None-Match")!
    static let ifRange = HTTPField.Name("If-Range")!
    static let etagHeader = HTTPField.Name("ETag")!
    static let lastModifiedHeader = HTTPField.Name("Last-Modified")!

    struct Validators: Equatable {
        var etag: String
        var lastModified: Date?

        /// The headers that carry them.
        var headers: HTTPFields {
            var h = HTTPFields()
            h[ConditionalRequest.etagHeader] = etag
            if let lastModified { h[ConditionalRequest.lastModifiedHeader] = ConditionalRequest.httpDate(lastModified) }
            return h
        }
    }

    /// The validators of a resource shown as `data`.
    static func validators(of data: JSONValue) -> Validators {
        var bytes: [UInt8] = []
        CanonicalJSON.append(data, to: &bytes)
        return validators(of: data, canonical: bytes)
    }

    /// The same, given `data`'s canonical bytes already rendered (`Envelope.response` made them).
    static func validators(of data: JSONValue, canonical: some Collection<UInt8>) -> Validators {
        var hash = SHA256()
        hash.update(data: Array(canonical))
        let digest = hash.finalize()
        let tag = "\"" + Hex.lowercase(digest.prefix(16)) + "\""
        var modified: Date?
        if case .object(let o) = data {
            for key in ["updatedAt", "createdAt"] {
                if case .string(let text)? = o[key], let date = RFC3339.parse(text) { modified = date; break }
            }
        }
        return Validators(etag: tag, lastModified: modified)
    }

    /// The entity tags of an `If-Match` / `If-None-Match` value; nil for `*` (any).
    static func entityTags(_ header: String) -> [String]? {
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        if trimmed == "*" { return nil }
        var tags: [String] = []
        var rest = Substring(trimmed)
        while !rest.isEmpty {
            rest = rest.drop { $0 == " " || $0 == "," || $0 == "\t" }
            guard !rest.isEmpty else { break }
            var weak = false
            if rest.hasPrefix("W/") { weak = true; rest = rest.dropFirst(2) }
            guard rest.first == "\"", let close = rest.dropFirst().firstIndex(of: "\"") else { break }
            tags.append((weak ? "W/" : "") + rest[rest.startIndex...close])
            rest = rest[rest.index(after: close)...]
        }
        return tags
    }

    /// `If-None-Match`: weak comparison (§13.1.2): true when the answer may be 304.
    static func noneMatchFails(_ header: String, _ etag: String) -> Bool {
        guard let tags = entityTags(header) else { return true }
        let opaque = etag.hasPrefix("W/") ? String(etag.dropFirst(2)) : etag
        return tags.contains { ($0.hasPrefix("W/") ? String($0.dropFirst(2)) : $0) == opaque }
    }

    /// `If-Match`: strong comparison (§13.1.1): true when the request may go on.
    static func matches(_ header: String, _ etag: String?) -> Bool {
        guard let etag else { return false }
        guard let tags = entityTags(header) else { return true }
        return !etag.hasPrefix("W/") && tags.contains(etag)
    }

    /// `If-Range` (§13.1.5): the range is sent only when the validator is the current strong
    /// entity tag, or the exact `Last-Modified` date; otherwise the whole representation.
    static func rangeAllowed(_ header: String?, _ validators: Validators) -> Bool {
        guard let header = header?.trimmingCharacters(in: .whitespaces), !header.isEmpty else { return true }
        if header.hasPrefix("\"") || header.hasPrefix("W/") { return !header.hasPrefix("W/") && header == validators.etag }
        guard let date = parseHTTPDate(header), let modified = validators.lastModified else { return false }
        return Int(date.timeIntervalSince1970) == Int(modified.timeIntervalSince1970)
    }

    private static let formatter: DateFormatter = {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return f
    }()
    private static let lock = NSLock()

    /// IMF-fixdate (RFC 9110 §5.6.7).
    static func httpDate(_ date: Date) -> String {
        lock.withLock { formatter.string(from: date) }
    }

    static func parseHTTPDate(_ text: String) -> Date? {
        lock.withLock { formatter.date(from: text.trimmingCharacters(in: .whitespaces)) }
    }

    static func preconditionFailed(_ current: String?) -> APIError {
        APIError(.preconditionFailed, ec: 4120, current == nil ? "If-Match: the resource does not exist" : "If-Match: the resource has changed",
                 data: .object(["etag": current.map { .string($0) } ?? .null]))
    }
}
