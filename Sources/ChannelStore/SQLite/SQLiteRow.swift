import Foundation
import SQLKit

/// A result row, its values copied out of the statement (it outlives the step that made it).
public struct SQLiteRow: SQLRow, Sendable {
    /// The statement's column names, shared by every row of one run.
    final class Columns: Sendable {
        let names: [String]
        let index: [String: Int]
        init(_ names: [String]) {
            self.names = names
            var index: [String: Int] = [:]
            // The first of two same-named columns wins, as SQLite's own name lookup does.
            for (i, name) in names.enumerated() where index[name] == nil { index[name] = i }
            self.index = index
        }
    }

    let columns: Columns
    public let values: [SQLiteValue]

    public var allColumns: [String] { columns.names }

    public func contains(column: String) -> Bool { columns.index[column] != nil }

    public func decodeNil(column: String) throws -> Bool {
        try value(column) == .null
    }

    /// Conversions as SQLiteKit made them, so every stored row reads as it did: an integer from
    /// INTEGER only, a double from INTEGER or REAL, a string from TEXT or a number's decimal
    /// form, a boolean from 0 or 1; NULL only into an optional.
    public func decode<D: Decodable>(column: String, as type: D.Type) throws -> D {
        let value = try value(column)
        // The store's own column types, without a `Decoder` per value.
        if D.self == String.self { return try Self.string(value, column) as! D }
        if D.self == Int.self { return try Self.int(value, column) as! D }
        if D.self == String?.self { return (value == .null ? nil : try Self.string(value, column)) as! D }
        if D.self == Int?.self { return (value == .null ? nil : try Self.int(value, column)) as! D }
        if D.self == Double.self { return try Self.double(value, column) as! D }
        if D.self == Double?.self { return (value == .null ? nil : try Self.double(value, column)) as! D }
        if D.self == Data.self {
            guard case .blob(let bytes) = value else { throw Self.mismatch(Data.self, value, column) }
            return Data(bytes) as! D
        }
        return try D(from: SQLiteValueDecoder(value: value, column: column))
    }

    private func value(_ column: String) throws -> SQLiteValue {
        guard let i = columns.index[column] else {
            throw DecodingError.keyNotFound(SQLiteValueDecoder.Key(column),
                                            .init(codingPath: [], debugDescription: "no column '\(column)' in \(columns.names)"))
        }
        return values[i]
    }

    static func mismatch(_ type: Any.Type, _ value: SQLiteValue, _ column: String) -> DecodingError {
        .typeMismatch(type, .init(codingPath: [SQLiteValueDecoder.Key(column)], debugDescription: "column '\(column)' holds \(value)"))
    }

    static func string(_ value: SQLiteValue, _ column: String) throws -> String {
        switch value {
        case .text(let s): return s
        case .integer(let n): return String(n)
        case .real(let d): return String(d)
        case .null, .blob: throw mismatch(String.self, value, column)
        }
    }

    static func int(_ value: SQLiteValue, _ column: String) throws -> Int {
        guard case .integer(let n) = value else { throw mismatch(Int.self, value, column) }
        return Int(n)
    }

    static func double(_ value: SQLiteValue, _ column: String) throws -> Double {
        switch value {
        case .integer(let n): return Double(n)
        case .real(let d): return d
        case .null, .text, .blob: throw mismatch(Double.self, value, column)
        }
    }
}

/// Decodes one column's value into any `Decodable` that reads a single value (optionals,
/// raw-value enums, the numeric types); a structure is read from JSON text.
struct SQLiteValueDecoder: Decoder, SingleValueDecodingContainer {
    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    let value: SQLiteValue
    let column: String
    var codingPath: [any CodingKey] { [Key(column)] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<K: CodingKey>(keyedBy type: K.Type) throws -> KeyedDecodingContainer<K> { throw structure() }
    func unkeyedContainer() throws -> any UnkeyedDecodingContainer { throw structure() }
    func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

    private func structure() -> DecodingError {
        .typeMismatch(SQLiteValue.self, .init(codingPath: codingPath, debugDescription: "column '\(column)' is one value, not a structure"))
    }

    func decodeNil() -> Bool { value == .null }
    func decode(_ type: Bool.Type) throws -> Bool {
        guard case .integer(let n) = value, n == 0 || n == 1 else { throw SQLiteRow.mismatch(type, value, column) }
        return n == 1
    }
    func decode(_ type: String.Type) throws -> String { try SQLiteRow.string(value, column) }
    func decode(_ type: Double.Type) throws -> Double { try SQLiteRow.double(value, column) }
    func decode(_ type: Float.Type) throws -> Float { Float(try SQLiteRow.double(value, column)) }
    func decode(_ type: Int.Type) throws -> Int { try integer(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try integer(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try integer(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try integer(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try integer(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try integer(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(type) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        do {
            return try T(from: self)
        } catch {
            guard case .text(let json) = value, let decoded = try? JSONDecoder().decode(T.self, from: Data(json.utf8)) else { throw error }
            return decoded
        }
    }

    private func integer<T: FixedWidthInteger>(_ type: T.Type) throws -> T {
        guard case .integer(let n) = value, let exact = T(exactly: n) else { throw SQLiteRow.mismatch(type, value, column) }
        return exact
    }
}
