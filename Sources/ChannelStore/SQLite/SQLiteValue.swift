import Foundation

/// One SQLite value, as a statement binds it or a row holds it (SQLite's five storage classes).
public enum SQLiteValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    /// The value a SQLKit bind stands for. The store binds strings, integers, doubles, booleans
    /// and their optionals; those are cast directly (no `Encoder` per bind). Anything else goes
    /// through `SQLiteBindEncoder`: a single value as itself, a structure as JSON text — what
    /// SQLiteKit did before this layer replaced it, so stored rows read the same.
    static func bound(_ value: any Encodable) throws -> SQLiteValue {
        switch value {
        case let v as String: return .text(v)
        case let v as Int: return .integer(Int64(v))
        case let v as Double: return .real(v)
        case let v as Bool: return .integer(v ? 1 : 0)
        case let v as Int64: return .integer(v)
        case let v as Int32: return .integer(Int64(v))
        case let v as Data: return .blob([UInt8](v))
        case let v as [UInt8]: return .blob(v)
        default: return try SQLiteBindEncoder.encode(value)
        }
    }
}

/// Turns any other `Encodable` into one `SQLiteValue`: `nil` (an absent optional) as NULL, a
/// single value as itself, keyed or unkeyed structures as JSON text.
struct SQLiteBindEncoder: Encoder {
    final class Box { var value: SQLiteValue? }
    let box = Box()
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    struct NotSingleValue: Error {}

    static func encode(_ value: any Encodable) throws -> SQLiteValue {
        let encoder = SQLiteBindEncoder()
        do {
            try value.encode(to: encoder)
            if let encoded = encoder.box.value { return encoded }
        } catch is NotSingleValue {}
        let json = try JSONEncoder().encode(value)
        return .text(String(decoding: json, as: UTF8.self))
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(Refusing<Key>())
    }
    func unkeyedContainer() -> any UnkeyedEncodingContainer { RefusingUnkeyed() }
    func singleValueContainer() -> any SingleValueEncodingContainer { Single(box: box) }

    struct Single: SingleValueEncodingContainer {
        let box: Box
        var codingPath: [any CodingKey] { [] }
        mutating func encodeNil() throws { box.value = .null }
        mutating func encode(_ value: Bool) throws { box.value = .integer(value ? 1 : 0) }
        mutating func encode(_ value: String) throws { box.value = .text(value) }
        mutating func encode(_ value: Double) throws { box.value = .real(value) }
        mutating func encode(_ value: Float) throws { box.value = .real(Double(value)) }
        mutating func encode(_ value: Int) throws { box.value = .integer(Int64(value)) }
        mutating func encode(_ value: Int8) throws { box.value = .integer(Int64(value)) }
        mutating func encode(_ value: Int16) throws { box.value = .integer(Int64(value)) }
        mutating func encode(_ value: Int32) throws { box.value = .integer(Int64(value)) }
        mutating func encode(_ value: Int64) throws { box.value = .integer(value) }
        mutating func encode(_ value: UInt) throws { box.value = .integer(Int64(value)) }
        mutating func encode(_ value: UInt8) throws { box.value = .integer(Int64(value)) }
        mutating func encode(_ value: UInt16) throws { box.value = .integer(Int64(value)) }
        mutating func encode(_ value: UInt32) throws { box.value = .integer(Int64(value)) }
        mutating func encode(_ value: UInt64) throws { box.value = .integer(Int64(bitPattern: value)) }
        mutating func encode<T: Encodable>(_ value: T) throws { box.value = try SQLiteValue.bound(value) }
    }

    /// A structure: not a single value, so the caller encodes it as JSON instead.
    struct Refusing<Key: CodingKey>: KeyedEncodingContainerProtocol {
        var codingPath: [any CodingKey] { [] }
        mutating func encodeNil(forKey key: Key) throws { throw NotSingleValue() }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { throw NotSingleValue() }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            KeyedEncodingContainer(Refusing<NestedKey>())
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer { RefusingUnkeyed() }
        mutating func superEncoder() -> any Encoder { SQLiteBindEncoder() }
        mutating func superEncoder(forKey key: Key) -> any Encoder { SQLiteBindEncoder() }
    }

    struct RefusingUnkeyed: UnkeyedEncodingContainer {
        var codingPath: [any CodingKey] { [] }
        var count: Int { 0 }
        mutating func encodeNil() throws { throw NotSingleValue() }
        mutating func encode<T: Encodable>(_ value: T) throws { throw NotSingleValue() }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            KeyedEncodingContainer(Refusing<NestedKey>())
        }
        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { RefusingUnkeyed() }
        mutating func superEncoder() -> any Encoder { SQLiteBindEncoder() }
    }
}
