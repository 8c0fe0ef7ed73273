import Foundation
import GatewayContracts
import GatewayTestKit
import GatewaySigning
import GatewayStore
import Testing

@Suite(
    "Three gateway processes on one PostgreSQL database", .serialized,
    .enabled(if: StoreBackend.postgresAvailable, StoreBackend.postgresMissing))
struct SharedStoreProcessTests {
    @Test("one is killed with SIGKILL mid-run while it runs a schedule: the others take over; nothing lost, nothing doubled")
    func threeGatewaysOneKilled() async throws {
        let directory = try makeTemporaryDirectory()
        let key = SigningKey.generate()
        let keyPath = try writeKey(key, in: directory)
        // The kill must find pulls and deliveries under way. Each instance reads the education
        // system's table, which keeps no cursor, when it starts: served empty, so that what was
        // pulled can be counted once.
        let (mocks, dataset) = busyMocks(
            in: directory, trusting: key,
            faults: .init(failureRate: 0.3, kinds: [.slowAnswer, .unavailable], slowAnswerDelay: .milliseconds(800), seed: 7),
            educationTable: false)
        let storeURL = try await freshPostgresDatabase()

        try await MockSystems.withRunning(mocks, logger: quietLogger) { running in
            let config = repositoryRoot.appendingPathComponent("deploy/examples/gateway.yaml").path
            func start(_ number: Int) throws -> ChildProcess {
                let environment = Demo.environment(
                    for: running, repository: repositoryRoot, keyPath: keyPath, storePath: storeURL,
                    overrides: [
                        "LGSP_GATEWAY_ID": "son-la-gw-0\(number)", "DVC_PORTAL_EVERY": "1s", "QLVB_EVERY": "1s",
                        "LGSP_CENTRAL_TIMEOUT": "2s", "LGSP_RETRY_BASE": "50ms", "LGSP_RETRY_CAP": "300ms",
                        "LGSP_REPORT_MAX_OBSERVATIONS": "10",
                    ]
                ).variables.merging(["PATH": "/usr/bin:/bin"]) { $1 }
                return try ChildProcess(
                    ["run", "--config", config], environment: environment,
                    outputPath: directory.appendingPathComponent("gateway-\(number).out"))
            }
            let gateways = try (1...3).map(start)
            let reader = try PostgresStore(url: storeURL)
            try await reader.withRunning {
                let total = dataset.allRecords.count

                let outputs = gateways.map(\.outputPath)
                // The instance that runs the document system's schedule, once it has committed some of it.
                #expect(
                    try await eventually(timeout: .seconds(60)) {
                        let pulled = try await reader.pullTotals().pulledRecords
                        return Self.owner(of: "qlvb-documents", among: outputs) != nil && pulled >= 100
                    })
                let victim = try #require(Self.owner(of: "qlvb-documents", among: outputs))
                let pulledBeforeKill = try await reader.pullTotals().pulledRecords
                #expect(pulledBeforeKill < total, "the run was over before the kill")
                print(
                    "shared store: gateway \(victim + 1) killed while running qlvb-documents, \(pulledBeforeKill) of \(total) records pulled"
                )
                kill(gateways[victim].process.processIdentifier, SIGKILL)
                #expect(try await gateways[victim].waitForExit(timeout: .seconds(10)) != nil)

                let finished = try await eventually(timeout: .seconds(120)) {
                    let pulled = try await reader.pullTotals().pulledRecords
                    let stats = try await reader.outboxStats(now: Date())
                    return pulled == total && stats.undelivered == 0
                }
                let (totalsAtEnd, statsAtEnd) = (try await reader.pullTotals(), try await reader.outboxStats(now: Date()))
                #expect(finished, "\(totalsAtEnd), \(statsAtEnd)")
                // Another instance took the schedule over.
                let survivors = gateways.indices.filter { $0 != victim }
                #expect(survivors.contains { Self.runsSchedule(outputs[$0], of: "qlvb-documents") })
                // One ledger for all instances: every figure once, as its first revision, accepted.
                let ledger = try await reader.latestFigures(indicator: nil, period: nil)
                #expect(ledger.count == Set(running.central.acceptedObservations.map(\.figureKey)).count)
                #expect(ledger.allSatisfy { $0.revision == 1 && $0.acceptedAt != nil })
                // The portal's department corrects a figure: whichever instance runs the portal's
                // schedule sends it as revision 2, once, and the centre holds it.
                let corrected = FigureKey(indicator: "DVC_TOAN_TRINH", province: "14", level: .province, area: "14", period: "2026-Q3")
                #expect(
                    running.source.correctPortalRecord(id: "DVC-14-2026-Q3", changes: ["tuSo": .number(1552), "giaTri": .number(85.65)]))
                #expect(
                    try await eventually(timeout: .seconds(60)) {
                        guard running.central.figure(corrected)?.revision == 2 else { return false }
                        return try await reader.latestRevisions(of: [corrected])[corrected]?.acceptedAt != nil
                    })
                #expect(try await reader.revisions(of: corrected).map(\.revision) == [1, 2])
                #expect(running.central.statistics.revisions == 1 && running.central.statistics.staleRevisions == 0)
                for index in survivors {
                    gateways[index].process.terminate()
                    #expect(try await gateways[index].waitForExit(timeout: .seconds(30)) == 0, "\(gateways[index].output.suffix(1500))")
                }

                let central = running.central.statistics
                // Every record committed once, by one instance, and the corrected one once more.
                #expect(try await reader.pullTotals().pulledRecords == total + 1)
                #expect(central.acceptedObservations == dataset.goodRecordCount + 1)  // and the revision
                #expect(central.duplicateObservations == 0)
                #expect(central.signatureFailures == 0 && central.digestFailures == 0)
                let arrived = Set(running.central.acceptedObservations.compactMap(\.sourceRecordID))
                #expect(arrived == dataset.expectedSourceRecordIDs)
                #expect(try await reader.outboxStats(now: Date()).deliveredObservations == dataset.goodRecordCount + 1)
                #expect(try await reader.integrityCheck().isEmpty)
                // The database password, given in the store's URL, is in no log line.
                let password = try #require(URLComponents(string: storeURL)?.password)
                #expect(gateways.allSatisfy { !$0.output.contains(password) })
                // One audit chain for all instances, unbroken.
                let links = try await reader.auditLinks()
                #expect(links.count == central.acceptedReports)
                #expect(zip(links.dropFirst(), links).allSatisfy { $0.previousHash == $1.hash })
            }
        }
    }

    static func runsSchedule(_ output: URL, of adapter: String) -> Bool {
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").contains {
            $0.contains("this gateway runs the adapter's schedule") && $0.contains("\"adapter\":\"\(adapter)\"")
        }
    }

    static func owner(of adapter: String, among outputs: [URL]) -> Int? { outputs.firstIndex { runsSchedule($0, of: adapter) } }
}
