/// One AMF value, typed. AMF0 and the AMF3 forms publishers send both decode into this enum
/// so the session logic never needs to know which encoding a client used.
public enum AMFValue: Sendable, Equatable {
    case number(Double)
    case boolean(Bool)
    case string(String)
    case object(AMFObject)
    /// AMF0 typed object / AMF3 object with a class name.
    case typedObject(className: String, AMFObject)
    /// AMF0 ECMA array / AMF3 associative array part.
    case ecmaArray(AMFObject)
    case strictArray([AMFValue])
    /// Milliseconds since the epoch; AMF0 carries a (reserved) time-zone field we keep for round trips.
    case date(millisecondsSince1970: Double, timeZone: Int16)
    case null
    case undefined
    /// AMF0 reference to an earlier complex value (index into the message's object table).
    /// Kept unresolved: resolving would let a peer amplify memory by chaining references.
    case reference(UInt16)
    /// AMF0 XML document / AMF3 XML and XMLDocument.
    case xmlDocument(String)
    /// AMF3 ByteArray.
    case byteArray([UInt8])

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var numberValue: Double? {
        if case .number(let n) = self { return n }
        return nil
    }

    public var boolValue: Bool? {
        if case .boolean(let b) = self { return b }
        return nil
    }

    /// The members of an object, typed object or ECMA array.
    public var objectValue: AMFObject? {
        switch self {
        case .object(let o), .ecmaArray(let o), .typedObject(_, let o): return o
        default: return nil
        }
    }

    public subscript(key: String) -> AMFValue? { objectValue?[key] }
}

/// An ordered list of AMF properties. Order matters on the wire (and to some clients),
/// so this is not a dictionary; lookups are linear, which is fine for the handful of
/// keys in RTMP commands.
public struct AMFObject: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    public var properties: [(key: String, value: AMFValue)]

    public init(_ properties: [(key: String, value: AMFValue)] = []) {
        self.properties = properties
    }

    public init(dictionaryLiteral elements: (String, AMFValue)...) {
        self.properties = elements.map { (key: $0.0, value: $0.1) }
    }

    public subscript(key: String) -> AMFValue? {
        get { properties.first(where: { $0.key == key })?.value }
        set {
            if let index = properties.firstIndex(where: { $0.key == key }) {
                if let newValue { properties[index].value = newValue } else { properties.remove(at: index) }
            } else if let newValue {
                properties.append((key: key, value: newValue))
            }
        }
    }

    public var count: Int { properties.count }

    public static func == (lhs: AMFObject, rhs: AMFObject) -> Bool {
        lhs.properties.count == rhs.properties.count
            && zip(lhs.properties, rhs.properties).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}
