import Foundation

/// Test media made by ffmpeg itself (no binaries in git) and measured by ffprobe.
public enum MediaTools {
    /// A temporary folder removed at process exit is not guaranteed; callers use unique names.
    public static func temporaryDirectory(_ name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("livegate-tests-\(name)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A clip of `seconds` with H.264 (Main, B-frames; a keyframe every `gop` frames, 2 s by
    /// default) video and AAC-LC audio in FLV.
    public static func makeClip(seconds: Int = 5, size: String = "320x240", fps: Int = 25, gop: Int? = nil,
                                in dir: URL, name: String = "clip.flv") async throws -> URL {
        let out = dir.appendingPathComponent(name)
        if FileManager.default.fileExists(atPath: out.path) { return out }
        let result = try await ProcessRunner.run("ffmpeg", [
            "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", "testsrc2=size=\(size):rate=\(fps)",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", "\(seconds)", "-c:v", "libx264", "-profile:v", "main", "-preset", "veryfast", "-pix_fmt", "yuv420p",
            "-g", "\(gop ?? fps * 2)", "-bf", "2", "-c:a", "aac", "-b:a", "96k", "-ac", "2", "-f", "flv", out.path,
        ], timeout: 60)
        guard result.exitCode == 0 else { throw ToolFailed(tool: "ffmpeg", stderr: result.stderr) }
        return out
    }

    /// A self-signed certificate and key (PEM) for 127.0.0.1, made with the openssl CLI.
    public static func selfSignedCertificate(in dir: URL) async throws -> (certificate: String, key: String) {
        let cert = dir.appendingPathComponent("cert.pem").path, key = dir.appendingPathComponent("key.pem").path
        let made = try await ProcessRunner.run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                                                          "-days", "1", "-subj", "/CN=127.0.0.1",
                                                          // Clients that verify match the address against the SAN, not the CN.
                                                          "-addext", "subjectAltName=IP:127.0.0.1"], timeout: 30)
        guard made.exitCode == 0 else { throw ToolFailed(tool: "openssl", stderr: made.stderr) }
        return (cert, key)
    }

    public struct StreamInfo: Sendable, Equatable {
        public var codecType: String
        public var codecName: String
        public var profile: String?
        public var packets: Int
        public var width: Int?
        public var height: Int?
        public var sampleRate: Int?
        public var channels: Int?
    }

    /// Per-stream packet counts and codec parameters, as ffprobe sees the file.
    public static func probe(_ file: URL) async throws -> [StreamInfo] { try await probe(path: file.path) }

    /// Per-stream packet counts of a file, playlist or URL (`http://…/index.m3u8`).
    public static func probe(path: String) async throws -> [StreamInfo] {
        let result = try await ProcessRunner.run("ffprobe", [
            "-v", "error", "-count_packets",
            "-show_entries", "stream=codec_type,codec_name,profile,nb_read_packets,width,height,sample_rate,channels",
            "-of", "json", path,
        ], timeout: 60)
        guard result.exitCode == 0 else { throw ToolFailed(tool: "ffprobe", stderr: result.stderr) }
        let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let streams = json?["streams"] as? [[String: Any]] ?? []
        return streams.map { s in
            StreamInfo(codecType: s["codec_type"] as? String ?? "", codecName: s["codec_name"] as? String ?? "",
                       profile: s["profile"] as? String, packets: Int(s["nb_read_packets"] as? String ?? "") ?? -1,
                       width: s["width"] as? Int, height: s["height"] as? Int,
                       sampleRate: Int(s["sample_rate"] as? String ?? ""), channels: s["channels"] as? Int)
        }
    }

    /// The container's duration in seconds, as ffprobe reads it.
    public static func duration(_ path: String) async throws -> Double {
        let result = try await ProcessRunner.run("ffprobe", ["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path], timeout: 60)
        guard result.exitCode == 0, let d = Double(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw ToolFailed(tool: "ffprobe", stderr: result.stderr + result.stdout)
        }
        return d
    }

    public struct ToolFailed: Error, CustomStringConvertible {
        public var tool: String
        public var stderr: String
        public var description: String { "\(tool) failed: \(stderr.suffix(2000))" }
    }
}
