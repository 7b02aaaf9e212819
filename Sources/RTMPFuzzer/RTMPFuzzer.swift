import Foundation
import RTMPFuzzHarness

#if FUZZING
/// libFuzzer's driver, which `-sanitize=fuzzer` links in.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// Built by `fuzz/run.sh` with `-sanitize=fuzzer,address -parse-as-library -DFUZZING`.
/// SwiftPM links an executable's entry point as `<Target>_main`; defining it here (instead of
/// relying on libFuzzer's own `main`) hands control to libFuzzer's driver.
@_cdecl("RTMPFuzzer_main")
public func rtmpFuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in rtmpFuzzOneInput(data, size) }
}

/// The per-input callback; also exported under libFuzzer's conventional name.
@_cdecl("LLVMFuzzerTestOneInput")
public func rtmpFuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    FuzzHarness.run(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
#else
/// Without the fuzzer: replays corpus files or folders through the same harness, so a crash
/// input can be reproduced in a normal debug build: `swift run RTMPFuzzer fuzz/artifacts/crash-…`.
@main
struct RTMPFuzzerReplay {
    static func main() {
        var count = 0
        for path in CommandLine.arguments.dropFirst() {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
            let files = isDirectory.boolValue
                ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).map { "\(path)/\($0)" }
                : [path]
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                FuzzHarness.run(Array(data))
                count += 1
            }
        }
        print("replayed \(count) inputs without a crash")
    }
}
#endif
