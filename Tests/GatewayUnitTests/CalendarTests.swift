import Foundation
import GatewayContracts
import GatewayTestKit
import Testing

@Suite("The reporting calendar: rhythms, deadlines and where each expected figure stands")
struct CalendarTests {
    let catalogue: IndicatorCatalogue

    init() throws {
        catalogue = try ContractSet.load(from: repositoryRoot.appendingPathComponent("Contracts")).catalogue
    }

    static func period(_ text: String) -> ReportingPeriod { ReportingPeriod(text)! }
    static func day(_ text: String) -> CalendarDay { CalendarDay(text)! }
    /// An instant of a day in Vietnam.
    static func at(_ text: String) -> Date { Timestamps.parse(text + "+07:00")! }

    @Test(
        "the default deadline is two working days after the 14th of the period's last month, weekends skipped",
        arguments: [
            ("2026-Q3", "2026-09-16"),  // the 14th a Monday
            ("2025-Q3", "2025-09-16"),  // a Sunday: Monday and Tuesday count
            ("2025-Q4", "2025-12-16"), ("2026-H1", "2026-06-16"), ("2026", "2026-12-16"),
            ("2026-02", "2026-02-17"),  // Saturday the 14th
        ])
    func defaultDeadline(period: String, due: String) {
        #expect(DueRule.decree09Default.dueDay(of: Self.period(period)) == Self.day(due))
    }

    @Test("days after the period ends count every day, across months and leap years")
    func daysAfterEnd() {
        #expect(DueRule.afterPeriodEnd(days: 15).dueDay(of: Self.period("2026-Q1")) == Self.day("2026-04-15"))
        #expect(DueRule.afterPeriodEnd(days: 1).dueDay(of: Self.period("2028-02")) == Self.day("2028-03-01"))
        #expect(DueRule.afterPeriodEnd(days: 90).dueDay(of: Self.period("2025")) == Self.day("2026-03-31"))
        // Due at the end of the day, Vietnam time: 17:00 UTC.
        #expect(Self.day("2026-04-15").endInstant == Timestamps.parse("2026-04-15T17:00:00Z"))
        #expect(CalendarDay(Timestamps.parse("2026-04-15T16:59:59Z")!) == Self.day("2026-04-15"))
        #expect(CalendarDay(Timestamps.parse("2026-04-15T17:00:00Z")!) == Self.day("2026-04-16"))
    }

    @Test("deadline rules that cannot be are refused with the field named")
    func badDueRules() {
        #expect(DueRule.parse(["cutoff_day": 32]).failure?.description.contains("cutoff_day") == true)
        #expect(DueRule.parse(["days_after_period_end": -1]).failure?.description.contains("days_after_period_end") == true)
        #expect(DueRule.parse(["cutoff_day": 14, "days_after_period_end": 3]).failure != nil)
        #expect(DueRule.parse(["cutoff_day": 20]) == .success(.cutoff(day: 20, workingDays: 0)))
    }

    @Test("every indicator's rhythm is a part of what it accepts; quarterly figures of yearly indicators are accepted, not required")
    func rhythmWithinPeriodicity() throws {
        for indicator in catalogue.indicators {
            let rhythm = try #require(indicator.reporting?.rhythm, "\(indicator.code) has no rhythm")
            #expect(rhythm.allSatisfy(indicator.periodicity.contains), "\(indicator.code)")
        }
        for code in ["BENH_VIEN_KHAM_TU_XA", "TRUONG_HOC_CONG_NGHE_SO"] {
            let indicator = try #require(catalogue.indicator(code))
            #expect(indicator.periodicity.contains(.quarter) && indicator.reporting?.rhythm == [.year])
            let rules = SemanticRules(catalogue: catalogue, province: "14")
            let quarterly = Observation(
                indicator: code, province: "14", level: .province, area: "14", period: "2026-Q2", value: 40, unit: indicator.unit,
                sourceSystem: "so-y-te", collectedAt: "2026-07-02T01:00:00.000Z")
            #expect(!rules.check(quarterly).contains { $0.rule == "indicator.periodicity" })
        }
    }

    /// Six communes of Sơn La expected for HSCV_DIEN_TU by quarter, one of each state.
    var communes: ReportingCalendar {
        ReportingCalendar(
            catalogue: catalogue, province: "14",
            expectations: [
                FigureExpectation(
                    adapter: "qlvb", indicator: "HSCV_DIEN_TU", level: .commune,
                    areas: ["03646", "03649", "03652", "03655", "03658", "03661"], kinds: [.quarter])
            ])
    }

    static func key(_ area: String, _ period: String = "2025-Q3") -> FigureKey {
        FigureKey(indicator: "HSCV_DIEN_TU", province: "14", level: .commune, area: area, period: period)
    }

    /// 2025-Q3 is due 2025-09-16. 03646 accepted on the 10th, 03649 on 1 October, 03652 stored and
    /// not accepted, 03655 in quarantine, 03658 and 03661 never seen; 03700 sent, not expected.
    var ledger: [FigureKey: FigureAcceptance] {
        [
            Self.key("03646"): .init(
                firstStoredAt: Self.at("2025-09-09T10:00:00"), firstAcceptedAt: Self.at("2025-09-10T09:00:00"), latestRevision: 1,
                adapter: "qlvb"),
            Self.key("03649"): .init(
                firstStoredAt: Self.at("2025-09-30T10:00:00"), firstAcceptedAt: Self.at("2025-10-01T08:00:00"), latestRevision: 2,
                adapter: "qlvb"),
            Self.key("03652"): .init(
                firstStoredAt: Self.at("2025-09-12T10:00:00"), firstAcceptedAt: nil, latestRevision: 1, adapter: "qlvb"),
            Self.key("03700"): .init(
                firstStoredAt: Self.at("2025-09-12T10:00:00"), firstAcceptedAt: nil, latestRevision: 1, adapter: "other"),
        ]
    }

    @Test("a row counts each expected figure once, by where it stands, and names the ones outstanding (table worked out by hand)")
    func rowByHand() throws {
        let calendar = communes
        let now = Self.at("2025-11-01T12:00:00")
        let row = try #require(
            calendar.row(
                indicator: "HSCV_DIEN_TU", period: Self.period("2025-Q3"), ledger: ledger,
                quarantined: [Self.key("03655"): Self.at("2025-10-02T10:00:00")], now: now))
        #expect(row.due == Self.day("2025-09-16") && row.required)
        let counts = ReportingCalendar.FigureStatus.allCases.map { ($0, row.count($0)) }
        #expect(counts.map(\.1) == [1, 1, 1, 1, 2])  // on time, late, pending, quarantined, missing
        #expect(row.expected == 6 && row.overdue == 4 && row.dueSoon == 0 && row.unexpected == 1)
        #expect(row.outstanding.map(\.key.area) == ["03652", "03655", "03658", "03661"])
        #expect(row.outstanding.map(\.status) == [.pending, .quarantined, .missing, .missing])
    }

    @Test("as of a day before the deadline nothing is overdue, what is not accepted is due soon, and what came later had not come")
    func rowAsOfEarlier() throws {
        let calendar = communes
        let now = Self.at("2025-09-11T12:00:00")
        let row = try #require(
            calendar.row(
                indicator: "HSCV_DIEN_TU", period: Self.period("2025-Q3"), ledger: ledger,
                quarantined: [Self.key("03655"): Self.at("2025-10-02T10:00:00")], now: now))
        // 03646 accepted on the 10th; 03649 not yet stored then, 03652 not until the 12th, and
        // 03655 not quarantined until October.
        #expect(row.count(.onTime) == 1 && row.count(.pending) == 0 && row.count(.missing) == 5)
        #expect(row.overdue == 0 && row.dueSoon == 5 && row.unexpected == 0)
    }

    @Test("the periods listed: those of the rhythm that have ended or fall due within a week, from last January or the expectation's start")
    func periodsListed() {
        let calendar = ReportingCalendar(
            catalogue: catalogue, province: "14",
            expectations: [
                FigureExpectation(adapter: "dvc", indicator: "DVC_TOAN_TRINH", level: .province),
                FigureExpectation(adapter: "qlvb", indicator: "HSCV_DIEN_TU", level: .province, from: Self.period("2026-Q2")),
            ])
        let listed = calendar.periods(asOf: Self.day("2026-12-02"))
        let dvc = listed.filter { $0.indicator == "DVC_TOAN_TRINH" }.map(\.period.description)
        #expect(dvc == ["2025", "2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3"])
        #expect(listed.filter { $0.indicator == "HSCV_DIEN_TU" }.map(\.period.description) == ["2026-Q2", "2026-Q3"])
        // On 10 December the year and its last quarter fall due within the week (cut-off on the 14th).
        let later = calendar.periods(asOf: Self.day("2026-12-10")).filter { $0.indicator == "DVC_TOAN_TRINH" }.map(\.period.description)
        #expect(later.contains("2026") && later.suffix(2) == ["2026-Q3", "2026-Q4"])
        #expect(!dvc.contains("2026") && !dvc.contains("2026-Q4"))
        #expect(calendar.periods(asOf: Self.day("2026-12-02"), only: Self.period("2026-Q1")).map(\.indicator) == ["DVC_TOAN_TRINH"])
    }

    @Test("the province's own rules win over the catalogue's")
    func overrides() throws {
        let calendar = ReportingCalendar(
            catalogue: catalogue, province: "14",
            expectations: [FigureExpectation(adapter: "tk", indicator: "KTS_GRDP", level: .province)],
            defaultDue: .afterPeriodEnd(days: 20),
            overrides: ["KTS_GRDP": .init(rhythm: [.year], due: .afterPeriodEnd(days: 90))])
        #expect(calendar.rule(for: "KTS_GRDP") == .init(rhythm: [.year], due: .afterPeriodEnd(days: 90)))
        #expect(calendar.rule(for: "DVC_TOAN_TRINH")?.due == .afterPeriodEnd(days: 20))
        #expect(calendar.rule(for: "DVC_TOAN_TRINH")?.rhythm == [.year, .quarter])
        #expect(calendar.periods(asOf: Self.day("2026-12-02")).map(\.period.description) == ["2025"])
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let failure) = self { return failure }
        return nil
    }
}
