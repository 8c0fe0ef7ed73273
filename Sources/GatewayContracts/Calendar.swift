import Foundation

/// When the figures of a period are due at the centre.
///
/// The default is the cut-off the provinces' own reporting regimes take from Decree 09/2019/NĐ-CP
/// (data counted to the 14th of the period's last month; the report sent a few working days
/// later). The decree's text could not be read here, so the rule is a documented default the
/// province changes in its configuration (`calendar.default_due`, `calendar.indicators`), not a
/// confirmed one; Contracts/README.md says where it comes from.
public enum DueRule: Sendable, Hashable, CustomStringConvertible {
    /// Due `workingDays` working days (Monday to Friday; public holidays are not known) after day
    /// `day` of the period's last month.
    case cutoff(day: Int, workingDays: Int)
    /// Due `days` calendar days after the period's last day.
    case afterPeriodEnd(days: Int)

    /// The default the catalogue falls back on: cut-off on the 14th, due two working days later.
    public static let decree09Default = DueRule.cutoff(day: 14, workingDays: 2)

    /// The last day (`yyyy-mm-dd`, Vietnam time) on which a figure of `period` is on time.
    public func dueDay(of period: ReportingPeriod) -> CalendarDay {
        let lastMonth = period.months.upperBound
        switch self {
        case .cutoff(let day, let workingDays):
            let cutoffDay = min(day, CalendarDay.daysIn(month: lastMonth, year: period.year))
            return CalendarDay(year: period.year, month: lastMonth, day: cutoffDay).addingWorkingDays(workingDays)
        case .afterPeriodEnd(let days):
            return period.lastDay.adding(days: days)
        }
    }

    public var description: String {
        switch self {
        case .cutoff(let day, let workingDays): "cut-off on day \(day) of the period's last month, due \(workingDays) working days later"
        case .afterPeriodEnd(let days): "due \(days) days after the period ends"
        }
    }

    /// Reads `{cutoff_day: 14, working_days_after: 2}` or `{days_after_period_end: 30}` from the
    /// catalogue's JSON; nil with a reason otherwise.
    public static func parse(_ fields: [String: Int]) -> Result<DueRule, DueRuleError> {
        let keys = Set(fields.keys)
        if keys == ["days_after_period_end"], let days = fields["days_after_period_end"] {
            guard (0...730).contains(days) else { return .failure(.init("days_after_period_end must be 0–730, not \(days)")) }
            return .success(.afterPeriodEnd(days: days))
        }
        if keys == ["cutoff_day", "working_days_after"] || keys == ["cutoff_day"], let day = fields["cutoff_day"] {
            let workingDays = fields["working_days_after"] ?? 0
            guard (1...31).contains(day) else { return .failure(.init("cutoff_day must be 1–31, not \(day)")) }
            guard (0...60).contains(workingDays) else { return .failure(.init("working_days_after must be 0–60, not \(workingDays)")) }
            return .success(.cutoff(day: day, workingDays: workingDays))
        }
        return .failure(.init("give either cutoff_day (with working_days_after) or days_after_period_end"))
    }
}

public struct DueRuleError: Error, Sendable, Hashable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

extension DueRule: Codable {
    public init(from decoder: any Decoder) throws {
        let fields = try [String: Int](from: decoder)
        switch Self.parse(fields) {
        case .success(let rule): self = rule
        case .failure(let error):
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .cutoff(let day, let workingDays): try ["cutoff_day": day, "working_days_after": workingDays].encode(to: encoder)
        case .afterPeriodEnd(let days): try ["days_after_period_end": days].encode(to: encoder)
        }
    }
}

/// A day of the Gregorian calendar in Vietnam time (UTC+7 all year), which is how deadlines are set.
public struct CalendarDay: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    public init(year: Int, month: Int, day: Int) {
        (self.year, self.month, self.day) = (year, month, day)
    }

    /// Reads `yyyy-mm-dd`.
    public init?(_ text: String) {
        guard let (year, month, day) = PeriodCalendar.parseDate(text) else { return nil }
        self.init(year: year, month: month, day: day)
    }

    /// The day `date` falls on in Vietnam.
    public init(_ date: Date) {
        let days = Int((date.timeIntervalSince1970 + Double(Self.vietnamOffset)).rounded(.down) / 86_400)
        self = Self(daysSinceEpoch: days)
    }

    init(daysSinceEpoch days: Int) {
        // H. Hinnant's `civil_from_days`, the inverse of `Timestamps.daysFromCivil`.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        self.init(year: yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month: month, day: day)
    }

    static let vietnamOffset = 7 * 3_600

    var daysSinceEpoch: Int { Timestamps.daysFromCivil(year: year, month: month, day: day) }

    /// The first instant after this day ends in Vietnam: a figure accepted before it is on time.
    public var endInstant: Date {
        Date(timeIntervalSince1970: Double((daysSinceEpoch + 1) * 86_400 - Self.vietnamOffset))
    }

    public func adding(days: Int) -> CalendarDay { CalendarDay(daysSinceEpoch: daysSinceEpoch + days) }

    /// Monday to Friday; 1970-01-01 was a Thursday.
    public var isWorkingDay: Bool {
        let weekday = ((daysSinceEpoch % 7) + 7) % 7  // 0 Thursday … 2 Saturday, 3 Sunday
        return weekday != 2 && weekday != 3
    }

    public func addingWorkingDays(_ count: Int) -> CalendarDay {
        var day = self
        var left = count
        while left > 0 {
            day = day.adding(days: 1)
            if day.isWorkingDay { left -= 1 }
        }
        return day
    }

    static func daysIn(month: Int, year: Int) -> Int {
        (28...31).last { PeriodCalendar.validDate(year: year, month: month, day: $0) != nil } ?? 28
    }

    public var description: String {
        "\(year)-\(ReportingPeriod.twoDigits(month))-\(ReportingPeriod.twoDigits(day))"
    }

    public static func < (a: CalendarDay, b: CalendarDay) -> Bool { (a.year, a.month, a.day) < (b.year, b.month, b.day) }
}

extension ReportingPeriod {
    public init(kind: Kind, year: Int, index: Int) {
        (self.kind, self.year, self.index) = (kind, year, index)
    }

    /// How many periods of this kind a year has.
    static func count(of kind: Kind) -> Int {
        switch kind {
        case .year: 1
        case .half: 2
        case .quarter: 4
        case .month: 12
        }
    }

    public var next: ReportingPeriod {
        index < Self.count(of: kind)
            ? ReportingPeriod(kind: kind, year: year, index: index + 1) : ReportingPeriod(kind: kind, year: year + 1, index: 1)
    }

    public var firstDay: CalendarDay { CalendarDay(year: year, month: months.lowerBound, day: 1) }
    public var lastDay: CalendarDay {
        CalendarDay(year: year, month: months.upperBound, day: CalendarDay.daysIn(month: months.upperBound, year: year))
    }

    /// The period of `kind` that holds `day`.
    public static func containing(_ day: CalendarDay, kind: Kind) -> ReportingPeriod {
        let index =
            switch kind {
            case .year: 1
            case .half: (day.month - 1) / 6 + 1
            case .quarter: (day.month - 1) / 3 + 1
            case .month: day.month
            }
        return ReportingPeriod(kind: kind, year: day.year, index: index)
    }
}

/// What an adapter file says its source is responsible for: every period of the rhythm, one figure
/// of `indicator` for each of `areas` at `level` (the province itself at province level).
public struct FigureExpectation: Sendable, Hashable {
    public var adapter: String
    public var indicator: String
    public var level: AdministrativeLevel
    /// The areas expected; nil at province level, where the only area is the province.
    public var areas: [String]?
    /// The kinds of period expected; nil for the indicator's rhythm.
    public var kinds: [ReportingPeriod.Kind]?
    /// The first period expected; nil for the calendar's window.
    public var from: ReportingPeriod?

    public init(
        adapter: String, indicator: String, level: AdministrativeLevel, areas: [String]? = nil, kinds: [ReportingPeriod.Kind]? = nil,
        from: ReportingPeriod? = nil
    ) {
        self.adapter = adapter
        self.indicator = indicator
        self.level = level
        self.areas = areas
        self.kinds = kinds
        self.from = from
    }
}

/// What the store knows of one figure for the calendar: whether the centre holds a value of it and
/// since when, and whether a revision is still on its way.
public struct FigureAcceptance: Sendable, Hashable {
    /// When the gateway first stored a revision of the figure.
    public var firstStoredAt: Date
    /// When the centre first accepted a revision of the figure; nil while none is accepted.
    public var firstAcceptedAt: Date?
    public var latestRevision: Int
    /// The adapter whose report carried the latest revision.
    public var adapter: String

    public init(firstStoredAt: Date, firstAcceptedAt: Date?, latestRevision: Int, adapter: String) {
        self.firstStoredAt = firstStoredAt
        self.firstAcceptedAt = firstAcceptedAt
        self.latestRevision = latestRevision
        self.adapter = adapter
    }
}

/// The reporting calendar: for each indicator some adapter is responsible for and each period of
/// its rhythm, how many figures are expected and where each one stands. Computed here from the
/// catalogue, the expectations and what the store holds, so the CLI, the metrics and the console
/// are views of one computation.
public struct ReportingCalendar: Sendable {
    /// The rhythm the centre requires of an indicator and when its figures are due.
    public struct Rule: Sendable, Hashable {
        public var rhythm: [ReportingPeriod.Kind]
        public var due: DueRule

        public init(rhythm: [ReportingPeriod.Kind], due: DueRule) {
            self.rhythm = rhythm
            self.due = due
        }
    }

    /// A province's own rules, which win over the catalogue's.
    public struct Override: Sendable, Hashable {
        public var rhythm: [ReportingPeriod.Kind]?
        public var due: DueRule?

        public init(rhythm: [ReportingPeriod.Kind]? = nil, due: DueRule? = nil) {
            self.rhythm = rhythm
            self.due = due
        }
    }

    public enum FigureStatus: String, Sendable, Hashable, Codable, CaseIterable {
        /// Accepted by the centre by the end of its due day.
        case onTime = "on_time"
        /// Accepted after its due day.
        case late
        /// Signed and stored, not yet accepted.
        case pending
        /// Not sent: the source's record of it is in quarantine.
        case quarantined
        /// Nothing of it has reached the gateway.
        case missing
    }

    public struct Figure: Sendable, Hashable {
        public var key: FigureKey
        public var adapter: String
        public var status: FigureStatus
        /// Past its due day and not accepted.
        public var overdue: Bool
    }

    public struct Row: Sendable, Hashable {
        public var indicator: String
        public var period: String
        public var due: CalendarDay
        /// Whether the period's kind is one of the indicator's rhythm (the centre requires it), or
        /// one an adapter chose to expect as well.
        public var required: Bool
        public var figures: [Figure]
        /// Figures of the indicator and period the ledger holds that no adapter expects.
        public var unexpected: Int

        public var expected: Int { figures.count }
        public func count(_ status: FigureStatus) -> Int { figures.count { $0.status == status } }
        public var overdue: Int { figures.count(where: \.overdue) }
        /// Not accepted, not overdue, and due within seven days of the calendar's day.
        public var dueSoon: Int
        /// The figures not accepted, for the drill-down: which communes or figures are missing.
        public var outstanding: [Figure] { figures.filter { $0.status != .onTime && $0.status != .late } }
    }

    /// The periods due within this many days count as due soon.
    public static let dueSoonDays = 7

    public let catalogue: IndicatorCatalogue
    public let province: String
    public let defaultDue: DueRule
    public let overrides: [String: Override]
    public let expectations: [FigureExpectation]
    /// The first period the calendar lists; nil for the start of the year before `asOf`'s.
    public let from: CalendarDay?

    public init(
        catalogue: IndicatorCatalogue, province: String, expectations: [FigureExpectation], defaultDue: DueRule? = nil,
        overrides: [String: Override] = [:], from: CalendarDay? = nil
    ) {
        self.catalogue = catalogue
        self.province = province
        self.expectations = expectations
        self.defaultDue = defaultDue ?? catalogue.reportingDefault ?? .decree09Default
        self.overrides = overrides
        self.from = from
    }

    /// The indicator's rule: the province's override, else the catalogue's, else its periodicity's
    /// coarsest kind with the default deadline.
    public func rule(for indicator: String) -> Rule? {
        guard let definition = catalogue.indicator(indicator) else { return nil }
        let override = overrides[indicator]
        let rhythm =
            override?.rhythm ?? definition.reporting?.rhythm
            ?? ReportingPeriod.Kind.allCases.first(where: definition.periodicity.contains).map { [$0] } ?? []
        return Rule(rhythm: rhythm, due: override?.due ?? definition.reporting?.due ?? defaultDue)
    }

    /// Each (indicator, period) the calendar lists as of `day`: periods of the expected kinds that
    /// have ended, or fall due within a week, from the calendar's first day on.
    public func periods(asOf day: CalendarDay, only period: ReportingPeriod? = nil) -> [(indicator: String, period: ReportingPeriod)] {
        var listed: [String: Set<ReportingPeriod>] = [:]
        let windowStart = from ?? CalendarDay(year: day.year - 1, month: 1, day: 1)
        for expectation in expectations {
            guard let rule = rule(for: expectation.indicator) else { continue }
            for kind in expectation.kinds ?? rule.rhythm {
                if let period, period.kind != kind { continue }
                var current = ReportingPeriod.containing(max(windowStart, expectation.from?.firstDay ?? windowStart), kind: kind)
                if let period { current = period }
                while current.firstDay <= day {
                    let beginsInWindow = current.firstDay >= windowStart && current.firstDay >= (expectation.from?.firstDay ?? windowStart)
                    let listable = current.lastDay < day || rule.due.dueDay(of: current) <= day.adding(days: Self.dueSoonDays)
                    if beginsInWindow && listable { listed[expectation.indicator, default: []].insert(current) }
                    if period != nil { break }
                    current = current.next
                }
            }
        }
        return listed.flatMap { indicator, periods in periods.map { (indicator, $0) } }.sorted {
            ($0.indicator, $0.period.firstDay, $0.period.kind.sortOrder) < ($1.indicator, $1.period.firstDay, $1.period.kind.sortOrder)
        }
    }

    /// The expected figures of `indicator` in `period`.
    public func expectedKeys(indicator: String, period: ReportingPeriod) -> [(key: FigureKey, adapter: String)] {
        var keys: [FigureKey: String] = [:]
        for expectation in expectations where expectation.indicator == indicator {
            guard let rule = rule(for: indicator), (expectation.kinds ?? rule.rhythm).contains(period.kind) else { continue }
            if let from = expectation.from, period.firstDay < from.firstDay { continue }
            for area in expectation.areas ?? [province] {
                let key = FigureKey(
                    indicator: indicator, province: province, level: expectation.level, area: area, period: period.description)
                if keys[key] == nil { keys[key] = expectation.adapter }
            }
        }
        return keys.map { ($0.key, $0.value) }.sorted { $0.key < $1.key }
    }

    /// The calendar's row for one indicator and period, from what the store holds of its figures:
    /// what the ledger knows of each, and when a record of each was first quarantined. What
    /// happened after `now` had not happened, so a calendar as of a past day shows that day.
    public func row(
        indicator: String, period: ReportingPeriod, ledger: [FigureKey: FigureAcceptance], quarantined: [FigureKey: Date], now: Date
    ) -> Row? {
        guard let rule = rule(for: indicator) else { return nil }
        let due = rule.due.dueDay(of: period)
        let deadline = due.endInstant
        let expected = expectedKeys(indicator: indicator, period: period)
        let expectedSet = Set(expected.map(\.key))
        var figures: [Figure] = []
        var dueSoon = 0
        for (key, adapter) in expected {
            let status: FigureStatus
            // What the store held at `now`: a figure stored later had not reached the gateway yet.
            if let entry = ledger[key], entry.firstStoredAt <= now {
                if let accepted = entry.firstAcceptedAt, accepted <= now {
                    status = accepted < deadline ? .onTime : .late
                } else {
                    status = .pending
                }
            } else if let since = quarantined[key], since <= now {
                status = .quarantined
            } else {
                status = .missing
            }
            let accepted = status == .onTime || status == .late
            let overdue = !accepted && now >= deadline
            if !accepted && !overdue && deadline.timeIntervalSince(now) <= Double(Self.dueSoonDays * 86_400) { dueSoon += 1 }
            figures.append(Figure(key: key, adapter: ledger[key]?.adapter ?? adapter, status: status, overdue: overdue))
        }
        let unexpected = ledger.count { !expectedSet.contains($0.key) && $0.value.firstStoredAt <= now }
        return Row(
            indicator: indicator, period: period.description, due: due, required: rule.rhythm.contains(period.kind), figures: figures,
            unexpected: unexpected, dueSoon: dueSoon)
    }
}

extension ReportingPeriod.Kind {
    /// Coarse before fine, for listing a year before its quarters.
    var sortOrder: Int { Self.allCases.firstIndex(of: self) ?? 0 }
}

extension ReportingPeriod: Comparable {
    public static func < (a: ReportingPeriod, b: ReportingPeriod) -> Bool {
        (a.firstDay, a.kind.sortOrder) < (b.firstDay, b.kind.sortOrder)
    }
}
