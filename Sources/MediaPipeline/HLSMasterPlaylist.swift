import Foundation

/// The multivariant ("master") playlist of an adaptive HLS session: one variant per video
/// track, the audio tracks as one rendition group every variant refers to (docs/contract.md
/// §3, "Several tracks"). Pure: the writer measures, this renders.
struct HLSMasterPlaylist: Equatable {
    struct Variant: Equatable {
        var uri: String
        /// Peak and average bits per second, audio group included (as RFC 8216 §4.3.4.2 asks).
        var bandwidth: Int
        var averageBandwidth: Int?
        var width: Int?
        var height: Int?
        var frameRate: Double?
        var codecs: [String]
        var videoRange: String?
    }

    struct AudioRendition: Equatable {
        var uri: String
        var name: String
        var language: String?
        var channels: Int?
        var isDefault: Bool
    }

    static let audioGroup = "audio"

    var variants: [Variant]
    var audio: [AudioRendition]
    /// fMP4 segments (`EXT-X-MAP`) need protocol version 7 in the media playlists; the
    /// multivariant playlist says the same.
    var version: Int

    func render() -> String {
        var lines = ["#EXTM3U", "#EXT-X-VERSION:\(version)", "#EXT-X-INDEPENDENT-SEGMENTS"]
        for a in audio {
            var attrs = ["TYPE=AUDIO", "GROUP-ID=\"\(Self.audioGroup)\"", "NAME=\"\(a.name)\""]
            if let language = a.language { attrs.append("LANGUAGE=\"\(language)\"") }
            attrs.append("DEFAULT=\(a.isDefault ? "YES" : "NO")")
            attrs.append("AUTOSELECT=YES")
            if let channels = a.channels { attrs.append("CHANNELS=\"\(channels)\"") }
            attrs.append("URI=\"\(a.uri)\"")
            lines.append("#EXT-X-MEDIA:" + attrs.joined(separator: ","))
        }
        for v in variants {
            var attrs = ["BANDWIDTH=\(max(1, v.bandwidth))"]
            if let average = v.averageBandwidth { attrs.append("AVERAGE-BANDWIDTH=\(max(1, average))") }
            if !v.codecs.isEmpty { attrs.append("CODECS=\"\(v.codecs.joined(separator: ","))\"") }
            if let w = v.width, let h = v.height { attrs.append("RESOLUTION=\(w)x\(h)") }
            if let rate = v.frameRate, rate > 0 { attrs.append("FRAME-RATE=" + String(format: "%.3f", rate)) }
            if let range = v.videoRange { attrs.append("VIDEO-RANGE=\(range)") }
            if !audio.isEmpty { attrs.append("AUDIO=\"\(Self.audioGroup)\"") }
            lines.append("#EXT-X-STREAM-INF:" + attrs.joined(separator: ","))
            lines.append(v.uri)
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
