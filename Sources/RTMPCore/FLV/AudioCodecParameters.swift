import NIOCore

/// What an audio sequence header (or a legacy FLV sound header) says about the stream.
public struct AudioCodecParameters: Sendable, Equatable {
    public var codec: MediaCodec
    public var sampleRate: Int?
    public var channels: Int?
    /// MPEG-4 audio object type (2 = AAC LC, 5 = HE-AAC …).
    public var objectType: Int?

    public init(codec: MediaCodec, sampleRate: Int? = nil, channels: Int? = nil, objectType: Int? = nil) {
        self.codec = codec
        self.sampleRate = sampleRate
        self.channels = channels
        self.objectType = objectType
    }

    static let aacSampleRates = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350]

    /// Parses an AAC AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1), or takes a legacy header.
    public static func parse(_ frame: MediaFrame) -> AudioCodecParameters? {
        if frame.codec == .aac && frame.packetType == .sequenceHeader {
            return parseAudioSpecificConfig(Array(frame.data.readableBytesView))
        }
        if let legacy = frame.legacyAudio {
            return AudioCodecParameters(codec: frame.codec, sampleRate: legacy.sampleRate, channels: legacy.channels)
        }
        return AudioCodecParameters(codec: frame.codec)
    }

    static func parseAudioSpecificConfig(_ bytes: [UInt8]) -> AudioCodecParameters? {
        var r = BitReader(bytes)
        do {
            var objectType = Int(try r.bits(5))
            if objectType == 31 { objectType = 32 + Int(try r.bits(6)) }
            let index = Int(try r.bits(4))
            let sampleRate = index == 15 ? Int(try r.bits(24)) : (index < aacSampleRates.count ? aacSampleRates[index] : nil)
            let channelConfig = Int(try r.bits(4))
            let channels = channelConfig == 7 ? 8 : channelConfig
            return AudioCodecParameters(codec: .aac, sampleRate: sampleRate, channels: channels, objectType: objectType)
        } catch {
            return nil
        }
    }
}
