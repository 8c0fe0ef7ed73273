import Foundation
import GatewayTestKit
import GatewaySigning
import GatewayStore
import Testing

@Suite("Crash safety: SIGKILL at random moments", .serialized)
struct CrashSafetyTests {
    /// A small deterministic generator, so a failing run can be replayed from its printed seed.
    struct Seeded: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state
        }
    }

    @Test("killed with SIGKILL 22 times during pulls, commits and deliveries: every valid observation arrives once, the store stays sound")
    func sigkillAtRandomMoments() async throws {
        let directory = try makeTemporaryDirectory()
        let key = SigningKey.generate()
        let keyPath = try writeKey(key, in: directory)
        let (mocks, dataset) = busyMocks(
            in: directory, trusting: key,
            faults: .init(failureRate: 0.5, kinds: [.slowAnswer, .slowAnswer, .unavailable], slowAnswerDelay: .milliseconds(700), seed: 11))
        let seed = UInt64.random(in: 1...UInt64.max)
        print("crash test seed \(seed)")

        try await MockSystems.withRunning(mocks, logger: quietLogger) { running in
            var random = Seeded(state: seed)
            let storePath = directory.appendingPathComponent("gateway.sqlite").path
            let environment = Demo.environment(
                for: running, repository: repositoryRoot, keyPath: keyPath, storePath: storePath,
                overrides: [
                    "DVC_PORTAL_EVERY": "1s", "QLVB_EVERY": "1s", "LGSP_CENTRAL_TIMEOUT": "2s", "LGSP_RETRY_BASE": "50ms",
                    "LGSP_RETRY_CAP": "300ms", "LGSP_REPORT_MAX_OBSERVATIONS": "10",
                ]
            ).variables.merging(["PATH": "/usr/bin:/bin"]) { $1 }
            let config = repositoryRoot.appendingPathComponent("deploy/examples/gateway.yaml").path
            let reader = try SQLiteStore(path: storePath, exclusive: false)

            // The education system keeps no cursor: each of its pulls reads its whole table, and
            // the ledger counts the figures again as unchanged. "Each record committed once" is the
            // other adapters' property; the education system's is that its figures arrive once.
            let education = dataset.educationObservations.count
            let total = dataset.allRecords.count - education
            func pulled() async throws -> (byCursor: Int, educationPulls: Int) { try await recordsPulled(on: storePath) }
            var killedMidPull = 0, killedMidDelivery = 0
            for round in 0..<22 {
                let child = try ChildProcess(
                    ["run", "--config", config], environment: environment, outputPath: directory.appendingPathComponent("run-\(round).out"))
                try await Task.sleep(for: .milliseconds(Int.random(in: 120...900, using: &random)))
                kill(child.process.processIdentifier, SIGKILL)
                #expect(try await child.waitForExit(timeout: .seconds(10)) != nil)
                let stats = try await reader.outboxStats(now: Date())
                if try await pulled().byCursor < total { killedMidPull += 1 }
                if stats.inFlight > 0 { killedMidDelivery += 1 }
            }
            print("crash test: 22 kills, \(killedMidPull) before all records were pulled, \(killedMidDelivery) with a delivery in flight")
            // The kills must have caught the gateway mid-pull and mid-delivery, or the test proved little.
            #expect(killedMidPull >= 3, "only \(killedMidPull) kills before all records were pulled")
            #expect(killedMidDelivery >= 3, "only \(killedMidDelivery) kills with a delivery in flight")

            running.central.setFaults(.none)
            let last = try ChildProcess(
                ["run", "--config", config], environment: environment, outputPath: directory.appendingPathComponent("run-last.out"))
            let finished = try await eventually(timeout: .seconds(120)) {
                let (byCursor, educationPulls) = try await pulled()
                let undelivered = try await reader.outboxStats(now: Date()).undelivered
                return byCursor == total && educationPulls > 0 && undelivered == 0
            }
            #expect(finished, "\(last.output.suffix(2000))")
            // Stop it only once its services run (a pull has committed): a SIGTERM before the service
            // group installs its handlers ends the process the default way.
            #expect(try await eventually { last.output.contains("pull committed") })
            last.process.terminate()
            #expect(try await last.waitForExit(timeout: .seconds(20)) == 0)

            let central = running.central.statistics
            let expected = dataset.expectedSourceRecordIDs
            #expect(try await pulled().byCursor == total)  // each record of a cursor's source committed exactly once
            // and every committed pull of the education system read its whole table.
            #expect(try await (reader.pullTotals().pulledRecords - total) % education == 0)
            #expect(central.acceptedObservations == dataset.goodRecordCount)
            let arrived = Set(running.central.acceptedObservations.compactMap(\.sourceRecordID))
            #expect(expected.subtracting(arrived).isEmpty, "\(expected.subtracting(arrived).count) valid records never arrived")
            #expect(arrived.subtracting(expected).isEmpty, "\(arrived.subtracting(expected).count) records arrived that should not have")
            #expect(central.duplicateObservations == 0)
            #expect(central.signatureFailures == 0 && central.digestFailures == 0)
            #expect(try await reader.outboxStats(now: Date()).deliveredObservations == dataset.goodRecordCount)
            #expect(try await reader.integrityCheck().isEmpty)
        }
    }
}
