/// RTMP message type ids (RTMP 1.0 §5.4, §7.1). A struct rather than an enum so that
/// an unknown id from a peer is representable and can be skipped instead of rejected.
public struct MessageTypeID: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let setChunkSize = MessageTypeID(rawValue: 1)
    public static let abort = MessageTypeID(rawValue: 2)
    public static let acknowledgement = MessageTypeID(rawValue: 3)
    public static let userControl = MessageTypeID(rawValue: 4)
    public static let windowAcknowledgementSize = MessageTypeID(rawValue: 5)
    public static let setPeerBandwidth = MessageTypeID(rawValue: 6)
    public static let audio = MessageTypeID(rawValue: 8)
    public static let video = MessageTypeID(rawValue: 9)
    public static let dataAMF3 = MessageTypeID(rawValue: 15)
    public static let sharedObjectAMF3 = MessageTypeID(rawValue: 16)
    public static let commandAMF3 = MessageTypeID(rawValue: 17)
    public static let dataAMF0 = MessageTypeID(rawValue: 18)
    public static let sharedObjectAMF0 = MessageTypeID(rawValue: 19)
    public static let commandAMF0 = MessageTypeID(rawValue: 20)
    public static let aggregate = MessageTypeID(rawValue: 22)

    public var description: String { "type \(rawValue)" }
}
