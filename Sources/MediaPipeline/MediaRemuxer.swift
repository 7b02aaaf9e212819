internal import CFFmpeg
import Foundation
import RTMPCore

/// Copies the audio and video packets of one container file into another, unchanged
/// (what `ffmpeg -c copy` does). Recordings use it to turn the crash-safe fragmented
/// `.mp4.part` into the final faststart `.mp4`, at the end of a session and, after a crash,
/// at the next start. A source cut off mid-fragment (the process was killed while writing)
/// is copied up to its last whole packet.
enum MediaRemuxer {
    struct Stream: Sendable, Equatable {
        var kind: MediaKind
        var codec: String
        var width: Int?
        var height: Int?
    }

    struct Result: Sendable {
        var streams: [Stream]
        var videoPackets: Int
        var audioPackets: Int
    }

    static func copy(from input: String, to output: String, format: String, muxerOptions: [String: String] = [:]) throws(AVFailure) -> Result {
        var inputContext: UnsafeMutablePointer<AVFormatContext>?
        try AVFailure.check(avformat_open_input(&inputContext, input, nil, nil), "avformat_open_input(\(input))")
        defer { avformat_close_input(&inputContext) }
        guard let source = inputContext else { throw AVFailure("avformat_open_input(\(input))", message: "no context") }
        // Reads the first packets for their durations: without them the last sample of each
        // track would be written with duration 0, and players drop it.
        try AVFailure.check(avformat_find_stream_info(source, nil), "avformat_find_stream_info(\(input))")

        var outputContext: UnsafeMutablePointer<AVFormatContext>?
        try AVFailure.check(avformat_alloc_output_context2(&outputContext, nil, format, output), "avformat_alloc_output_context2(\(format))")
        guard let target = outputContext else { throw AVFailure("avformat_alloc_output_context2(\(format))", message: "no context") }
        defer {
            if target.pointee.pb != nil { avio_closep(&target.pointee.pb) }
            avformat_free_context(target)
        }

        // Source stream index → (target stream index, kind); data and subtitle streams are left out.
        var mapping: [(index: Int32, kind: MediaKind)?] = []
        var streams: [Stream] = []
        for i in 0..<Int(source.pointee.nb_streams) {
            guard let stream = source.pointee.streams[i], let par = stream.pointee.codecpar else { mapping.append(nil); continue }
            let kind: MediaKind
            switch par.pointee.codec_type {
            case AVMEDIA_TYPE_VIDEO: kind = .video
            case AVMEDIA_TYPE_AUDIO: kind = .audio
            default: mapping.append(nil); continue
            }
            guard let copy = avformat_new_stream(target, nil) else { throw AVFailure("avformat_new_stream", message: "out of memory") }
            try AVFailure.check(avcodec_parameters_copy(copy.pointee.codecpar, par), "avcodec_parameters_copy")
            copy.pointee.codecpar.pointee.codec_tag = 0
            copy.pointee.time_base = stream.pointee.time_base
            mapping.append((copy.pointee.index, kind))
            streams.append(Stream(kind: kind, codec: String(cString: avcodec_get_name(par.pointee.codec_id)),
                                  width: kind == .video ? Int(par.pointee.width) : nil, height: kind == .video ? Int(par.pointee.height) : nil))
        }
        guard !streams.isEmpty else { throw AVFailure("remux \(input)", message: "no audio or video stream") }

        try AVFailure.check(avio_open2(&target.pointee.pb, output, AVIO_FLAG_WRITE, nil, nil), "avio_open2(\(output))")
        var muxerOptions = muxerOptions
        if streams.contains(where: { $0.codec == "flac" }) { muxerOptions["strict"] = "experimental" } // see MediaMuxer.open
        var options = MediaMuxer.dictionary(muxerOptions)
        defer { av_dict_free(&options) }
        try AVFailure.check(avformat_write_header(target, &options), "avformat_write_header")

        guard let packet = av_packet_alloc() else { throw AVFailure("av_packet_alloc", message: "out of memory") }
        defer {
            var owned: UnsafeMutablePointer<AVPacket>? = packet
            av_packet_free(&owned)
        }
        var video = 0, audio = 0
        while true {
            let read = av_read_frame(source, packet)
            if read == lg_averror_eof() { break }
            // A damaged tail (a fragment the crash cut short) ends the copy; what came before is whole.
            if read < 0 || packet.pointee.flags & lg_pkt_flag_corrupt() != 0 {
                av_packet_unref(packet)
                break
            }
            let index = Int(packet.pointee.stream_index)
            guard index < mapping.count, let (targetIndex, kind) = mapping[index],
                  let from = source.pointee.streams[index], let to = target.pointee.streams[Int(targetIndex)] else {
                av_packet_unref(packet)
                continue
            }
            av_packet_rescale_ts(packet, from.pointee.time_base, to.pointee.time_base)
            packet.pointee.stream_index = targetIndex
            packet.pointee.pos = -1
            if kind == .video { video += 1 } else { audio += 1 }
            // Takes the packet's reference (and unreferences it) whether or not it succeeds.
            try AVFailure.check(av_interleaved_write_frame(target, packet), "av_interleaved_write_frame")
        }
        try AVFailure.check(av_write_trailer(target), "av_write_trailer")
        return Result(streams: streams, videoPackets: video, audioPackets: audio)
    }
}
