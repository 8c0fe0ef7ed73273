import Foundation
import GatewayAdapters
import GatewayContracts
import GatewayStore

/// What one pull of an adapter would do, with nothing stored or sent: `adapters test` and the
/// console's dry run print the same value.
public struct DryRun: Sendable {
    public var adapter: String
    public var records = 0
    /// What a pull would send, revisions included.
    public var send: [Observation] = []
    public var revisions = 0
    /// What the centre holds already with the same value.
    public var unchanged: [Observation] = []
    public var quarantined: [QuarantinedRecord] = []
    /// Records skipped, by the code that made the adapter skip them.
    public var skipped: [String: Int] = [:]
    /// The cursor the next pull would start from: the pull's, or the one it started from.
    public var nextCursor: String?
    /// Why the figures ledger was not consulted (every figure is then shown as new).
    public var ledgerProblem: String?

    /// Reasons by rule: a record failing two rules counts under each.
    public var quarantinedByRule: [String: Int] {
        quarantined.reduce(into: [:]) { counts, record in for reason in record.reasons { counts[reason.rule, default: 0] += 1 } }
    }
    public var skippedCount: Int { skipped.values.reduce(0, +) }

    /// Pulls from `adapter` (from `cursor`) and checks the records as a pull would, against the
    /// ledger `figures` reads when given. Throws when the pull itself fails.
    public static func run(
        _ adapter: any Adapter, cursor: String? = nil, contracts: ContractSet, province: String,
        figures: (@Sendable ([Observation]) async throws -> PullRunner.Decision)?
    ) async throws -> DryRun {
        let output = try await adapter.pull(cursor: cursor, context: PullContext(province: province, collectedAt: Date()))
        var result = DryRun(adapter: adapter.name)
        result.records = output.records.count
        result.nextCursor = output.nextCursor ?? cursor
        let checked = await PullRunner.check(output, contracts: contracts, province: province)
        (result.send, result.quarantined, result.skipped) = (checked.valid, checked.quarantined, checked.skipped)
        if let figures {
            do {
                let decided = try await figures(checked.valid)
                (result.send, result.unchanged, result.revisions) = (decided.send, decided.unchanged, decided.revisions)
                result.quarantined += decided.quarantined
            } catch {
                result.ledgerProblem = "\(error)"
            }
        }
        return result
    }
}

extension PullRunner {
    public typealias Decision = (send: [Observation], quarantined: [QuarantinedRecord], unchanged: [Observation], revisions: Int)
}

/// The ledger of a gateway that has sent nothing yet.
public struct NoFiguresYet: FiguresLedger {
    public init() {}
    public func latestRevisions(of keys: [FigureKey]) async throws -> [FigureKey: LedgerEntry] { [:] }
    public func revisions(of key: FigureKey) async throws -> [LedgerEntry] { [] }
    public func latestFigures(indicator: String?, period: String?) async throws -> [LedgerEntry] { [] }
    public func latestAcceptedFigures() async throws -> [LedgerEntry] { [] }
    public func acceptance(indicator: String, periods: [String]) async throws -> [FigureKey: FigureAcceptance] { [:] }
}
