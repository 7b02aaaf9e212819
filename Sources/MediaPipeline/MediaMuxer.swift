internal import CFFmpeg
import Foundation

/// One libavformat output (an `AVFormatContext` and its I/O): the only type that touches the
/// muxing C API. Used by one thread at a time (an output's worker); `deinit` frees everything
/// whether or not `finish()` ran, so an output that fails mid-stream leaks nothing.
final class MediaMuxer {
    private let context: UnsafeMutablePointer<AVFormatContext>
    private let interrupt: InterruptFlag
    /// Bound on each blocking call (network outputs); nil for local files.
    private let operationTimeoutMicroseconds: Int64?
    private var headerWritten = false
    private var finished = false
    private var lastDts: [Int64]
    /// One packet reused for every write: `av_interleaved_write_frame` takes its reference and
    /// leaves it blank, so only the payload buffer is allocated per packet (was the AVPacket too);
    /// on the MPEG-TS path it points into `scratch` for the call and nothing is allocated.
    private let packet: UnsafeMutablePointer<AVPacket>
    let url: String

    /// Per track: laid out for MPEG-TS while copied (`MPEGTSFraming`), or nil (as received).
    private let framings: [MPEGTSFraming?]
    /// The MPEG-TS path's packet buffer, reused for every packet (nil on the general path).
    private let scratch: PacketScratch?

    /// Allocates the context and one stream per track, in the layout's order.
    /// `mpegTSFraming`: the packets go into MPEG-TS (an HLS series of `.ts` segments), so H.264
    /// and AAC are laid out as it carries them on the way in (`MPEGTSFraming`).
    init(format: String, url: String, layout: StreamLayout, interrupt: InterruptFlag,
         operationTimeoutMicroseconds: Int64? = nil, mpegTSFraming: Bool = false) throws(AVFailure) {
        var allocated: UnsafeMutablePointer<AVFormatContext>?
        try AVFailure.check(avformat_alloc_output_context2(&allocated, nil, format, url), "avformat_alloc_output_context2(\(format))")
        guard let allocated else { throw AVFailure("avformat_alloc_output_context2(\(format))", message: "no context") }
        guard let packet = av_packet_alloc() else {
            avformat_free_context(allocated)
            throw AVFailure("av_packet_alloc", message: "out of memory")
        }
        self.packet = packet
        context = allocated
        self.interrupt = interrupt
        self.url = url
        self.operationTimeoutMicroseconds = operationTimeoutMicroseconds
        lastDts = Array(repeating: Int64.min, count: layout.tracks.count)
        framings = layout.tracks.map { mpegTSFraming ? MPEGTSFraming($0) : nil }
        scratch = mpegTSFraming ? PacketScratch() : nil
        context.pointee.interrupt_callback = interrupt.callback
        for track in layout.tracks { try addStream(track) }
        hasFLAC = layout.tracks.contains { $0.codec == .flac }
    }

    private var hasFLAC = false

    deinit {
        closeIO()
        avformat_free_context(context)
        var owned: UnsafeMutablePointer<AVPacket>? = packet
        av_packet_free(&owned)
    }

    private func addStream(_ track: TrackFormat) throws(AVFailure) {
        guard let codecID = TrackFormat.avCodecID(track.codec) else {
            throw AVFailure("avformat_new_stream", message: "codec \(track.codec.rawValue) cannot be remuxed")
        }
        guard let stream = avformat_new_stream(context, nil), let par = stream.pointee.codecpar else {
            throw AVFailure("avformat_new_stream", message: "out of memory")
        }
        par.pointee.codec_type = track.kind == .video ? AVMEDIA_TYPE_VIDEO : AVMEDIA_TYPE_AUDIO
        par.pointee.codec_id = codecID
        if !track.extradata.isEmpty {
            guard let buffer = av_mallocz(track.extradata.count + Int(lg_input_padding())) else {
                throw AVFailure("av_mallocz", message: "out of memory")
            }
            track.extradata.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            par.pointee.extradata = buffer.assumingMemoryBound(to: UInt8.self)
            par.pointee.extradata_size = Int32(track.extradata.count)
        }
        switch track.kind {
        case .video:
            par.pointee.width = Int32(track.width ?? 0)
            par.pointee.height = Int32(track.height ?? 0)
            if let format = track.pixelFormat { par.pointee.format = format.rawValue }
            if let profile = track.profile, track.codec == .vp9 || track.codec == .av1 { par.pointee.profile = Int32(profile) }
            if let level = track.level, track.codec == .vp9 { par.pointee.level = Int32(level) }
        case .audio:
            par.pointee.sample_rate = Int32(track.sampleRate ?? 44100)
            av_channel_layout_default(&par.pointee.ch_layout, Int32(track.channels ?? 2))
            if track.codec == .aac { par.pointee.frame_size = 1024 }
        }
        stream.pointee.time_base = AVRational(num: 1, den: 1000)
    }

    /// Opens the I/O (unless the format manages its own files, as HLS does) and writes the header.
    func open(ioOptions: [String: String] = [:], muxerOptions: [String: String] = [:]) throws(AVFailure) {
        let format = context.pointee.oformat
        interrupt.operationTimeout(microseconds: operationTimeoutMicroseconds)
        defer { interrupt.operationTimeout(microseconds: nil) }
        if let format, Int32(format.pointee.flags) & lg_avfmt_nofile() == 0 {
            var dict = Self.dictionary(ioOptions)
            defer { av_dict_free(&dict) }
            var callback = context.pointee.interrupt_callback
            try checkBlocking(avio_open2(&context.pointee.pb, url, AVIO_FLAG_WRITE, &callback, &dict), "avio_open2")
        }
        var muxerOptions = muxerOptions
        // libavformat 5.1's MP4 muxer (also under HLS's fMP4 segments) writes FLAC only when
        // told experimental features are allowed; the boxes it writes (dfLa) are the ones
        // later versions write by default (docs/contract.md §3, codec × output table).
        if hasFLAC { muxerOptions["strict"] = "experimental" }
        var dict = Self.dictionary(muxerOptions)
        defer { av_dict_free(&dict) }
        try checkBlocking(avformat_write_header(context, &dict), "avformat_write_header")
        headerWritten = true
    }

    /// Writes one packet, timestamps rescaled from milliseconds (plus ModEx nanoseconds) to the
    /// stream's time base. DTS is kept strictly increasing per track in that time base and PTS
    /// never before DTS, as every muxer requires.
    ///
    /// Two ways, by what the muxer was made for. In general the payload is copied into a new
    /// padded libav buffer (the muxers and their bitstream filters read past the end, up to
    /// `AV_INPUT_BUFFER_PADDING_SIZE`) and handed to `av_interleaved_write_frame`, which orders
    /// the tracks by DTS. For MPEG-TS (`mpegTSFraming`) the payload is laid out as MPEG-TS
    /// carries it while copied into this muxer's own padded scratch buffer, reused for every
    /// packet, and written with `av_write_frame` in the order it came: no allocation per packet
    /// (libavformat refers to a packet it does not own only during the call), and no waiting for
    /// the other track — a live segment is cut on the publisher's own order, which is already by
    /// time, and a track that pauses holds nothing back (the interleaver would hold the other
    /// track's packets up to 10 s). docs/architecture.md "Output threads".
    /// Returns false for a packet not written because its payload could not be laid out for
    /// MPEG-TS (malformed: `MPEGTSFraming.layout` found none); the caller counts it.
    @discardableResult
    func write(_ packet: MediaPacket, timestampOffset: Int64 = 0) throws(AVFailure) -> Bool {
        guard packet.track < lastDts.count, let stream = context.pointee.streams[packet.track] else {
            throw AVFailure("write", message: "no track \(packet.track)")
        }
        let pkt = self.packet
        // Blank again whatever happens below (the muxer leaves it blank; a failure might not).
        defer { av_packet_unref(pkt) }
        if let scratch {
            let framing = framings[packet.track]
            // Laid out (or copied as is) into the scratch buffer in one visit of the payload.
            let laidOut: (data: UnsafeMutableRawPointer, size: Int)? = packet.data.withUnsafeReadableBytes { raw in
                guard let framing else {
                    let data = scratch.reserve(raw.count)
                    if raw.count > 0 { data.copyMemory(from: raw.baseAddress!, byteCount: raw.count) }
                    return (data, raw.count)
                }
                guard let layout = framing.layout(raw, isKeyframe: packet.isKeyframe) else { return nil }
                let data = scratch.reserve(layout.size)
                framing.write(raw, layout: layout, to: data)
                return (data, layout.size)
            }
            guard let laidOut else { return false }
            pkt.pointee.data = laidOut.data.assumingMemoryBound(to: UInt8.self)
            pkt.pointee.size = Int32(laidOut.size)
        } else {
            let size = packet.data.readableBytes
            try AVFailure.check(av_new_packet(pkt, Int32(size)), "av_new_packet")
            if size > 0 {
                packet.data.withUnsafeReadableBytes { raw in
                    pkt.pointee.data.update(from: raw.baseAddress!.assumingMemoryBound(to: UInt8.self), count: size)
                }
            }
        }
        // Milliseconds plus the E-RTMP ModEx nanosecond offset, on a microsecond timeline, rounded
        // once into the stream's own time base (90 kHz for MPEG-TS, the track timescale in MP4).
        let tb = stream.pointee.time_base
        let microseconds = AVRational(num: 1, den: 1_000_000)
        let fraction = Int64(packet.subMillisecondNanos / 1000)
        var dts = av_rescale_q((packet.dts - timestampOffset) * 1000 + fraction, microseconds, tb)
        if dts <= lastDts[packet.track] { dts = lastDts[packet.track] + 1 }
        lastDts[packet.track] = dts
        let pts = max(av_rescale_q((packet.pts - timestampOffset) * 1000 + fraction, microseconds, tb), dts)
        pkt.pointee.dts = dts
        pkt.pointee.pts = pts
        pkt.pointee.stream_index = Int32(packet.track)
        if packet.isKeyframe { pkt.pointee.flags |= lg_pkt_flag_key() }
        interrupt.operationTimeout(microseconds: operationTimeoutMicroseconds)
        defer { interrupt.operationTimeout(microseconds: nil) }
        if scratch != nil {
            try checkBlocking(av_write_frame(context, pkt), "av_write_frame")
        } else {
            try checkBlocking(av_interleaved_write_frame(context, pkt), "av_interleaved_write_frame")
        }
        return true
    }

    /// Flushes interleaved packets and writes the trailer (the MP4 index, HLS's last segment
    /// and ENDLIST), then closes the I/O.
    func finish() throws(AVFailure) {
        guard !finished else { return }
        finished = true
        var failure: AVFailure?
        if headerWritten {
            interrupt.operationTimeout(microseconds: operationTimeoutMicroseconds.map { $0 * 2 })
            let result = av_write_trailer(context)
            interrupt.operationTimeout(microseconds: nil)
            if result < 0 { failure = AVFailure("av_write_trailer", code: result) }
        }
        closeIO()
        if let failure { throw failure }
    }

    private func closeIO() {
        if let format = context.pointee.oformat, Int32(format.pointee.flags) & lg_avfmt_nofile() == 0, context.pointee.pb != nil {
            avio_closep(&context.pointee.pb)
        }
    }

    /// Like `AVFailure.check`, but names our own interrupt for what it is: a peer that made no
    /// progress within the bound, or an output asked to stop.
    private func checkBlocking(_ code: Int32, _ operation: String) throws(AVFailure) {
        guard code < 0 else { return }
        if code == lg_averror_exit() {
            let bound = operationTimeoutMicroseconds.map { " (no progress within \(Double($0) / 1_000_000) s, or stopping)" } ?? " (stopping)"
            throw AVFailure(operation, message: "interrupted" + bound)
        }
        throw AVFailure(operation, code: code)
    }

    static func dictionary(_ options: [String: String]) -> OpaquePointer? {
        var dict: OpaquePointer?
        for (key, value) in options.sorted(by: { $0.key < $1.key }) { av_dict_set(&dict, key, value, 0) }
        return dict
    }
}
