import Crypto
import Foundation
import GatewayAdapters
import GatewayContracts
import GatewayJSON
import GatewaySigning
import GatewayStore

/// What one pull did, for logs, the demo and tests.
public struct PullSummary: Sendable, Equatable {
    public var adapter: String
    public var pulled: Int
    public var valid: Int
    public var quarantined: Int
    public var reports: Int
    /// Records the pull met again after one just like them (shifted or repeated pages), reported once.
    public var duplicates: Int = 0
    /// Records newly quarantined, by the class of their first reason (`schema`, `mapping`,
    /// `indicator`, …); those held already from an earlier pull are `stillQuarantined`.
    public var quarantinedByClass: [String: Int] = [:]
    /// Quarantined records the store held already, unchanged with the same reasons: counted, not
    /// stored again, so a source that serves the same bad records at every pull does not fill it.
    public var stillQuarantined = 0
    /// Valid observations of figures already sent with the same value: counted, not sent again.
    public var unchanged = 0
    /// Observations sent as a new revision of a figure already sent.
    public var revisions = 0
    /// Records of codes the adapter skips, by field and value (`indicator=TK_KHAC`).
    public var skipped: [String: Int] = [:]
}

/// One pull from start to commit: fetch and map, validate, batch, sign, store.
public struct PullRunner: Sendable {
    public let gatewayID: String
    public let province: String
    public let contracts: ContractSet
    public let signer: JWSSigner
    public let serialization: JWSSerialization
    public let store: any PullLedger & FiguresLedger
    public let maxObservationsPerReport: Int
    /// Send figures the centre holds already with the same value (`delivery.resend_unchanged`).
    public let resendUnchanged: Bool
    let now: @Sendable () -> Date

    public init(
        gatewayID: String, province: String, contracts: ContractSet, signer: JWSSigner, serialization: JWSSerialization = .flattened,
        store: any PullLedger & FiguresLedger, maxObservationsPerReport: Int, resendUnchanged: Bool = false,
        now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.resendUnchanged = resendUnchanged
        self.serialization = serialization
        self.gatewayID = gatewayID
        self.province = province
        self.contracts = contracts
        self.signer = signer
        self.store = store
        self.maxObservationsPerReport = maxObservationsPerReport
        self.now = now
    }

    /// Reports' worth of valid observations a long pull gathers before it signs and stores them
    /// ahead of its commit, so that delivery runs while the rest is fetched, checked and signed.
    public static let reportsStoredAhead = 10

    /// One pull. Its records come a page at a time and are checked in parts; whenever a part
    /// leaves `reportsStoredAhead` reports' worth of valid observations, those are signed and
    /// stored at once (`whenStored` is told, to wake delivery). What is left, under that, goes
    /// with the commit that moves the cursor and records the pull. Reports are cut from the valid
    /// observations in order exactly as if all were cut at once, so their ids depend neither on
    /// the pages nor on the parts: a pull that fails after storing some and runs again stores
    /// none of them twice.
    public func pullOnce(_ adapter: any Adapter, whenStored: @escaping @Sendable () -> Void = {}) async throws -> PullSummary {
        let started = now()
        let cursor = try await store.cursor(for: adapter.name)
        let rules = SemanticRules(catalogue: contracts.catalogue, province: province)
        var pulled = 0
        var unreported: [Observation] = []
        var quarantined: [QuarantinedRecord] = []
        var unique = UniqueObservations()
        var figures = FigureRevisions(resendUnchanged: resendUnchanged)
        var storedAhead = ReportTally()
        // Other processes' figures are looked for at the pull's first lookup only (see `OtherWritersSeen`).
        var otherWriters = OtherWritersSeen.upToNow
        let recordsPerPart = maxObservationsPerReport * Self.reportsStoredAhead
        let context = PullContext(province: province, collectedAt: started)
        // One part is signed and stored while the next is checked; waiting for it before handing
        // over another keeps parts in order and memory to two parts.
        let nextCursor = try await withThrowingTaskGroup(of: ReportTally.self) { storing in
            var partUnderWay = false
            let nextCursor = try await adapter.pullPages(cursor: cursor, context: context) { page in
                pulled += page.count
                for partStart in stride(from: 0, to: page.count, by: recordsPerPart) {
                    let part = page[partStart..<min(partStart + recordsPerPart, page.count)]
                    // Checked onto the end of what is not reported yet and decided there, in place.
                    let start = unreported.count
                    await Self.check(
                        part, contracts: contracts, rules: rules, valid: &unreported, quarantined: &quarantined, unique: &unique)
                    let keys = Observation.mapFigures(unreported[start...]) { key, _, _ in key }
                    let latest = try await store.latestRevisions(of: keys, otherWriters: otherWriters)
                    otherWriters = .upToLastCheck
                    figures.decide(&unreported, from: start, keys: keys, latest: latest, quarantined: &quarantined)
                    guard unreported.count >= recordsPerPart else { continue }
                    if partUnderWay, let stored = try await storing.next() { storedAhead = storedAhead.adding(stored) }
                    try Task.checkCancellation()
                    let whole = unreported.count - unreported.count % maxObservationsPerReport
                    let batches = Self.takeReports(whole, of: &unreported, perReport: maxObservationsPerReport)
                    storing.addTask {
                        let reports = try await signReports(batches: batches, adapter: adapter.name, createdAt: started)
                        try Task.checkCancellation()
                        try await store.storeReports(reports, adapter: adapter.name, now: now())
                        whenStored()
                        return ReportTally().adding(reports)
                    }
                    partUnderWay = true
                }
            }
            if partUnderWay, let stored = try await storing.next() { storedAhead = storedAhead.adding(stored) }
            return nextCursor
        }

        let reports = try await signReports(
            batches: Self.takeReports(unreported.count, of: &unreported, perReport: maxObservationsPerReport), adapter: adapter.name,
            createdAt: started)
        try Task.checkCancellation()
        let commit = PullCommit(
            adapter: adapter.name, startedAt: started, pulledRecords: pulled, reports: reports,
            quarantined: quarantined, cursor: nextCursor, storedAhead: storedAhead, unchanged: figures.unchanged,
            revisions: figures.revisions, skipped: unique.skipped.values.reduce(0, +))
        let outcome = try await store.commit(commit, now: now())
        if !reports.isEmpty { whenStored() }
        var byClass: [String: Int] = [:]
        for (position, record) in quarantined.enumerated() where !outcome.alreadyHeld.contains(position) {
            byClass[record.reasons.first.map { String($0.rule.prefix { $0 != "." }) } ?? "unknown", default: 0] += 1
        }
        let totals = commit.totals
        return PullSummary(
            adapter: adapter.name, pulled: pulled, valid: totals.observations, quarantined: quarantined.count,
            reports: totals.reports, duplicates: unique.duplicates, quarantinedByClass: byClass, stillQuarantined: outcome.stillQuarantined,
            unchanged: figures.unchanged, revisions: figures.revisions, skipped: unique.skipped)
    }

    /// `observations`, each of which passed `ContractSet.check`, in reports of at most
    /// `maxObservationsPerReport`, each checked against the report contract and signed.
    public func signReports(_ observations: [Observation], adapter: String, createdAt: Date) async throws -> [SignedReport] {
        let batches = stride(from: 0, to: observations.count, by: maxObservationsPerReport).map {
            Array(observations[$0..<min($0 + maxObservationsPerReport, observations.count)])
        }
        return try await signReports(batches: batches, adapter: adapter, createdAt: createdAt)
    }

    func signReports(batches: [[Observation]], adapter: String, createdAt: Date) async throws -> [SignedReport] {
        try await ParallelWork.map(batches) { batch in Result { try sign(batch, adapter: adapter, createdAt: createdAt) } }.map {
            try $0.get()
        }
    }

    /// The first `count` of `observations`, moved out in reports' worth, in order; the rest stay.
    /// Moved rather than copied: copying an observation retains and releases each of its strings.
    static func takeReports(_ count: Int, of observations: inout [Observation], perReport: Int) -> [[Observation]] {
        var taken: [Observation] = []
        swap(&taken, &observations)
        if count < taken.count {
            observations = Array(taken[count...])  // under a report's worth
            taken.removeSubrange(count...)
        }
        // Taken from the end (`popLast` gives each up), so the last report is filled first, from its end.
        var reports: [[Observation]] = []
        reports.reserveCapacity((count + perReport - 1) / perReport)
        while !taken.isEmpty {
            let size = taken.count % perReport == 0 ? perReport : taken.count % perReport
            reports.append(
                Array(unsafeUninitializedCapacity: size) { report, initialized in
                    for position in (0..<size).reversed() { (report.baseAddress! + position).initialize(to: taken.popLast()!) }
                    initialized = size
                })
        }
        reports.reverse()
        return reports
    }

    /// A pull's records checked against the contracts: what would be signed and what quarantined.
    /// Touches no store, so `adapters test` can show an operator exactly what a pull would give.
    public static func check(_ output: PullOutput, contracts: ContractSet, province: String) async -> (
        valid: [Observation], quarantined: [QuarantinedRecord], skipped: [String: Int]
    ) {
        var valid: [Observation] = []
        var quarantined: [QuarantinedRecord] = []
        var unique = UniqueObservations()
        await check(
            output.records[...], contracts: contracts, rules: SemanticRules(catalogue: contracts.catalogue, province: province),
            valid: &valid, quarantined: &quarantined, unique: &unique)
        return (valid, quarantined, unique.skipped)
    }

    /// What a pull would send of `valid` against the figures ledger, as `pullOnce` decides it:
    /// for `adapters test`, which shows an operator which figures are new, revised or unchanged.
    public static func decide(
        _ valid: [Observation], against ledger: any FiguresLedger, resendUnchanged: Bool = false
    ) async throws -> (send: [Observation], quarantined: [QuarantinedRecord], unchanged: [Observation], revisions: Int) {
        var figures = FigureRevisions(resendUnchanged: resendUnchanged, keepsUnchanged: true)
        var send = valid, quarantined: [QuarantinedRecord] = []
        let keys = Observation.mapFigures(valid[...]) { key, _, _ in key }
        let latest = try await ledger.latestRevisions(of: keys)
        figures.decide(&send, from: 0, keys: keys, latest: latest, quarantined: &quarantined)
        return (send, quarantined, figures.unchangedObservations, figures.revisions)
    }

    /// `records` checked on every core, their verdicts appended in the records' order; a valid
    /// observation the pull already met is counted and dropped, so no report holds a record twice.
    static func check(
        _ records: ArraySlice<PulledRecord>, contracts: ContractSet, rules: SemanticRules, valid: inout [Observation],
        quarantined: inout [QuarantinedRecord],
        unique: inout UniqueObservations
    ) async {
        await ParallelWork.map(records, { record in check(record, contracts: contracts, rules: rules) }) { verdict in
            switch verdict {
            case .valid(let observation, let fingerprint): if unique.isNew(fingerprint) { valid.append(observation) }
            case .quarantined(let record): quarantined.append(record)
            case .skipped(let field, let value): unique.skip(field: field, value: value)
            }
        }
    }

    /// The observations a pull has met, by fingerprint (16 bytes each, not the observations).
    struct UniqueObservations {
        private var seen = Set<Observation.Fingerprint>()
        private(set) var duplicates = 0
        /// Records of codes the adapter skips, by field and value (`indicator=TK_KHAC`).
        private(set) var skipped: [String: Int] = [:]

        mutating func skip(field: String, value: String) { skipped["\(field)=\(value)", default: 0] += 1 }

        mutating func isNew(_ fingerprint: Observation.Fingerprint) -> Bool {
            if seen.insert(fingerprint).inserted { return true }
            duplicates += 1
            return false
        }
    }

    enum Checked: Sendable {
        /// With its fingerprint, computed on the core that checked it.
        case valid(Observation, Observation.Fingerprint)
        case quarantined(QuarantinedRecord)
        case skipped(field: String, value: String)
    }

    static func check(_ record: PulledRecord, contracts: ContractSet, rules: SemanticRules) -> Checked {
        switch record {
        case .failed(let raw, let reasons):
            return .quarantined(QuarantinedRecord(record: raw, reasons: reasons))
        case .skipped(let field, let value):
            return .skipped(field: field, value: value)
        case .mapped(let mapped, let source):
            switch contracts.check(mapped, rules: rules) {
            case .success(let observation): return .valid(observation, observation.fingerprint)
            case .failure(let failure): return .quarantined(QuarantinedRecord(record: mapped, reasons: failure.reasons, source: source))
            }
        }
    }

    func sign(_ observations: [Observation], adapter: String, createdAt: Date) throws -> SignedReport {
        let figures = Observation.mapFigures(observations[...]) { key, revision, value in
            ReportedFigure(key: key, revision: revision ?? 1, value: value)
        }
        // A contract before 1.2 has no revisions: the ledger keeps them, the report does not.
        var observations = observations
        if !contracts.carriesRevisions, observations.contains(where: { $0.revision != nil || $0.replaces != nil }) {
            for index in observations.indices {
                observations[index].revision = nil
                observations[index].replaces = nil
            }
        }
        let envelope = ReportEnvelope(
            contractVersion: contracts.version, reportID: Self.reportID(adapter: adapter, observations: observations),
            gatewayID: gatewayID, province: province, adapter: adapter, createdAt: Timestamps.format(createdAt),
            observations: observations)
        try checkAgainstContract(envelope)
        let jws = try signer.sign(payload: envelope.canonicalData())
        let (body, detachedSignature) = try jws.message(serialization)
        return SignedReport(
            reportID: envelope.reportID, body: body, contentType: serialization.contentType, detachedSignature: detachedSignature,
            contentDigest: ContentDigest.sha256(body), observationCount: observations.count, figures: figures)
    }

    /// The report as the centre will check it; a failure here is a bug in the gateway, never sent.
    /// Every observation passed the observation schema when it was checked, and since then only
    /// its `revision` and `replaces` were set. So the envelope's own members are checked with its
    /// first observation, and in full every observation whose revision can break the schema (one
    /// after the first, which must say what it replaces); a first revision cannot. The count the
    /// schema bounds is bounded first by `delivery.max_observations` (1…100,000 at load). Checking
    /// every observation of every report again was a sixth of what signing cost.
    func checkAgainstContract(_ envelope: ReportEnvelope) throws {
        var violations: [String] = []
        var sample = envelope
        sample.observations = Array(envelope.observations.prefix(1))
        let payload = sample.jsonValue
        if !contracts.reportValidator.isValid(payload) {
            violations += contracts.reportValidator.validate(payload).map(\.description)
        }
        for (index, observation) in envelope.observations.enumerated()
        where index > 0 && ((observation.revision ?? 1) != 1 || observation.replaces != nil) {
            let value = observation.jsonValue
            guard !contracts.observationValidator.isValid(value) else { continue }
            let place = JSONPointer(tokens: ["observations", String(index)])
            violations += contracts.observationValidator.validate(value).map { $0.located(under: place).description }
        }
        guard violations.isEmpty else {
            throw PipelineError("report envelope fails its own contract: \(violations.joined(separator: "; "))")
        }
    }

    /// A UUID (version 8, RFC 9562) from SHA-256 of the adapter and the observations' facts and
    /// values, leaving out collection time: the same figures pulled twice make the same report id,
    /// so the centre keeps them once even if the source serves them again.
    static func reportID(adapter: String, observations: [Observation]) -> String {
        var hasher = SHA256()
        hasher.update(data: Data(adapter.utf8))
        // All observations' bytes in one buffer and one update: an update per observation, and a
        // copy of each to blank its collection time, were most of the cost of the id.
        hasher.update(data: Observation.identityBytes(of: observations))
        var bytes = Array(hasher.finalize().prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x80
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        return UUID(
            uuid: (
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8], bytes[9],
                bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
            )
        ).uuidString.lowercased()
    }
}

public struct PipelineError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
