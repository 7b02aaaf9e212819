import Foundation
import LiveGateModel
#if canImport(Glibc)
import CMalloc
import Glibc
#endif

/// The standard `process_*` figures a Prometheus server expects of every target (CPU, resident
/// memory, open files, start time) and `livegate_build_info`, read from `/proc/self` when
/// scraped (Linux; elsewhere only what `getrusage` gives).
enum ProcessMetrics {
    /// When this process started (seconds since 1970), fixed at first use — early in `serve`.
    static let startTime = Date().timeIntervalSince1970

    static func append(to p: inout PrometheusText, version: String) {
        p.family("livegate_build_info", .gauge, help: "Always 1; the labels say which build runs.")
        p.sample("livegate_build_info", [("version", version)], 1)
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        let cpu = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        p.family("process_cpu_seconds_total", .counter, help: "User and system CPU time spent, in seconds.")
        p.sample("process_cpu_seconds_total", [], cpu)
        p.family("process_start_time_seconds", .gauge, help: "Start time of the process since the Unix epoch, in seconds.")
        p.sample("process_start_time_seconds", [], startTime.rounded())
        if let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) {
            let pages = statm.split(separator: " ").compactMap { Double($0) }
            let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
            if pages.count >= 2 {
                p.family("process_virtual_memory_bytes", .gauge, help: "Virtual memory size, in bytes.")
                p.sample("process_virtual_memory_bytes", [], pages[0] * pageSize)
                p.family("process_resident_memory_bytes", .gauge, help: "Resident memory size, in bytes.")
                p.sample("process_resident_memory_bytes", [], pages[1] * pageSize)
            }
        }
        #if canImport(Glibc)
        // The heap's bytes in use beside the resident size: what is resident beyond it is the
        // program's own pages plus freed memory glibc keeps (docs/architecture.md "Memory after
        // a burst") — a growing gap is fragmentation, a growing heap is something kept.
        p.family("livegate_heap_in_use_bytes", .gauge, help: "Bytes the allocator has handed out and not had back (glibc mallinfo2).")
        p.sample("livegate_heap_in_use_bytes", [], Double(livegate_heap_in_use()))
        #endif
        if let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            p.family("process_open_fds", .gauge, help: "Open file descriptors.")
            p.sample("process_open_fds", [], Double(fds.count))
        }
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            p.family("process_max_fds", .gauge, help: "The limit on open file descriptors.")
            p.sample("process_max_fds", [], Double(limit.rlim_cur))
        }
    }
}
