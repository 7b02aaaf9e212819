import LiveGateModel
import ChannelStore
import Foundation
import Hummingbird
import NIOCore

/// Reads a JSON object body (at most 64 KiB) and checks its fields one by one, collecting every
/// problem so a 422 names all offending fields at once.
struct BodyReader {
    static let maxBodyBytes = 64 * 1024

    let object: [String: JSONValue]
    private(set) var problems: [String: String] = [:]

    /// A body that may be left out: none (or an empty one) reads as `{}`.
    static func readOptional(_ request: Request) async throws -> BodyReader {
        if request.headers[.contentLength] == "0" || (request.headers[.contentLength] == nil && request.headers[.transferEncoding] == nil) {
            return BodyReader(object: [:])
        }
        return try await read(request, optional: true)
    }

    static func read(_ request: Request) async throws -> BodyReader { try await read(request, optional: false) }

    private static func read(_ request: Request, optional: Bool) async throws -> BodyReader {
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: maxBodyBytes)
        } catch is NIOTooManyBytesError {
            throw APIError.payloadTooLarge
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIError.payloadTooLarge
        } catch {
            throw APIError.badRequest("unreadable body")
        }
        if optional && buffer.readableBytes == 0 { return BodyReader(object: [:]) }
        guard buffer.readableBytes > 0 else { throw APIError.badRequest("a JSON object body is required") }
        try checkMediaType(request)
        let value = try parse(buffer)
        guard case .object(let object) = value else { throw APIError.badRequest("the body must be a JSON object") }
        return BodyReader(object: object)
    }

    /// A body is JSON and says so (docs/api.md, "Strict JSON"): `Content-Type` is
    /// `application/json` (a `charset` parameter, if any, is UTF-8), or for PATCH also
    /// `application/merge-patch+json` (RFC 7396); anything else, or none, is 415/4150.
    static func checkMediaType(_ request: Request) throws {
        let allowed = request.method == .patch ? ["application/json", "application/merge-patch+json"] : ["application/json"]
        let raw = request.headers[.contentType] ?? ""
        let parts = raw.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        let type = parts.first ?? ""
        let charset = parts.dropFirst().first { $0.hasPrefix("charset=") }.map { $0.dropFirst(8).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        guard allowed.contains(type), charset == nil || charset == "utf-8" else {
            let named = raw.isEmpty ? "no Content-Type" : "Content-Type \(String(raw.unicodeScalars.filter { !$0.properties.isWhitespace || $0 == " " }.prefix(100)))"
            throw APIError(.unsupportedMediaType, ec: 4150, "\(named): the body must be sent as \(allowed.joined(separator: " or ")) (UTF-8)",
                           data: .object(["accepted": .array(allowed.map { .string($0) })]))
        }
    }

    /// The body as JSON, strictly: malformed JSON, a duplicate member name or nesting deeper than
    /// 32 is 400/4000 saying which and where (`data.pointer`, a JSON Pointer).
    static func parse(_ buffer: ByteBuffer) throws -> JSONValue {
        do {
            return try StrictJSONParser.parse(buffer.readableBytesView)
        } catch {
            let what: String
            switch error.kind {
            case .syntax: what = "malformed JSON: "
            case .duplicateKey: what = "duplicate member name in JSON: "
            case .tooDeep: what = "JSON nested too deeply: "
            }
            var data: [String: JSONValue] = ["pointer": .string(error.pointer)]
            if case .duplicateKey(let key) = error.kind { data["duplicateKey"] = .string(String(key.unicodeScalars.prefix(128))) }
            if error.kind == .tooDeep { data["maxDepth"] = .number(Double(StrictJSONParser.maxDepth)) }
            throw APIError(.badRequest, ec: 4000, what + error.message + (error.pointer.isEmpty ? "" : " (at \(error.pointer))"), data: .object(data))
        }
    }

    init(object: [String: JSONValue]) {
        self.object = object
    }

    mutating func fail(_ field: String, _ reason: String) { problems[field] = reason }

    /// Fails fields not in `allowed`, with a specific reason for read-only ones.
    mutating func restrict(to allowed: Set<String>, readOnly: Set<String> = []) {
        for key in object.keys where !allowed.contains(key) {
            fail(key, readOnly.contains(key) ? "is read-only" : "unknown field")
        }
    }

    func has(_ key: String) -> Bool { object[key] != nil }

    /// `"key": null` — in a merge patch (RFC 7396), "remove / back to the default".
    func isNull(_ key: String) -> Bool { if case .null? = object[key] { return true } else { return false } }

    /// `text`: free text (a description), where tab and line breaks are allowed; other control
    /// characters are refused everywhere.
    mutating func string(_ key: String, required: Bool = false, maxLength: Int = 256, allowEmpty: Bool = false, text: Bool = false) -> String? {
        guard let value = object[key] else {
            if required { fail(key, "is required") }
            return nil
        }
        if case .null = value { fail(key, "must not be null"); return nil }
        guard case .string(let s) = value else { fail(key, "must be a string"); return nil }
        if text ? s.containsControlCharacterOutsideText : s.containsControlCharacter {
            fail(key, "must not contain control characters"); return nil
        }
        if !allowEmpty && !s.hasVisibleCharacter { fail(key, "must not be empty"); return nil }
        // Counted in Unicode scalars, as JSON Schema's maxLength counts (the OpenAPI document says it).
        if s.unicodeScalars.count > maxLength { fail(key, "must be at most \(maxLength) characters"); return nil }
        return s
    }

    /// A user id (docs/api.md, "User ids"): NFC-normalised; whitespace or control characters at
    /// its ends, or control characters inside, fail the field (422).
    mutating func userId(_ key: String, required: Bool = false) -> String? {
        guard object[key] != nil || required else { return nil }
        guard let raw = string(key, required: required, maxLength: 4 * UserIdentifier.maxLength, allowEmpty: true) else { return nil }
        if let problem = UserIdentifier.problem(raw) { fail(key, problem); return nil }
        return UserIdentifier.normalize(raw)
    }

    mutating func bool(_ key: String) -> Bool? {
        guard let value = object[key] else { return nil }
        guard case .bool(let b) = value else { fail(key, "must be true or false"); return nil }
        return b
    }

    /// An integer in `range`. With `nullable`, JSON null is returned as `.some(nil)`.
    mutating func int(_ key: String, in range: ClosedRange<Int>, nullable: Bool = false) -> Int?? {
        guard let value = object[key] else { return .none }
        if case .null = value, nullable { return .some(nil) }
        guard case .number(let n) = value else { fail(key, "must be an integer"); return .none }
        guard n.rounded() == n else { fail(key, "must be a whole number"); return .none }
        guard n >= Double(range.lowerBound), n <= Double(range.upperBound) else {
            fail(key, "must be between \(range.lowerBound) and \(range.upperBound)"); return .none
        }
        guard range.contains(Int(n)) else { fail(key, "must be between \(range.lowerBound) and \(range.upperBound)"); return .none }
        return .some(Int(n))
    }

    mutating func double(_ key: String, in range: ClosedRange<Double>, nullable: Bool = false) -> Double?? {
        guard let value = object[key] else { return .none }
        if case .null = value, nullable { return .some(nil) }
        guard case .number(let n) = value, n.isFinite else { fail(key, "must be a number"); return .none }
        guard range.contains(n) else { fail(key, "must be between \(range.lowerBound) and \(range.upperBound)"); return .none }
        return .some(n)
    }

    mutating func stringArray(_ key: String, maxCount: Int, maxLength: Int = 128, allowed: Set<String>? = nil, nullable: Bool = false) -> [String]?? {
        guard let value = object[key] else { return .none }
        if case .null = value, nullable { return .some(nil) }
        guard case .array(let items) = value else { fail(key, "must be an array of strings"); return .none }
        guard items.count <= maxCount else { fail(key, "must have at most \(maxCount) items"); return .none }
        var out: [String] = []
        for item in items {
            guard case .string(let s) = item, !s.isEmpty, s.unicodeScalars.count <= maxLength else {
                fail(key, "must contain non-empty strings of at most \(maxLength) characters"); return .none
            }
            if s.containsControlCharacter { fail(key, "must not contain control characters"); return .none }
            if let allowed, !allowed.contains(s) {
                fail(key, "'\(s.prefix(40))' is not one of \(allowed.sorted().joined(separator: ", "))"); return .none
            }
            if !out.contains(s) { out.append(s) }
        }
        return .some(out)
    }

    /// Throws 422 with every collected problem.
    func check() throws {
        if !problems.isEmpty { throw APIError.invalid(problems) }
    }
}
