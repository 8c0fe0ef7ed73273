import Foundation
import Gateway
import GatewayContracts
import GatewayJSON
import GatewayPipeline
import GatewayStore
import GatewayTestKit
import Testing

@Suite("quarantine reprocess: records checked again after the adapter file is fixed", .serialized)
struct ReprocessTests {
    /// The shipped portal adapter with one code left out of its lookup: the portal's dossier
    /// shares (`HS_TT`) then reach the catalogue check under the portal's own code and are
    /// quarantined as `indicator.known`, a mistake in the file, not at the source.
    static func brokenPortal() throws -> String {
        let shipped = try String(contentsOf: repositoryRoot.appendingPathComponent("Adapters/dvc-portal.yaml"), encoding: .utf8)
        #expect(shipped.contains("      HS_TT: HS_TRUC_TUYEN\n"))
        return shipped.replacingOccurrences(of: "      HS_TT: HS_TRUC_TUYEN\n", with: "")
    }

    @Test(
        "over HTTPS: records quarantined by a mistake in the adapter file, reprocessed once it is fixed, reach the centre once; the source's bad records stay",
        arguments: StoreBackend.available)
    func fixedAdapterFile(backend: StoreBackend) async throws {
        try await withSignedMocks { running, directory, keyPath in
            let store = backend == .postgres ? try await freshPostgresDatabase() : directory.appendingPathComponent("gateway.sqlite").path
            let adapters = directory.appendingPathComponent("adapters")
            try FileManager.default.createDirectory(at: adapters, withIntermediateDirectories: true)
            let file = adapters.appendingPathComponent("dvc-portal.yaml")
            try Self.brokenPortal().write(to: file, atomically: true, encoding: .utf8)
            let overrides = ["LGSP_ADAPTERS": adapters.path, "LGSP_STORE": store]
            let dataset = running.source.configuration.dataset
            let dossiers = dataset.portalRecords.filter { $0.fields["maChiTieu"] == .string("HS_TT") && $0.defect == nil }
            let badAtSource = dataset.portalRecords.count { $0.defect != nil }

            let environment = commandEnvironment(running, keyPath: keyPath, storePath: store, overrides: overrides)
            let config = repositoryRoot.appendingPathComponent("deploy/examples/gateway.yaml").path
            let reader = try StoreLocation.open(store, exclusive: false)
            /// The gateway as a service runs it, until its pull is in and everything stored is delivered.
            func runGatewayProcess(_ name: String) async throws {
                let gateway = try ChildProcess(
                    ["run", "--config", config], environment: environment, outputPath: directory.appendingPathComponent("\(name).out"))
                let settled = try await eventually(timeout: .seconds(60)) {
                    let pulled = try await reader.adapterStatuses().contains { $0.lastSuccess != nil }
                    let undelivered = try await reader.outboxStats(now: Date()).undelivered
                    return pulled && undelivered == 0
                }
                #expect(settled, "\(gateway.output.suffix(1500))")
                gateway.process.terminate()
                #expect(try await gateway.waitForExit(timeout: .seconds(30)) == 0, "\(gateway.output.suffix(1500))")
            }
            try await reader.withRunning {
                try await runGatewayProcess("first")
                let held = try await reader.quarantined(matching: QuarantineFilter(), limit: 100)
                let wrong = held.filter { $0.reasons.contains { $0.rule == "indicator.known" } && $0.record.contains("HS_TT") }
                // The dossier shares, and the one of them the source got wrong as well.
                #expect(wrong.count == dossiers.count + 1, "\(held.map(\.reasons))")
                // The source's record is kept beside the observation mapped from it.
                #expect(wrong.allSatisfy { $0.source?.contains("\"capNhatLuc\"") == true }, "\(wrong.map(\.source))")
                let acceptedBefore = running.central.statistics.acceptedObservations

                func reprocess(_ arguments: [String], exits status: Int32 = 0) async throws -> String {
                    let child = try ChildProcess(
                        ["quarantine", "reprocess"] + arguments + ["--config", config], environment: environment,
                        outputPath: directory.appendingPathComponent("reprocess-\(UUID().uuidString.prefix(6)).out"))
                    #expect(try await child.waitForExit(timeout: .seconds(60)) == status, "\(arguments): \(child.output)")
                    return child.output
                }
                // Before the fix, checking again changes nothing: the same reasons come back.
                let unfixed = try await reprocess(["--all", "--adapter", "dvc-portal"])
                #expect(unfixed.contains("0 to send"), "\(unfixed)")

                try String(contentsOf: repositoryRoot.appendingPathComponent("Adapters/dvc-portal.yaml"), encoding: .utf8)
                    .write(to: file, atomically: true, encoding: .utf8)
                let dry = try await reprocess(["--all", "--adapter", "dvc-portal", "--dry-run"])
                #expect(dry.contains("thử / dry run dvc-portal") && dry.contains("\(dossiers.count) to send"), "\(dry)")
                let fixed = try await reprocess(["--all", "--adapter", "dvc-portal"])
                #expect(
                    fixed.contains(
                        "dvc-portal: \(dossiers.count + badAtSource) record(s) checked again (\(dossiers.count + badAtSource) mapped again from the source's record): \(dossiers.count) to send"
                    ), "\(fixed)")
                #expect(fixed.contains("\(badAtSource) quarantined again"), "\(fixed)")
                // Logged as an operator's action, the dry run not.
                let logged = try await reader.operatorActions(before: nil, limit: 10)
                #expect(logged.map(\.action) == ["quarantine.reprocess", "quarantine.reprocess"], "\(logged)")
                #expect(
                    logged.first?.target == "--all --adapter dvc-portal"
                        && logged.first?.outcome.contains("\(dossiers.count) to send") == true)
                // Done once: checked again, nothing more to send.
                let again = try await reprocess(["--all", "--adapter", "dvc-portal"])
                #expect(again.contains("0 to send") && again.contains("\(badAtSource) quarantined again"), "\(again)")

                try await runGatewayProcess("second")
                let central = running.central.statistics
                #expect(central.acceptedObservations == acceptedBefore + dossiers.count)
                #expect(central.duplicateObservations == 0 && central.signatureFailures == 0)
                let arrived = Set(running.central.acceptedObservations.compactMap(\.sourceRecordID))
                #expect(Set(dossiers.compactMap(\.recordID)).isSubset(of: arrived))
                // What stays is what the source got wrong, with today's reasons, once each.
                let left = try await reader.quarantined(matching: QuarantineFilter(), limit: 100)
                #expect(left.count == badAtSource, "\(left.map(\.reasons))")
                #expect(!left.contains { $0.reasons.contains { $0.rule == "indicator.known" } && $0.record.contains("HS_TT") })
            }
        }
    }

    @Test("two commands reprocessing one record at once store one result; the other stores nothing", arguments: StoreBackend.available)
    func onceOnly(backend: StoreBackend) async throws {
        try await withSignedMocks { running, directory, keyPath in
            let store = try await openStore(backend)
            // The shipped configuration, for its key and contracts.
            let loaded = try LoadedGateway.load(
                file: repositoryRoot.appendingPathComponent("deploy/examples/gateway.yaml").path,
                environment: Demo.environment(
                    for: running, repository: repositoryRoot, keyPath: keyPath,
                    storePath: directory.appendingPathComponent("unused.sqlite").path))
            try await store.withRunning {
                let observation = Observation(
                    indicator: "HSCV_DIEN_TU", province: "14", level: .commune, area: "03646", period: "2026-Q3", value: 64,
                    unit: "percent", sourceSystem: "qlvb", collectedAt: "2026-11-02T01:00:00.000Z")
                // Quarantined by a rule since relaxed: it passes today's contracts as it is.
                _ = try await store.commit(
                    PullCommit(
                        adapter: "qlvb", startedAt: Date(), pulledRecords: 1, reports: [],
                        quarantined: [
                            QuarantinedRecord(
                                record: observation.jsonValue,
                                reasons: [QuarantineReason(pointer: "/value", rule: "indicator.range", message: "an old range")])
                        ], cursor: nil),
                    now: Date())
                let held = try await store.quarantined(matching: QuarantineFilter(), limit: 10)
                let runner = loaded.pullRunner(store: store)
                let (summary, _, _) = try await runner.reprocess(held, adapter: "qlvb", mapping: nil)
                #expect(summary.sent == 1 && summary.quarantined == 0 && summary.reports == 1 && summary.remapped == 0)
                await #expect(throws: QuarantineReplaced.self) { _ = try await runner.reprocess(held, adapter: "qlvb", mapping: nil) }
                #expect(try await store.outboxStats(now: Date()).pending == 1)
                #expect(try await store.quarantined(matching: QuarantineFilter(), limit: 10).isEmpty)
                // Not a pull: the pull history has only the one that quarantined it.
                #expect(try await store.pullTotals().pulls == 1)

                // A CSV row cut short is stored as its fields and line, which no mapping can read:
                // checked again, it stays as it was, with its own reason, not the mapping's.
                let cutShort = QuarantinedRecord(
                    record: .object(["fields": .array([.string("KTS_GRDP"), .string("14")]), "line": .number(7)]),
                    reasons: [QuarantineReason(pointer: "", rule: "mapping.csv-row", message: "line 7 has 2 fields, the header has 8")])
                _ = try await store.commit(
                    PullCommit(
                        adapter: "thong-ke-kinh-te-so", startedAt: Date(), pulledRecords: 1, reports: [], quarantined: [cutShort],
                        cursor: nil),
                    now: Date())
                guard case .http(let statistics)? = loaded.adapters.first(where: { $0.name == "thong-ke-kinh-te-so" }) else {
                    Issue.record("the shipped statistics adapter did not load as HTTP")
                    return
                }
                let row = try await store.quarantined(matching: QuarantineFilter(adapter: "thong-ke-kinh-te-so"), limit: 10)
                let (again, _, quarantined) = try await runner.reprocess(row, adapter: "thong-ke-kinh-te-so", mapping: statistics.mapping)
                #expect(again.remapped == 0 && again.sent == 0 && quarantined.map(\.reasons) == [cutShort.reasons])
            }
        }
    }
}
