import Crypto
import Foundation
import Gateway
import GatewayConfig
import GatewayContracts
import GatewaySigning
import GatewayTestKit
import Testing
import GatewayJSON

@Suite("RFC 9421 HTTP Message Signatures, key rotation and report verification")
struct HTTPSignatureAndRotationTests {
    // RFC 9421 appendix B.1.4 (test-key-ed25519) and B.2.6.
    static let rfcKey = try! SigningKey(
        Curve25519.Signing.PrivateKey(rawRepresentation: Base64URL.decode("n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU")!))
    static let rfcRequest = HTTPMessageSignatures.Request(
        method: "POST", url: "https://example.com/foo?param=Value&Pet=dog",
        headers: [
            ("Host", "example.com"), ("Date", "Tue, 20 Apr 2021 02:07:55 GMT"), ("Content-Type", "application/json"),
            ("Content-Digest", "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:"),
            ("Content-Length", "18"),
        ])

    @Test("RFC 9421 B.2.6: the signature base and the Ed25519 signature are reproduced exactly")
    func rfc9421Vector() throws {
        #expect(Base64URL.encode(Self.rfcKey.publicKey.rawRepresentation) == "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs")
        let components = ["date", "@method", "@path", "@authority", "content-type", "content-length"]
        let parameters = HTTPMessageSignatures.parameters(
            components: components, created: 1_618_884_473, keyID: "test-key-ed25519", algorithm: nil)
        let base = try HTTPMessageSignatures.signatureBase(for: Self.rfcRequest, components: components, parameters: parameters)
        #expect(
            base == """
                "date": Tue, 20 Apr 2021 02:07:55 GMT
                "@method": POST
                "@path": /foo
                "@authority": example.com
                "content-type": application/json
                "content-length": 18
                "@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"
                """)
        let headers = try HTTPMessageSignatures.sign(
            Self.rfcRequest, key: Self.rfcKey, keyID: "test-key-ed25519", created: Date(timeIntervalSince1970: 1_618_884_473),
            label: "sig-b26",
            components: components, includeAlgorithm: false)
        #expect(
            headers.first { $0.0 == "Signature" }?.1
                == "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:")
        #expect(headers.first { $0.0 == "Signature-Input" }?.1 == "sig-b26=" + parameters)
    }

    @Test("request signatures of every key type verify, and fail when a covered header changes", arguments: KeyType.allCases)
    func requestSignatures(type: KeyType) throws {
        let key = try SigningKey.generate(type)
        var request = HTTPMessageSignatures.Request(
            method: "POST", url: "https://central.example/v1/reports",
            headers: [("Content-Digest", "sha-256=:abc=:"), ("Idempotency-Key", "r1")])
        let now = Date()
        request.headers += try HTTPMessageSignatures.sign(request, key: key, keyID: "k", created: now)
        #expect(try HTTPMessageSignatures.verify(request, keys: ["k": key.publicKey], now: now) == "k")
        var changed = request
        changed.headers[1] = ("Idempotency-Key", "r2")
        #expect(throws: JWSError.self) { try HTTPMessageSignatures.verify(changed, keys: ["k": key.publicKey], now: now) }
        #expect(throws: JWSError.self) {
            try HTTPMessageSignatures.verify(request, keys: ["k": key.publicKey], now: now.addingTimeInterval(3600))
        }
    }

    /// A report made now: certificate chains are judged at the report's signing time.
    func envelope(_ id: String) throws -> Data {
        let now = Timestamps.format(Date())
        let observation = Observation(
            indicator: "HSCV_DIEN_TU", province: "14", level: .province, area: "14", period: "2026-Q3", value: 90,
            unit: "percent", sourceSystem: "qlvb", collectedAt: now)
        return try JSONValue(
            encoding: ReportEnvelope(
                contractVersion: "1.0", reportID: id, gatewayID: "gw", province: "14", adapter: "qlvb",
                createdAt: now, observations: [observation])
        ).canonicalData()
    }

    @Test("after a rotation the JWKS publishes both keys, and a report signed before it still verifies")
    func rotation() async throws {
        let directory = try makeTemporaryDirectory()
        let old = try SigningKey.generate(.rsa)
        let new = try SigningKey.generate(.p256)
        let oldPath = directory.appendingPathComponent("old.pem").path
        let newPath = directory.appendingPathComponent("new.pem").path
        #expect(
            FileManager.default.createFile(
                atPath: oldPath, contents: Data(old.pemRepresentation.utf8), attributes: [.posixPermissions: 0o600]))
        #expect(
            FileManager.default.createFile(
                atPath: newPath, contents: Data(new.pemRepresentation.utf8), attributes: [.posixPermissions: 0o600]))
        let signedBefore = try JWSSigner(key: old).sign(payload: try envelope("11111111-1111-8111-8111-111111111111")).encoded()

        // The active key comes from systemd's credentials directory, as LoadCredential= provides it.
        let credentials = directory.appendingPathComponent("credentials")
        try FileManager.default.createDirectory(at: credentials, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: newPath, toPath: credentials.appendingPathComponent("signing-key").path)
        let config = directory.appendingPathComponent("gateway.yaml")
        try """
        gateway: { id: gw, province: "14" }
        central: { url: "https://central.example" }
        signing:
          key: credential:signing-key
          retired_keys: [old.pem]
        store: { path: g.sqlite }
        contracts: { directory: \(repositoryRoot.path)/Contracts }
        adapters: { directory: \(repositoryRoot.path)/Adapters }
        """.write(to: config, atomically: true, encoding: .utf8)
        let secret = directory.appendingPathComponent("secret")
        try "s".write(to: secret, atomically: true, encoding: .utf8)
        let loaded = try LoadedGateway.load(
            file: config.path,
            environment: ConfigEnvironment(
                variables: [
                    "LGSP_CLIENT_SECRET": "file:" + secret.path, "CREDENTIALS_DIRECTORY": credentials.path,
                ].merging(try shippedAdapterVariables(in: directory)) { $1 }))
        #expect(loaded.signingKey.publicKey == new.publicKey)
        #expect(loaded.configuration.signing.algorithm == .es256)
        #expect(loaded.jwks.keys.count == 2)
        #expect(Set(loaded.jwks.keys.compactMap { $0["kid"] }) == [old.publicKey.thumbprint, new.publicKey.thumbprint])

        let before = await ReportVerification.run(body: signedBefore, jwks: loaded.jwks)
        #expect(before.passed, "\(before.findings)")
        let after = await ReportVerification.run(
            body: try loaded.signer.sign(payload: try envelope("22222222-2222-8222-8222-222222222222")).encoded(), jwks: loaded.jwks)
        #expect(after.passed, "\(after.findings)")
        // Without the retired key the old report no longer verifies: the JWKS is what keeps it verifiable.
        let withoutRetired = await ReportVerification.run(body: signedBefore, jwks: JWKS(publishing: [(new.publicKey, nil, nil)]))
        #expect(!withoutRetired.passed)
    }

    @Test("verification explains each failure: changed payload, wrong digest, missing or foreign certificate chain")
    func verificationFindings() async throws {
        let authority = try TestCertificateAuthority()
        let key = SigningKey.generate()
        let chain = try CertificateChain(
            certificates: CertificateChain.roots(
                pemFileContents: try authority.issueSigningCertificate(for: key.publicKey.certificatePublicKey)))
        let body = try JWSSigner(key: key, certificateChain: chain.derCertificates).sign(
            payload: try envelope("33333333-3333-8333-8333-333333333333")
        ).encoded()
        let jwks = JWKS(publishing: [(key.publicKey, nil, nil)])
        let roots = try CertificateChain.roots(pemFileContents: authority.certificatePEM)

        let good = await ReportVerification.run(body: body, jwks: jwks, caBundle: roots, contentDigest: ContentDigest.sha256(body))
        #expect(good.passed, "\(good.findings)")
        #expect(good.findings.map(\.check) == ["digest", "signature", "certificate", "report"])

        var tampered = try FlattenedJWS.decode(body)
        tampered.payload = Base64URL.encode(try envelope("44444444-4444-8444-8444-444444444444"))
        let changed = await ReportVerification.run(body: try tampered.encoded(), jwks: jwks, contentDigest: ContentDigest.sha256(body))
        #expect(!changed.passed)
        #expect(changed.findings.first { $0.check == "digest" }?.passed == false)
        #expect(changed.findings.first { $0.check == "signature" }?.detail.contains("changed after signing") == true)

        let foreign = await ReportVerification.run(
            body: body, jwks: jwks, caBundle: try CertificateChain.roots(pemFileContents: TestCertificateAuthority().certificatePEM))
        #expect(foreign.findings.first { $0.check == "certificate" }?.passed == false)
        let noChain = await ReportVerification.run(
            body: try JWSSigner(key: key).sign(payload: try envelope("55555555-5555-8555-8555-555555555555")).encoded(), jwks: jwks,
            caBundle: roots)
        #expect(noChain.findings.first { $0.check == "certificate" }?.detail.contains("no x5c") == true)
    }
}
