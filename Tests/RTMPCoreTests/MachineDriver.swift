import NIOCore
import RTMPCore
import XCTest

/// Feeds bytes to an `RTMPConnectionStateMachine` in chosen pieces, answering authorization
/// requests at once, and records what it did — so a fixture can be checked whole, byte by
/// byte and in random splits, and the results compared.
struct MachineDriver {
    struct Outcome: Equatable {
        var actions: [String] = []
        var videoFrames = 0
        var audioFrames = 0
        var keyframes = 0
        var videoDTS: [Int64] = []
        var audioDTS: [Int64] = []
        var mediaPayloadBytes = 0
        /// FNV-1a over every media frame's bytes, in order.
        var mediaChecksum: UInt64 = 0xcbf29ce484222325
        var error: RTMPProtocolError?
        var outbound = ByteBuffer()
    }

    var machine: RTMPConnectionStateMachine
    var decision: PublishDecision
    var outcome = Outcome()
    /// Every media frame, as emitted (kept only when asked).
    var frames: [MediaFrame] = []
    var keepFrames = false

    init(decision: PublishDecision = .accept, configuration: RTMPConnectionStateMachine.Configuration = .init()) {
        self.machine = RTMPConnectionStateMachine(configuration: configuration)
        self.decision = decision
    }

    mutating func feed(_ bytes: ByteBuffer) {
        guard outcome.error == nil else { return }
        machine.receive(bytes)
        drain()
    }

    mutating func drain() {
        while true {
            let action: RTMPSessionAction?
            do {
                action = try machine.next()
            } catch {
                outcome.error = error
                outcome.actions.append("error(\(error.kind.rawValue))")
                return
            }
            guard let action else { return }
            switch action {
            case .send:
                var out = machine.takeOutbound()
                outcome.outbound.writeBuffer(&out)
            case .authorize(let request):
                outcome.actions.append("authorize(\(request.app),\(request.streamKey))")
                machine.authorizationDecided(decision)
            case .media(let frame):
                if keepFrames { frames.append(frame) }
                if frame.packetType == .codedFrames {
                    if frame.kind == .video {
                        outcome.videoFrames += 1
                        outcome.videoDTS.append(frame.dts)
                        if frame.isKeyframe { outcome.keyframes += 1 }
                    } else {
                        outcome.audioFrames += 1
                        outcome.audioDTS.append(frame.dts)
                    }
                } else {
                    outcome.actions.append("media(\(frame.kind.rawValue),\(frame.codec.rawValue),\(frame.packetType.rawValue))")
                }
                outcome.mediaPayloadBytes += frame.byteCount
                // The bytes themselves, not only their count: however the reads cut the chunks
                // (and the frames into pieces), every splitting must deliver the same bytes.
                for byte in frame.data.readableBytesView { outcome.mediaChecksum = (outcome.mediaChecksum ^ UInt64(byte)) &* 0x100000001b3 }
            case .handshakeCompleted(let kind, _):
                outcome.actions.append("handshake(\(kind.rawValue))")
            case .connected(let info):
                outcome.actions.append("connected(\(info.app))")
            case .publishStarted:
                outcome.actions.append("publishStarted")
            case .metadata:
                outcome.actions.append("metadata")
            case .mediaSkipped(let reason):
                outcome.actions.append("skipped(\(reason))")
            case .unpublished:
                outcome.actions.append("unpublished")
            case .close(let reason):
                outcome.actions.append("close(\(reason))")
            }
        }
    }

    /// Runs `bytes` through a fresh machine split at the given sizes (cycled).
    static func run(_ bytes: ByteBuffer, pieces: [Int], decision: PublishDecision = .accept,
                    configuration: RTMPConnectionStateMachine.Configuration = .init()) -> Outcome {
        var driver = MachineDriver(decision: decision, configuration: configuration)
        var input = bytes
        var i = 0
        while input.readableBytes > 0 {
            let n = max(1, min(pieces[i % pieces.count], input.readableBytes))
            i += 1
            driver.feed(input.readSlice(length: n)!)
        }
        var o = driver.outcome
        o.outbound = ByteBuffer() // outbound bytes differ (random S1/S2); compared separately
        return o
    }

    /// Whole, byte by byte, and several seeded random splittings must all agree.
    static func verifySplits(_ bytes: ByteBuffer, decision: PublishDecision = .accept,
                             configuration: RTMPConnectionStateMachine.Configuration = .init(),
                             file: StaticString = #filePath, line: UInt = #line) -> Outcome {
        let whole = run(bytes, pieces: [bytes.readableBytes], decision: decision, configuration: configuration)
        let byteByByte = run(bytes, pieces: [1], decision: decision, configuration: configuration)
        XCTAssertEqual(whole, byteByByte, "byte-by-byte feeding differs", file: file, line: line)
        var rng = SeededGenerator(seed: 42)
        for _ in 0..<5 {
            let pieces = (0..<64).map { _ in Int.random(in: 1...3000, using: &rng) }
            XCTAssertEqual(whole, run(bytes, pieces: pieces, decision: decision, configuration: configuration),
                           "random split \(pieces.prefix(5))… differs", file: file, line: line)
        }
        return whole
    }
}

/// SplitMix64: a repeatable generator for tests.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}


func fixture(_ name: String) throws -> ByteBuffer {
    let url = try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures"))
    return ByteBuffer(bytes: try Data(contentsOf: url))
}

import Foundation
