// The libavformat/libavcodec/libavutil API LiveGate uses, plus small inline functions for
// what Swift cannot import: function-like macros (AVERROR, AV_NOPTS_VALUE …) and the
// interrupt callback, which must be a C function pointer.
#ifndef LIVEGATE_CFFMPEG_SHIM_H
#define LIVEGATE_CFFMPEG_SHIM_H

#include <libavformat/avformat.h>
#include <libavformat/avio.h>
#include <libavcodec/avcodec.h>
#include <libavutil/avutil.h>
#include <libavutil/channel_layout.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>
#include <libavutil/time.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
#include <stdint.h>
#include <stdarg.h>
#include <errno.h>
#include <malloc.h>

static inline int lg_averror_eof(void) { return AVERROR_EOF; }
static inline int lg_averror_eagain(void) { return AVERROR(EAGAIN); }
static inline int lg_averror_exit(void) { return AVERROR_EXIT; }
static inline int64_t lg_nopts_value(void) { return AV_NOPTS_VALUE; }
static inline int lg_input_padding(void) { return AV_INPUT_BUFFER_PADDING_SIZE; }
static inline int lg_pkt_flag_key(void) { return AV_PKT_FLAG_KEY; }
static inline int lg_pkt_flag_corrupt(void) { return AV_PKT_FLAG_CORRUPT; }
static inline int lg_avfmt_nofile(void) { return AVFMT_NOFILE; }
static inline int64_t lg_time_base(void) { return AV_TIME_BASE; }

/// Deadlines after which blocking libavformat I/O gives up (0 = none): one per operation
/// (a write or connect that takes too long) and one for the whole output (asked to stop).
/// Set from any thread, read by the output's own thread inside libavformat: atomics.
typedef struct lg_interrupt {
    int64_t operation_deadline_us;
    int64_t abort_deadline_us;
} lg_interrupt;

static inline int lg_interrupt_check(void *opaque) {
    lg_interrupt *s = (lg_interrupt *)opaque;
    int64_t op = __atomic_load_n(&s->operation_deadline_us, __ATOMIC_ACQUIRE);
    int64_t ab = __atomic_load_n(&s->abort_deadline_us, __ATOMIC_ACQUIRE);
    if (op == 0 && ab == 0) return 0;
    int64_t now = av_gettime_relative();
    return (op != 0 && now >= op) || (ab != 0 && now >= ab);
}

/// Operation deadline `after_us` from now; 0 clears it.
static inline void lg_interrupt_set_operation(lg_interrupt *s, int64_t after_us) {
    __atomic_store_n(&s->operation_deadline_us, after_us > 0 ? av_gettime_relative() + after_us : 0, __ATOMIC_RELEASE);
}

/// Abort deadline `after_us` from now (at least 1 µs: "now").
static inline void lg_interrupt_set_abort(lg_interrupt *s, int64_t after_us) {
    __atomic_store_n(&s->abort_deadline_us, av_gettime_relative() + (after_us > 0 ? after_us : 1), __ATOMIC_RELEASE);
}

static inline AVIOInterruptCB lg_interrupt_callback(lg_interrupt *s) {
    AVIOInterruptCB cb = { lg_interrupt_check, s };
    return cb;
}

/// libav's log, routed to the gateway's logger: this callback formats each message and hands
/// the line to `lg_libav_log_line`, which MediaPipeline implements in Swift (`LibavLog`).
/// (A Swift closure cannot be the callback itself: it cannot take a `va_list`.)
void lg_libav_log_line(void *avcl, int level, const char *line);

static inline void lg_libav_log_callback(void *avcl, int level, const char *fmt, va_list vl) {
    if (level > av_log_get_level()) return;
    char line[1024];
    int print_prefix = 0;
    if (av_log_format_line2(avcl, level, fmt, vl, line, (int)sizeof line, &print_prefix) < 0) return;
    lg_libav_log_line(avcl, level, line);
}

static inline void lg_libav_log_install(int level) {
    av_log_set_level(level);
    av_log_set_callback(lg_libav_log_callback);
}

/// Bytes the C heap has handed out (glibc mallinfo2): the leak test's yardstick.
static inline size_t lg_heap_bytes_in_use(void) { return mallinfo2().uordblks; }

#endif
