import NIOCore

/// Enhanced RTMP's `VideoPacketType.Metadata` ("Metadata Frame"): AMF name/value pairs, of which
/// the specification defines `colorInfo` — `colorConfig` (bit depth and the ISO/IEC 23091-2
/// code points: `colorPrimaries`, `transferCharacteristics`, `matrixCoefficients`), `hdrCll`
/// (`maxFall`, `maxCLL`) and `hdrMdcv` (the mastering display). What LiveGate keeps: the code
/// points, the light levels, and the dynamic range they mean — what HLS's `VIDEO-RANGE` says.
public struct VideoColorInfo: Sendable, Equatable {
    public var colorPrimaries: Int?
    public var transferCharacteristics: Int?
    public var matrixCoefficients: Int?
    public var bitDepth: Int?
    public var maxCLL: Int?
    public var maxFALL: Int?

    public init(colorPrimaries: Int? = nil, transferCharacteristics: Int? = nil, matrixCoefficients: Int? = nil, bitDepth: Int? = nil,
                maxCLL: Int? = nil, maxFALL: Int? = nil) {
        self.colorPrimaries = colorPrimaries
        self.transferCharacteristics = transferCharacteristics
        self.matrixCoefficients = matrixCoefficients
        self.bitDepth = bitDepth
        self.maxCLL = maxCLL
        self.maxFALL = maxFALL
    }

    /// HLS `VIDEO-RANGE` (RFC 8216bis): PQ for SMPTE ST 2084 (transfer 16), HLG for ARIB
    /// STD-B67 (18), SDR for the others; nil when the transfer is not given.
    public var videoRange: String? {
        switch transferCharacteristics {
        case nil: return nil
        case 16?: return "PQ"
        case 18?: return "HLG"
        default: return "SDR"
        }
    }

    /// The `colorInfo` of a metadata packet's AMF body; nil when it has none (or is not AMF).
    /// Bounded by the decoder's limits, like every AMF a peer sends.
    public static func parse(_ payload: ByteBuffer) -> VideoColorInfo? {
        var buffer = payload
        var decoder = AMF0Decoder(limits: RTMPLimits(maxAMFDepth: 8, maxAMFElements: 256))
        guard let values = try? decoder.decodeAll(&buffer) else { return nil }
        guard let index = values.firstIndex(where: { $0.stringValue == "colorInfo" }), index + 1 < values.count,
              let info = values[index + 1].objectValue else { return nil }
        func int(_ v: AMFValue?) -> Int? {
            guard let n = v?.numberValue, n.isFinite, n >= 0, n < 1e9 else { return nil }
            return Int(n)
        }
        var color = VideoColorInfo()
        if let config = info["colorConfig"]?.objectValue {
            color.colorPrimaries = int(config["colorPrimaries"])
            color.transferCharacteristics = int(config["transferCharacteristics"])
            color.matrixCoefficients = int(config["matrixCoefficients"])
            color.bitDepth = int(config["bitDepth"])
        }
        if let cll = info["hdrCll"]?.objectValue {
            color.maxCLL = int(cll["maxCLL"])
            color.maxFALL = int(cll["maxFall"])
        }
        return color == VideoColorInfo() ? nil : color
    }
}
