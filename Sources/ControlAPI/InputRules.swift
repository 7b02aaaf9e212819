import LiveGateModel
import Foundation

/// What the API accepts in names, ids, tags, free text and URLs, stated once: the checks in
/// `BodyReader`/`QueryParameter` and the `pattern`s of the OpenAPI document come from here, so a
/// client generated from the document (or a fuzzer driven by it) meets exactly these rules.
enum InputRules {
    /// C0, DEL and C1 controls (Unicode Cc), as a regular-expression class body.
    static let controls = #"\u0000-\u001f\u007f-\u009f"#
    /// Unicode White_Space (what `Unicode.Scalar.Properties.isWhitespace` says) plus the controls.
    static let blank = #"\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"#

    /// A name or a user id: no control character and at least one that is not white space.
    static let namePattern = "^[^\(controls)]*[^\(blank)][^\(controls)]*$"
    /// An id, a tag: no control character.
    static let tokenPattern = "^[^\(controls)]+$"
    /// A user id: no whitespace or control character at either end, no control character inside
    /// (docs/api.md, "User ids"); NFC is applied, not required.
    static let userIdPattern = "^[^\(blank)](?:[^\(controls)]*[^\(blank)])?$"
    /// Free text (a description): tab, line feed and carriage return allowed, no other control.
    static let textPattern = #"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"#

    // MARK: URLs

    /// An RFC 4291 address in hexadecimal groups (no embedded dotted quad, no zone).
    static let ipv6: String = {
        let h = "[0-9A-Fa-f]{1,4}"
        return "(?:(?:\(h):){7}\(h)|(?:\(h):){1,7}:|(?:\(h):){1,6}:\(h)|(?:\(h):){1,5}(?::\(h)){1,2}|(?:\(h):){1,4}(?::\(h)){1,3}"
            + "|(?:\(h):){1,3}(?::\(h)){1,4}|(?:\(h):){1,2}(?::\(h)){1,5}|\(h):(?::\(h)){1,6}|:(?:(?::\(h)){1,7}|:))"
    }()
    static let host = #"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\["# + ipv6 + #"\])"#
    static let port = #"(?::(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"#
    static let pchar = #"(?:%[0-9A-Fa-f]{2}|[A-Za-z0-9._~!$&'()*+,;=:@-])"#
    static let query = #"(?:\?(?:%[0-9A-Fa-f]{2}|[A-Za-z0-9._~!$&'()*+,;=:@/?-])*)?"#

    /// A webhook receiver: `http(s)://host[:port][/path][?query]` — no credentials, no
    /// fragment, no white space, ASCII only (an IDN host in its `xn--` form).
    static let webhookURLPattern: String = "^https?://\(host)\(port)(?:/\(pchar)*)*\(query)$"
    /// A push target: `rtmp(s)://host[:port]/app[/…]` (the stream key is the last segment).
    static let forwardURLPattern: String = "^rtmps?://\(host)\(port)/\(pchar)+(?:/\(pchar)*)*\(query)$"

    /// Whether `text` is matched by the whole of `pattern` (one of the above, without
    /// the anchors' end-of-line leniency: Swift's `wholeMatch`, by Unicode scalar).
    static func wholeMatch(_ text: String, _ pattern: String) -> Bool {
        var body = pattern
        if body.hasPrefix("^") { body.removeFirst() }
        if body.hasSuffix("$") { body.removeLast() }
        guard let regex = try? Regex(body) else { return false }
        return (try? regex.matchingSemantics(.unicodeScalar).wholeMatch(in: text)) != nil
    }
}

extension StringProtocol {
    /// At least one character that is not Unicode White_Space.
    var hasVisibleCharacter: Bool { unicodeScalars.contains { !$0.properties.isWhitespace } }
}
