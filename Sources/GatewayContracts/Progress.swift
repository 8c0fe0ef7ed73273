import Foundation

/// How far a province is from the targets its resolution set: for each target of the catalogue
/// that falls to the province, the baseline, the latest value the centre accepted and whether the
/// target is met or on the straight path from baseline to target. Computed here, from the
/// catalogue and the accepted figures alone, so the CLI and the console are two views of it.
public struct ProgressReport: Sendable, Equatable {
    /// A figure the centre accepted: what progress is measured from.
    public struct AcceptedFigure: Sendable, Equatable {
        public var indicator: String
        /// The area the figure is about; progress reads province-level figures, whose area is the province.
        public var area: String
        public var level: AdministrativeLevel
        public var period: String
        public var value: Double
        public var numerator: Double?
        public var denominator: Double?

        public init(
            indicator: String, area: String, level: AdministrativeLevel, period: String, value: Double, numerator: Double? = nil,
            denominator: Double? = nil
        ) {
            self.indicator = indicator
            self.area = area
            self.level = level
            self.period = period
            self.value = value
            self.numerator = numerator
            self.denominator = denominator
        }
    }

    /// The accepted figures of one indicator, level and period taken together, which is all
    /// progress reads of them: a store adds them up itself rather than hand over every figure.
    /// At province level there is one per province and area (`area` set); below it one for all
    /// areas together (`area` nil).
    public struct PeriodTotal: Sendable, Equatable {
        public var indicator: String
        public var level: AdministrativeLevel
        public var period: String
        public var area: String?
        /// The province-level figure's value (the smallest, were there several).
        public var value: Double?
        public var figures: Int
        public var numerators: Double
        public var denominators: Double
        /// Figures without both a numerator and a denominator.
        public var lackingParts: Int

        public init(
            indicator: String, level: AdministrativeLevel, period: String, area: String?, value: Double?, figures: Int,
            numerators: Double, denominators: Double, lackingParts: Int
        ) {
            (self.indicator, self.level, self.period, self.area, self.value) = (indicator, level, period, area, value)
            (self.figures, self.numerators, self.denominators, self.lackingParts) = (figures, numerators, denominators, lackingParts)
        }
    }

    /// What a store's `acceptedTotals()` gives, from the figures themselves.
    public static func totals(of figures: [AcceptedFigure]) -> [PeriodTotal] {
        var totals: [String: PeriodTotal] = [:]
        for figure in figures {
            let area = figure.level == .province ? figure.area : nil
            let key = "\(figure.indicator)|\(figure.level.rawValue)|\(figure.period)|\(area ?? "")"
            var total =
                totals[key]
                ?? PeriodTotal(
                    indicator: figure.indicator, level: figure.level, period: figure.period, area: area, value: nil, figures: 0,
                    numerators: 0, denominators: 0, lackingParts: 0)
            total.figures += 1
            if let numerator = figure.numerator, let denominator = figure.denominator {
                total.numerators += numerator
                total.denominators += denominator
            } else {
                total.lackingParts += 1
            }
            if figure.level == .province { total.value = min(total.value ?? figure.value, figure.value) }
            totals[key] = total
        }
        return Array(totals.values)
    }

    public enum Status: String, Sendable, Codable {
        /// The latest value satisfies the target.
        case met
        /// Not yet met, the target's year not over, and the latest value at or past the straight
        /// path from the baseline to the target.
        case onTrack = "on_track"
        /// Not yet met, the target's year not over, the latest value short of that path.
        case behind
        /// The target's year is over and the latest value does not satisfy it.
        case missed
        /// Not met, the year not over, and no baseline to draw a path from.
        case notMetYet = "not_met_yet"
        /// No accepted figure of the indicator for the province.
        case noData = "no_data"
        /// A target no figure of the province can show (`top`: a rank among provinces).
        case notMeasurable = "not_measurable"
    }

    public struct Row: Sendable, Equatable {
        public var indicator: String
        public var nameVI: String
        public var nameEN: String
        public var unit: String
        /// The province whose resolution set the target, as the seed names it, and its code then.
        public var setBy: String
        public var setByCode: String
        /// The province it falls under now (after the 2025 reorganisation), when that differs.
        public var nowUnder: String?
        /// The level the target is about: a commune-level target ("60% at commune level") is read
        /// from the communes' figures together, Σ numerators / Σ denominators.
        public var level: AdministrativeLevel
        /// How many figures the latest value comes from (communes added up; 1 at province level).
        public var latestFigures: Int
        public var targetYear: Int?
        public var comparator: String
        public var targetValue: Double?
        public var targetMin: Double?
        public var targetMax: Double?
        public var baselineValue: Double?
        public var baselineYear: Int?
        public var latestValue: Double?
        public var latestPeriod: String?
        /// Where the straight path from baseline to target stands at the latest value's period.
        public var pathValue: Double?
        public var status: Status
    }

    public var province: String
    public var rows: [Row]

    /// The tolerance of `=` (a target value to reach exactly, such as 100%) and of `about`
    /// ("khoảng"): a value within it counts as the target's.
    public static let equalTolerance = 0.005
    public static let aboutTolerance = 0.10

    /// The report for `province` (its code today) on `today`.
    public static func compute(
        catalogue: IndicatorCatalogue, province: String, figures: [AcceptedFigure], today: Date
    ) -> ProgressReport {
        compute(catalogue: catalogue, province: province, totals: totals(of: figures), today: today)
    }

    /// The report from the accepted figures' totals (`acceptedTotals()` of a store).
    public static func compute(
        catalogue: IndicatorCatalogue, province: String, totals: [PeriodTotal], today: Date
    ) -> ProgressReport {
        let todayYear =
            Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "Asia/Ho_Chi_Minh")!, from: today)
            .year ?? 2026
        let todayDay = String(Timestamps.format(today).prefix(10))
        var rows: [Row] = []
        for indicator in catalogue.indicators {
            // Targets by the province whose resolution set them, those that fall to `province`.
            let byProvince = Dictionary(grouping: indicator.targets, by: \.province)
            for (name, targets) in byProvince.sorted(by: { $0.key < $1.key }) {
                // The seeds are from before the reorganisation: the name is read in that list.
                guard let setByCode = catalogue.provinces.first(where: { $0.name == name && $0.isValid(on: "2025-06-30") })?.code,
                    let nowCode = catalogue.continuation(of: setByCode, from: "2025-06-30", to: todayDay), nowCode == province
                else { continue }
                let baseline = targets.first { $0.year == .baseline }
                let areas: Set<String> = [setByCode, province]
                let ofIndicator = totals.filter { $0.indicator == indicator.code }
                for target in targets {
                    guard case .year(let year) = target.year else { continue }
                    let level = target.level ?? .province
                    let latest = Self.latest(
                        ofIndicator.filter { $0.level == level && (level != .province || areas.contains($0.area ?? "")) }, level: level,
                        ratio: indicator.ratio)
                    var row = Row(
                        indicator: indicator.code, nameVI: indicator.nameVI, nameEN: indicator.nameEN, unit: indicator.unit,
                        setBy: name, setByCode: setByCode, nowUnder: nowCode == setByCode ? nil : nowCode, level: level,
                        latestFigures: latest?.count ?? 0, targetYear: year, comparator: target.comparator, targetValue: target.value,
                        targetMin: target.min, targetMax: target.max, baselineValue: baseline?.value,
                        baselineYear: baseline?.baselineYear, latestValue: latest?.value, latestPeriod: latest?.period.description,
                        pathValue: nil, status: .noData)
                    if let latest, let value = latest.value {
                        row.pathValue = Self.path(baseline: baseline, target: target, year: year, at: latest.period)
                        row.status = Self.status(
                            of: value, target: target, year: year, path: row.pathValue, baseline: baseline?.value,
                            yearOver: todayYear > year)
                    } else if latest != nil || target.comparator == "top" {
                        row.status = .notMeasurable
                    }
                    rows.append(row)
                }
            }
        }
        return ProgressReport(province: province, rows: rows)
    }

    /// Every period's value at `row`'s level, oldest first, read as `latest` reads one period:
    /// what the console's chart draws.
    public static func series(of row: Row, totals: [PeriodTotal], catalogue: IndicatorCatalogue) -> [(
        period: ReportingPeriod, value: Double
    )] {
        let ratio = catalogue.indicators.first { $0.code == row.indicator }?.ratio
        let areas: Set<String> = [row.setByCode, row.nowUnder ?? row.setByCode]
        let chosen = totals.filter {
            $0.indicator == row.indicator && $0.level == row.level && (row.level != .province || areas.contains($0.area ?? ""))
        }
        return Dictionary(grouping: chosen, by: \.period).compactMap { text, inPeriod in
            guard let period = ReportingPeriod(text), let value = latest(inPeriod, level: row.level, ratio: ratio)?.value else {
                return nil
            }
            return (period, value)
        }.sorted { ends(before: $0.period, $1.period) }
    }

    /// The latest period's value at `level`: the one figure at province level; below it, the
    /// figures of every area together (Σ numerators / Σ denominators × scale, rounded to two
    /// places), nil when one of them lacks its parts or the indicator is no ratio.
    static func latest(_ totals: [PeriodTotal], level: AdministrativeLevel, ratio: RatioDefinition?) -> (
        period: ReportingPeriod, value: Double?, count: Int
    )? {
        let byPeriod = Dictionary(grouping: totals.compactMap { total in ReportingPeriod(total.period).map { ($0, total) } }) { $0.0 }
        guard let period = byPeriod.keys.max(by: ends(before:_:)), let inPeriod = byPeriod[period]?.map(\.1) else { return nil }
        if level == .province { return (period, inPeriod.min { ($0.area ?? "") < ($1.area ?? "") }?.value, 1) }
        let count = inPeriod.reduce(0) { $0 + $1.figures }
        guard let ratio, inPeriod.allSatisfy({ $0.lackingParts == 0 }) else { return (period, nil, count) }
        let numerator = inPeriod.reduce(0) { $0 + $1.numerators }, denominator = inPeriod.reduce(0) { $0 + $1.denominators }
        guard denominator > 0 else { return (period, nil, count) }
        return (period, (numerator / denominator * ratio.scale * 100).rounded() / 100, count)
    }

    /// Whether `a` ends before `b`; of two ending together the shorter counts as earlier, so a
    /// year's figure is preferred to its last quarter's.
    static func ends(before a: ReportingPeriod, _ b: ReportingPeriod) -> Bool {
        let endA = a.year * 12 + a.months.upperBound, endB = b.year * 12 + b.months.upperBound
        if endA != endB { return endA < endB }
        return a.months.count < b.months.count
    }

    /// The straight path from the baseline (at the end of its year) to the target (at the end of
    /// its year), read at the end of `period`. Nil without a baseline value and year, or for a
    /// range or rank target.
    static func path(baseline: IndicatorTarget?, target: IndicatorTarget, year: Int, at period: ReportingPeriod) -> Double? {
        guard let start = baseline?.value, let startYear = baseline?.baselineYear, let goal = target.value,
            ["=", ">=", ">", "<=", "<", "about"].contains(target.comparator), year > startYear
        else { return nil }
        let from = Double(startYear + 1), to = Double(year + 1)
        let at = Double(period.year) + Double(period.months.upperBound) / 12
        let share = Swift.min(Swift.max((at - from) / (to - from), 0), 1)
        return start + (goal - start) * share
    }

    static func satisfies(_ value: Double, _ target: IndicatorTarget) -> Bool? {
        switch target.comparator {
        case ">=": target.value.map { value >= $0 }
        case ">": target.value.map { value > $0 }
        case "<=": target.value.map { value <= $0 }
        case "<": target.value.map { value < $0 }
        case "=": target.value.map { abs(value - $0) <= Swift.max(abs($0) * equalTolerance, 0.01) }
        case "about": target.value.map { abs(value - $0) <= abs($0) * aboutTolerance }
        case "range": target.min.flatMap { min in target.max.map { max in (min...max).contains(value) } }
        default: nil
        }
    }

    static func status(
        of value: Double, target: IndicatorTarget, year: Int, path: Double?, baseline: Double?, yearOver: Bool
    ) -> Status {
        guard let satisfied = satisfies(value, target) else { return .notMeasurable }
        if satisfied { return .met }
        if yearOver { return .missed }
        guard let path, let goal = target.value, let baseline else { return .notMetYet }
        // Rising or falling towards the goal, the latest value is on track when it is at least as far along as the path.
        return (goal >= baseline ? value >= path : value <= path) ? .onTrack : .behind
    }
}

extension ProgressReport.Row {
    /// The target as the seed states it: `≥ 80`, `= 100`, `40–60`, `top 30`, `≈ 25`.
    public var targetText: String {
        func show(_ number: Double?) -> String { number.map(SemanticRules.show) ?? "?" }
        return switch comparator {
        case ">=": "≥ \(show(targetValue))"
        case "<=": "≤ \(show(targetValue))"
        case "about": "≈ \(show(targetValue))"
        case "range": "\(show(targetMin))–\(show(targetMax))"
        case "top": "top \(show(targetValue))"
        default: "\(comparator) \(show(targetValue))"
        }
    }
}
