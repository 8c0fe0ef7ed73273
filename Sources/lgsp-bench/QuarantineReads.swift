import Foundation
import GatewayContracts
import GatewayJSON
import GatewayStore

/// The reads the operator console's quarantine page will make, timed against a SQLite store that
/// holds `count` quarantined records: how far today's store roles are from the console issue's
/// 100 ms at the 99th percentile.
enum QuarantineReads {
    struct Read {
        let name: String
        let run: @Sendable (SQLiteStore) async throws -> Int
    }

    static let adapters = [
        "dvc-portal", "qlvb-documents", "thong-ke-kinh-te-so", "vien-thong-cap-quang", "ngan-hang-thanh-toan", "so-gddt",
    ]
    /// The first is met in half the records, the last in one in ten thousand.
    static let rules = ["indicator.range", "ratio.numerator-le-denominator", "mapping.convert", "area.matches-level", "indicator.known"]

    /// Records spread over six adapters, 50 indicators, 40 quarters and 100 communes.
    static func record(_ number: Int) -> QuarantinedRecord {
        let rule =
            number % 2 == 0
            ? rules[0] : number % 10 == 1 ? rules[1] : number % 100 == 3 ? rules[2] : number % 10_000 == 7 ? rules[4] : rules[3]
        let observation = Observation(
            indicator: "CHI_TIEU_\(number % 50)", province: "14", level: .commune, area: String(format: "%05d", 3646 + 3 * (number % 100)),
            period: "\(2016 + number / 4 % 10)-Q\(number % 4 + 1)", value: Double(100 + number % 50), unit: "percent",
            sourceSystem: "bench", collectedAt: "2026-11-02T01:00:00.000Z")
        return QuarantinedRecord(
            record: observation.jsonValue, reasons: [QuarantineReason(pointer: "/value", rule: rule, message: "record \(number)")],
            source: .object(["ma": .string("SRC-\(number)"), "giaTri": .number(Double(100 + number % 50))]))
    }

    static let reads: [Read] = [
        Read(name: "newest 50") { try await $0.quarantined(matching: QuarantineFilter(), limit: 50).count },
        Read(name: "adapter, 50") { try await $0.quarantined(matching: QuarantineFilter(adapter: "so-gddt"), limit: 50).count },
        Read(name: "common rule, 50") { try await $0.quarantined(matching: QuarantineFilter(rule: rules[0]), limit: 50).count },
        Read(name: "rare rule, 50") { try await $0.quarantined(matching: QuarantineFilter(rule: rules[4]), limit: 50).count },
        Read(name: "indicator and period, 50") {
            try await $0.quarantined(matching: QuarantineFilter(indicator: "CHI_TIEU_7", period: "2017-Q4"), limit: 50).count
        },
        Read(name: "one record") { try await $0.quarantinedRecord(id: 12_345).map { _ in 1 } ?? 0 },
        Read(name: "calendar's quarantined figures, one indicator, 40 quarters") {
            let periods = (2016...2025).flatMap { year in (1...4).map { "\(year)-Q\($0)" } }
            return try await $0.quarantinedFigures(indicator: "CHI_TIEU_7", periods: periods).count
        },
    ]

    /// `count` records, ten thousand to a commit, each commit one adapter's.
    static func fill(_ store: SQLiteStore, count: Int) async throws {
        let batch = 10_000
        for start in stride(from: 0, to: count, by: batch) {
            let records = (start..<min(start + batch, count)).map(record)
            _ = try await store.commit(
                PullCommit(
                    adapter: adapters[start / batch % adapters.count], startedAt: Date(), pulledRecords: records.count, reports: [],
                    quarantined: records, cursor: nil),
                now: Date())
        }
    }

    /// Fills a store in `directory` and times each read `rounds` times; the last line is JSON.
    static func measure(count: Int, rounds: Int, in directory: URL) async throws {
        let store = try SQLiteStore(path: directory.appendingPathComponent("quarantine.sqlite").path)
        let filling = ContinuousClock.now
        try await fill(store, count: count)
        print(String(format: "quarantine reads: %d records stored in %.1f s", count, (ContinuousClock.now - filling).benchSeconds))
        var results: [String: JSONValue] = [:]
        for read in reads {
            var times: [Double] = []
            var found = 0
            for _ in 0..<rounds {
                let started = ContinuousClock.now
                found = try await read.run(store)
                times.append((ContinuousClock.now - started).benchSeconds * 1000)
            }
            times.sort()
            let p50 = times[times.count / 2], p99 = times[min(times.count - 1, Int(Double(times.count) * 0.99))]
            let name = read.name.padding(toLength: 58, withPad: " ", startingAt: 0)
            print("  \(name)" + String(format: " p50 %8.2f ms  p99 %8.2f ms  (%d found)", p50, p99, found))
            results[read.name] = .object(["p50_ms": .number((p50 * 100).rounded() / 100), "p99_ms": .number((p99 * 100).rounded() / 100)])
        }
        try await store.close()
        print(
            String(
                decoding: try JSONValue.object(["quarantined_records": .number(Double(count)), "reads": .object(JSONObject(results))])
                    .canonicalData(), as: UTF8.self))
    }
}
