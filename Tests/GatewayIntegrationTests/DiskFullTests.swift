import Foundation
import Gateway
import GatewaySigning
import GatewayStore
import GatewayTestKit
import Synchronization
import Testing

@Suite("A full disk", .serialized)
struct DiskFullTests {
    /// What the test has done so far, shared with the polling condition.
    final class Phases: Sendable {
        struct State {
            var filledAt: ContinuousClock.Instant?
            var pulledWhenFilled = 0
            /// Records pulled, sampled from a second after the disk filled (the pull under way then may still commit).
            var pulledWhilePaused: [Int] = []
            var freedAt: ContinuousClock.Instant?
        }
        let state = Mutex(State())
    }

    @Test("on a nearly full disk new pulls pause, stored reports still go out, and everything resumes when space returns")
    func diskFull() async throws {
        let directory = try makeTemporaryDirectory()
        let disk = directory.appendingPathComponent("disk")
        try FileManager.default.createDirectory(at: disk, withIntermediateDirectories: true)
        // A real small filesystem (root on these machines, as in CI), so the disk really fills.
        let (mounted, mountOutput) = try runTool(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", disk.path])
        try #require(mounted == 0, "cannot mount a tmpfs for the test: \(mountOutput)")
        defer { _ = try? runTool(["umount", "-l", disk.path]) }

        let key = SigningKey.generate()
        let keyPath = try writeKey(key, in: directory)
        let dataset = MockDataset(province: "14", communes: 60)
        let mocks = MockSystems.Configuration(
            directory: directory.appendingPathComponent("mocks"),
            source: .init(clientID: "lgsp-gateway-demo", clientSecret: "s", dataset: dataset, maxRecordsPerAnswer: 20),
            trustedKeys: [key.publicKey])
        let capture = LogCapture()
        let phases = Phases()
        let filler = disk.appendingPathComponent("filler").path
        let storeDirectory = disk.appendingPathComponent("store")
        // The adapters whose sources keep a cursor, so that "every record pulled once" can be
        // counted: the education system reads its whole table at every pull.
        let adapters = try shippedAdapters(
            ["dvc-portal", "qlvb-documents", "thong-ke-kinh-te-so", "vien-thong-cap-quang", "ngan-hang-thanh-toan"], in: directory)
        let education = dataset.educationObservations
        let total = dataset.allRecords.count - education.count
        let good = dataset.goodRecordCount - education.count { $0.defect == nil && $0.skippedAs == nil }

        try await MockSystems.withRunning(mocks, logger: quietLogger) { running in
            let result = try await runGateway(
                running, directory: storeDirectory, keyPath: keyPath,
                overrides: [
                    "DVC_PORTAL_EVERY": "1s", "QLVB_EVERY": "1s", "LGSP_STORE_MIN_FREE": "1MB", "LGSP_REPORT_MAX_OBSERVATIONS": "10",
                    "LGSP_ADAPTERS": adapters.path,
                ],
                logger: capture.logger, timeout: .seconds(120)
            ) { runtime in
                let pulled = try await runtime.store.pullTotals().pulledRecords
                let now = ContinuousClock.now
                let state = phases.state.withLock { $0 }
                if state.filledAt == nil, pulled >= 60 {
                    // Leave less than the 1 MiB the gateway keeps free.
                    var stats = statvfs()
                    _ = statvfs(disk.path, &stats)
                    let free = Int(stats.f_bavail) * Int(stats.f_frsize)
                    _ = FileManager.default.createFile(atPath: filler, contents: Data(count: max(0, free - 400 << 10)))
                    phases.state.withLock {
                        $0.filledAt = now
                        $0.pulledWhenFilled = pulled
                    }
                } else if let filledAt = state.filledAt, state.freedAt == nil {
                    if now - filledAt > .seconds(1) { phases.state.withLock { $0.pulledWhilePaused.append(pulled) } }
                    if now - filledAt > .seconds(4) {
                        try FileManager.default.removeItem(atPath: filler)
                        phases.state.withLock { $0.freedAt = now }
                    }
                } else if state.freedAt != nil {
                    return try await allPulledAndDelivered(runtime) && pulled == total
                }
                return false
            }
            let state = phases.state.withLock { $0 }
            // While the disk was full no pull committed beyond the one under way when it filled.
            let pausedCounts = Set(state.pulledWhilePaused)
            #expect(
                state.pulledWhilePaused.count >= 5 && pausedCounts.count == 1,
                "pulls went on while the disk was full: \(pausedCounts.sorted())")
            #expect(state.pulledWhenFilled < total)
            let lines = capture.lines.withLock { $0 }
            #expect(lines.contains { $0.contains("pulls paused to protect the store") && $0.contains("KiB free on the store's disk") })
            #expect(lines.contains { $0.contains("pulls resume") })
            #expect(result.totals.pulledRecords == total)
            #expect(result.stats.deliveredObservations == good)
            #expect(running.central.statistics.acceptedObservations == good)
            #expect(running.central.statistics.duplicateObservations == 0)
        }
        #expect(
            try await SQLiteStore(path: storeDirectory.appendingPathComponent("gateway.sqlite").path, exclusive: false).integrityCheck()
                .isEmpty)
    }
}
