import Foundation
import GatewaySigning
import Testing

@Suite("Base64url")
struct Base64URLTests {
    @Test("RFC 4648 §10 vectors, unpadded, in the URL-safe alphabet")
    func vectors() {
        let vectors = [
            ("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"), ("fooba", "Zm9vYmE"), ("foobar", "Zm9vYmFy"),
        ]
        for (plain, encoded) in vectors {
            #expect(Base64URL.encode(Data(plain.utf8)) == encoded)
            #expect(Base64URL.decode(encoded) == Data(plain.utf8))
        }
        #expect(Base64URL.encode(Data([0xFB, 0xFF, 0xBF])) == "-_-_")
    }

    @Test("agrees with Foundation's base64 on every length up to 300, both ways")
    func agreesWithFoundation() {
        var generator = SystemRandomNumberGenerator()
        for length in 0...300 {
            let data = Data((0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) })
            let reference = data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
            #expect(Base64URL.encode(data) == reference, "length \(length)")
            #expect(Base64URL.decode(reference) == data, "length \(length)")
        }
    }

    @Test("refuses padding, the standard alphabet, impossible lengths and non-zero trailing bits")
    func refusals() {
        for text in ["Zg==", "Zm+v", "Zm/v", "Z", "Zm9vY", "Zh", "Zm9", "Zm 9v", "Zm9vYmFy\n"] {
            #expect(Base64URL.decode(text) == nil, "\(text)")
        }
    }
}
