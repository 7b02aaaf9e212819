import NIOCore

/// Writes AMF0 values. Strings longer than 65,535 UTF-8 bytes become long strings.
public enum AMF0Encoder {
    public static func encode(_ values: [AMFValue], into buffer: inout ByteBuffer) {
        for value in values { encode(value, into: &buffer) }
    }

    public static func encode(_ value: AMFValue, into buffer: inout ByteBuffer) {
        typealias M = AMF0Decoder.Marker
        switch value {
        case .number(let n):
            buffer.writeInteger(M.number.rawValue)
            buffer.writeInteger(n.bitPattern)
        case .boolean(let b):
            buffer.writeInteger(M.boolean.rawValue)
            buffer.writeInteger(UInt8(b ? 1 : 0))
        case .string(let s):
            if s.utf8.count > Int(UInt16.max) {
                buffer.writeInteger(M.longString.rawValue)
                buffer.writeInteger(UInt32(s.utf8.count))
                buffer.writeString(s)
            } else {
                buffer.writeInteger(M.string.rawValue)
                writeShortString(s, into: &buffer)
            }
        case .xmlDocument(let s):
            buffer.writeInteger(M.xmlDocument.rawValue)
            buffer.writeInteger(UInt32(s.utf8.count))
            buffer.writeString(s)
        case .object(let o):
            buffer.writeInteger(M.object.rawValue)
            writeProperties(o, into: &buffer)
        case .typedObject(let className, let o):
            buffer.writeInteger(M.typedObject.rawValue)
            writeShortString(className, into: &buffer)
            writeProperties(o, into: &buffer)
        case .ecmaArray(let o):
            buffer.writeInteger(M.ecmaArray.rawValue)
            buffer.writeInteger(UInt32(o.count))
            writeProperties(o, into: &buffer)
        case .strictArray(let elements):
            buffer.writeInteger(M.strictArray.rawValue)
            buffer.writeInteger(UInt32(elements.count))
            for element in elements { encode(element, into: &buffer) }
        case .date(let ms, let tz):
            buffer.writeInteger(M.date.rawValue)
            buffer.writeInteger(ms.bitPattern)
            buffer.writeInteger(tz)
        case .null:
            buffer.writeInteger(M.null.rawValue)
        case .undefined:
            buffer.writeInteger(M.undefined.rawValue)
        case .reference(let index):
            buffer.writeInteger(M.reference.rawValue)
            buffer.writeInteger(index)
        case .byteArray(let bytes):
            // AMF0 has no byte array; the closest lossless form is a strict array of numbers.
            encode(.strictArray(bytes.map { .number(Double($0)) }), into: &buffer)
        }
    }

    static func writeShortString(_ s: String, into buffer: inout ByteBuffer) {
        let utf8 = s.utf8.prefix(Int(UInt16.max))
        buffer.writeInteger(UInt16(utf8.count))
        buffer.writeBytes(utf8)
    }

    static func writeProperties(_ object: AMFObject, into buffer: inout ByteBuffer) {
        for (key, value) in object.properties {
            writeShortString(key, into: &buffer)
            encode(value, into: &buffer)
        }
        buffer.writeInteger(UInt16(0))
        buffer.writeInteger(AMF0Decoder.Marker.objectEnd.rawValue)
    }
}
