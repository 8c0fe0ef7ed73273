import GatewayContracts
import GatewayStore

/// What a pull decides for each valid observation against the figures ledger: the first value
/// of a figure is revision 1, a changed one the next revision (naming the one it replaces), an
/// unchanged one is counted and not sent (unless the centre wants repeats).
struct FigureRevisions {
    let resendUnchanged: Bool
    /// The figures this pull has decided already, so one met again is judged against this pull.
    private var decided = FigureTable<(revision: Int, value: FigureValue)>()
    private(set) var unchanged = 0
    private(set) var revisions = 0
    /// The unchanged observations themselves, kept only when asked (`adapters test` prints them;
    /// a pull only counts them).
    private let keepsUnchanged: Bool
    private(set) var unchangedObservations: [Observation] = []

    init(resendUnchanged: Bool, keepsUnchanged: Bool = false) {
        self.resendUnchanged = resendUnchanged
        self.keepsUnchanged = keepsUnchanged
    }

    private mutating func countUnchanged(_ observation: Observation) {
        unchanged += 1
        if keepsUnchanged { unchangedObservations.append(observation) }
    }

    /// Decides the observations of `observations` from `start` on, whose figures are `keys`, in
    /// place: each kept gets its revision and the dropped ones are removed, the kept staying in
    /// order. Given the ledger's latest revision of each figure; a figure this pull met already
    /// with another value goes to `quarantined`, since the source gave two values for one figure
    /// and neither can be chosen. In place, because moving every observation from one array to
    /// another retained and released each of its strings, a visible share of a pull.
    mutating func decide(
        _ observations: inout [Observation], from start: Int, keys: [FigureKey], latest: [FigureKey: LedgerEntry],
        quarantined: inout [QuarantinedRecord]
    ) {
        var kept = start
        for (offset, read) in (start..<observations.count).enumerated() {
            let key = keys[offset]
            let value = observations[read].figureValue
            let revision: Int
            var replaces: Observation.Replaced? = nil
            if let earlier = decided[key] {
                if earlier.value == value {
                    countUnchanged(observations[read])
                } else {
                    quarantined.append(
                        QuarantinedRecord(
                            record: observations[read].jsonValue,
                            reasons: [
                                QuarantineReason(
                                    pointer: "", rule: "figure.repeated",
                                    message:
                                        "the figure \(key) came twice in this pull with different values (\(Self.show(earlier.value)), then \(Self.show(value))); neither is sent until the source gives one"
                                )
                            ]))
                }
                continue
            }
            if let current = latest[key] {
                if current.value == value {
                    decided.append((current.revision, value), for: key)
                    guard resendUnchanged else {
                        countUnchanged(observations[read])
                        continue
                    }
                    revision = current.revision
                } else {
                    revision = current.revision + 1
                    replaces = Observation.Replaced(revision: current.revision, reportID: current.reportID)
                    revisions += 1
                    decided.append((revision, value), for: key)
                }
            } else {
                revision = 1
                decided.append((1, value), for: key)
            }
            if kept != read { observations.swapAt(kept, read) }
            observations[kept].revision = revision
            observations[kept].replaces = replaces
            kept += 1
        }
        observations.removeSubrange(kept...)
    }

    static func show(_ value: FigureValue) -> String {
        var text = SemanticRules.show(value.value)
        if let numerator = value.numerator, let denominator = value.denominator {
            text += " = \(SemanticRules.show(numerator))/\(SemanticRules.show(denominator))"
        }
        return text + " " + value.unit
    }
}
