import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A listener that could not bind, named with its address: "RTMP listener 0.0.0.0:1935: Address
/// already in use" tells an operator which of three listeners to move, a bare `bind(...)` errno
/// does not. The app uses it for the HTTP listener too.
public struct ListenerBindError: Error, CustomStringConvertible {
    public var listener: String
    public var host: String
    public var port: Int
    public var reason: String

    public init(listener: String, host: String, port: Int, underlying: any Error) {
        self.listener = listener
        self.host = host
        self.port = port
        if let io = underlying as? IOError {
            // IOError's description carries the syscall's Swift signature; the errno text is what helps.
            self.reason = "\(String(cString: strerror(io.errnoCode))) (errno \(io.errnoCode))"
        } else {
            self.reason = "\(underlying)"
        }
    }

    public var description: String { "\(listener) listener cannot bind \(host):\(port): \(reason)" }
}
