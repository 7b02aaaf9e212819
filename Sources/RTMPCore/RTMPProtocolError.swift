/// A peer broke the protocol. Thrown by the pure parsers; the server closes that one
/// connection and logs `description` as the reason.
public struct RTMPProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case handshake
        case chunk
        case messageTooLarge
        case amf
        case command
        case media
        case limits
    }

    public var kind: Kind
    public var detail: String

    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var description: String { "\(kind.rawValue): \(detail)" }
}
