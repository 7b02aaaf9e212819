import NIOCore

/// E-RTMP `AudioPacketType.MultichannelConfig`: which speaker each channel of a track feeds,
/// for codecs whose bitstream does not say (Opus with an empty sequence start, FLAC …).
/// `AudioChannelOrder` is Unspecified (only a count), Native (a mask of `AudioChannelMask`
/// bits in the codec's own order) or Custom (one `AudioChannel` per channel, in order).
public struct AudioMultichannelConfig: Sendable, Equatable {
    public enum Order: UInt8, Sendable { case unspecified = 0, native = 1, custom = 2 }

    public var order: Order
    public var channelCount: Int
    /// Speakers in stream order (custom) or mask order (native); empty when unspecified.
    public var speakers: [String]

    /// `AudioChannel` values 0…23, which are also the bit positions of `AudioChannelMask`.
    static let speakerNames = ["FL", "FR", "FC", "LFE", "BL", "BR", "FLC", "FRC", "BC", "SL", "SR", "TC",
                               "TFL", "TFC", "TFR", "TBL", "TBC", "TBR", "LFE2", "TSL", "TSR", "BFC", "BFL", "BFR"]

    /// Pure and bounds-checked: nil for a truncated or unknown configuration.
    public static func parse(_ payload: ByteBuffer) -> AudioMultichannelConfig? {
        var p = payload
        guard let rawOrder = p.readInteger(as: UInt8.self), let order = Order(rawValue: rawOrder),
              let count = p.readInteger(as: UInt8.self) else { return nil }
        switch order {
        case .unspecified:
            return AudioMultichannelConfig(order: order, channelCount: Int(count), speakers: [])
        case .custom:
            guard let mapping = p.readBytes(length: Int(count)) else { return nil }
            let speakers = mapping.map { $0 < speakerNames.count ? speakerNames[Int($0)] : $0 == 0xFE ? "unused" : "unknown" }
            return AudioMultichannelConfig(order: order, channelCount: Int(count), speakers: speakers)
        case .native:
            guard let mask = p.readInteger(as: UInt32.self) else { return nil }
            let speakers = speakerNames.indices.filter { mask & (1 << UInt32($0)) != 0 }.map { speakerNames[$0] }
            return AudioMultichannelConfig(order: order, channelCount: Int(count), speakers: speakers)
        }
    }

    /// The layout's usual name ("mono", "stereo", "5.1", "7.1"), else its speakers joined with
    /// "+", else nil (unspecified order).
    public var layoutName: String? {
        guard !speakers.isEmpty else { return nil }
        let set = speakers.joined(separator: "+")
        switch set {
        case "FC": return "mono"
        case "FL+FR": return "stereo"
        case "FL+FR+LFE": return "2.1"
        case "FL+FR+FC": return "3.0"
        case "FL+FR+FC+LFE+BL+BR": return "5.1"
        case "FL+FR+FC+LFE+SL+SR": return "5.1(side)"
        case "FL+FR+FC+LFE+BL+BR+SL+SR": return "7.1"
        default: return set
        }
    }
}

extension AudioCodecParameters {
    /// What a `MultichannelConfig` adds: the channel count (when the codec's header did not
    /// give one) and the layout.
    public func applying(_ config: AudioMultichannelConfig) -> AudioCodecParameters {
        var p = self
        if p.channels == nil || config.channelCount > 0 { p.channels = config.channelCount > 0 ? config.channelCount : p.channels }
        p.channelLayout = config.layoutName ?? p.channelLayout
        return p
    }
}

extension AudioCodecParameters {
    /// These parameters, with the channel layout an earlier `MultichannelConfig` gave.
    public func keepingLayout(of earlier: AudioCodecParameters?) -> AudioCodecParameters {
        var p = self
        p.channelLayout = p.channelLayout ?? earlier?.channelLayout
        return p
    }
}
