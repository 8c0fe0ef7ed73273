import Foundation
import GatewayContracts
import GatewayJSON
import GatewayStore
import GatewayTestKit
import Testing

@Suite("Progress against the resolution's targets")
struct ProgressTests {
    /// One figure of Sơn La (14), to store in a report of its own.
    struct Given {
        var indicator: String
        var level: AdministrativeLevel = .province
        var area = "14"
        var period: String
        var value: Double
        var parts: (Double, Double)? = nil
        var revision = 1
        var accepted = true
    }

    /// What the command must say of one target, worked out by hand from the figures above it.
    struct Expected {
        var indicator: String
        var level: AdministrativeLevel
        var year: Int
        var comparator: String
        var latest: Double?
        var period: String?
        var path: Double?
        var status: String
    }

    static let given: [Given] = [
        Given(indicator: "DVC_TOAN_TRINH", period: "2024", value: 80),
        Given(indicator: "DVC_TOAN_TRINH", period: "2025-Q1", value: 88),
        // Stored but not accepted by the centre: progress does not see it.
        Given(indicator: "DVC_TOAN_TRINH", period: "2025-Q2", value: 99, accepted: false),
        Given(indicator: "KTS_GRDP", period: "2024", value: 7.2),
        Given(indicator: "HSCV_DIEN_TU", period: "2025-Q1", value: 92, parts: (92, 100)),
        Given(indicator: "HSCV_DIEN_TU", level: .commune, area: "03646", period: "2025-Q1", value: 75, parts: (150, 200)),
        Given(indicator: "HSCV_DIEN_TU", level: .commune, area: "03649", period: "2025-Q1", value: 85, parts: (170, 200)),
        Given(indicator: "TK_THANH_TOAN_DT", period: "2024", value: 45),
        // Corrected: the centre holds revision 2.
        Given(indicator: "TK_THANH_TOAN_DT", period: "2024", value: 52, revision: 2),
    ]

    /// As of 2025-06-30. The path runs from the baseline at the end of its year to the target at
    /// the end of its year, read at the end of the latest period: 2025-Q1 ends at 2025.25.
    ///   DVC_TOAN_TRINH: 37.87 (2021) → 100 (2025): 37.87 + 62.13 × 3.25/4 = 88.35; 88 is short of it.
    ///   HSCV_DIEN_TU 2025 province: 40 (2021) → 90: 40 + 50 × 3.25/4 = 80.63; 92 > 90 is met.
    ///   HSCV_DIEN_TU 2025 commune: the two communes together, 320 / 400 = 80% > 60: met; path 40 + 20 × 0.8125 = 56.25.
    ///   HSCV_DIEN_TU 2030 = 100 province: path 40 + 60 × 3.25/9 = 61.67; 92 is past it: on track.
    ///   HSCV_DIEN_TU 2030 > 70 commune: 80 is met; path 40 + 30 × 3.25/9 = 50.83.
    ///   KTS_GRDP: 7.2 (2024) is in 5–10 (2025): met; not in 15–20 (2030), no baseline: not met yet.
    ///   TK_THANH_TOAN_DT: revision 2, 52 > 50 (2025): met; > 80 (2030), no baseline: not met yet.
    static let expected: [Expected] = [
        Expected(
            indicator: "DVC_TOAN_TRINH", level: .province, year: 2025, comparator: "=", latest: 88, period: "2025-Q1", path: 88.35,
            status: "behind"),
        Expected(
            indicator: "HSCV_DIEN_TU", level: .province, year: 2025, comparator: ">", latest: 92, period: "2025-Q1", path: 80.63,
            status: "met"),
        Expected(
            indicator: "HSCV_DIEN_TU", level: .district, year: 2025, comparator: ">", latest: nil, period: nil, path: nil, status: "no_data"
        ),
        Expected(
            indicator: "HSCV_DIEN_TU", level: .commune, year: 2025, comparator: ">", latest: 80, period: "2025-Q1", path: 56.25,
            status: "met"),
        Expected(
            indicator: "HSCV_DIEN_TU", level: .province, year: 2030, comparator: "=", latest: 92, period: "2025-Q1", path: 61.67,
            status: "on_track"),
        Expected(
            indicator: "HSCV_DIEN_TU", level: .commune, year: 2030, comparator: ">", latest: 80, period: "2025-Q1", path: 50.83,
            status: "met"),
        Expected(
            indicator: "KTS_GRDP", level: .province, year: 2025, comparator: "range", latest: 7.2, period: "2024", path: nil, status: "met"),
        Expected(
            indicator: "KTS_GRDP", level: .province, year: 2030, comparator: "range", latest: 7.2, period: "2024", path: nil,
            status: "not_met_yet"),
        Expected(
            indicator: "TK_THANH_TOAN_DT", level: .province, year: 2025, comparator: ">", latest: 52, period: "2024", path: nil,
            status: "met"),
        Expected(
            indicator: "TK_THANH_TOAN_DT", level: .province, year: 2030, comparator: ">", latest: 52, period: "2024", path: nil,
            status: "not_met_yet"),
    ]

    /// The targets with a year (not baselines) that the seed of `province` (as it names itself) sets.
    static func yearTargets(of province: String, in catalogue: IndicatorCatalogue) -> [IndicatorTarget] {
        catalogue.indicators.flatMap(\.targets).filter {
            if case .year = $0.year { return $0.province == province }
            return false
        }
    }

    @Test("lgsp-gateway progress --json, for a fixed set of accepted figures of Sơn La, gives the table worked out by hand")
    func progressByHand() async throws {
        try await withSignedMocks { running, directory, keyPath in
            let storePath = directory.appendingPathComponent("g.sqlite").path
            let store = try SQLiteStore(path: storePath)
            for (index, figure) in Self.given.enumerated() {
                let id = "r-\(index)"
                let report = SignedReport(
                    reportID: id, body: Data("{}".utf8), contentDigest: "sha-256=:\(id):", observationCount: 1,
                    figures: [
                        ReportedFigure(
                            key: FigureKey(
                                indicator: figure.indicator, province: "14", level: figure.level, area: figure.area, period: figure.period),
                            revision: figure.revision,
                            value: FigureValue(
                                value: figure.value, numerator: figure.parts?.0, denominator: figure.parts?.1, unit: "percent"))
                    ])
                try await store.storeReports([report], adapter: "a", now: Date())
                _ = try await store.leaseDue(now: Date(), limit: 1, leaseDuration: 60)
                if figure.accepted {
                    try await store.complete(reportID: id, attempt: 1, with: .delivered(status: 202, receipt: nil), now: Date())
                }
            }
            var environment = Demo.environment(for: running, repository: repositoryRoot, keyPath: keyPath, storePath: storePath)
                .variables
            environment["PATH"] = "/usr/bin:/bin"
            let config = repositoryRoot.appendingPathComponent("deploy/examples/gateway.yaml").path
            // `progress` as of 2025-06-30 in the format `flag` asks for; its output.
            func progress(_ flag: String) async throws -> String {
                let child = try ChildProcess(
                    ["progress", flag, "--as-of", "2025-06-30", "--config", config], environment: environment,
                    outputPath: directory.appendingPathComponent("progress\(flag).out"))
                #expect(try await child.waitForExit(timeout: .seconds(30)) == 0, "\(child.output)")
                return child.output
            }
            let json = try await progress("--json")
            let report = try JSONValue.parse(Data(try #require(json.split(separator: "\n").last).utf8))
            #expect(report["province"] == .string("14") && report["as_of"] == .string("2025-06-30"))
            let rows = try #require(report["targets"]?.arrayValue)

            // Every Sơn La target with a year, and none of another province's.
            let catalogue = try ContractSet.load(from: repositoryRoot.appendingPathComponent("Contracts")).catalogue
            #expect(rows.count == Self.yearTargets(of: "Sơn La", in: catalogue).count)
            #expect(rows.allSatisfy { $0["set_by"] == .string("Sơn La") && $0["set_by_code"] == .string("14") && $0["now_under"] == .null })

            for expected in Self.expected {
                let matching = rows.filter {
                    $0["indicator"] == .string(expected.indicator) && $0["level"] == .string(expected.level.rawValue)
                        && $0["target_year"] == .number(Double(expected.year)) && $0["comparator"] == .string(expected.comparator)
                }
                #expect(matching.count == 1, "\(expected.indicator) \(expected.level) \(expected.year)")
                guard let row = matching.first else { continue }
                #expect(row["latest"] == (expected.latest.map(JSONValue.number) ?? .null), "\(expected.indicator) \(expected.year)")
                #expect(row["latest_period"] == (expected.period.map(JSONValue.string) ?? .null), "\(expected.indicator)")
                #expect(row["path"] == (expected.path.map(JSONValue.number) ?? .null), "\(expected.indicator) \(expected.year)")
                #expect(row["status"] == .string(expected.status), "\(expected.indicator) \(expected.level) \(expected.year)")
            }
            // Nothing accepted of the other indicators: no data, never a guess.
            let untouched = Set(Self.given.map(\.indicator))
            #expect(
                rows.filter { !untouched.contains($0["indicator"]?.stringValue ?? "") }.allSatisfy {
                    $0["status"] == .string("no_data") || $0["status"] == .string("not_measurable")
                })

            // RFC 4180 records end in CRLF, one Character to Swift.
            let lines = try await progress("--csv").split(whereSeparator: \.isNewline)
            #expect(lines.first?.hasPrefix("indicator,name_vi,unit,set_by,set_by_code,now_under,level,target_year,target,") == true)
            #expect(lines.count == rows.count + 1)
        }
    }

    @Test("targets set by a province merged in 2025 show under it and the province it now falls under; none are invented")
    func mergedProvince() throws {
        let catalogue = try ContractSet.load(from: repositoryRoot.appendingPathComponent("Contracts")).catalogue
        let today = try #require(Timestamps.parse("2026-12-01T12:00:00+07:00"))
        let phuTho = ProgressReport.compute(catalogue: catalogue, province: "25", figures: [], today: today)
        let hoaBinhTargets = Self.yearTargets(of: "Hòa Bình", in: catalogue)
        #expect(!phuTho.rows.isEmpty && phuTho.rows.count == hoaBinhTargets.count)
        #expect(phuTho.rows.allSatisfy { $0.setBy == "Hòa Bình" && $0.setByCode == "17" && $0.nowUnder == "25" })
        // Before the merger the same targets were Hòa Bình's own.
        let before = try #require(Timestamps.parse("2025-05-01T12:00:00+07:00"))
        #expect(ProgressReport.compute(catalogue: catalogue, province: "17", figures: [], today: before).rows.count == hoaBinhTargets.count)
        #expect(
            ProgressReport.compute(catalogue: catalogue, province: "14", figures: [], today: today).rows.allSatisfy { $0.setBy == "Sơn La" }
        )
    }
}
