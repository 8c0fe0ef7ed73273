import Foundation
import GatewayContracts
import GatewayJSON
import GatewayPipeline
import GatewayStore
import Testing

@Suite("Deciding figures against the ledger")
struct FigureDecisionTests {
    /// A ledger holding what a test gives it.
    struct GivenLedger: FiguresLedger {
        var entries: [FigureKey: LedgerEntry] = [:]
        func latestRevisions(of keys: [FigureKey]) async throws -> [FigureKey: LedgerEntry] { entries.filter { keys.contains($0.key) } }
        func revisions(of key: FigureKey) async throws -> [LedgerEntry] { entries[key].map { [$0] } ?? [] }
        func latestFigures(indicator: String?, period: String?) async throws -> [LedgerEntry] { Array(entries.values) }
        func latestAcceptedFigures() async throws -> [LedgerEntry] { entries.values.filter { $0.acceptedAt != nil } }
        func acceptance(indicator: String, periods: [String]) async throws -> [FigureKey: FigureAcceptance] { [:] }
    }

    static func observation(_ area: String, value: Double, record: String? = nil) -> Observation {
        Observation(
            indicator: "HSCV_DIEN_TU", province: "14", level: .commune, area: area, period: "2025-Q3", value: value, unit: "percent",
            sourceSystem: "qlvb", sourceRecordID: record ?? "R-\(area)", collectedAt: "2026-11-22T04:00:00.000Z")
    }

    @Test("new figures are revision 1, changed ones the next revision naming what they replace, unchanged ones are held back")
    func decisions() async throws {
        let changed = Self.observation("03649", value: 80)
        var ledger = GivenLedger()
        for (area, value, revision) in [("03646", 70.0, 1), ("03649", 75.0, 3)] {
            let key = Self.observation(area, value: value).figureKey
            ledger.entries[key] = LedgerEntry(
                key: key, revision: revision, value: FigureValue(value: value, unit: "percent"), reportID: "r-\(area)", adapter: "a",
                storedAt: Date(), acceptedAt: nil)
        }
        let decided = try await PullRunner.decide(
            [Self.observation("03646", value: 70), changed, Self.observation("03652", value: 60)], against: ledger)
        #expect(decided.send.map(\.area) == ["03649", "03652"])
        #expect(decided.send.map(\.revision) == [4, 1])
        #expect(decided.send[0].replaces == Observation.Replaced(revision: 3, reportID: "r-03649") && decided.send[1].replaces == nil)
        #expect(decided.unchanged.map(\.area) == ["03646"] && decided.revisions == 1 && decided.quarantined.isEmpty)
        let printed = String(decoding: try decided.send[1].jsonValue.canonicalData(), as: UTF8.self)
        #expect(printed.contains(#""revision":1"#), "\(printed)")

        let resent = try await PullRunner.decide([Self.observation("03646", value: 70)], against: ledger, resendUnchanged: true)
        #expect(resent.send.map(\.revision) == [1] && resent.unchanged.isEmpty)
    }

    @Test("revision and replaces survive the JSON the report is signed in, and the report id depends on them")
    func revisionInJSON() throws {
        var observation = Self.observation("03646", value: 70)
        observation.revision = 2
        observation.replaces = .init(revision: 1, reportID: "0a5b1c2d-0000-8000-8000-000000000001")
        let decoded = try Observation(json: try JSONValue.parse(try observation.jsonValue.canonicalData()))
        #expect(decoded == observation)
        let viaEncoder = try JSONDecoder().decode(Observation.self, from: try JSONEncoder().encode(observation))
        #expect(viaEncoder == observation)
        var first = observation
        first.revision = 1
        first.replaces = nil
        #expect(Observation.identityBytes(of: [first]) != Observation.identityBytes(of: [observation]))
        guard case .object(var members) = observation.jsonValue else { Issue.record("not an object"); return }
        members["revision"] = .number(0)
        #expect(throws: ObservationDecodingError.self) { try Observation(json: .object(members)) }
    }
}
