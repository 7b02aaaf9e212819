import Foundation

/// docs/contract.md §3 `forwards`: re-publishes the session to another server (`rtmp://` or `rtmps://`)
/// through libavformat's FLV muxer and RTMP protocol. Every blocking call is bounded (connect,
/// handshake and each write), so a target that stops reading fails this output in seconds and
/// the worker reconnects with backoff; ingest never waits for it.
final class ForwardPusher: MediaWriter {
    /// A reconnecting or replacing publisher of the same session continues this file/push.
    var resumesInPlace: Bool { true }

    let url: String
    private let interrupt: InterruptFlag
    private let timeoutMicroseconds: Int64
    private var muxer: MediaMuxer?
    private var offset: Int64?

    /// How an `rtmps://` target's certificate is checked.
    struct TLS: Sendable, Equatable {
        var verify = true
        /// PEM file of trusted CAs; empty = the system's trust store.
        var caFile = ""
    }
    private let tls: TLS

    /// The outbound guard's verdict on the target's host (nil: not guarded).
    private let hostCheck: (@Sendable (String) -> String?)?

    init(url: String, interrupt: InterruptFlag, timeoutSeconds: Double, tls: TLS = TLS(), hostCheck: (@Sendable (String) -> String?)? = nil) {
        self.hostCheck = hostCheck
        self.url = url
        self.interrupt = interrupt
        self.timeoutMicroseconds = Int64(timeoutSeconds * 1_000_000)
        self.tls = tls
    }

    /// Options for avio_open2; the RTMP protocol hands them down to its TCP and TLS layers.
    var ioOptions: [String: String] {
        var options = ["rw_timeout": String(timeoutMicroseconds)]
        if url.lowercased().hasPrefix("rtmps://") {
            // libavformat's TLS accepts any certificate unless told to verify: a stream key
            // pushed to an unverified peer is a stream key given away.
            options["tls_verify"] = tls.verify ? "1" : "0"
            if !tls.caFile.isEmpty { options["ca_file"] = tls.caFile }
        }
        return options
    }

    func open(_ layout: StreamLayout) throws(AVFailure) {
        // Checked at every connect, not only when the forward was saved: its name may have
        // been re-pointed since. (libavformat resolves it again to connect; the window
        // between the two lookups is what a guard outside the RTMP client can do.)
        if let hostCheck, let host = URLComponents(string: url)?.host, let refusal = hostCheck(host) {
            throw AVFailure("forward connect", message: refusal)
        }
        let m = try MediaMuxer(format: "flv", url: url, layout: layout, interrupt: interrupt, operationTimeoutMicroseconds: timeoutMicroseconds)
        // A live push is not seekable: no duration/filesize rewrite at the end.
        try m.open(ioOptions: ioOptions, muxerOptions: ["flvflags": "no_duration_filesize"])
        muxer = m
        offset = nil
    }

    func write(_ packet: MediaPacket) throws(AVFailure) {
        guard let muxer else { throw AVFailure("forward write", message: "not open") }
        let base = offset ?? packet.dts
        offset = base
        try muxer.write(packet, timestampOffset: base)
    }

    func finish() throws(AVFailure) {
        defer { muxer = nil }
        try muxer?.finish()
    }

    func abort() { muxer = nil }

    func close() { muxer = nil }

    /// The URL without its last path segment (a stream key on the target): safe for logs,
    /// events and the API.
    static func redact(_ url: String) -> String {
        guard let slash = url.lastIndex(of: "/"), url[url.index(after: slash)...].count > 0,
              url.distance(from: url.startIndex, to: slash) > 8 else { return url }
        let key = url[url.index(after: slash)...]
        return String(url[...slash]) + String(key.prefix(4)) + "****"
    }
}
