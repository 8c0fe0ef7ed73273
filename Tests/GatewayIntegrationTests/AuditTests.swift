import Foundation
import GatewayContracts
import GatewayTestKit
import GatewaySigning
import GatewayStore
import Testing
import GatewayJSON

@Suite("Audit chain and retention", .serialized)
struct AuditTests {
    @Test("a link's hash is the SHA-256 of its fields in lowercase hex, as links already stored were written")
    func linkHashFormat() {
        // Expected values from Python's hashlib over the same text, so chains written before keep verifying.
        let receiptDigest = AuditLink.digest(#"{"receipt":"r-1"}"#)
        #expect(receiptDigest == "ad2708e12d8f6b4dcada4106bb98e50304bc11c8bb2fd17791df0ed9fb0f3448")
        #expect(AuditLink.digest(nil) == "")
        let hash = AuditLink.hash(
            previous: AuditLink.genesis, sequence: 7, reportID: "3571fb4e-1254-80dd-abac-e20b76b98599",
            contentDigest: "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:", deliveredAt: 1_795_939_200.25,
            receiptDigest: receiptDigest)
        #expect(hash == "97f161cd7f1530345659f3c620a9ada125de61990764f2cd43f7f86d7855b6c0")
    }

    @Test("hex digits are what %02x writes, for every byte")
    func hexDigits() {
        let bytes = (0...255).map(UInt8.init)
        #expect(Hex.lowercase(bytes) == bytes.map { String(format: "%02x", $0) }.joined())
        #expect(Hex.lowercase([UInt8]()) == "")
    }

    func sqlite(_ path: String, _ statement: String) throws {
        let (status, output) = try runTool(["sqlite3", path, statement])
        guard status == 0 else { throw StoreError("sqlite3 failed: \(output)") }
    }

    @Test("the chain links every delivery; altering, removing or reordering a link is named; pruning keeps it whole")
    func chain() async throws {
        let directory = try makeTemporaryDirectory()
        let key = SigningKey.generate()
        let keyPath = try writeKey(key, in: directory)
        let mocks = MockSystems.Configuration(
            directory: directory.appendingPathComponent("mocks"), source: .init(clientID: "lgsp-gateway-demo", clientSecret: "s"),
            trustedKeys: [key.publicKey])
        let storePath = directory.appendingPathComponent("gateway.sqlite").path
        var environment = try await MockSystems.withRunning(mocks, logger: quietLogger) { running in
            _ = try await runGateway(
                running, directory: directory, keyPath: keyPath, overrides: ["LGSP_REPORT_MAX_OBSERVATIONS": "5"],
                until: allPulledAndDelivered)
            return Demo.environment(for: running, repository: repositoryRoot, keyPath: keyPath, storePath: storePath).variables
        }
        environment["PATH"] = "/usr/bin:/bin"
        // The mocks are gone, but `audit verify` only needs the configuration to name the store;
        // their CA and receipt files are still on disk.
        let store = try SQLiteStore(path: storePath, exclusive: false)
        let links = try await store.auditLinks()
        let delivered = try await store.outboxStats(now: Date()).delivered
        #expect(links.count == delivered && delivered >= 9)
        #expect(AuditChainCheck.firstProblem(in: links) == nil)

        func auditVerify() async throws -> (Int32?, String) {
            let child = try ChildProcess(
                ["audit", "verify", "--config", repositoryRoot.appendingPathComponent("deploy/examples/gateway.yaml").path],
                environment: environment, outputPath: directory.appendingPathComponent("audit-\(UUID().uuidString.prefix(6)).out"))
            return (try await child.waitForExit(timeout: .seconds(30)), child.output)
        }
        let (okStatus, okOutput) = try await auditVerify()
        #expect(okStatus == 0 && okOutput.contains("audit chain of \(links.count) links holds"), "\(okOutput)")

        // Retention prunes the reports themselves; the chain still holds and still counts them.
        #expect(try await store.pruneDelivered(olderThan: 0, now: Date().addingTimeInterval(1)) == delivered)
        #expect(try await store.outboxStats(now: Date()).delivered == 0)
        #expect(AuditChainCheck.firstProblem(in: try await store.auditLinks()) == nil)
        #expect(try await auditVerify().0 == 0)

        // Altered: a report's digest changed after the fact.
        try sqlite(storePath, "UPDATE audit SET content_digest = 'sha-256=:AAAA:' WHERE sequence = 4")
        let (alteredStatus, altered) = try await auditVerify()
        #expect(alteredStatus == 1 && altered.contains("link 4") && altered.contains("was altered"), "\(altered)")
        try sqlite(storePath, "UPDATE audit SET content_digest = '\(links[3].contentDigest)' WHERE sequence = 4")
        #expect(try await auditVerify().0 == 0)

        // Reordered: two links swap places.
        try sqlite(
            storePath,
            "UPDATE audit SET sequence = -1 WHERE sequence = 5; UPDATE audit SET sequence = 5 WHERE sequence = 6; UPDATE audit SET sequence = 6 WHERE sequence = -1"
        )
        let (reorderedStatus, reordered) = try await auditVerify()
        #expect(reorderedStatus == 1 && reordered.contains("link 5") && reordered.contains("removed or reordered"), "\(reordered)")
        try sqlite(
            storePath,
            "UPDATE audit SET sequence = -1 WHERE sequence = 5; UPDATE audit SET sequence = 5 WHERE sequence = 6; UPDATE audit SET sequence = 6 WHERE sequence = -1"
        )

        // Removed: a link disappears.
        try sqlite(storePath, "DELETE FROM audit WHERE sequence = 3")
        let (removedStatus, removed) = try await auditVerify()
        #expect(removedStatus == 1 && removed.contains("link 3 is missing"), "\(removed)")
    }
}
