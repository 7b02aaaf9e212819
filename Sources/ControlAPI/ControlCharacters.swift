import LiveGateModel
extension Unicode.Scalar {
    /// C0, DEL and C1 control characters (Unicode category Cc): never part of a name, an id, a
    /// tag or a URL. (A NUL used to cut `"a\u0000b"` to `"a"` on its way into the store.)
    var isControlCharacter: Bool { properties.generalCategory == .control }
}

extension StringProtocol {
    var containsControlCharacter: Bool { unicodeScalars.contains { $0.isControlCharacter } }
    /// Control characters other than tab, line feed and carriage return (text such as a description).
    var containsControlCharacterOutsideText: Bool {
        unicodeScalars.contains { $0.isControlCharacter && $0 != "\t" && $0 != "\n" && $0 != "\r" }
    }
}
