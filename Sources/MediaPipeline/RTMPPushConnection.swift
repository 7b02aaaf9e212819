import Foundation
import NIOCore
import RTMPCore

/// A publishing RTMP client on a blocking socket, for an output's own thread (the forward's
/// worker): handshake, `connect` (declaring Enhanced RTMP: `fourCcList`, `capsEx`),
/// `createStream`, `publish`, then messages. Every call is bounded by `timeout` (the socket's
/// send and receive timeouts; Linux bounds `connect` by the send timeout too). Built on
/// RTMPCore's handshake, chunk encoder/decoder and AMF — the same code the listener uses.
final class RTMPPushConnection {
    struct Target: Equatable {
        var host: String
        var port: Int
        var app: String
        var key: String
        var tcUrl: String

        /// `rtmp://host[:port]/app[/more]/key`.
        init?(url: String) {
            guard let c = URLComponents(string: url), c.scheme?.lowercased() == "rtmp", let host = c.host, !host.isEmpty else { return nil }
            let parts = c.percentEncodedPath.split(separator: "/").map(String.init)
            guard parts.count >= 2 else { return nil }
            self.host = host
            self.port = c.port ?? 1935
            self.app = parts.dropLast().joined(separator: "/")
            self.key = parts.last! + (c.percentEncodedQuery.map { "?" + $0 } ?? "")
            self.tcUrl = "rtmp://\(host):\(port)/\(app)"
        }
    }

    private let fd: Int32
    private var encoder = ChunkEncoder()
    private var decoder = ChunkDecoder()
    private var inbound = ByteBuffer()
    private(set) var streamID: UInt32 = 0
    private var closed = false

    init(target: Target, timeout: Double) throws(AVFailure) {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(target.host, String(target.port), &hints, &result) == 0, let first = result else {
            throw AVFailure("resolve \(target.host)", message: "host not found")
        }
        defer { freeaddrinfo(result) }
        var lastError: Int32 = 0
        var address: UnsafeMutablePointer<addrinfo>? = first
        var connected: Int32 = -1
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1_000_000))
        while let a = address {
            let s = socket(a.pointee.ai_family, a.pointee.ai_socktype, a.pointee.ai_protocol)
            if s >= 0 {
                setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                var one: Int32 = 1
                setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                if connect(s, a.pointee.ai_addr, a.pointee.ai_addrlen) == 0 {
                    connected = s
                    break
                }
                lastError = errno
                Glibc.close(s)
            }
            address = a.pointee.ai_next
        }
        guard connected >= 0 else { throw AVFailure("connect \(target.host):\(target.port)", message: String(cString: strerror(lastError))) }
        fd = connected
    }

    deinit { close() }

    func close() {
        guard !closed else { return }
        closed = true
        Glibc.close(fd)
    }

    // MARK: Bytes

    func send(_ bytes: ByteBuffer) throws(AVFailure) {
        var remaining = bytes
        while remaining.readableBytes > 0 {
            let sent = remaining.withUnsafeReadableBytes { raw in Glibc.send(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL)) }
            if sent < 0 {
                if errno == EINTR { continue }
                throw AVFailure("send", message: errno == EAGAIN || errno == EWOULDBLOCK ? "the target stopped reading (timeout)" : String(cString: strerror(errno)))
            }
            remaining.moveReaderIndex(forwardBy: sent)
        }
    }

    /// Reads what has arrived; `wait`: block (up to the timeout) for at least one byte.
    private func receive(wait: Bool) throws(AVFailure) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        let n = chunk.withUnsafeMutableBytes { raw in recv(fd, raw.baseAddress, raw.count, wait ? 0 : Int32(MSG_DONTWAIT)) }
        if n > 0 {
            inbound.writeBytes(chunk[0..<n])
            return true
        }
        if n == 0 { throw AVFailure("receive", message: "the target closed the connection") }
        if errno == EAGAIN || errno == EWOULDBLOCK {
            if wait { throw AVFailure("receive", message: "no answer within the timeout") }
            return false
        }
        if errno == EINTR { return false }
        throw AVFailure("receive", message: String(cString: strerror(errno)))
    }

    func write(_ message: RTMPMessage) throws(AVFailure) {
        var out = ByteBuffer()
        encoder.write(message, into: &out)
        try send(out)
    }

    /// Consumes what the server sent meanwhile (acknowledgements, pings) so its messages never
    /// fill the socket; an `onStatus` error while publishing fails the output with its code.
    func drainInput() throws(AVFailure) {
        while try receive(wait: false) {}
        while let message = try nextMessage() {
            if let status = Self.status(message), status.hasPrefix("NetStream.Publish.") && status != "NetStream.Publish.Start" {
                throw AVFailure("publish", message: status)
            }
        }
    }

    private func nextMessage() throws(AVFailure) -> RTMPMessage? {
        do {
            return try decoder.next(&inbound)
        } catch {
            throw AVFailure("receive", message: "\(error)")
        }
    }

    private func waitFor(_ what: String, _ match: (RTMPMessage) throws(AVFailure) -> Bool) throws(AVFailure) {
        while true {
            while let message = try nextMessage() {
                if try match(message) { return }
            }
            _ = try receive(wait: true)
        }
    }

    static func status(_ message: RTMPMessage) -> String? {
        guard message.typeID == .commandAMF0, let c = try? CommandMessage(parsing: message, limits: .default), c.name == "onStatus" else { return nil }
        return c.arguments.first?["code"]?.stringValue
    }

    // MARK: Publishing

    /// Handshake, connect, createStream, publish; returns once `NetStream.Publish.Start` came.
    func publish(_ target: Target, fourCcList: [String]) throws(AVFailure) {
        var handshake = ClientHandshake(digest: false)
        try send(handshake.start())
        var pending = ByteBuffer()
        while true {
            _ = try receive(wait: true)
            pending.writeBuffer(&inbound)
            let done: (c2: ByteBuffer, serverUsedDigest: Bool)?
            do { done = try handshake.next(&pending) } catch { throw AVFailure("handshake", message: "\(error)") }
            if let done {
                try send(done.c2)
                inbound = pending
                break
            }
        }
        encoder.setChunkSize(4096)
        try write(ProtocolControl.setChunkSize(4096))
        var object: AMFObject = ["app": .string(target.app), "type": .string("nonprivate"), "flashVer": .string("FMLE/3.0 (compatible; LiveGate)"),
                                 "tcUrl": .string(target.tcUrl)]
        object["fourCcList"] = .strictArray(fourCcList.map { .string($0) })
        object["capsEx"] = .number(Double(EncoderCapabilities.CapsEx([.multitrack, .modEx, .timestampNanoOffset]).rawValue))
        try write(CommandMessage(name: "connect", transactionID: 1, commandObject: .object(object)).message(chunkStreamID: 3, streamID: 0))
        try waitFor("connect") { (m) throws(AVFailure) in
            guard m.typeID == .commandAMF0, let c = try? CommandMessage(parsing: m, limits: .default), c.transactionID == 1 else { return false }
            guard c.name == "_result" else {
                throw AVFailure("connect", message: c.arguments.first?["description"]?.stringValue ?? c.arguments.first?["code"]?.stringValue ?? c.name)
            }
            return true
        }
        try write(CommandMessage(name: "releaseStream", transactionID: 2, arguments: [.string(target.key)]).message(chunkStreamID: 3, streamID: 0))
        try write(CommandMessage(name: "FCPublish", transactionID: 3, arguments: [.string(target.key)]).message(chunkStreamID: 3, streamID: 0))
        try write(CommandMessage(name: "createStream", transactionID: 4).message(chunkStreamID: 3, streamID: 0))
        var created: UInt32 = 0
        try waitFor("createStream") { (m) throws(AVFailure) in
            guard m.typeID == .commandAMF0, let c = try? CommandMessage(parsing: m, limits: .default), c.transactionID == 4 else { return false }
            guard c.name == "_result", let id = c.arguments.first?.numberValue else { throw AVFailure("createStream", message: c.name) }
            created = UInt32(id)
            return true
        }
        streamID = created
        try write(CommandMessage(name: "publish", transactionID: 5, arguments: [.string(target.key), .string("live")])
            .message(chunkStreamID: 8, streamID: created))
        try waitFor("publish") { (m) throws(AVFailure) in
            guard let status = Self.status(m) else { return false }
            guard status == "NetStream.Publish.Start" else { throw AVFailure("publish", message: status) }
            return true
        }
    }

    func unpublish(key: String) {
        try? write(CommandMessage(name: "FCUnpublish", transactionID: 6, arguments: [.string(key)]).message(chunkStreamID: 3, streamID: 0))
        try? write(CommandMessage(name: "deleteStream", transactionID: 7, arguments: [.number(Double(streamID))]).message(chunkStreamID: 3, streamID: 0))
    }
}
