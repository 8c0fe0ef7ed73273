import Foundation
import GatewayAdapters
import GatewayContracts
import Synchronization
import Testing
@testable import GatewayPipeline

/// `ParallelWork` writes results into memory it manages itself and moves them out, and a pull
/// moves observations into reports; a slip there loses, repeats or leaks values, or frees one twice.
/// Serialized: two of its tests count the instances alive on one counter.
@Suite("Work spread over every core: every result once, in order, none leaked", .serialized)
struct ParallelWorkTests {
    /// Counts the instances alive, so a result copied and not released, or released twice, shows.
    final class Tracked: Sendable {
        static let alive = Atomic<Int>(0)
        let value: Int
        init(_ value: Int) {
            self.value = value
            Self.alive.add(1, ordering: .relaxed)
        }
        deinit { Self.alive.subtract(1, ordering: .relaxed) }
    }

    @Test("map gives each item's result once, in the items' order, from arrays and slices of every size")
    func mapKeepsOrder() async {
        for count in [0, 1, 64, 65, 66, 1_001, 10_007] {
            let items = Array(0..<count)
            let results = await ParallelWork.map(items) { Tracked($0 * 3) }
            #expect(results.map(\.value) == items.map { $0 * 3 }, "\(count) items")
            #expect(Tracked.alive.load(ordering: .relaxed) == count, "\(count) items: one instance per result")
            let slice = items[(count / 3)...]
            let fromSlice = await ParallelWork.map(slice) { $0 + 1 }
            #expect(fromSlice == slice.map { $0 + 1 }, "a slice from \(count / 3) of \(count)")
        }
        #expect(Tracked.alive.load(ordering: .relaxed) == 0, "every result released once")
    }

    @Test("map with a receiver hands over each result once, in order, and keeps none")
    func receiverGetsEachOnce() async {
        for count in [0, 5, 65, 4_099] {
            var received: [Tracked] = []
            await ParallelWork.map(Array(0..<count), { Tracked($0) }) { received.append($0) }
            #expect(received.map(\.value) == Array(0..<count))
            #expect(Tracked.alive.load(ordering: .relaxed) == count)
            received.removeAll()
            #expect(Tracked.alive.load(ordering: .relaxed) == 0, "\(count): the call keeps no result")
        }
    }

    @Test("a pull's valid observations are cut into reports in order; what is under the count stays")
    func takeReportsKeepsOrder() {
        let observations = (0..<1_234).map { index in
            Observation(
                indicator: "DVC_TOAN_TRINH", province: "14", level: .commune, area: String(format: "%05d", index), period: "2025",
                value: Double(index), unit: "percent", sourceSystem: "dvc", sourceRecordID: "record-\(index)",
                collectedAt: "2026-11-29T08:00:00.000Z")
        }
        for (count, sizes) in [(1_000, [500, 500]), (1_234, [500, 500, 234]), (499, [499]), (0, [])] {
            var remaining = observations
            let reports = PullRunner.takeReports(count, of: &remaining, perReport: 500)
            #expect(reports.map(\.count) == sizes, "\(count)")
            #expect(reports.flatMap { $0 } == Array(observations[..<count]), "\(count): in order")
            #expect(remaining == Array(observations[count...]), "\(count): the rest stays, in order")
        }
    }
}
