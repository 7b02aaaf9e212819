import NIOCore

/// A NetConnection/NetStream command (message types 20 and 17):
/// name, transaction id, command object, then optional arguments.
public struct CommandMessage: Sendable, Equatable {
    public var name: String
    public var transactionID: Double
    public var commandObject: AMFValue
    public var arguments: [AMFValue]

    public init(name: String, transactionID: Double, commandObject: AMFValue = .null, arguments: [AMFValue] = []) {
        self.name = name
        self.transactionID = transactionID
        self.commandObject = commandObject
        self.arguments = arguments
    }

    /// Parses a type-20 payload, or a type-17 payload (which starts with a format selector
    /// byte, 0 for AMF0, and may switch single values to AMF3 with the 0x11 marker).
    public init(parsing message: RTMPMessage, limits: RTMPLimits) throws(RTMPProtocolError) {
        var payload = message.payload
        if message.typeID == .commandAMF3 {
            guard payload.readInteger(as: UInt8.self) != nil else { throw RTMPProtocolError(.command, "empty AMF3 command") }
        }
        var decoder = AMF0Decoder(limits: limits)
        let values = try decoder.decodeAll(&payload)
        guard let name = values.first?.stringValue else { throw RTMPProtocolError(.command, "command without a name") }
        self.name = name
        self.transactionID = values.count > 1 ? (values[1].numberValue ?? 0) : 0
        self.commandObject = values.count > 2 ? values[2] : .null
        self.arguments = values.count > 3 ? Array(values[3...]) : []
    }

    /// Encodes as an AMF0 command message (type 20).
    public func message(chunkStreamID: UInt32, streamID: UInt32) -> RTMPMessage {
        var payload = ByteBuffer()
        AMF0Encoder.encode([.string(name), .number(transactionID), commandObject] + arguments, into: &payload)
        return RTMPMessage(chunkStreamID: chunkStreamID, timestamp: 0, typeID: .commandAMF0, streamID: streamID, payload: payload)
    }
}

/// A data message (types 18 and 15): `@setDataFrame`, `onMetaData`, and the like.
public struct DataMessage: Sendable, Equatable {
    public var values: [AMFValue]

    public init(parsing message: RTMPMessage, limits: RTMPLimits) throws(RTMPProtocolError) {
        var payload = message.payload
        if message.typeID == .dataAMF3, payload.getInteger(at: payload.readerIndex, as: UInt8.self) == 0 {
            payload.moveReaderIndex(forwardBy: 1)
        }
        var decoder = AMF0Decoder(limits: limits)
        values = try decoder.decodeAll(&payload)
    }

    /// The `onMetaData` object, whether sent as `@setDataFrame, onMetaData, {…}` (the
    /// publisher form) or `onMetaData, {…}`.
    public var metadata: AMFObject? {
        var rest = values[...]
        if rest.first?.stringValue == "@setDataFrame" { rest = rest.dropFirst() }
        guard rest.first?.stringValue == "onMetaData" else { return nil }
        return rest.dropFirst().first?.objectValue ?? AMFObject()
    }
}
