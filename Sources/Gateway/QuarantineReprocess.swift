import Foundation
import GatewayAdapters
import GatewayPipeline
import GatewayStore

/// What `quarantine reprocess` and the console's reprocess button did, per adapter.
public struct ReprocessRun: Sendable {
    /// One per adapter whose records were taken, by adapter name.
    public var summaries: [ReprocessSummary] = []
    /// Records that could not be taken: ids that are not quarantined records, records of an
    /// adapter the configuration no longer has.
    public var problems: [String] = []

    /// The operator actions log's line for it.
    public var outcome: String {
        let parts = summaries.map {
            "\($0.adapter): \($0.records) checked, \($0.sent) to send, \($0.unchanged) unchanged, \($0.quarantined) quarantined again"
        }
        return parts.isEmpty ? "nothing matched" : parts.joined(separator: "; ")
    }
}

extension LoadedGateway {
    /// Checks quarantined records again with this configuration: those `ids` names, or with `ids`
    /// nil every record matching `filter`, a page at a time. The command and the console share it.
    public func reprocessQuarantined(
        ids: [Int64]?, matching filter: QuarantineFilter = QuarantineFilter(), store: any GatewayStore, dryRun: Bool = false
    ) async throws -> ReprocessRun {
        let runner = pullRunner(store: store)
        var run = ReprocessRun()
        var totals: [String: ReprocessSummary] = [:]
        func reprocess(_ records: [StoredQuarantine]) async throws {
            for (adapter, chosen) in Dictionary(grouping: records, by: \.adapter).sorted(by: { $0.key < $1.key }) {
                guard let spec = adapters.first(where: { $0.name == adapter }) else {
                    run.problems.append("\(adapter): no such adapter in the configuration now; \(chosen.count) record(s) left as they are")
                    continue
                }
                var mapping: RecordMapping?
                if case .http(let definition) = spec { mapping = definition.mapping }
                let (summary, _, _) = try await runner.reprocess(chosen, adapter: adapter, mapping: mapping, dryRun: dryRun)
                totals[adapter, default: ReprocessSummary(adapter: adapter)].add(summary)
            }
        }
        if let ids {
            var found: [StoredQuarantine] = []
            for id in ids {
                if let record = try await store.quarantinedRecord(id: id) {
                    found.append(record)
                } else {
                    run.problems.append("#\(id) is not a quarantined record")
                }
            }
            try await reprocess(found)
        } else {
            // Newest first; what a page quarantines again gets newer ids, so it is not met again.
            var filter = filter
            while true {
                let page = try await store.quarantined(matching: filter, limit: 1_000)
                try await reprocess(page)
                guard page.count == 1_000, let last = page.last else { break }
                filter.before = last.id
            }
        }
        run.summaries = totals.values.sorted { $0.adapter < $1.adapter }
        return run
    }
}
