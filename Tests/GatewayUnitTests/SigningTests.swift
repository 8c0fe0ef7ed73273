import Foundation
import GatewayTestKit
import GatewaySigning
import Testing

@Suite("Signing: JWS, keys, Content-Digest")
struct SigningTests {
    // RFC 8037 appendix A.1 (key), A.3 (thumbprint), A.4 (signature).
    static let rfcPrivate = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
    static let rfcPublic = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    static let rfcThumbprint = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    static let rfcSigningInput = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
    static let rfcSignature = "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"

    func rfcKey() throws -> SigningKey {
        // PKCS#8 wrapping of the RFC's raw key, so the PEM path is exercised too.
        let prefix: [UInt8] = [0x30, 0x2E, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]
        let der = Data(prefix) + Base64URL.decode(Self.rfcPrivate)!
        let pem = "-----BEGIN PRIVATE KEY-----\n\(der.base64EncodedString())\n-----END PRIVATE KEY-----\n"
        return try SigningKey(pem: pem)
    }

    @Test("RFC 8037 A.4: the Ed25519 example signature is reproduced and verifies")
    func rfc8037Vector() throws {
        let key = try rfcKey()
        #expect(Base64URL.encode(key.publicKey.rawRepresentation) == Self.rfcPublic)
        #expect(
            Base64URL.encode(Data(#"{"alg":"EdDSA"}"#.utf8)) + "." + Base64URL.encode(Data("Example of Ed25519 signing".utf8))
                == Self.rfcSigningInput)
        // Ed25519 is deterministic (RFC 8032), so signing the input must give the RFC's bytes.
        let signature = try key.sign(Data(Self.rfcSigningInput.utf8))
        #expect(Base64URL.encode(signature) == Self.rfcSignature)
        #expect(key.publicKey.isValidSignature(Base64URL.decode(Self.rfcSignature)!, for: Data(Self.rfcSigningInput.utf8)))
        var tampered = Data(Self.rfcSigningInput.utf8)
        tampered[tampered.count - 1] ^= 1
        #expect(!key.publicKey.isValidSignature(Base64URL.decode(Self.rfcSignature)!, for: tampered))
    }

    @Test("the flattened JSON is written directly exactly as JSONEncoder writes it, and through it when a member needs escaping")
    func flattenedBytes() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let signed = try JWSSigner(key: try rfcKey()).sign(payload: Data(#"{"report_id":"x/y"}"#.utf8))
        #expect(try signed.encoded() == (try encoder.encode(signed)))
        #expect(try FlattenedJWS.decode(try signed.encoded()) == signed)
        let odd = FlattenedJWS(protected: "a\"b", payload: "c\\d", signature: "e/f\n")
        #expect(try odd.encoded() == (try encoder.encode(odd)))
        #expect(try FlattenedJWS.decode(try odd.encoded()) == odd)
    }

    @Test("RFC 8037 A.3: kid is the RFC 7638 thumbprint")
    func thumbprint() throws {
        #expect(try rfcKey().publicKey.thumbprint == Self.rfcThumbprint)
        #expect(JWSSigner(key: try rfcKey()).keyID == Self.rfcThumbprint)
    }

    @Test("flattened JWS names Ed25519 (RFC 9864) by default and EdDSA when chosen, and verifies")
    func flattenedRoundTrip() throws {
        let key = SigningKey.generate()
        let payload = Data(#"{"report_id":"x"}"#.utf8)
        for algorithm in [JWSAlgorithm.ed25519, .edDSA] {
            let jws = try JWSSigner(key: key, algorithm: algorithm).sign(payload: payload)
            let header = try JSONDecoder().decode(JWSHeader.self, from: Base64URL.decode(jws.protected)!)
            #expect(header.alg == algorithm.rawValue)
            #expect(header.kid == key.publicKey.thumbprint)
            let verified = try JWSVerifier(keys: [key.publicKey]).verify(jws)
            #expect(verified.payload == payload)
        }
    }

    @Test("verification fails for a changed payload, an unknown key and a bad algorithm")
    func verificationFailures() throws {
        let key = SigningKey.generate()
        let jws = try JWSSigner(key: key).sign(payload: Data("{}".utf8))
        var changed = jws
        changed.payload = Base64URL.encode(Data(#"{"a":1}"#.utf8))
        #expect(throws: JWSError.self) { try JWSVerifier(keys: [key.publicKey]).verify(changed) }
        #expect(throws: JWSError("key \(key.publicKey.thumbprint) is not among the trusted keys")) {
            try JWSVerifier(keys: [SigningKey.generate().publicKey]).verify(jws)
        }
        var none = jws
        none.protected = Base64URL.encode(Data(#"{"alg":"none","kid":"\#(key.publicKey.thumbprint)"}"#.utf8))
        #expect(throws: JWSError.self) { try JWSVerifier(keys: [key.publicKey]).verify(none) }
    }

    @Test("a PEM key round-trips; a key file readable by others is refused")
    func keyFiles() throws {
        let directory = try makeTemporaryDirectory()
        let key = SigningKey.generate()
        let path = try writeKey(key, in: directory)
        #expect(try SigningKey(contentsOf: URL(fileURLWithPath: path)).publicKey == key.publicKey)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        #expect(throws: KeyError.self) { try SigningKey(contentsOf: URL(fileURLWithPath: path)) }
        #expect(throws: KeyError.self) { try SigningKey(pem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n") }
    }

    @Test("a symlinked key is judged by its target's mode and owner, not the link's")
    func symlinkedKey() throws {
        let directory = try makeTemporaryDirectory()
        let key = SigningKey.generate()
        let path = try writeKey(key, in: directory)
        let link = directory.appendingPathComponent("current-key.pem").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: path)
        #expect(try SigningKey(contentsOf: URL(fileURLWithPath: link)).publicKey == key.publicKey)
        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: path)
        let error = #expect(throws: KeyError.self) { try SigningKey(contentsOf: URL(fileURLWithPath: link)) }
        #expect(error?.message.contains("mode 640") == true, "\(String(describing: error))")
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        // Another user's key is not the gateway's, whatever its mode (only root can hand it over).
        if geteuid() == 0 {
            try FileManager.default.setAttributes([.ownerAccountID: 65534], ofItemAtPath: path)
            let foreign = #expect(throws: KeyError.self) { try SigningKey(contentsOf: URL(fileURLWithPath: link)) }
            #expect(foreign?.message.contains("belongs to user id 65534") == true, "\(String(describing: foreign))")
        }
        #expect(throws: KeyError.self) { try SigningKey(contentsOf: directory) }
    }

    @Test("Content-Digest: RFC 9530's {\"hello\": \"world\"} example and tampering")
    func contentDigest() {
        let body = Data(#"{"hello": "world"}"#.utf8)
        #expect(ContentDigest.sha256(body) == "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:")
        #expect(ContentDigest.verify(header: "sha-512=:abc=:, sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:", body: body))
        #expect(!ContentDigest.verify(header: ContentDigest.sha256(body), body: Data(#"{"hello": "World"}"#.utf8)))
        #expect(!ContentDigest.verify(header: "sha-512=:abc=:", body: body))
    }
}
