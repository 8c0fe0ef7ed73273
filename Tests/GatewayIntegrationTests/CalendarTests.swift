import Foundation
import GatewayContracts
import GatewayJSON
import GatewaySigning
import GatewayStore
import GatewayTestKit
import Testing

@Suite("The reporting calendar against a real store and the mocks", .serialized)
struct ReportingCalendarTests {
    static func at(_ text: String) -> Date { Timestamps.parse(text + "+07:00")! }

    static func figure(_ area: String) -> ReportedFigure {
        ReportedFigure(
            key: FigureKey(indicator: "HSCV_DIEN_TU", province: "14", level: .commune, area: area, period: "2025-Q3"), revision: 1,
            value: FigureValue(value: 60, numerator: 120, denominator: 200, unit: "percent"))
    }

    static func report(_ id: String, _ areas: [String]) -> SignedReport {
        SignedReport(
            reportID: id, body: Data("{}".utf8), contentDigest: "sha-256=:\(id):", observationCount: areas.count,
            figures: areas.map(figure))
    }

    @Test(
        "with a fixed clock: a figure accepted by its due day is on time, one after it late, one stored pending, one quarantined, one never seen missing",
        arguments: StoreBackend.available)
    func statusesFromTheStore(backend: StoreBackend) async throws {
        let store = try await openStore(backend)
        try await store.withRunning {
            // 2025-Q3 is due on 2025-09-16.
            try await store.storeReports([Self.report("r-on-time", ["03646"])], adapter: "qlvb", now: Self.at("2025-09-09T10:00:00"))
            try await store.storeReports([Self.report("r-late", ["03649"])], adapter: "qlvb", now: Self.at("2025-09-30T10:00:00"))
            try await store.storeReports([Self.report("r-pending", ["03652"])], adapter: "qlvb", now: Self.at("2025-10-02T10:00:00"))
            _ = try await store.leaseDue(now: Self.at("2025-10-02T11:00:00"), limit: 10, leaseDuration: 60)
            try await store.complete(
                reportID: "r-on-time", attempt: 1, with: .delivered(status: 202, receipt: nil), now: Self.at("2025-09-10T09:00:00"))
            try await store.complete(
                reportID: "r-late", attempt: 1, with: .delivered(status: 202, receipt: nil), now: Self.at("2025-10-01T08:00:00"))
            // 03655's record failed validation (it was mapped, so its figure is known); another failed
            // mapping, and says nothing of which figure it was.
            let rejected = Observation(
                indicator: "HSCV_DIEN_TU", province: "14", level: .commune, area: "03655", period: "2025-Q3", value: 130,
                unit: "percent", sourceSystem: "qlvb", collectedAt: "2025-10-02T01:00:00.000Z")
            try await store.commit(
                PullCommit(
                    adapter: "qlvb", startedAt: Self.at("2025-10-02T09:00:00"), pulledRecords: 2, reports: [],
                    quarantined: [
                        QuarantinedRecord(
                            record: rejected.jsonValue,
                            reasons: [QuarantineReason(pointer: "/value", rule: "indicator.range", message: "out of range")]),
                        QuarantinedRecord(
                            record: .object(["chiTieu": .string("HSCV"), "ky": .string("Quý 5/2025")]),
                            reasons: [QuarantineReason(pointer: "/period", rule: "mapping.period", message: "no such quarter")]),
                    ], cursor: nil), now: Self.at("2025-10-02T10:00:00"))

            let calendar = ReportingCalendar(
                catalogue: try ContractSet.load(from: repositoryRoot.appendingPathComponent("Contracts")).catalogue, province: "14",
                expectations: [
                    FigureExpectation(
                        adapter: "qlvb", indicator: "HSCV_DIEN_TU", level: .commune,
                        areas: ["03646", "03649", "03652", "03655", "03658"], kinds: [.quarter], from: ReportingPeriod("2025-Q3"))
                ])
            let rows = try await calendar.rows(store: store, now: Self.at("2025-11-01T12:00:00"))
            #expect(rows.map(\.period) == ["2025-Q3"])
            let row = try #require(rows.first)
            #expect(row.due.description == "2025-09-16")
            #expect(ReportingCalendar.FigureStatus.allCases.map(row.count) == [1, 1, 1, 1, 1])
            #expect(row.outstanding.map(\.key.area) == ["03652", "03655", "03658"] && row.overdue == 3)
            // Read again as of the day before the deadline: only what had happened by then counts.
            let before = try #require(
                try await calendar.rows(store: store, now: Self.at("2025-09-15T12:00:00"), only: ReportingPeriod("2025-Q3")).first)
            #expect(before.count(.onTime) == 1 && before.count(.missing) == 4 && before.overdue == 0 && before.dueSoon == 4)
        }
    }

    @Test(
        "end to end over HTTPS: gateways pull the mocks; the calendar shows the commune that sent nothing as missing and the figures accepted after their due day as late",
        arguments: StoreBackend.available)
    func endToEnd(backend: StoreBackend) async throws {
        try await withSignedMocks { running, directory, keyPath in
            let storeLocation =
                backend == .postgres ? try await freshPostgresDatabase() : directory.appendingPathComponent("gateway.sqlite").path
            // The shipped portal and document-system adapters; the latter expects a seventh commune
            // the source has no record of.
            let adapters = try shippedAdapters(["dvc-portal", "qlvb-documents"], in: directory)
            let qlvb = adapters.appendingPathComponent("qlvb-documents.yaml")
            let text = try String(contentsOf: qlvb, encoding: .utf8)
            #expect(text.contains(#""03661"]"#))
            try text.replacingOccurrences(of: #""03661"]"#, with: #""03661", "03999"]"#).write(to: qlvb, atomically: true, encoding: .utf8)
            var environment = Demo.environment(
                for: running, repository: repositoryRoot, keyPath: keyPath, storePath: storeLocation,
                overrides: ["LGSP_ADAPTERS": adapters.path, "DVC_PORTAL_EVERY": "1s", "QLVB_EVERY": "1s"]
            ).variables
            environment["PATH"] = "/usr/bin:/bin"
            let config = repositoryRoot.appendingPathComponent("deploy/examples/gateway.yaml").path
            // Two gateways on one PostgreSQL database: one ledger, one calendar.
            let gateways = try (1...(backend == .postgres ? 2 : 1)).map { number in
                try ChildProcess(
                    ["run", "--config", config],
                    environment: environment.merging(["LGSP_GATEWAY_ID": "son-la-gw-0\(number)"]) { $1 },
                    outputPath: directory.appendingPathComponent("gateway-\(number).out"))
            }
            let store = try StoreLocation.open(storeLocation, exclusive: false)
            try await store.withRunning {
                let delivered = try await eventually(timeout: .seconds(90)) {
                    let communes = try await store.latestFigures(indicator: "HSCV_DIEN_TU", period: "2026-Q3")
                    let portal = try await store.latestFigures(indicator: "DVC_TOAN_TRINH", period: "2026-Q3")
                    return communes.count == 7 && portal.count == 1 && (communes + portal).allSatisfy { $0.acceptedAt != nil }
                }
                #expect(delivered, "\(gateways.map { $0.output.suffix(800) })")
            }
            for gateway in gateways {
                gateway.process.terminate()
                #expect(try await gateway.waitForExit(timeout: .seconds(30)) == 0, "\(gateway.output.suffix(1500))")
            }

            // The clock fixed at the end of tomorrow: every figure above was accepted after its due day.
            let tomorrow = CalendarDay(Date()).adding(days: 1).description
            func calendar(_ arguments: [String]) async throws -> String {
                let child = try ChildProcess(
                    ["calendar", "--config", config, "--as-of", tomorrow] + arguments, environment: environment,
                    outputPath: directory.appendingPathComponent("calendar-\(UUID().uuidString.prefix(6)).out"))
                #expect(try await child.waitForExit(timeout: .seconds(30)) == 0, "\(child.output)")
                return child.output
            }
            let json = try JSONValue.parse(Data(try await calendar(["--json"]).utf8))
            let rows = json["rows"]?.arrayValue ?? []
            func row(_ indicator: String, _ period: String) -> JSONValue? {
                rows.first { $0["indicator"] == .string(indicator) && $0["period"] == .string(period) }
            }
            let communes = try #require(row("HSCV_DIEN_TU", "2026-Q3"), "\(json)")
            #expect(communes["due"] == .string("2026-09-16") && communes["required"] == .bool(true))
            #expect(communes["expected"] == .number(8) && communes["late"] == .number(7) && communes["missing"] == .number(1))
            #expect(communes["on_time"] == .number(0) && communes["pending"] == .number(0) && communes["overdue"] == .number(1))
            #expect(
                communes["outstanding"]
                    == .array([
                        .object([
                            "level": .string("commune"), "area": .string("03999"), "status": .string("missing"), "overdue": .bool(true),
                            "adapter": .string("qlvb-documents"),
                        ])
                    ]))
            #expect(row("DVC_TOAN_TRINH", "2026-Q3")?["late"] == .number(1))
            // The year 2025 is before the adapters' `from: 2025-Q3`; 2025-Q3 onwards is listed.
            #expect(row("HSCV_DIEN_TU", "2025") == nil && row("HSCV_DIEN_TU", "2025-Q3") != nil)
            #expect(json["overdue"]?.numberValue ?? 0 >= 5)  // 03999 in each of the five quarters

            let printed = try await calendar(["--period", "2026-Q3"])
            #expect(printed.contains("HSCV_DIEN_TU 2026-Q3 (hạn / due 2026-09-16): dự kiến / expected 8"), "\(printed)")
            #expect(printed.contains("thiếu / missing: commune 03999 (qlvb-documents), quá hạn / overdue"), "\(printed)")
            #expect(!printed.contains("2026-Q2"), "\(printed)")
        }
    }

    @Test("check names the file, line and field of every calendar and expects: mistake")
    func checkReportsMistakes() async throws {
        let directory = try makeTemporaryDirectory()
        let adapters = directory.appendingPathComponent("adapters")
        try FileManager.default.createDirectory(at: adapters, withIntermediateDirectories: true)
        let adapter = adapters.appendingPathComponent("so-y-te.yaml")
        let brokenAdapter = """
            name: so-y-te
            kind: exec
            schedule: { every: 1h }
            exec:
              command: /bin/true
            expects:
              - indicator: KHONG_CO
                level: province
              - indicator: KTS_GRDP
                level: commune
                areas: ["0364"]
              - indicator: HSCV_DIEN_TU
                level: province
                periods: [month, week]
                from: 2025-Q5
            """
        try brokenAdapter.write(to: adapter, atomically: true, encoding: .utf8)
        let example = try String(contentsOf: repositoryRoot.appendingPathComponent("deploy/examples/gateway.yaml"), encoding: .utf8)
        let broken = example.replacingOccurrences(
            of: "default_due: { cutoff_day: 14, working_days_after: 2 }",
            with: "default_due: { cutoff_day: 40 }\n  from: 2025-13-01\n  indicators:\n    KHONG_CO: { rhythm: [year] }")
        #expect(broken != example)
        let config = directory.appendingPathComponent("gateway.yaml")
        try broken.write(to: config, atomically: true, encoding: .utf8)
        let secret = directory.appendingPathComponent("secret")
        try "s".write(to: secret, atomically: true, encoding: .utf8)
        // `check` with what the example configuration needs, the adapters folder above.
        let environment = [
            "LGSP_SIGNING_KEY": try writeKey(.generate(), in: directory), "LGSP_STORE": directory.appendingPathComponent("s.sqlite").path,
            "LGSP_CENTRAL_CA": try writeTestCA(in: directory), "LGSP_CONTRACTS": repositoryRoot.appendingPathComponent("Contracts").path,
            "LGSP_ADAPTERS": adapters.path,
        ]
        func runCheck() throws -> ChildProcess {
            try ChildProcess(
                ["check", "--config", config.path], environment: environment,
                outputPath: directory.appendingPathComponent("check-\(UUID().uuidString.prefix(6)).out"))
        }
        let check = try runCheck()
        #expect(try await check.waitForExit(timeout: .seconds(30)) == 2)
        let output = check.output
        let line =
            try #require(example.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("default_due:") }) + 1
        #expect(output.contains("\(config.path):\(line): calendar.default_due: cutoff_day must be 1–31, not 40"), "\(output)")
        #expect(output.contains("\(config.path):\(line + 1): calendar.from: expected a day as yyyy-mm-dd"), "\(output)")
        // What needs the catalogue is checked once the files are read, so this run shows the parse
        // errors of the adapter file; those of the catalogue come once they are fixed.
        #expect(output.contains("\(adapter.path):11: expects[1].areas: commune code \"0364\" must have 5 digits"), "\(output)")
        #expect(output.contains("\(adapter.path):14: expects[2].periods[1]: unknown kind of period \"week\""), "\(output)")
        #expect(output.contains("\(adapter.path):15: expects[2].from: expected a period"), "\(output)")

        // With the file's own mistakes fixed, the catalogue's objections, each at its line.
        try brokenAdapter.replacingOccurrences(of: #"["0364"]"#, with: #"["03646"]"#).replacingOccurrences(
            of: "[month, week]", with: "[month]"
        )
        .replacingOccurrences(of: "\n    from: 2025-Q5", with: "").write(to: adapter, atomically: true, encoding: .utf8)
        try example.replacingOccurrences(
            of: "default_due: { cutoff_day: 14, working_days_after: 2 }",
            with: "default_due: { cutoff_day: 14 }\n  indicators:\n    KHONG_CO: { rhythm: [year] }\n    KTS_GRDP: { rhythm: [month] }"
        ).write(to: config, atomically: true, encoding: .utf8)
        let again = try runCheck()
        #expect(try await again.waitForExit(timeout: .seconds(30)) == 2)
        let objections = again.output
        #expect(
            objections.contains("\(config.path): calendar.indicators.KHONG_CO: indicator KHONG_CO is not in catalogue"), "\(objections)")
        #expect(objections.contains("calendar.indicators.KTS_GRDP.rhythm: KTS_GRDP is not accepted by month"), "\(objections)")
        #expect(objections.contains("\(adapter.path):7: expects[0].indicator: indicator KHONG_CO is not in catalogue"), "\(objections)")
        #expect(objections.contains("\(adapter.path):9: expects[1].level: KTS_GRDP is not reported at commune level"), "\(objections)")
        #expect(objections.contains("\(adapter.path):12: expects[2].periods: HSCV_DIEN_TU is not accepted by month") == false)
        #expect(!objections.contains(": ok"))
    }

    @Test(
        "an upgraded store learns which figure each quarantined record it holds is of, from the record itself",
        arguments: StoreBackend.available)
    func quarantineFiguresOnUpgrade(backend: StoreBackend) async throws {
        let location = try await freshStoreLocation(backend)
        let rejected = Observation(
            indicator: "HSCV_DIEN_TU", province: "14", level: .commune, area: "03655", period: "2025-Q3", value: 130, unit: "percent",
            sourceSystem: "qlvb", collectedAt: "2025-10-02T01:00:00.000Z")
        let quarantinedAt = Self.at("2025-10-02T10:00:00")
        _ = try await StoreLocation.withStore(location) { store in
            try await store.commit(
                PullCommit(
                    adapter: "qlvb", startedAt: quarantinedAt, pulledRecords: 2, reports: [],
                    quarantined: [
                        QuarantinedRecord(
                            record: rejected.jsonValue, reasons: [.init(pointer: "/value", rule: "indicator.range", message: "")]),
                        QuarantinedRecord(
                            record: .array([.string("not an object")]), reasons: [.init(pointer: "", rule: "mapping.record", message: "")]),
                    ], cursor: nil), now: quarantinedAt)
        }
        // The store as the previous version left it.
        let drop = """
            DROP INDEX quarantine_by_figure; ALTER TABLE quarantine DROP COLUMN indicator; ALTER TABLE quarantine DROP COLUMN province;
            ALTER TABLE quarantine DROP COLUMN level; ALTER TABLE quarantine DROP COLUMN area; ALTER TABLE quarantine DROP COLUMN period;
            """
        let forgotten =
            backend == .sqlite
            ? "DELETE FROM grdb_migrations WHERE identifier = 'v7-quarantine-figures';" : "DELETE FROM schema_migrations WHERE version = 4;"
        let (status, output) = try await runSQL(drop + forgotten, on: location)
        #expect(status == 0, "\(output)")
        try await StoreLocation.withStore(location) { upgraded in
            let found = try await upgraded.quarantinedFigures(indicator: "HSCV_DIEN_TU", periods: ["2025-Q3", "2025-Q4"])
            #expect(found == [rejected.figureKey: quarantinedAt])
            #expect(try await upgraded.quarantined(limit: 10).count == 2)
        }
    }
}
