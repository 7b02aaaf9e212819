internal import CFFmpeg
import RTMPCore

/// One keyframe to a JPEG (docs/contract.md §4, "Thumbnails"): decoded with libavcodec from the
/// publisher's own bytes — its sequence header as extradata (avcC, hvcC, av1C; VP9 needs none)
/// and the keyframe as it came (length-prefixed NAL units, AV1 OBUs, a VP9 frame) — scaled
/// with libswscale and encoded by libavcodec's MJPEG encoder. Pure and blocking: callers run it
/// on their own threads, never on an event loop.
public enum ThumbnailDecoder {
    public struct Picture: Sendable, Equatable {
        public var jpeg: [UInt8]
        public var width: Int
        public var height: Int
    }

    public struct Failure: Error, CustomStringConvertible, Equatable {
        public var description: String
        public init(description: String) { self.description = description }
    }

    /// The largest width a thumbnail is made at (and the default: the picture's own up to it).
    public static let maxWidth = 1920

    public static func jpeg(codec: MediaCodec, extradata: [UInt8], keyframe: [UInt8], width requested: Int?, quality: Int = 5) throws -> Picture {
        guard let id = TrackFormat.avCodecID(codec) else { throw Failure(description: "no decoder for \(codec.rawValue)") }
        return try jpeg(codecID: id, name: codec.rawValue, extradata: extradata, keyframe: keyframe, width: requested, quality: quality)
    }

    static func jpeg(codecID: AVCodecID, name: String, extradata: [UInt8], keyframe: [UInt8], width requested: Int?, quality: Int = 5) throws -> Picture {
        let decoded = try decode(codecID: codecID, name: name, extradata: extradata, keyframe: keyframe)
        var frame: UnsafeMutablePointer<AVFrame>? = decoded
        defer { av_frame_free(&frame) }
        let srcW = Int(decoded.pointee.width), srcH = Int(decoded.pointee.height)
        guard srcW > 0, srcH > 0 else { throw Failure(description: "the decoded picture has no size") }
        var outW = min(requested ?? srcW, srcW, maxWidth)
        outW = max(16, outW / 2 * 2)
        let outH = max(16, Int((Double(outW) * Double(srcH) / Double(srcW) / 2).rounded()) * 2)
        let scaled = try scale(decoded, width: outW, height: outH)
        var out: UnsafeMutablePointer<AVFrame>? = scaled
        defer { av_frame_free(&out) }
        return Picture(jpeg: try encode(scaled, quality: quality), width: outW, height: outH)
    }

    /// A recording's poster: its first video keyframe, read with libavformat, as a JPEG.
    public static func poster(file: String, width: Int?) throws -> Picture {
        var format: UnsafeMutablePointer<AVFormatContext>?
        guard avformat_open_input(&format, file, nil, nil) >= 0, let input = format else { throw Failure(description: "cannot open \(file)") }
        defer { avformat_close_input(&format) }
        guard avformat_find_stream_info(input, nil) >= 0 else { throw Failure(description: "no stream information in \(file)") }
        let index = av_find_best_stream(input, AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0)
        guard index >= 0, let stream = input.pointee.streams[Int(index)], let par = stream.pointee.codecpar else {
            throw Failure(description: "no video in \(file)")
        }
        let extradata = par.pointee.extradata.map { Array(UnsafeBufferPointer(start: $0, count: Int(par.pointee.extradata_size))) } ?? []
        var packet: UnsafeMutablePointer<AVPacket>? = av_packet_alloc()
        defer { av_packet_free(&packet) }
        guard let pkt = packet else { throw Failure(description: "out of memory") }
        // The first keyframe within the first 600 packets of the file.
        for _ in 0..<600 {
            guard av_read_frame(input, pkt) >= 0 else { break }
            defer { av_packet_unref(pkt) }
            guard pkt.pointee.stream_index == index, pkt.pointee.flags & lg_pkt_flag_key() != 0, let data = pkt.pointee.data else { continue }
            let keyframe = Array(UnsafeBufferPointer(start: data, count: Int(pkt.pointee.size)))
            return try jpeg(codecID: par.pointee.codec_id, name: String(cString: avcodec_get_name(par.pointee.codec_id)), extradata: extradata,
                            keyframe: keyframe, width: width)
        }
        throw Failure(description: "no keyframe in the first 600 packets of \(file)")
    }

    static func decode(codecID: AVCodecID, name: String, extradata: [UInt8], keyframe: [UInt8]) throws -> UnsafeMutablePointer<AVFrame> {
        guard let decoder = avcodec_find_decoder(codecID) else { throw Failure(description: "no decoder for \(name) in this libavcodec") }
        var context: UnsafeMutablePointer<AVCodecContext>? = avcodec_alloc_context3(decoder)
        defer { avcodec_free_context(&context) }
        guard let ctx = context else { throw Failure(description: "out of memory") }
        if !extradata.isEmpty, let buffer = av_mallocz(extradata.count + Int(lg_input_padding())) {
            extradata.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            ctx.pointee.extradata = buffer.assumingMemoryBound(to: UInt8.self)
            ctx.pointee.extradata_size = Int32(extradata.count)
        }
        // One picture: no frame threads (their delay would hold it back), one slice thread.
        ctx.pointee.thread_count = 1
        var status = avcodec_open2(ctx, decoder, nil)
        guard status >= 0 else { throw Failure(description: "opening the \(name) decoder: \(AVFailure("", code: status).message)") }
        var packet: UnsafeMutablePointer<AVPacket>? = av_packet_alloc()
        defer { av_packet_free(&packet) }
        guard let pkt = packet, av_new_packet(pkt, Int32(keyframe.count)) >= 0 else { throw Failure(description: "out of memory") }
        keyframe.withUnsafeBytes { pkt.pointee.data.update(from: $0.bindMemory(to: UInt8.self).baseAddress!, count: $0.count) }
        pkt.pointee.flags |= lg_pkt_flag_key()
        status = avcodec_send_packet(ctx, pkt)
        guard status >= 0 else { throw Failure(description: "decoding the \(name) keyframe: \(AVFailure("", code: status).message)") }
        _ = avcodec_send_packet(ctx, nil) // drain: the picture comes out now, not with the next packet
        guard let frame = av_frame_alloc() else { throw Failure(description: "out of memory") }
        status = avcodec_receive_frame(ctx, frame)
        guard status >= 0 else {
            var f: UnsafeMutablePointer<AVFrame>? = frame
            av_frame_free(&f)
            throw Failure(description: "the \(name) keyframe gave no picture: \(AVFailure("", code: status).message)")
        }
        return frame
    }

    static func scale(_ frame: UnsafeMutablePointer<AVFrame>, width: Int, height: Int) throws -> UnsafeMutablePointer<AVFrame> {
        guard let sws = sws_getContext(frame.pointee.width, frame.pointee.height, AVPixelFormat(frame.pointee.format), Int32(width), Int32(height),
                                       AV_PIX_FMT_YUVJ420P, Int32(SWS_BILINEAR), nil, nil, nil) else {
            throw Failure(description: "no scaler from pixel format \(frame.pointee.format)")
        }
        defer { sws_freeContext(sws) }
        guard let out = av_frame_alloc() else { throw Failure(description: "out of memory") }
        out.pointee.format = AV_PIX_FMT_YUVJ420P.rawValue
        out.pointee.width = Int32(width)
        out.pointee.height = Int32(height)
        guard av_frame_get_buffer(out, 32) >= 0 else {
            var o: UnsafeMutablePointer<AVFrame>? = out
            av_frame_free(&o)
            throw Failure(description: "out of memory")
        }
        let rows = withUnsafePointer(to: &frame.pointee.data) { src in
            withUnsafePointer(to: &frame.pointee.linesize) { srcStride in
                withUnsafePointer(to: &out.pointee.data) { dst in
                    withUnsafePointer(to: &out.pointee.linesize) { dstStride in
                        src.withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: 8) { s in
                            dst.withMemoryRebound(to: UnsafeMutablePointer<UInt8>?.self, capacity: 8) { d in
                                srcStride.withMemoryRebound(to: Int32.self, capacity: 8) { ss in
                                    dstStride.withMemoryRebound(to: Int32.self, capacity: 8) { ds in
                                        sws_scale(sws, s, ss, 0, frame.pointee.height, d, ds)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        guard rows > 0 else {
            var o: UnsafeMutablePointer<AVFrame>? = out
            av_frame_free(&o)
            throw Failure(description: "scaling failed")
        }
        return out
    }

    static func encode(_ frame: UnsafeMutablePointer<AVFrame>, quality: Int) throws -> [UInt8] {
        guard let encoder = avcodec_find_encoder(AV_CODEC_ID_MJPEG) else { throw Failure(description: "no MJPEG encoder in this libavcodec") }
        var context: UnsafeMutablePointer<AVCodecContext>? = avcodec_alloc_context3(encoder)
        defer { avcodec_free_context(&context) }
        guard let ctx = context else { throw Failure(description: "out of memory") }
        ctx.pointee.width = frame.pointee.width
        ctx.pointee.height = frame.pointee.height
        ctx.pointee.pix_fmt = AV_PIX_FMT_YUVJ420P
        ctx.pointee.time_base = AVRational(num: 1, den: 25)
        // A fixed quantiser (2 best … 31 worst): a steady size, no rate control for one picture.
        ctx.pointee.flags |= Int32(AV_CODEC_FLAG_QSCALE)
        ctx.pointee.global_quality = Int32(quality) * FF_QP2LAMBDA
        frame.pointee.quality = ctx.pointee.global_quality
        frame.pointee.pts = 0
        var status = avcodec_open2(ctx, encoder, nil)
        guard status >= 0 else { throw Failure(description: "opening the MJPEG encoder: \(AVFailure("", code: status).message)") }
        status = avcodec_send_frame(ctx, frame)
        guard status >= 0 else { throw Failure(description: "encoding the JPEG: \(AVFailure("", code: status).message)") }
        _ = avcodec_send_frame(ctx, nil)
        var packet: UnsafeMutablePointer<AVPacket>? = av_packet_alloc()
        defer { av_packet_free(&packet) }
        guard let pkt = packet else { throw Failure(description: "out of memory") }
        status = avcodec_receive_packet(ctx, pkt)
        guard status >= 0, let data = pkt.pointee.data else { throw Failure(description: "the JPEG encoder gave nothing: \(AVFailure("", code: status).message)") }
        return Array(UnsafeBufferPointer(start: data, count: Int(pkt.pointee.size)))
    }
}
