/// The random filler of C1/S1/S2: 1,528 bytes per packet that only need to be unpredictable
/// enough not to repeat, not secret (the digest keys are public constants). One system random
/// seed per handshake, then SplitMix64 — instead of ~190 `getrandom` calls per packet, which
/// showed in publish-accept latency.
public struct HandshakeRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init() {
        var system = SystemRandomNumberGenerator()
        state = system.next()
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
