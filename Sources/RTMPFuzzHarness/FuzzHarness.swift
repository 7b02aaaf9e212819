import NIOCore
import RTMPCore

/// The one entry point shared by the libFuzzer target (`RTMPFuzzer`), its corpus replayer and
/// the regression tests, so a crash the fuzzer finds is replayed by exactly the same code.
///
/// The first input byte picks what is exercised (mod 4):
/// 0 — the whole connection path from raw bytes (a PROXY protocol header, then handshake,
///     chunks, commands, media);
/// 1 — the same, after a valid plain handshake, so mutations reach the chunk layer at once;
/// 2 — AMF0/AMF3 value decoding;
/// 3 — FLV tag parsing and codec configuration records.
/// The second byte seeds how the rest is split into reads.
public enum FuzzHarness {
    public static func run(_ data: [UInt8]) {
        guard data.count >= 2 else { return }
        let mode = data[0] % 4
        let splitSeed = Int(data[1])
        let body = data[2...]
        switch mode {
        case 0:
            runConnection(ByteBuffer(bytes: body), splitSeed: splitSeed)
        case 1:
            var bytes = ByteBuffer(bytes: [3] + [UInt8](repeating: 0, count: 2 * HandshakeDigest.packetSize))
            bytes.writeBytes(body)
            runConnection(bytes, splitSeed: splitSeed)
        case 2:
            var buffer = ByteBuffer(bytes: body)
            var decoder = AMF0Decoder(limits: RTMPLimits(maxAMFDepth: 32, maxAMFElements: 1024))
            _ = try? decoder.decodeAll(&buffer)
        default:
            let buffer = ByteBuffer(bytes: body)
            // Every track of a multitrack message, ModEx included, through every codec parser.
            for frame in (try? FLVTagParser.parseVideoMessage(buffer, timestamp: 0)) ?? [] {
                _ = VideoCodecParameters.parse(frame)
                _ = VideoCodecParameters.keyframeSize(frame)
                _ = VideoColorInfo.parse(frame.data)
            }
            for frame in (try? FLVTagParser.parseAudioMessage(buffer, timestamp: 0)) ?? [] {
                _ = AudioCodecParameters.parse(frame)
                _ = AudioMultichannelConfig.parse(frame.data)
            }
        }
    }

    static func runConnection(_ input: ByteBuffer, splitSeed: Int) {
        var input = input
        // What a balancer may put first (rtmp.proxyProtocol): parsed from growing prefixes, as
        // reads arrive, then the rest goes on as RTMP.
        var seen = 0
        while seen < min(input.readableBytes, 16 + ProxyProtocolHeader.v2MaxPayload) {
            seen = min(input.readableBytes, seen + 1 + splitSeed % 37)
            let prefix = input.getSlice(at: input.readerIndex, length: seen)!
            switch ProxyProtocolHeader.parse(prefix.readableBytesView) {
            case .needMore: continue
            case .header(_, let consumed): input.moveReaderIndex(forwardBy: consumed)
            case .absent, .invalid: break
            }
            break
        }
        // Small limits so the fuzzer explores limit paths instead of allocating 8 MiB.
        let limits = RTMPLimits(maxMessageBytes: 64 * 1024, maxChunkSize: 64 * 1024, maxChunkStreams: 8,
                                maxBufferedBytes: 128 * 1024, maxAMFDepth: 16, maxAMFElements: 256)
        var machine = RTMPConnectionStateMachine(configuration: .init(limits: limits))
        var rest = input
        var piece = 1 + splitSeed
        while rest.readableBytes > 0 {
            let n = min(rest.readableBytes, piece)
            piece = piece * 7 % 509 + 1
            machine.receive(rest.readSlice(length: n)!)
            do {
                while let action = try machine.next() {
                    switch action {
                    case .send: _ = machine.takeOutbound()
                    case .authorize(let request): machine.authorizationDecided(request.streamKey.hasPrefix("x") ? .reject(.error(.publishUnauthorized, "no")) : .accept)
                    case .close: return
                    default: break
                    }
                }
            } catch {
                return
            }
        }
    }
}
