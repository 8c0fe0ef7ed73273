import Foundation
import GatewaySigning
import GatewayTestKit
import Testing

@Suite("Signatures checked by an independent implementation (Python joserfc and cryptography)", .serialized)
struct InteropTests {
    /// Runs a script of `Tests/interop/`; the test set-up (Tests/test.sh) installs its packages.
    func python(_ script: String, _ arguments: [String]) throws -> (Int32, String) {
        try runTool(["python3", repositoryRoot.appendingPathComponent("Tests/interop/\(script)").path] + arguments)
    }

    func verifyWithPython(key: VerificationKey, bodies: [Data], in directory: URL) throws -> (Int32, String) {
        let jwkPath = directory.appendingPathComponent("key.jwk").path
        try JSONEncoder().encode(key.jwk).write(to: URL(fileURLWithPath: jwkPath))
        var arguments = [jwkPath]
        for (index, body) in bodies.enumerated() {
            let path = directory.appendingPathComponent("report-\(index).json").path
            try body.write(to: URL(fileURLWithPath: path))
            arguments.append(path)
        }
        return try python("verify_jws.py", arguments)
    }

    @Test("every report the gateway delivered verifies with joserfc (alg Ed25519) and with cryptography")
    func pipelineOutputVerifies() async throws {
        let directory = try makeTemporaryDirectory()
        let key = SigningKey.generate()
        let keyPath = try writeKey(key, in: directory)
        let configuration = MockSystems.Configuration(
            directory: directory.appendingPathComponent("mocks"), source: .init(clientID: "lgsp-gateway-demo", clientSecret: "s"),
            trustedKeys: [key.publicKey])
        let bodies = try await MockSystems.withRunning(configuration, logger: quietLogger) { running in
            _ = try await runGateway(running, directory: directory, keyPath: keyPath, until: allPulledAndDelivered)
            return running.central.acceptedBodies
        }
        #expect(bodies.count >= 2)
        let (status, output) = try verifyWithPython(key: key.publicKey, bodies: bodies, in: directory)
        #expect(status == 0, "\(output)")
        #expect(output.contains("verified \(bodies.count)"), "\(output)")
    }

    @Test("the EdDSA spelling for older verifiers verifies too, and a tampered report does not")
    func edDSAAndTampering() throws {
        let directory = try makeTemporaryDirectory()
        let key = SigningKey.generate()
        let jws = try JWSSigner(key: key, algorithm: .edDSA).sign(payload: Data(#"{"report_id":"x"}"#.utf8))
        let (status, output) = try verifyWithPython(key: key.publicKey, bodies: [try jws.encoded()], in: directory)
        #expect(status == 0, "\(output)")
        #expect(output.contains("EdDSA verified"))

        var tampered = jws
        tampered.payload = Base64URL.encode(Data(#"{"report_id":"y"}"#.utf8))
        let (badStatus, _) = try verifyWithPython(key: key.publicKey, bodies: [try tampered.encoded()], in: directory)
        #expect(badStatus != 0)
    }

    @Test("every algorithm's output verifies with joserfc and cryptography", arguments: JWSAlgorithm.allCases)
    func everyAlgorithmVerifiesElsewhere(algorithm: JWSAlgorithm) throws {
        let directory = try makeTemporaryDirectory("interop-\(algorithm.rawValue)")
        let key = try SigningKey.generate(algorithm.keyType)
        let jws = try JWSSigner(key: key, algorithm: algorithm).sign(payload: Data(#"{"report_id":"x","observations":[]}"#.utf8))
        let (status, output) = try verifyWithPython(key: key.publicKey, bodies: [try jws.encoded()], in: directory)
        #expect(status == 0, "\(output)")
        #expect(output.contains("\(algorithm.rawValue) verified"), "\(output)")
    }

    @Test("signatures joserfc makes are accepted by our verifier, for every algorithm", arguments: JWSAlgorithm.allCases)
    func everyAlgorithmFromElsewhereVerifies(algorithm: JWSAlgorithm) throws {
        let directory = try makeTemporaryDirectory("interop-in-\(algorithm.rawValue)")
        let payload = Data(#"{"report_id":"from-python"}"#.utf8)
        try payload.write(to: directory.appendingPathComponent("payload.json"))
        let (status, output) = try python(
            "sign_jws.py", [algorithm.rawValue, directory.appendingPathComponent("payload.json").path, directory.path])
        #expect(status == 0, "\(output)")
        let jwks = try JSONDecoder().decode(JWKS.self, from: Data(contentsOf: directory.appendingPathComponent("jwks.json")))
        let jws = try FlattenedJWS.decode(Data(contentsOf: directory.appendingPathComponent("jws.json")))
        let verified = try JWSVerifier(keysByID: try jwks.verificationKeys()).verify(jws)
        #expect(verified.algorithm == algorithm)
        #expect(verified.payload == payload)
        // Our RFC 7638 thumbprint agrees with joserfc's.
        #expect(verified.key.thumbprint == verified.keyID)
    }
}
