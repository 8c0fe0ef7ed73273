import Foundation
import GatewaySigning
import Logging

// Helpers for files and waiting that unit and integration tests share. They live in the test kit
// because test targets cannot depend on each other; the shipped gateway links none of it.

/// The repository checkout the tests run in: Contracts/, Adapters/, deploy/examples/.
public let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// The seed documents the catalogue quotes, shipped with the contracts.
public let seedsDirectory = repositoryRoot.appendingPathComponent("Contracts/sources")

/// A fresh directory for one test. Tests/test.sh points the temporary directory at one of its
/// own for the run, and removes it only when every test passed: a failed test's files help to
/// see why it failed.
public func makeTemporaryDirectory(_ name: String = #function) throws -> URL {
    let safe = name.filter { $0.isLetter || $0.isNumber }
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("lgsp-test-\(safe)-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Writes `key` as a 0600 PKCS#8 PEM file and returns its path.
public func writeKey(_ key: SigningKey, in directory: URL) throws -> String {
    let path = directory.appendingPathComponent("signing-key.pem").path
    guard FileManager.default.createFile(atPath: path, contents: Data(key.pemRepresentation.utf8), attributes: [.posixPermissions: 0o600])
    else {
        throw MockError("cannot write \(path)")
    }
    return path
}

public var quietLogger: Logger {
    var logger = Logger(label: "test")
    logger.logLevel = .critical
    return logger
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
public func eventually(timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(25))
    }
    return try await condition()
}

/// What the shipped telecom and bank adapters need besides the LGSP's variables, for tests that
/// load them without the mocks: a CA for each, and a client certificate and key for the bank.
public func shippedAdapterVariables(in directory: URL) throws -> [String: String] {
    let authority = try TestCertificateAuthority()
    let (certificate, key) = try authority.issueClientCertificate()
    let caPath = directory.appendingPathComponent("adapters-ca.pem").path
    let certificatePath = directory.appendingPathComponent("bank-client-certificate.pem").path
    let keyPath = directory.appendingPathComponent("bank-client-key.pem").path
    try authority.certificatePEM.write(toFile: caPath, atomically: true, encoding: .utf8)
    try certificate.write(toFile: certificatePath, atomically: true, encoding: .utf8)
    try key.write(toFile: keyPath, atomically: true, encoding: .utf8)
    let apiKeyPath = directory.appendingPathComponent("telecom-api-key").path
    try "k-\(UUID().uuidString)".write(toFile: apiKeyPath, atomically: true, encoding: .utf8)
    let educationPasswordPath = directory.appendingPathComponent("education-password").path
    try "p-\(UUID().uuidString)".write(toFile: educationPasswordPath, atomically: true, encoding: .utf8)
    // Every file a shipped adapter names by default (under /tmp/lgsp-mock, which `lgsp-mock
    // serve` writes) given here: a test that leaned on that directory passed only after another
    // test had run the mocks.
    return [
        "LGSP_SOURCE_CA": caPath, "TELECOM_CA": caPath, "TELECOM_API_KEY": "file:" + apiKeyPath,
        "BANK_CA": caPath, "BANK_CLIENT_CERT": certificatePath, "BANK_CLIENT_KEY": keyPath,
        "SGD_CA": caPath, "SGD_PASSWORD": "file:" + educationPasswordPath,
    ]
}

/// A CA certificate file (from a fresh test CA) for configurations that must name one.
public func writeTestCA(in directory: URL) throws -> String {
    let path = directory.appendingPathComponent("test-ca.pem").path
    try TestCertificateAuthority().certificatePEM.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}
