import Foundation
import GatewayContracts
import GatewayJSON

/// A source of indicator records. Adapters are small values built once from configuration;
/// the pipeline owns scheduling, validation, signing and storage.
public protocol Adapter: Sendable {
    /// Unique name, used for the cursor, logs and quarantine.
    var name: String { get }
    /// When the pipeline pulls, and how a failed pull is retried.
    var schedule: PullSchedule { get }
    /// Fetches the records after `cursor` and maps them. Throws when the pull as a whole fails;
    /// records that fail one by one come back as `.failed` and are quarantined.
    func pull(cursor: String?, context: PullContext) async throws -> PullOutput
    /// The same pull handed over a page at a time, each page as soon as it is mapped, so the
    /// gateway checks, signs and stores one page while the source serves the next and holds no
    /// more than a page or two of a long history at once. Returns the cursor for the next pull
    /// (`nil` keeps the current one). By default the whole pull is one page.
    func pullPages(cursor: String?, context: PullContext, eachPage: ([PulledRecord]) async throws -> Void) async throws -> String?
}

extension Adapter {
    public func pullPages(cursor: String?, context: PullContext, eachPage: ([PulledRecord]) async throws -> Void) async throws -> String? {
        let output = try await pull(cursor: cursor, context: context)
        try await eachPage(output.records)
        return output.nextCursor
    }
}

/// What an adapter knows of the gateway while pulling.
public struct PullContext: Sendable {
    /// The reporting province's code, filled into observations that do not map one.
    public var province: String
    /// Pull time, written as every observation's `collected_at`.
    public var collectedAt: Date {
        didSet { collectedAtText = Timestamps.format(collectedAt) }
    }
    /// `collectedAt` as RFC 3339, formatted once per pull rather than once per record.
    public private(set) var collectedAtText: String

    public init(province: String, collectedAt: Date) {
        self.province = province
        self.collectedAt = collectedAt
        self.collectedAtText = Timestamps.format(collectedAt)
    }
}

public enum PulledRecord: Sendable, Equatable {
    /// An observation in its JSON form, still to be validated by the contracts, and the source's
    /// record it was mapped from (kept with it if it is quarantined, to be mapped again later).
    case mapped(JSONValue, source: JSONValue? = nil)
    /// A record that could not be mapped, with the source's record and why.
    case failed(record: JSONValue, reasons: [QuarantineReason])
    /// A record of a code the adapter says to skip (`skip:`, `unmatched: skip`): counted, never
    /// quarantined, never sent.
    case skipped(field: String, value: String)
}

public struct PullOutput: Sendable {
    public var records: [PulledRecord]
    /// The cursor for the next pull; `nil` keeps the current one.
    public var nextCursor: String?

    public init(records: [PulledRecord], nextCursor: String?) {
        self.records = records
        self.nextCursor = nextCursor
    }
}

/// A pull that failed as a whole; always names the adapter.
public struct PullError: Error, Sendable, CustomStringConvertible {
    public let adapter: String
    public let message: String
    public init(adapter: String, _ message: String) {
        self.adapter = adapter
        self.message = message
    }
    public var description: String { "adapter \(adapter): \(message)" }
}
