import Foundation
import Gateway
import GatewayTestKit
import GatewaySigning
import GatewayStore
import Testing

@Suite("Reloading the configuration", .serialized)
struct ReloadTests {
    @Test("a reload adds an adapter while a delivery is under way, which finishes; a broken file is refused and the gateway carries on")
    func reloadAddsAdapterAndRefusesBrokenFile() async throws {
        let directory = try makeTemporaryDirectory()
        let key = SigningKey.generate()
        let keyPath = try writeKey(key, in: directory)
        let adapters = directory.appendingPathComponent("adapters.d")
        try FileManager.default.createDirectory(at: adapters, withIntermediateDirectories: true)
        let shipped = repositoryRoot.appendingPathComponent("Adapters")
        try FileManager.default.copyItem(
            at: shipped.appendingPathComponent("dvc-portal.yaml"), to: adapters.appendingPathComponent("dvc-portal.yaml"))
        let dataset = MockDataset(province: "14")
        // The two adapters of this test read the portal and the document-management system.
        let lgspRecords = dataset.portalRecords + dataset.documentRecords
        // Every answer is late, so the first delivery is still waiting for the centre when the reload comes.
        let slow = MockCentral.FaultPlan(failureRate: 1, kinds: [.slowAnswer], slowAnswerDelay: .seconds(2))
        let mocks = MockSystems.Configuration(
            directory: directory.appendingPathComponent("mocks"),
            source: .init(clientID: "lgsp-gateway-demo", clientSecret: "secret-\(UUID().uuidString)", dataset: dataset),
            trustedKeys: [key.publicKey], faults: slow)
        try await MockSystems.withRunning(mocks, logger: quietLogger) { running in
            let (runtime, group) = try reloadableGateway(
                running, directory: directory, keyPath: keyPath,
                overrides: [
                    "LGSP_ADAPTERS": adapters.path, "DVC_PORTAL_EVERY": "1s", "QLVB_EVERY": "1s", "LGSP_CENTRAL_TIMEOUT": "10s",
                    "LGSP_REPORT_MAX_OBSERVATIONS": "10",
                ])
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await runtime.run(group: group) }
                defer { Task { await group.triggerGracefulShutdown() } }
                #expect(try await eventually { running.central.statistics.acceptedReports >= 1 })
                #expect(try await runtime.store.outboxStats(now: Date()).delivered == 0)

                try FileManager.default.copyItem(
                    at: shipped.appendingPathComponent("qlvb-documents.yaml"), to: adapters.appendingPathComponent("qlvb-documents.yaml"))
                guard case .applied(let names, let needsRestart) = await runtime.reload() else {
                    Issue.record("a sound configuration was refused")
                    return
                }
                #expect(names.sorted() == ["dvc-portal", "qlvb-documents"])
                #expect(needsRestart.isEmpty)
                // The delivery under way when the reload came finished before the new forwarder started.
                #expect(try await runtime.store.outboxStats(now: Date()).delivered >= 1)

                running.central.setFaults(.none)
                #expect(
                    try await eventually {
                        let pulled = try await runtime.store.pullTotals().pulledRecords
                        let undelivered = try await runtime.store.outboxStats(now: Date()).undelivered
                        return pulled == lgspRecords.count && undelivered == 0
                    })
                let central = running.central.statistics
                #expect(central.acceptedObservations == lgspRecords.count { $0.defect == nil })
                #expect(central.duplicateObservations == 0)
                #expect(central.idempotentReplays == 0)

                // A broken file is refused with its line and field; the two adapters carry on.
                let broken = adapters.appendingPathComponent("broken.yaml")
                try "name: broken\nkind: http\nsource:\n  url: https://127.0.0.1:1\n  colour: blue\n".write(
                    to: broken, atomically: true, encoding: .utf8)
                guard case .refused(let issues) = await runtime.reload() else {
                    Issue.record("a broken adapter file was accepted")
                    return
                }
                #expect(issues.issues.contains { $0.file == broken.path && $0.line != nil }, "\(issues.issues)")
                #expect(runtime.adapters.map(\.name).sorted() == ["dvc-portal", "qlvb-documents"])
                let pullsBefore = try await runtime.store.pullTotals().pulls
                #expect(try await eventually(timeout: .seconds(30)) { try await runtime.store.pullTotals().pulls > pullsBefore })
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
        }
    }
}
