import NIOCore

/// Decodes AMF0 values (Action Message Format 0, Adobe spec) from a `ByteBuffer`.
///
/// Every length is checked against the readable bytes and `RTMPLimits` before anything is
/// allocated; nesting depth is bounded so a 10,000-deep object cannot exhaust the stack.
/// An `avmplus-object` marker (0x11) switches to AMF3 for exactly one value, which is how
/// AMF3-speaking clients embed values inside type-17 commands.
public struct AMF0Decoder {
    public enum Marker: UInt8 {
        case number = 0x00, boolean = 0x01, string = 0x02, object = 0x03, movieClip = 0x04
        case null = 0x05, undefined = 0x06, reference = 0x07, ecmaArray = 0x08, objectEnd = 0x09
        case strictArray = 0x0A, date = 0x0B, longString = 0x0C, unsupported = 0x0D
        case recordSet = 0x0E, xmlDocument = 0x0F, typedObject = 0x10, avmplusObject = 0x11
    }

    public let limits: RTMPLimits
    /// AMF3 reference tables persist across the AMF3 values of one message.
    private var amf3 = AMF3Decoder.Tables()

    public init(limits: RTMPLimits = .default) {
        self.limits = limits
    }

    /// Decodes every value until the buffer is empty.
    public mutating func decodeAll(_ buffer: inout ByteBuffer) throws(RTMPProtocolError) -> [AMFValue] {
        var values: [AMFValue] = []
        while buffer.readableBytes > 0 {
            guard values.count < limits.maxAMFElements else { throw RTMPProtocolError(.amf, "too many values") }
            values.append(try decode(&buffer))
        }
        return values
    }

    public mutating func decode(_ buffer: inout ByteBuffer) throws(RTMPProtocolError) -> AMFValue {
        try decode(&buffer, depth: 0)
    }

    private mutating func decode(_ buffer: inout ByteBuffer, depth: Int) throws(RTMPProtocolError) -> AMFValue {
        guard depth < limits.maxAMFDepth else { throw RTMPProtocolError(.amf, "nesting deeper than \(limits.maxAMFDepth)") }
        guard let byte = buffer.readInteger(as: UInt8.self) else { throw RTMPProtocolError(.amf, "truncated: missing marker") }
        guard let marker = Marker(rawValue: byte) else { throw RTMPProtocolError(.amf, "unknown AMF0 marker 0x\(String(byte, radix: 16))") }
        switch marker {
        case .number:
            return .number(try Self.readDouble(&buffer))
        case .boolean:
            guard let b = buffer.readInteger(as: UInt8.self) else { throw RTMPProtocolError(.amf, "truncated boolean") }
            return .boolean(b != 0)
        case .string:
            return .string(try Self.readShortString(&buffer))
        case .longString:
            return .string(try readLongString(&buffer))
        case .xmlDocument:
            return .xmlDocument(try readLongString(&buffer))
        case .object:
            return .object(try readProperties(&buffer, depth: depth))
        case .typedObject:
            let className = try Self.readShortString(&buffer)
            return .typedObject(className: className, try readProperties(&buffer, depth: depth))
        case .ecmaArray:
            // The count is advisory (encoders get it wrong); the end marker is authoritative.
            guard buffer.readInteger(as: UInt32.self) != nil else { throw RTMPProtocolError(.amf, "truncated ECMA array") }
            return .ecmaArray(try readProperties(&buffer, depth: depth))
        case .strictArray:
            guard let count = buffer.readInteger(as: UInt32.self) else { throw RTMPProtocolError(.amf, "truncated strict array") }
            // Each element takes at least one byte: a count above the readable bytes is a lie.
            guard count <= UInt32(min(buffer.readableBytes, limits.maxAMFElements)) else {
                throw RTMPProtocolError(.amf, "strict array count \(count) exceeds data or limit")
            }
            var elements: [AMFValue] = []
            elements.reserveCapacity(Int(count))
            for _ in 0..<count { elements.append(try decode(&buffer, depth: depth + 1)) }
            return .strictArray(elements)
        case .date:
            let ms = try Self.readDouble(&buffer)
            guard let tz = buffer.readInteger(as: Int16.self) else { throw RTMPProtocolError(.amf, "truncated date") }
            return .date(millisecondsSince1970: ms, timeZone: tz)
        case .null:
            return .null
        case .undefined, .unsupported:
            return .undefined
        case .reference:
            guard let index = buffer.readInteger(as: UInt16.self) else { throw RTMPProtocolError(.amf, "truncated reference") }
            return .reference(index)
        case .avmplusObject:
            var decoder = AMF3Decoder(limits: limits, tables: amf3)
            let value = try decoder.decode(&buffer, depth: depth + 1)
            amf3 = decoder.tables
            return value
        case .objectEnd:
            throw RTMPProtocolError(.amf, "object end marker outside an object")
        case .movieClip, .recordSet:
            throw RTMPProtocolError(.amf, "reserved AMF0 marker 0x\(String(byte, radix: 16))")
        }
    }

    /// Reads `key, value` pairs until the empty key followed by the object-end marker.
    private mutating func readProperties(_ buffer: inout ByteBuffer, depth: Int) throws(RTMPProtocolError) -> AMFObject {
        var object = AMFObject()
        while true {
            let key = try Self.readShortString(&buffer)
            if key.isEmpty, buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) == Marker.objectEnd.rawValue {
                buffer.moveReaderIndex(forwardBy: 1)
                return object
            }
            guard object.count < limits.maxAMFElements else { throw RTMPProtocolError(.amf, "object has too many members") }
            let value = try decode(&buffer, depth: depth + 1)
            object.properties.append((key: key, value: value))
        }
    }

    static func readDouble(_ buffer: inout ByteBuffer) throws(RTMPProtocolError) -> Double {
        guard let bits = buffer.readInteger(as: UInt64.self) else { throw RTMPProtocolError(.amf, "truncated number") }
        return Double(bitPattern: bits)
    }

    static func readShortString(_ buffer: inout ByteBuffer) throws(RTMPProtocolError) -> String {
        guard let length = buffer.readInteger(as: UInt16.self) else { throw RTMPProtocolError(.amf, "truncated string length") }
        guard let string = buffer.readString(length: Int(length)) ?? Self.readLossyString(&buffer, length: Int(length)) else {
            throw RTMPProtocolError(.amf, "string of \(length) bytes overruns the message")
        }
        return string
    }

    private func readLongString(_ buffer: inout ByteBuffer) throws(RTMPProtocolError) -> String {
        guard let length = buffer.readInteger(as: UInt32.self) else { throw RTMPProtocolError(.amf, "truncated long string length") }
        guard length <= UInt32(buffer.readableBytes) else {
            throw RTMPProtocolError(.amf, "long string of \(length) bytes overruns the message")
        }
        guard let string = Self.readLossyString(&buffer, length: Int(length)) else {
            throw RTMPProtocolError(.amf, "long string overruns the message")
        }
        return string
    }

    /// Decodes bytes as UTF-8, replacing invalid sequences: encoders put odd bytes in
    /// `flashVer` and metadata, and a bad character is no reason to drop a broadcast.
    static func readLossyString(_ buffer: inout ByteBuffer, length: Int) -> String? {
        guard length >= 0, let view = buffer.readSlice(length: length) else { return nil }
        return String(decoding: view.readableBytesView, as: UTF8.self)
    }
}
