internal import CFFmpeg
import Foundation

/// A libav call that failed: which operation, the negative error code and `av_strerror`'s text.
public struct AVFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var operation: String
    public var code: Int32
    public var message: String

    public init(_ operation: String, code: Int32) {
        self.operation = operation
        self.code = code
        var buffer = [CChar](repeating: 0, count: 256)
        if av_strerror(code, &buffer, buffer.count) == 0 {
            message = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        } else {
            message = "error \(code)"
        }
    }

    /// For failures that have no libav error code (e.g. an allocation returned NULL).
    public init(_ operation: String, message: String) {
        self.operation = operation
        self.code = 0
        self.message = message
    }

    public var description: String { "\(operation): \(message)" }

    /// Throws for a negative return value, passes non-negative ones through.
    @discardableResult
    static func check(_ code: Int32, _ operation: @autoclosure () -> String) throws(AVFailure) -> Int32 {
        if code < 0 { throw AVFailure(operation(), code: code) }
        return code
    }

    /// A system call that failed, named by `errno` (read first: anything else may change it).
    static func posix(_ operation: @autoclosure () -> String) -> AVFailure {
        let code = errno
        return AVFailure(operation(), code: -code)
    }
}
