import Crypto
import Foundation
import Gateway
import GatewayConfig
import GatewaySigning
import GatewayTestKit
import Testing
import X509

@Suite("Signature algorithms, key formats, serializations, certificates, rotation")
struct SignatureAlgorithmTests {
    static let algorithms: [JWSAlgorithm] = JWSAlgorithm.allCases

    @Test("RFC 7515 A.3: the ES256 example verifies; our ES256 signature of the same input verifies too")
    func rfc7515ES256() throws {
        let jwk = [
            "kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
        ]
        let compact =
            "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
        let key = try VerificationKey(jwk: jwk)
        let jws = try FlattenedJWS.parse(compact: compact)
        #expect(key.isValidSignature(Base64URL.decode(jws.signature)!, for: jws.signingInput, algorithm: .es256))
        #expect(!key.isValidSignature(Base64URL.decode(jws.signature)!, for: Data("x".utf8) + jws.signingInput, algorithm: .es256))

        // ECDSA is randomised: the RFC's signature cannot be reproduced, but ours must verify.
        let privateKey = try P256.Signing.PrivateKey(rawRepresentation: Base64URL.decode("jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI")!)
        let signer = SigningKey(privateKey)
        #expect(signer.publicKey == key)
        let ours = try signer.sign(jws.signingInput, algorithm: .es256)
        #expect(ours.count == 64)
        #expect(key.isValidSignature(ours, for: jws.signingInput, algorithm: .es256))
    }

    @Test("each algorithm signs and verifies; a key never signs or verifies another type's algorithm", arguments: algorithms)
    func roundTrip(algorithm: JWSAlgorithm) throws {
        let key = try SigningKey.generate(algorithm.keyType)
        let jws = try JWSSigner(key: key, algorithm: algorithm).sign(payload: Data(#"{"report_id":"r"}"#.utf8))
        let verified = try JWSVerifier(keys: [key.publicKey]).verify(jws)
        #expect(verified.algorithm == algorithm)
        #expect(try jws.header().alg == algorithm.rawValue)
        for other in JWSAlgorithm.allCases where other.keyType != algorithm.keyType {
            #expect(throws: KeyError.self) { try key.sign(Data("x".utf8), algorithm: other) }
        }
        // A header naming another key type's algorithm is refused before any maths.
        let forged = FlattenedJWS(
            protected: Base64URL.encode(
                Data(#"{"alg":"\#(algorithm == .es256 ? "RS256" : "ES256")","kid":"\#(key.publicKey.thumbprint)"}"#.utf8)),
            payload: jws.payload, signature: jws.signature)
        #expect(throws: JWSError.self) { try JWSVerifier(keys: [key.publicKey]).verify(forged) }
    }

    @Test("JWKs round-trip for every key type, and kid is the thumbprint of the public JWK", arguments: KeyType.allCases)
    func jwkRoundTrip(type: KeyType) throws {
        let key = try SigningKey.generate(type).publicKey
        let again = try VerificationKey(jwk: key.jwk)
        #expect(again == key)
        #expect(again.thumbprint == key.thumbprint)
        #expect(key.jwk["d"] == nil)
    }

    @Test("compact and detached (RFC 7515 appendix F) serializations verify; a detached signature needs its payload")
    func serializations() throws {
        let key = SigningKey.generate()
        let payload = Data(#"{"report_id":"r"}"#.utf8)
        let jws = try JWSSigner(key: key).sign(payload: payload)
        let verifier = JWSVerifier(keys: [key.publicKey])
        let (compactBody, _) = try jws.message(.compact)
        #expect(try verifier.verify(FlattenedJWS.parse(any: compactBody)).payload == payload)
        let (detachedBody, signature) = try jws.message(.detached)
        #expect(detachedBody == payload)
        let detached = try #require(signature)
        #expect(detached.contains(".."))
        #expect(try verifier.verify(FlattenedJWS.parse(detached: detached, payload: detachedBody)).payload == payload)
        #expect(throws: JWSError.self) {
            try verifier.verify(FlattenedJWS.parse(detached: detached, payload: Data(#"{"report_id":"s"}"#.utf8)))
        }
    }

    /// Runs openssl, the tool operators make keys with, and returns what it printed.
    func openssl(_ arguments: [String]) throws -> String {
        let (status, output) = try runTool(["openssl"] + arguments, includeStandardError: false)
        guard status == 0 else { throw KeyError("openssl \(arguments.joined(separator: " ")) failed") }
        return output
    }

    @Test("keys as openssl writes them: PKCS#8 Ed25519, SEC1 and PKCS#8 P-256, PKCS#1 and PKCS#8 RSA; short RSA refused")
    func keyFormats() throws {
        let cases: [([String], String, KeyType)] = [
            (["genpkey", "-algorithm", "ed25519"], "BEGIN PRIVATE KEY", .ed25519),
            (["ecparam", "-name", "prime256v1", "-genkey", "-noout"], "BEGIN EC PRIVATE KEY", .p256),
            (["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], "BEGIN PRIVATE KEY", .p256),
            (["genrsa", "-traditional", "2048"], "BEGIN RSA PRIVATE KEY", .rsa),
            (["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"], "BEGIN PRIVATE KEY", .rsa),
        ]
        for (arguments, marker, type) in cases {
            let pem = try openssl(arguments)
            #expect(pem.contains(marker), "\(arguments)")
            let key = try SigningKey(pem: pem)
            #expect(key.keyType == type)
            let signature = try key.sign(Data("x".utf8), algorithm: type.defaultAlgorithm)
            #expect(key.publicKey.isValidSignature(signature, for: Data("x".utf8), algorithm: type.defaultAlgorithm))
            // Our own PKCS#8 output reads back to the same key.
            #expect(try SigningKey(pem: key.pemRepresentation).publicKey == key.publicKey)
        }
        #expect(throws: KeyError.self) { try SigningKey(pem: try openssl(["genrsa", "-traditional", "1024"])) }
        #expect(throws: KeyError.self) { try SigningKey(pem: try openssl(["ecparam", "-name", "secp384r1", "-genkey", "-noout"])) }
    }

    @Test("x5c: a chain whose leaf matches the key is sent and validates against the CA; a wrong or expired leaf is refused")
    func certificateChain() async throws {
        let authority = try TestCertificateAuthority(commonName: "Test government CA")
        let key = try SigningKey.generate(.p256)
        let chainPEM = try authority.issueSigningCertificate(for: key.publicKey.certificatePublicKey) + authority.certificatePEM
        let directory = try makeTemporaryDirectory()
        let chainPath = directory.appendingPathComponent("chain.pem").path
        try chainPEM.write(toFile: chainPath, atomically: true, encoding: .utf8)
        let chain = try CertificateChain(pemFile: chainPath)
        #expect(chain.certificates.count == 2)
        try chain.check(matches: key.publicKey, at: Date())
        #expect(throws: KeyError.self) { try chain.check(matches: SigningKey.generate().publicKey, at: Date()) }
        #expect(throws: KeyError.self) { try chain.check(matches: key.publicKey, at: Date().addingTimeInterval(40 * 86400)) }

        let jws = try JWSSigner(key: key, certificateChain: chain.derCertificates).sign(payload: Data(#"{"report_id":"r"}"#.utf8))
        let header = try jws.header()
        #expect(header.x5c?.count == 2)
        let received = try CertificateChain(x5c: header.x5c!)
        #expect(await received.validate(roots: [authority.certificate], at: Date()) == nil)
        let stranger = try TestCertificateAuthority(commonName: "Someone else's CA")
        #expect(await received.validate(roots: [stranger.certificate], at: Date()) != nil)
    }
}

extension TestCertificateAuthority {
    var certificate: Certificate { try! CertificateChain.roots(pemFileContents: certificatePEM)[0] }
}

extension CertificateChain {
    static func roots(pemFileContents text: String) throws -> [Certificate] {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ca-\(UUID().uuidString).pem").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return try roots(pemFile: path)
    }
}
