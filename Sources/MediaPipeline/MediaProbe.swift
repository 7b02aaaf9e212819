internal import CFFmpeg

/// Reads back what a muxer wrote: opening the file through libavformat proves it is a valid
/// container (an MP4 without its index fails here) and yields the duration from its header.
enum MediaProbe {
    struct Result: Sendable {
        var durationSec: Double
        var streams: Int
    }

    static func inspect(path: String) throws(AVFailure) -> Result {
        var context: UnsafeMutablePointer<AVFormatContext>?
        try AVFailure.check(avformat_open_input(&context, path, nil, nil), "avformat_open_input")
        defer { avformat_close_input(&context) }
        guard let context else { throw AVFailure("avformat_open_input", message: "no context") }
        let duration = context.pointee.duration
        return Result(durationSec: duration == lg_nopts_value() ? 0 : Double(duration) / Double(lg_time_base()),
                      streams: Int(context.pointee.nb_streams))
    }
}
