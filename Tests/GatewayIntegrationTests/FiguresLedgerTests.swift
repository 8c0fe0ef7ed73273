import Foundation
import GatewayAdapters
import GatewayContracts
import GatewayDelivery
import GatewayHTTP
import GatewayJSON
import GatewayPipeline
import GatewaySigning
import GatewayStore
import GatewayTestKit
import Synchronization
import Testing

@Suite("The figures ledger: revisions instead of repeats")
struct FiguresLedgerTests {
    /// A source whose records a test changes between pulls, served whole at every pull.
    final class ChangingSource: Adapter, Sendable {
        let name = "qlvb"
        let schedule = PullSchedule.every(.seconds(3600))
        let records: Mutex<[PulledRecord]>

        init(_ records: [PulledRecord]) { self.records = Mutex(records) }

        func pull(cursor: String?, context: PullContext) async throws -> PullOutput {
            PullOutput(records: records.withLock { $0 }, nextCursor: nil)
        }
    }

    /// A commune's share of work records handled electronically in 2025-Q3.
    static func commune(_ area: String, electronic: Double, total: Double = 200, record: String? = nil) -> PulledRecord {
        .mapped(
            Observation(
                indicator: "HSCV_DIEN_TU", province: "14", level: .commune, area: area, period: "2025-Q3",
                value: (electronic / total * 10_000).rounded() / 100, unit: "percent", numerator: electronic, denominator: total,
                sourceSystem: "qlvb", sourceRecordID: record ?? "R-\(area)", collectedAt: "2026-11-22T04:00:00.000Z"
            ).jsonValue)
    }

    static let key = SigningKey.generate()

    static func runner(
        _ store: any GatewayStore, contractVersion: String? = nil, resendUnchanged: Bool = false
    ) throws -> PullRunner {
        PullRunner(
            gatewayID: "gw-14", province: "14",
            contracts: try ContractSet.load(from: repositoryRoot.appendingPathComponent("Contracts"), version: contractVersion),
            signer: JWSSigner(key: key, type: "lgsp-report+jws"), store: store, maxObservationsPerReport: 10,
            resendUnchanged: resendUnchanged)
    }

    /// The observations of a stored report, read back from its signature's payload.
    static func observations(in reportID: String, of store: any GatewayStore) async throws -> [JSONValue] {
        let report = try #require(try await store.signedReport(reportID: reportID))
        let payload = try JSONVerifier.payload(of: report.body)
        return payload["observations"]?.arrayValue ?? []
    }

    enum JSONVerifier {
        static func payload(of body: Data) throws -> JSONValue {
            try JSONValue.parse(try JWSVerifier(keys: [FiguresLedgerTests.key.publicKey]).verify(try FlattenedJWS.decode(body)).payload)
        }
    }

    static func figureKey(_ area: String) -> FigureKey {
        FigureKey(indicator: "HSCV_DIEN_TU", province: "14", level: .commune, area: area, period: "2025-Q3")
    }

    @Test("a report the gateway got wrong is refused before it is signed, wherever in it the fault is")
    func reportsAreCheckedBeforeTheyAreSigned() async throws {
        let store = try await openStore(.sqlite)
        try await store.withRunning {
            let runner = try Self.runner(store)
            func observation(_ area: String, revision: Int?, replaces: Observation.Replaced?) throws -> Observation {
                guard case .mapped(let json, _) = Self.commune(area, electronic: 150) else { throw PipelineError("not mapped") }
                var observation = try Observation(json: json)
                (observation.revision, observation.replaces) = (revision, replaces)
                return observation
            }
            let replaced = Observation.Replaced(revision: 1, reportID: "0193a1b2-0000-8000-8000-000000000000")
            let fine = [
                try observation("03646", revision: 1, replaces: nil), try observation("03649", revision: 2, replaces: replaced),
            ]
            #expect(try await runner.signReports(fine, adapter: "qlvb", createdAt: Date()).count == 1)
            let faults: [(String, [Observation], at: String)] = [
                (
                    "a revision that does not say what it replaces", [fine[0], try observation("03649", revision: 2, replaces: nil)],
                    "/observations/1"
                ),
                (
                    "a replaced report id that is not one",
                    [fine[0], try observation("03649", revision: 2, replaces: .init(revision: 1, reportID: "R-1"))], "/observations/1"
                ),
                ("a revision below 1", [fine[0], fine[0], try observation("03652", revision: 0, replaces: nil)], "/observations/2"),
                ("the first observation's revision below 1", [try observation("03652", revision: 0, replaces: nil)], "/observations/0"),
            ]
            for (fault, observations, place) in faults {
                let error = await #expect(throws: PipelineError.self, "\(fault)") {
                    try await runner.signReports(observations, adapter: "qlvb", createdAt: Date())
                }
                #expect(error?.message.contains(place) == true, "\(fault): \(error?.message ?? "")")
            }
            await #expect(throws: PipelineError.self, "an adapter name past the contract's 64 characters") {
                try await runner.signReports(fine, adapter: String(repeating: "q", count: 65), createdAt: Date())
            }
        }
    }

    @Test(
        "a figure's first value is revision 1; unchanged it is not sent again; changed it goes as revision 2 naming the report it replaces; delivery marks it accepted; a purged dead letter's figures are sent again",
        arguments: StoreBackend.available)
    func revisionsInsteadOfRepeats(backend: StoreBackend) async throws {
        let store = try await openStore(backend)
        try await store.withRunning {
            let runner = try Self.runner(store)
            let source = ChangingSource([
                Self.commune("03646", electronic: 150), Self.commune("03649", electronic: 160), Self.commune("03652", electronic: 170),
            ])
            let first = try await runner.pullOnce(source)
            #expect(first.valid == 3 && first.reports == 1 && first.unchanged == 0 && first.revisions == 0)
            let firstReport = try #require(try await store.entries(state: nil, limit: 10).first?.reportID)
            #expect(try await Self.observations(in: firstReport, of: store).allSatisfy { $0["revision"] == .number(1) })
            #expect(try await store.latestFigures(indicator: "HSCV_DIEN_TU", period: "2025-Q3").map(\.revision) == [1, 1, 1])

            // The same figures again, one under another source record: nothing to send.
            source.records.withLock { $0[2] = Self.commune("03652", electronic: 170, record: "R-again") }
            let again = try await runner.pullOnce(source)
            #expect(again.valid == 0 && again.reports == 0 && again.unchanged == 3)
            #expect(try await store.entries(state: nil, limit: 10).count == 1)

            // The department corrects one commune: only that figure goes, as its revision 2.
            source.records.withLock { $0[1] = Self.commune("03649", electronic: 165) }
            let corrected = try await runner.pullOnce(source)
            #expect(corrected.valid == 1 && corrected.reports == 1 && corrected.unchanged == 2 && corrected.revisions == 1)
            let revisionReport = try #require(
                try await store.entries(state: nil, limit: 10).map(\.reportID).first { $0 != firstReport })
            let sent = try await Self.observations(in: revisionReport, of: store)
            #expect(sent.count == 1 && sent[0]["area"] == .string("03649") && sent[0]["revision"] == .number(2))
            #expect(sent[0]["replaces"] == .object(["revision": .number(1), "report_id": .string(firstReport)]))
            let history = try await store.revisions(of: Self.figureKey("03649"))
            #expect(history.map(\.revision) == [1, 2] && history.map(\.value.numerator) == [160, 165])
            #expect(history.map(\.reportID) == [firstReport, revisionReport])

            // Delivered: its figures are accepted, with the centre's receipt.
            #expect(try await store.leaseDue(now: Date(), limit: 10, leaseDuration: 60).count == 2)
            try await store.complete(
                reportID: firstReport, attempt: 1, with: .delivered(status: 202, receipt: #"{"receipt_id":"c-1"}"#), now: Date())
            let accepted = try await store.latestRevisions(of: [Self.figureKey("03646"), Self.figureKey("03649")])
            #expect(accepted[Self.figureKey("03646")]?.acceptedAt != nil)
            #expect(accepted[Self.figureKey("03646")]?.receipt == #"{"receipt_id":"c-1"}"#)
            #expect(accepted[Self.figureKey("03649")]?.revision == 2 && accepted[Self.figureKey("03649")]?.acceptedAt == nil)

            // The revision's report is given up on and purged: the figure goes back to revision 1,
            // so the next pull sends the correction again rather than thinking it sent.
            try await store.complete(
                reportID: revisionReport, attempt: 1, with: .deadLetter(status: 422, response: nil, reason: "rejected by the test"),
                now: Date())
            try await store.purge(reportID: revisionReport)
            #expect(try await store.revisions(of: Self.figureKey("03649")).map(\.revision) == [1])
            let resent = try await runner.pullOnce(source)
            #expect(resent.revisions == 1 && resent.reports == 1 && resent.unchanged == 2)
        }
    }

    @Test(
        "a revision recorded meanwhile with another value refuses the report whole (two pulls deciding one figure at once)",
        arguments: StoreBackend.available)
    func concurrentRevisionsConflict(backend: StoreBackend) async throws {
        let store = try await openStore(backend)
        try await store.withRunning {
            let key = Self.figureKey("03646")
            func report(_ id: String, revision: Int, value: Double) -> SignedReport {
                SignedReport(
                    reportID: id, body: Data("{}".utf8), contentDigest: "sha-256=:\(id):", observationCount: 1,
                    figures: [ReportedFigure(key: key, revision: revision, value: FigureValue(value: value, unit: "percent"))])
            }
            try await store.storeReports([report("r-1", revision: 1, value: 70)], adapter: "a", now: Date())
            try await store.storeReports([report("r-2a", revision: 2, value: 75)], adapter: "a", now: Date())
            await #expect(throws: LedgerConflict.self) {
                try await store.storeReports([report("r-2b", revision: 2, value: 76)], adapter: "b", now: Date())
            }
            #expect(try await store.entry(reportID: "r-2b") == nil, "the conflicting report is not stored")
            // The same revision with the same value (a figure sent again on purpose) is no conflict.
            try await store.storeReports([report("r-2c", revision: 2, value: 75)], adapter: "a", now: Date())
            #expect(try await store.revisions(of: key).map(\.reportID) == ["r-1", "r-2a"])
        }
    }

    @Test(
        "the store adds up the accepted figures as progress reads them: latest accepted revision, province areas apart, communes together",
        arguments: StoreBackend.available)
    func acceptedTotals(backend: StoreBackend) async throws {
        let store = try await openStore(backend)
        try await store.withRunning {
            func figure(_ level: AdministrativeLevel, _ area: String, _ period: String, revision: Int, value: Double, parts: Bool = true)
                -> ReportedFigure
            {
                ReportedFigure(
                    key: FigureKey(indicator: "HSCV_DIEN_TU", province: "14", level: level, area: area, period: period), revision: revision,
                    value: FigureValue(value: value, numerator: parts ? value : nil, denominator: parts ? 100 : nil, unit: "percent"))
            }
            func report(_ id: String, _ figures: [ReportedFigure]) -> SignedReport {
                SignedReport(
                    reportID: id, body: Data("{}".utf8), contentDigest: "sha-256=:\(id):", observationCount: figures.count, figures: figures
                )
            }
            // A whole second: a Date of now does not survive a round trip through a DOUBLE PRECISION column exactly.
            let now = Date(timeIntervalSince1970: 1_800_000_000)
            try await store.storeReports(
                [
                    report(
                        "first",
                        [
                            figure(.commune, "03646", "2026-Q3", revision: 1, value: 50),
                            figure(.commune, "03649", "2026-Q3", revision: 1, value: 70),
                            figure(.province, "14", "2026-Q3", revision: 1, value: 61),
                            figure(.commune, "03652", "2026-Q2", revision: 1, value: 40, parts: false),
                        ]),
                    // A revision accepted, and one the centre has not accepted yet.
                    report("revised", [figure(.commune, "03646", "2026-Q3", revision: 2, value: 60)]),
                    report("not-yet", [figure(.province, "14", "2026-Q3", revision: 2, value: 99)]),
                ], adapter: "a", now: now)
            let leased = try await store.leaseDue(now: now, limit: 10, leaseDuration: 60).filter { $0.reportID != "not-yet" }
            _ = try await store.complete(
                leased.map {
                    CompletedAttempt(reportID: $0.reportID, attempt: $0.attempt, completion: .delivered(status: 202, receipt: nil))
                },
                now: now)
            let totals = try await store.acceptedTotals().sorted { ($0.period, $0.level.rawValue) < ($1.period, $1.level.rawValue) }
            #expect(
                totals == [
                    .init(
                        indicator: "HSCV_DIEN_TU", level: .commune, period: "2026-Q2", area: nil, value: nil, figures: 1, numerators: 0,
                        denominators: 0, lackingParts: 1),
                    .init(
                        indicator: "HSCV_DIEN_TU", level: .commune, period: "2026-Q3", area: nil, value: nil, figures: 2, numerators: 130,
                        denominators: 200, lackingParts: 0),
                    .init(
                        indicator: "HSCV_DIEN_TU", level: .province, period: "2026-Q3", area: "14", value: 61, figures: 1, numerators: 61,
                        denominators: 100, lackingParts: 0),
                ], "\(totals)")
            // The same as adding up the figures themselves.
            let figures = try await store.latestAcceptedFigures().map {
                ProgressReport.AcceptedFigure(
                    indicator: $0.key.indicator, area: $0.key.area, level: $0.key.level, period: $0.key.period, value: $0.value.value,
                    numerator: $0.value.numerator, denominator: $0.value.denominator)
            }
            #expect(ProgressReport.totals(of: figures).sorted { ($0.period, $0.level.rawValue) < ($1.period, $1.level.rawValue) } == totals)
        }
    }

    @Test("a SQLite gateway's store sees the figures another process recorded meanwhile (a command run beside it)")
    func figuresRecordedByAnotherProcess() async throws {
        let path = try makeTemporaryDirectory().appendingPathComponent("gateway.sqlite").path
        let owner = try SQLiteStore(path: path)
        let key = Self.figureKey("03646"), other = Self.figureKey("03649")
        func report(_ id: String, _ key: FigureKey) -> SignedReport {
            SignedReport(
                reportID: id, body: Data("{}".utf8), contentDigest: "sha-256=:\(id):", observationCount: 1,
                figures: [ReportedFigure(key: key, revision: 1, value: FigureValue(value: 70, unit: "percent"))])
        }
        try await owner.storeReports([report("r-1", key)], adapter: "a", now: Date())
        // The owner has read what its ledger holds, and keeps it as it records figures.
        #expect(try await owner.latestRevisions(of: [key, other]).keys.sorted { $0.area < $1.area } == [key])
        // Another process, as `lgsp-gateway quarantine reprocess` beside a running gateway, records a figure.
        let command = try SQLiteStore(path: path, exclusive: false)
        try await command.storeReports([report("r-2", other)], adapter: "a", now: Date())
        try await command.close()
        #expect(try await owner.latestRevisions(of: [key, other]).keys.sorted { $0.area < $1.area } == [key, other])
        // A lookup that does not look for other writers (a pull's after its first) still sees
        // every figure this process recorded since.
        let third = Self.figureKey("03652")
        try await owner.storeReports([report("r-3", third)], adapter: "a", now: Date())
        #expect(
            try await owner.latestRevisions(of: [key, other, third], otherWriters: .upToLastCheck).keys.sorted { $0.area < $1.area }
                == [key, other, third])
        try await owner.close()
    }

    @Test("a pull sees the figures another process recorded since the last pull: one already sent there is unchanged")
    func pullSeesAnotherProcessesFigures() async throws {
        let path = try makeTemporaryDirectory().appendingPathComponent("gateway.sqlite").path
        let owner = try SQLiteStore(path: path)
        let runner = try Self.runner(owner)
        // The first pull reads the ledger's figures; from then on the store keeps them as it records its own.
        #expect(try await runner.pullOnce(ChangingSource([Self.commune("03646", electronic: 150)])).reports == 1)
        // Another process (a command beside the gateway) records the next figure just as the source has it.
        let command = try SQLiteStore(path: path, exclusive: false)
        try await command.storeReports(
            [
                SignedReport(
                    reportID: "r-command", body: Data("{}".utf8), contentDigest: "sha-256=:r-command:", observationCount: 1,
                    figures: [
                        ReportedFigure(
                            key: Self.figureKey("03649"), revision: 1,
                            value: FigureValue(value: 80, numerator: 160, denominator: 200, unit: "percent"))
                    ])
            ], adapter: "a", now: Date())
        try await command.close()
        let again = try await runner.pullOnce(
            ChangingSource([Self.commune("03646", electronic: 150), Self.commune("03649", electronic: 160)]))
        #expect(again.unchanged == 2 && again.reports == 0 && again.revisions == 0)
        try await owner.close()
    }

    @Test("one figure twice in one pull: with another value both stay out and the second is quarantined as figure.repeated")
    func repeatedFigureInOnePull() async throws {
        let store = try await openStore(.sqlite)
        try await store.withRunning {
            let source = ChangingSource([
                Self.commune("03646", electronic: 150), Self.commune("03646", electronic: 150, record: "R-copy"),
                Self.commune("03646", electronic: 151, record: "R-other"),
            ])
            let summary = try await Self.runner(store).pullOnce(source)
            #expect(summary.valid == 1 && summary.unchanged == 1 && summary.quarantined == 1)
            let quarantined = try await store.quarantined(limit: 10)
            #expect(quarantined.count == 1 && quarantined[0].reasons.map(\.rule) == ["figure.repeated"])
            #expect(quarantined[0].reasons[0].message.contains("HSCV_DIEN_TU/14/commune/03646/2025-Q3"))
        }
    }

    @Test("resend_unchanged sends repeats under their revision; under contract 1.1 reports carry no revision and repeats are still skipped")
    func resendAndOlderContract() async throws {
        let store = try await openStore(.sqlite)
        try await store.withRunning {
            let source = ChangingSource([Self.commune("03646", electronic: 150), Self.commune("03649", electronic: 160)])
            let resending = try Self.runner(store, resendUnchanged: true)
            _ = try await resending.pullOnce(source)
            source.records.withLock { $0.append(Self.commune("03652", electronic: 170)) }
            let again = try await resending.pullOnce(source)
            #expect(again.valid == 3 && again.unchanged == 0 && again.reports == 1)
            let newest = try #require(try await store.entries(state: nil, limit: 10).last?.reportID)
            #expect(try await Self.observations(in: newest, of: store).map { $0["revision"] } == Array(repeating: .number(1), count: 3))

            let older = try Self.runner(store, contractVersion: "1.1")
            source.records.withLock { $0[0] = Self.commune("03646", electronic: 155) }
            let corrected = try await older.pullOnce(source)
            #expect(corrected.valid == 1 && corrected.revisions == 1 && corrected.unchanged == 2)
            let oldStyle = try #require(try await store.entries(state: nil, limit: 10).map(\.reportID).last)
            let observation = try #require(try await Self.observations(in: oldStyle, of: store).first)
            #expect(observation["revision"] == nil && observation["replaces"] == nil)
            #expect(try await store.revisions(of: Self.figureKey("03646")).map(\.revision) == [1, 2])
        }
    }

    @Test(
        "over HTTPS the centre keeps the highest revision: revision 2 delivered before revision 1 stands, and the late one is counted stale"
    )
    func centreOrdersByRevision() async throws {
        try await withSignedMocks { running, directory, _ in
            let store = try SQLiteStore(path: directory.appendingPathComponent("g.sqlite").path)
            let key = try SigningKey(contentsOf: directory.appendingPathComponent("signing-key.pem"))
            let runner = PullRunner(
                gatewayID: "gw-14", province: "14",
                contracts: try ContractSet.load(from: repositoryRoot.appendingPathComponent("Contracts")),
                signer: JWSSigner(key: key, type: "lgsp-report+jws"), store: store, maxObservationsPerReport: 10)
            let source = ChangingSource([Self.commune("03646", electronic: 150)])
            _ = try await runner.pullOnce(source)
            source.records.withLock { $0[0] = Self.commune("03646", electronic: 158) }
            _ = try await runner.pullOnce(source)
            let leased = try await store.leaseDue(now: Date(), limit: 10, leaseDuration: 60)
            #expect(leased.count == 2)
            // Delivered newest first, as two forwarders racing might: the older must not win.
            try await withTransport { transport in
                for report in leased.reversed() {
                    let request = ReportBatch.single(report)
                    let answer = try await transport.send(
                        method: "POST", url: running.centralURL + request.path, headers: request.headers, body: request.body,
                        tls: try EndpointTLS(caBundlePath: running.caBundlePath).prepared(), timeout: .seconds(10), maxBodyBytes: 1 << 20)
                    #expect(answer.status == 202, "\(String(decoding: answer.body, as: UTF8.self))")
                }
            }
            let held = try #require(running.central.figure(Self.figureKey("03646")))
            #expect(held.revision == 2 && held.value.numerator == 158)
            #expect(held.history.map(\.revision) == [2, 1])
            #expect(running.central.statistics.staleRevisions == 1 && running.central.statistics.duplicateObservations == 0)
        }
    }

    @Test(
        "an upgraded store builds its ledger from the signed reports it holds, and the next pull sends only what changed",
        arguments: StoreBackend.available)
    func ledgerBuiltOnUpgrade(backend: StoreBackend) async throws {
        let location = try await freshStoreLocation(backend)
        let source = ChangingSource([Self.commune("03646", electronic: 150), Self.commune("03649", electronic: 160)])
        try await StoreLocation.withStore(location) { store in
            _ = try await Self.runner(store).pullOnce(source)
            let reportID = try #require(try await store.leaseDue(now: Date(), limit: 1, leaseDuration: 60).first?.reportID)
            try await store.complete(reportID: reportID, attempt: 1, with: .delivered(status: 202, receipt: "r"), now: Date())
        }
        // The store as the previous version left it: no ledger, and its version not recorded.
        let forgotten =
            backend == .sqlite
            ? "DELETE FROM grdb_migrations WHERE identifier = 'v6-figures'" : "DELETE FROM schema_migrations WHERE version = 3"
        let (status, output) = try await runSQL(
            """
            DROP TABLE figures; DROP TABLE figure_reports; ALTER TABLE pulls DROP COLUMN unchanged;
            ALTER TABLE pulls DROP COLUMN revisions; \(forgotten);
            """, on: location)
        #expect(status == 0, "\(output)")
        try await StoreLocation.withStore(location) { upgraded in
            let ledger = try await upgraded.latestFigures(indicator: nil, period: nil)
            #expect(ledger.map(\.key.area) == ["03646", "03649"] && ledger.allSatisfy { $0.revision == 1 && $0.acceptedAt != nil })
            #expect(ledger.allSatisfy { $0.receipt == "r" })
            source.records.withLock { $0[0] = Self.commune("03646", electronic: 152) }
            let summary = try await Self.runner(upgraded).pullOnce(source)
            #expect(summary.unchanged == 1 && summary.revisions == 1 && summary.reports == 1)
        }
    }
}
