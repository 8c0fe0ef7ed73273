import Foundation
import Gateway
import GatewayDemo
import GatewaySigning
import Logging
import MockSystems

/// The repository checkout the tests run in: Contracts/, Adapters/, deploy/examples/.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The seed documents beside the repository (`../shared/seeds`), as CI provides them.
/// The seed documents the catalogue quotes, shipped with the contracts.
let seedsDirectory = repositoryRoot.appendingPathComponent("Contracts/sources")

/// A fresh directory for one test, removed by nobody: CI machines are thrown away, and a
/// failed test's files help to see why it failed.
func makeTemporaryDirectory(_ name: String = #function) throws -> URL {
    let safe = name.filter { $0.isLetter || $0.isNumber }
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("lgsp-test-\(safe)-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Writes `key` as a 0600 PKCS#8 PEM file and returns its path.
func writeKey(_ key: SigningKey, in directory: URL) throws -> String {
    let path = directory.appendingPathComponent("signing-key.pem").path
    guard FileManager.default.createFile(atPath: path, contents: Data(key.pemRepresentation.utf8), attributes: [.posixPermissions: 0o600]) else {
        throw MockError("cannot write \(path)")
    }
    return path
}

var quietLogger: Logger {
    var logger = Logger(label: "test")
    logger.logLevel = .critical
    return logger
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
func eventually(timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(25))
    }
    return try await condition()
}

/// A CA certificate file (from a fresh test CA) for configurations that must name one.
func writeTestCA(in directory: URL) throws -> String {
    let path = directory.appendingPathComponent("test-ca.pem").path
    try TestCertificateAuthority().certificatePEM.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

/// Runs a tool from PATH (openssl, python3) and returns its exit status and what it printed.
func runTool(_ arguments: [String], includeStandardError: Bool = true) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    if includeStandardError { process.standardError = output }
    try process.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, text)
}
