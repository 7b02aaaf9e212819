import NIOCore

/// Decodes the AMF3 forms that RTMP publishers send: inside an AMF0 `avmplus-object`
/// (type-17 commands, type-15 data). Reference tables (strings, objects, traits) are kept
/// per message. Externalizable objects, vectors and dictionaries are refused: no
/// publisher sends them, and their payloads are application-defined.
public struct AMF3Decoder {
    public enum Marker: UInt8 {
        case undefined = 0x00, null = 0x01, `false` = 0x02, `true` = 0x03, integer = 0x04, double = 0x05
        case string = 0x06, xmlDocument = 0x07, date = 0x08, array = 0x09, object = 0x0A, xml = 0x0B
        case byteArray = 0x0C, vectorInt = 0x0D, vectorUInt = 0x0E, vectorDouble = 0x0F, vectorObject = 0x10
        case dictionary = 0x11
    }

    struct Traits {
        var className: String
        var sealedNames: [String]
        var dynamic: Bool
    }

    struct Tables {
        var strings: [String] = []
        /// Complex values by reference index; `nil` while the value is still being decoded
        /// (a reference to it then yields `.reference`, which breaks cycles).
        var objects: [AMFValue?] = []
        var traits: [Traits] = []
    }

    let limits: RTMPLimits
    var tables: Tables

    init(limits: RTMPLimits, tables: Tables = Tables()) {
        self.limits = limits
        self.tables = tables
    }

    public init(limits: RTMPLimits = .default) {
        self.init(limits: limits, tables: Tables())
    }

    public mutating func decode(_ buffer: inout ByteBuffer) throws(RTMPProtocolError) -> AMFValue {
        try decode(&buffer, depth: 0)
    }

    mutating func decode(_ buffer: inout ByteBuffer, depth: Int) throws(RTMPProtocolError) -> AMFValue {
        guard depth < limits.maxAMFDepth else { throw RTMPProtocolError(.amf, "nesting deeper than \(limits.maxAMFDepth)") }
        guard let byte = buffer.readInteger(as: UInt8.self) else { throw RTMPProtocolError(.amf, "truncated: missing AMF3 marker") }
        guard let marker = Marker(rawValue: byte) else { throw RTMPProtocolError(.amf, "unknown AMF3 marker 0x\(String(byte, radix: 16))") }
        switch marker {
        case .undefined: return .undefined
        case .null: return .null
        case .false: return .boolean(false)
        case .true: return .boolean(true)
        case .integer:
            // U29 holds a 29-bit two's-complement integer.
            let raw = try Self.readU29(&buffer)
            let signed = raw & 0x1000_0000 != 0 ? Int32(bitPattern: raw | 0xE000_0000) : Int32(bitPattern: raw)
            return .number(Double(signed))
        case .double:
            return .number(try AMF0Decoder.readDouble(&buffer))
        case .string:
            return .string(try readString(&buffer))
        case .xmlDocument, .xml:
            let header = try Self.readU29(&buffer)
            if header & 1 == 0 { return try objectReference(header >> 1) }
            let string = try readRawString(&buffer, length: header >> 1)
            tables.objects.append(.xmlDocument(string))
            return .xmlDocument(string)
        case .date:
            let header = try Self.readU29(&buffer)
            if header & 1 == 0 { return try objectReference(header >> 1) }
            let value = AMFValue.date(millisecondsSince1970: try AMF0Decoder.readDouble(&buffer), timeZone: 0)
            tables.objects.append(value)
            return value
        case .byteArray:
            let header = try Self.readU29(&buffer)
            if header & 1 == 0 { return try objectReference(header >> 1) }
            let length = Int(header >> 1)
            guard let bytes = buffer.readBytes(length: length) else { throw RTMPProtocolError(.amf, "byte array overruns the message") }
            tables.objects.append(.byteArray(bytes))
            return .byteArray(bytes)
        case .array:
            return try readArray(&buffer, depth: depth)
        case .object:
            return try readObject(&buffer, depth: depth)
        case .vectorInt, .vectorUInt, .vectorDouble, .vectorObject, .dictionary:
            throw RTMPProtocolError(.amf, "unsupported AMF3 marker 0x\(String(byte, radix: 16))")
        }
    }

    private mutating func readArray(_ buffer: inout ByteBuffer, depth: Int) throws(RTMPProtocolError) -> AMFValue {
        let header = try Self.readU29(&buffer)
        if header & 1 == 0 { return try objectReference(header >> 1) }
        let denseCount = Int(header >> 1)
        guard denseCount <= min(buffer.readableBytes, limits.maxAMFElements) else {
            throw RTMPProtocolError(.amf, "AMF3 array count \(denseCount) exceeds data or limit")
        }
        let index = reservePlaceholder()
        var associative = AMFObject()
        while true {
            let key = try readString(&buffer)
            if key.isEmpty { break }
            guard associative.count < limits.maxAMFElements else { throw RTMPProtocolError(.amf, "array has too many members") }
            associative.properties.append((key: key, value: try decode(&buffer, depth: depth + 1)))
        }
        var dense: [AMFValue] = []
        dense.reserveCapacity(denseCount)
        for _ in 0..<denseCount { dense.append(try decode(&buffer, depth: depth + 1)) }
        let value: AMFValue
        if associative.count == 0 {
            value = .strictArray(dense)
        } else {
            for (i, element) in dense.enumerated() { associative.properties.append((key: String(i), value: element)) }
            value = .ecmaArray(associative)
        }
        tables.objects[index] = value
        return value
    }

    private mutating func readObject(_ buffer: inout ByteBuffer, depth: Int) throws(RTMPProtocolError) -> AMFValue {
        let header = try Self.readU29(&buffer)
        if header & 1 == 0 { return try objectReference(header >> 1) }
        let traits: Traits
        if header & 0b10 == 0 {
            let traitIndex = Int(header >> 2)
            guard traitIndex < tables.traits.count else { throw RTMPProtocolError(.amf, "AMF3 traits reference \(traitIndex) out of range") }
            traits = tables.traits[traitIndex]
        } else {
            guard header & 0b100 == 0 else { throw RTMPProtocolError(.amf, "externalizable AMF3 objects are not supported") }
            let dynamic = header & 0b1000 != 0
            let sealedCount = Int(header >> 4)
            guard sealedCount <= min(buffer.readableBytes, limits.maxAMFElements) else {
                throw RTMPProtocolError(.amf, "AMF3 sealed member count \(sealedCount) exceeds data or limit")
            }
            let className = try readString(&buffer)
            var names: [String] = []
            names.reserveCapacity(sealedCount)
            for _ in 0..<sealedCount { names.append(try readString(&buffer)) }
            traits = Traits(className: className, sealedNames: names, dynamic: dynamic)
            tables.traits.append(traits)
        }
        let index = reservePlaceholder()
        var members = AMFObject()
        for name in traits.sealedNames {
            members.properties.append((key: name, value: try decode(&buffer, depth: depth + 1)))
        }
        if traits.dynamic {
            while true {
                let key = try readString(&buffer)
                if key.isEmpty { break }
                guard members.count < limits.maxAMFElements else { throw RTMPProtocolError(.amf, "object has too many members") }
                members.properties.append((key: key, value: try decode(&buffer, depth: depth + 1)))
            }
        }
        let value: AMFValue = traits.className.isEmpty ? .object(members) : .typedObject(className: traits.className, members)
        tables.objects[index] = value
        return value
    }

    private mutating func reservePlaceholder() -> Int {
        tables.objects.append(nil)
        return tables.objects.count - 1
    }

    private func objectReference(_ index: UInt32) throws(RTMPProtocolError) -> AMFValue {
        guard Int(index) < tables.objects.count else { throw RTMPProtocolError(.amf, "AMF3 object reference \(index) out of range") }
        // Swift values are copy-on-write: sharing a decoded value costs no memory.
        return tables.objects[Int(index)] ?? .reference(UInt16(truncatingIfNeeded: index))
    }

    private mutating func readString(_ buffer: inout ByteBuffer) throws(RTMPProtocolError) -> String {
        let header = try Self.readU29(&buffer)
        if header & 1 == 0 {
            let index = Int(header >> 1)
            guard index < tables.strings.count else { throw RTMPProtocolError(.amf, "AMF3 string reference \(index) out of range") }
            return tables.strings[index]
        }
        let string = try readRawString(&buffer, length: header >> 1)
        if !string.isEmpty {
            guard tables.strings.count < limits.maxAMFElements * 4 else { throw RTMPProtocolError(.amf, "too many AMF3 strings") }
            tables.strings.append(string)
        }
        return string
    }

    private func readRawString(_ buffer: inout ByteBuffer, length: UInt32) throws(RTMPProtocolError) -> String {
        guard let string = AMF0Decoder.readLossyString(&buffer, length: Int(length)) else {
            throw RTMPProtocolError(.amf, "AMF3 string of \(length) bytes overruns the message")
        }
        return string
    }

    /// Variable-length unsigned 29-bit integer: up to three 7-bit groups, then 8 bits.
    static func readU29(_ buffer: inout ByteBuffer) throws(RTMPProtocolError) -> UInt32 {
        var value: UInt32 = 0
        for i in 0..<4 {
            guard let byte = buffer.readInteger(as: UInt8.self) else { throw RTMPProtocolError(.amf, "truncated U29") }
            if i == 3 {
                return (value << 8) | UInt32(byte)
            }
            value = (value << 7) | UInt32(byte & 0x7F)
            if byte & 0x80 == 0 { return value }
        }
        return value
    }
}
