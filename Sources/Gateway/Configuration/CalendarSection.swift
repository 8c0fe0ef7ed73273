import GatewayConfig
import GatewayContracts

extension GatewayConfiguration {
    /// `calendar:`: the province's own deadlines and rhythms, which win over the catalogue's, and
    /// how often the daemon counts what is overdue for its metrics.
    ///
    /// ```yaml
    /// calendar:
    ///   default_due: { cutoff_day: 14, working_days_after: 2 }
    ///   from: 2025-07-01
    ///   indicators:
    ///     KTS_GRDP: { rhythm: [year], due: { days_after_period_end: 90 } }
    /// ```
    public struct Calendar: Sendable {
        /// Nil for the catalogue's `reporting_default`.
        public var defaultDue: DueRule?
        public var overrides: [String: ReportingCalendar.Override] = [:]
        /// The first day the calendar lists periods from; nil for the start of last year.
        public var from: CalendarDay?
        public var refresh = Duration.seconds(300)

        init(_ section: ConfigValue?) {
            guard let section else { return }
            section.allowOnly(["default_due", "from", "indicators", "refresh"])
            if let due = section["default_due"] { defaultDue = Self.dueRule(due) }
            if let text = section.optionalString("from") {
                from = CalendarDay(text)
                if from == nil { section["from"]?.report("expected a day as yyyy-mm-dd, found \"\(text)\"") }
            }
            refresh = section.duration("refresh", default: refresh, range: .milliseconds(100)...(.seconds(86_400)))
            for (code, value) in section["indicators"]?.entries ?? [] {
                value.allowOnly(["rhythm", "due"])
                var override = ReportingCalendar.Override()
                if let rhythm = value["rhythm"] { override.rhythm = Self.kinds(rhythm) }
                if let due = value["due"] { override.due = Self.dueRule(due) }
                overrides[code] = override
            }
        }

        /// `[year, quarter]`, reported where it is wrong.
        static func kinds(_ value: ConfigValue) -> [ReportingPeriod.Kind]? {
            var kinds: [ReportingPeriod.Kind] = []
            for item in value.items {
                guard let text = item.text else { return nil }
                guard let kind = ReportingPeriod.Kind(rawValue: text) else {
                    item.report("unknown kind of period \"\(text)\"; known: year, half, quarter, month")
                    return nil
                }
                kinds.append(kind)
            }
            if kinds.isEmpty { value.report("expected a list of kinds of period such as [year, quarter]") }
            return kinds.isEmpty ? nil : kinds
        }

        static func dueRule(_ value: ConfigValue) -> DueRule? {
            value.allowOnly(["cutoff_day", "working_days_after", "days_after_period_end"])
            var fields: [String: Int] = [:]
            for (key, item) in value.entries {
                guard let text = item.text else { return nil }
                guard let number = Int(text) else {
                    item.report("expected a whole number of days, found \"\(text)\"")
                    return nil
                }
                fields[key] = number
            }
            switch DueRule.parse(fields) {
            case .success(let rule): return rule
            case .failure(let error):
                value.report(error.description)
                return nil
            }
        }
    }
}
