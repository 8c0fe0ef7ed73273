import Foundation

/// Lowercase hexadecimal, as digests are written in the audit chain and in idempotency keys.
///
/// `String(format: "%02x")` per byte went through Foundation's formatter: recording one delivered
/// report made 64 such calls, some 450 allocations in all, near 1% of the pipeline's CPU.
public enum Hex {
    public static func lowercase(_ bytes: some ContiguousBytes) -> String {
        bytes.withUnsafeBytes { bytes in
            String(unsafeUninitializedCapacity: bytes.count * 2) { text in
                for (index, byte) in bytes.enumerated() {
                    text[2 * index] = digit(byte >> 4)
                    text[2 * index + 1] = digit(byte & 0x0F)
                }
                return bytes.count * 2
            }
        }
    }

    /// The lowercase digit of a value below 16.
    static func digit(_ value: UInt8) -> UInt8 { value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10 }
}
