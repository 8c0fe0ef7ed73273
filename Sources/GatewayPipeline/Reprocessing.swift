import Foundation
import GatewayAdapters
import GatewayContracts
import GatewayJSON
import GatewayStore

/// What checking quarantined records again did, for the command and the console.
public struct ReprocessSummary: Sendable, Equatable {
    public var adapter: String
    /// Quarantined records taken.
    public var records = 0
    /// Of those, records mapped again from the source's record with the adapter file as it is now.
    public var remapped = 0
    /// Observations that now pass and were stored to be sent (new figures and revisions).
    public var sent = 0
    public var revisions = 0
    /// Observations that pass but that the centre holds already with the same value.
    public var unchanged = 0
    /// Observations or records that still fail, quarantined again with today's reasons.
    public var quarantined = 0
    /// Records the adapter file now says to skip.
    public var skipped = 0
    public var reports = 0

    public init(adapter: String) { self.adapter = adapter }

    /// Two runs' counts as one, for a command that reprocesses a page at a time.
    public mutating func add(_ other: ReprocessSummary) {
        records += other.records
        remapped += other.remapped
        sent += other.sent
        revisions += other.revisions
        unchanged += other.unchanged
        quarantined += other.quarantined
        skipped += other.skipped
        reports += other.reports
    }
}

extension PullRunner {
    /// Mapping failures whose stored record is not the source's record.
    static let unmappableRules: Set<String> = ["mapping.csv-row", "mapping.ndjson"]

    /// Checks quarantined records of `adapter` again with today's definitions, after an operator
    /// fixed the adapter file or the contracts and reloaded. A record whose source record the
    /// store kept (or that failed mapping, and so is the source's record) is mapped again with
    /// `mapping`, the adapter file as loaded now; any other is its observation checked again
    /// against today's contracts. What passes is decided against the ledger (a figure the centre
    /// holds with the same value is not sent again), signed and stored; what fails is
    /// quarantined again with today's reasons. One transaction does both and deletes the records
    /// taken, so a record is sent at most once however often it is reprocessed, and two commands
    /// reprocessing one record at once store one result (the other gets `QuarantineReplaced`).
    ///
    /// `mapping` is `nil` for adapters without one (programs, compiled adapters): their records
    /// that failed mapping cannot be mapped again and stay as they were.
    public func reprocess(
        _ records: [StoredQuarantine], adapter: String, mapping: RecordMapping?, dryRun: Bool = false
    ) async throws -> (summary: ReprocessSummary, valid: [Observation], quarantined: [QuarantinedRecord]) {
        var summary = ReprocessSummary(adapter: adapter)
        summary.records = records.count
        let started = now()
        let context = PullContext(province: province, collectedAt: started)
        if let other = records.first(where: { $0.adapter != adapter }) {
            throw StoreError("record #\(other.id) is \(other.adapter)'s, not \(adapter)'s")
        }
        var pulled: [PulledRecord] = []
        for record in records {
            let stored = try JSONValue.parse(Data(record.record.utf8))
            let failedMapping = !record.reasons.isEmpty && record.reasons.allSatisfy { $0.rule.hasPrefix("mapping.") }
            // What a CSV row with the wrong number of fields, or a program's line that is not an
            // object, is stored as (its fields, its line) is no record a mapping can read.
            let remappable = failedMapping && !record.reasons.contains { Self.unmappableRules.contains($0.rule) }
            if let mapping, let source = try record.source.map({ try JSONValue.parse(Data($0.utf8)) }) ?? (remappable ? stored : nil) {
                summary.remapped += 1
                pulled += mapping.mapAll(source, context: context)
            } else if failedMapping {
                pulled.append(.failed(record: stored, reasons: record.reasons))
            } else {
                pulled.append(.mapped(stored))
            }
        }
        var valid: [Observation] = []
        var quarantined: [QuarantinedRecord] = []
        var unique = UniqueObservations()
        await Self.check(
            pulled[...], contracts: contracts, rules: SemanticRules(catalogue: contracts.catalogue, province: province), valid: &valid,
            quarantined: &quarantined, unique: &unique)
        var figures = FigureRevisions(resendUnchanged: resendUnchanged)
        let keys = valid.map(\.figureKey)
        let latest = try await store.latestRevisions(of: keys)
        figures.decide(&valid, from: 0, keys: keys, latest: latest, quarantined: &quarantined)
        summary.sent = valid.count
        summary.revisions = figures.revisions
        summary.unchanged = figures.unchanged
        summary.quarantined = quarantined.count
        summary.skipped = unique.skipped.values.reduce(0, +)
        guard !dryRun else { return (summary, valid, quarantined) }
        let reports = try await signReports(valid, adapter: adapter, createdAt: started)
        summary.reports = reports.count
        _ = try await store.commit(
            PullCommit(
                adapter: adapter, startedAt: started, pulledRecords: pulled.count, reports: reports, quarantined: quarantined, cursor: nil,
                unchanged: figures.unchanged, revisions: figures.revisions, skipped: summary.skipped, replacesQuarantined: records.map(\.id)
            ),
            now: now())
        return (summary, valid, quarantined)
    }
}
