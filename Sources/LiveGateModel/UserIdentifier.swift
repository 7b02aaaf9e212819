import Foundation

/// The one form of a user id (docs/api.md, "User ids"): Unicode NFC, with no whitespace or
/// control character at either end and no control character inside.
///
/// An App Server sends whatever its own users typed: "người" composed or decomposed, " alice "
/// with the spaces of a form field. Before this rule they were other users than "người" and
/// "alice", each with its own quota — an App Server that forgot to normalise escaped its own
/// limits. Now every user id that enters (bodies, paths, filters) is normalised to NFC, one
/// with whitespace or control characters at its ends is refused, and ids stored before the
/// rule are rewritten at start (`SQLChannelStore.normalizeStoredUserIds`).
public enum UserIdentifier {
    public static let maxLength = 128

    /// NFC.
    public static func normalize(_ raw: String) -> String {
        raw.precomposedStringWithCanonicalMapping
    }

    /// Why `raw` cannot be a user id, or nil.
    public static func problem(_ raw: String) -> String? {
        guard let first = raw.unicodeScalars.first, let last = raw.unicodeScalars.last else { return "must not be empty" }
        if raw.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) { return "must not contain control characters" }
        if first.properties.isWhitespace || last.properties.isWhitespace { return "must not begin or end with whitespace" }
        if normalize(raw).unicodeScalars.count > maxLength { return "must be at most \(maxLength) characters" }
        return nil
    }

    /// The form a stored id takes under the rule: NFC, whitespace at the ends dropped.
    public static func canonical(_ stored: String) -> String {
        var scalars = Substring(normalize(stored)).unicodeScalars
        while let f = scalars.first, f.properties.isWhitespace { scalars.removeFirst() }
        while let l = scalars.last, l.properties.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
