/// The libavformat side of one output, driven by its `OutputWorker` on the worker's thread
/// only. `open` starts a segment for a layout, `finish` closes it cleanly (trailer), `abort`
/// drops it after a failure, and `close` runs once at the very end (cleanup, reporting).
protocol MediaWriter: AnyObject {
    func open(_ layout: StreamLayout) throws(AVFailure)
    func write(_ packet: MediaPacket) throws(AVFailure)
    func finish() throws(AVFailure)
    func abort()
    func close()
    /// Whether a new connection of the same session with the same tracks continues the open
    /// segment (a recording, a push: timestamps simply go on) rather than starting a new one.
    var resumesInPlace: Bool { get }
    /// Tracks of the layout last opened that this output does not write, each with why.
    var notCarried: [String] { get }
    /// Packets refused as malformed so far (a NAL unit length past the payload's end…): not
    /// written, the output goes on. The worker logs and counts them as dropped.
    var malformedPackets: Int { get }
}

extension MediaWriter {
    var resumesInPlace: Bool { false }
    var notCarried: [String] { [] }
    var malformedPackets: Int { 0 }
}
