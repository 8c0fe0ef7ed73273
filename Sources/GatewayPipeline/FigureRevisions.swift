import GatewayContracts
import GatewayStore

/// What a pull decides for each valid observation against the figures ledger: the first value
/// of a figure is revision 1, a changed one the next revision (naming the one it replaces), an
/// unchanged one is counted and not sent (unless the centre wants repeats).
struct FigureRevisions {
    let resendUnchanged: Bool
    /// The figures this pull has decided already, so one met again is judged against this pull.
    private var decided: [FigureKey: (revision: Int, value: FigureValue)] = [:]
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

    /// Decides `observations` (appended to `valid` with their revisions, or dropped), given the
    /// ledger's latest revision of each; a figure this pull met already with another value goes to
    /// `quarantined`, since the source gave two values for one figure and neither can be chosen.
    mutating func decide(
        _ observations: [Observation], latest: [FigureKey: LedgerEntry], valid: inout [Observation],
        quarantined: inout [QuarantinedRecord]
    ) {
        for var observation in observations {
            let key = observation.figureKey, value = observation.figureValue
            if let earlier = decided[key] {
                if earlier.value == value {
                    countUnchanged(observation)
                } else {
                    quarantined.append(
                        QuarantinedRecord(
                            record: observation.jsonValue,
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
                    decided[key] = (current.revision, value)
                    guard resendUnchanged else {
                        countUnchanged(observation)
                        continue
                    }
                    observation.revision = current.revision
                    observation.replaces = nil
                } else {
                    let revision = current.revision + 1
                    observation.revision = revision
                    observation.replaces = Observation.Replaced(revision: current.revision, reportID: current.reportID)
                    revisions += 1
                    decided[key] = (revision, value)
                }
            } else {
                observation.revision = 1
                observation.replaces = nil
                decided[key] = (1, value)
            }
            valid.append(observation)
        }
    }

    static func show(_ value: FigureValue) -> String {
        var text = SemanticRules.show(value.value)
        if let numerator = value.numerator, let denominator = value.denominator {
            text += " = \(SemanticRules.show(numerator))/\(SemanticRules.show(denominator))"
        }
        return text + " " + value.unit
    }
}
