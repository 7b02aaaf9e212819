/// Reads bits MSB-first from an RBSP (emulation-prevention bytes already removed), with
/// Exp-Golomb helpers for H.264/H.265 parameter sets. Every read is bounds-checked: running
/// off the end throws instead of trapping.
struct BitReader {
    struct OutOfData: Error {}

    private let bytes: [UInt8]
    private var bit = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Removes H.264/H.265 emulation prevention (0x00 0x00 0x03 → 0x00 0x00).
    init(nalUnit: some Collection<UInt8>) {
        var out: [UInt8] = []
        out.reserveCapacity(nalUnit.count)
        var zeros = 0
        for b in nalUnit {
            if zeros >= 2 && b == 0x03 { zeros = 0; continue }
            zeros = b == 0 ? zeros + 1 : 0
            out.append(b)
        }
        self.bytes = out
    }

    mutating func bits(_ n: Int) throws(OutOfData) -> UInt32 {
        var v: UInt32 = 0
        for _ in 0..<n {
            guard bit >> 3 < bytes.count else { throw OutOfData() }
            v = v << 1 | UInt32((bytes[bit >> 3] >> (7 - UInt8(bit & 7))) & 1)
            bit += 1
        }
        return v
    }

    mutating func flag() throws(OutOfData) -> Bool { try bits(1) == 1 }

    mutating func skip(_ n: Int) throws(OutOfData) {
        guard bit + n <= bytes.count * 8 else { throw OutOfData() }
        bit += n
    }

    /// Unsigned Exp-Golomb (ue(v)); at most 31 leading zeros.
    mutating func ue() throws(OutOfData) -> UInt32 {
        var zeros = 0
        while try bits(1) == 0 {
            zeros += 1
            guard zeros < 32 else { throw OutOfData() }
        }
        guard zeros > 0 else { return 0 }
        let rest = try bits(zeros)
        return UInt32(truncatingIfNeeded: (UInt64(1) << zeros) - 1 + UInt64(rest))
    }

    /// Signed Exp-Golomb (se(v)).
    mutating func se() throws(OutOfData) -> Int32 {
        let k = try ue()
        let magnitude = Int32(truncatingIfNeeded: (UInt64(k) + 1) / 2)
        return k & 1 == 1 ? magnitude : -magnitude
    }
}
