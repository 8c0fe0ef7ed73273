import Foundation

/// Base64url without padding (RFC 7515 §2, RFC 4648 §5), as JOSE uses it.
///
/// Byte tables rather than Foundation's base64 plus string replacements: every report is encoded
/// once when signed and decoded once per verification, and the replacements (CFString searches
/// over the whole payload) were the largest single cost in profiles of the signing stage.
public enum Base64URL {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// Each byte's 6-bit value, or 0xFF for a byte outside the alphabet.
    static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(index) }
        return table
    }()

    public static func encode(_ data: some DataProtocol) -> String {
        if let encoded = data.withContiguousStorageIfAvailable({ encode(bytes: $0) }) { return encoded }
        return Array(data).withUnsafeBufferPointer { encode(bytes: $0) }
    }

    // The tables are read through local buffers: a static's accessor in the loop costs a
    // `swift_once` check per byte, which profiles of signing showed above the encoding itself.
    static func encode(bytes: UnsafeBufferPointer<UInt8>) -> String {
        let outputCount = (bytes.count * 4 + 2) / 3
        return alphabet.withUnsafeBufferPointer { alphabet in
            String(unsafeUninitializedCapacity: outputCount) { output in
                var written = 0
                var index = 0
                while index + 3 <= bytes.count {
                    let chunk = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
                    output[written] = alphabet[Int(chunk >> 18 & 63)]
                    output[written + 1] = alphabet[Int(chunk >> 12 & 63)]
                    output[written + 2] = alphabet[Int(chunk >> 6 & 63)]
                    output[written + 3] = alphabet[Int(chunk & 63)]
                    written += 4
                    index += 3
                }
                let remaining = bytes.count - index
                if remaining > 0 {
                    let chunk = UInt32(bytes[index]) << 16 | (remaining == 2 ? UInt32(bytes[index + 1]) << 8 : 0)
                    output[written] = alphabet[Int(chunk >> 18 & 63)]
                    output[written + 1] = alphabet[Int(chunk >> 12 & 63)]
                    written += 2
                    if remaining == 2 {
                        output[written] = alphabet[Int(chunk >> 6 & 63)]
                        written += 1
                    }
                }
                return written
            }
        }
    }

    /// Whether every byte is in the alphabet (padding is not).
    static func isAlphabet(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            values.withUnsafeBufferPointer { values in
                var outside: UInt8 = 0
                for byte in bytes { outside |= values[Int(byte)] }
                return outside & 0xC0 == 0
            }
        }
    }

    /// `nil` for anything but unpadded base64url, including non-zero trailing bits.
    public static func decode(_ text: String) -> Data? {
        var text = text
        return text.withUTF8 { decode(bytes: $0) }
    }

    static func decode(bytes input: UnsafeBufferPointer<UInt8>) -> Data? {
        let remainder = input.count % 4
        guard remainder != 1 else { return nil }
        var output = Data(count: input.count / 4 * 3 + (remainder == 0 ? 0 : remainder - 1))
        let decoded = output.withUnsafeMutableBytes { raw -> Bool in
            values.withUnsafeBufferPointer { values in
                let out = raw.bindMemory(to: UInt8.self)
                var written = 0
                var index = 0
                while index + 4 <= input.count {
                    let a = values[Int(input[index])], b = values[Int(input[index + 1])]
                    let c = values[Int(input[index + 2])], d = values[Int(input[index + 3])]
                    guard (a | b | c | d) & 0xC0 == 0 else { return false }
                    let chunk = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(d)
                    out[written] = UInt8(chunk >> 16 & 0xFF)
                    out[written + 1] = UInt8(chunk >> 8 & 0xFF)
                    out[written + 2] = UInt8(chunk & 0xFF)
                    written += 3
                    index += 4
                }
                if remainder >= 2 {
                    let a = values[Int(input[index])], b = values[Int(input[index + 1])]
                    let c = remainder == 3 ? values[Int(input[index + 2])] : 0
                    guard (a | b | c) & 0xC0 == 0 else { return false }
                    let chunk = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6
                    // The bits past the last whole byte must be zero (RFC 4648 §3.5: canonical encoding).
                    guard (remainder == 2 ? chunk & 0xFFFF : chunk & 0xFF) == 0 else { return false }
                    out[written] = UInt8(chunk >> 16 & 0xFF)
                    if remainder == 3 { out[written + 1] = UInt8(chunk >> 8 & 0xFF) }
                }
                return true
            }
        }
        return decoded ? output : nil
    }
}
