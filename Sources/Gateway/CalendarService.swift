import Foundation
import GatewayContracts
import GatewayStore
import Logging
import ServiceLifecycle

extension ReportingCalendar {
    /// The calendar's rows as of `now`, read from the store: per indicator, one query for what the
    /// ledger holds of its listed periods and one for what is in quarantine. `only` limits it to one period.
    public func rows(
        store: any FiguresLedger & PullHistory, now: Date, only period: ReportingPeriod? = nil
    ) async throws -> [Row] {
        let listed = periods(asOf: CalendarDay(now), only: period)
        var rows: [Row] = []
        for (indicator, entries) in Dictionary(grouping: listed, by: \.indicator).sorted(by: { $0.key < $1.key }) {
            let periods = entries.map(\.period)
            let names = periods.map(\.description)
            let ledger = try await store.acceptance(indicator: indicator, periods: names)
            let quarantined = try await store.quarantinedFigures(indicator: indicator, periods: names)
            let byPeriod = Dictionary(grouping: ledger, by: \.key.period)
            let quarantinedByPeriod = Dictionary(grouping: quarantined, by: \.key.period)
            for period in periods.sorted() {
                let row = row(
                    indicator: indicator, period: period,
                    ledger: Dictionary(uniqueKeysWithValues: (byPeriod[period.description] ?? []).map { ($0.key, $0.value) }),
                    quarantined: Dictionary(
                        uniqueKeysWithValues: (quarantinedByPeriod[period.description] ?? []).map { ($0.key, $0.value) }),
                    now: now)
                if let row { rows.append(row) }
            }
        }
        return rows
    }
}

/// Counts the figures overdue and due soon, by indicator, for the metrics the overdue alert reads,
/// every `calendar.refresh` (the calendar moves by days; a pull or a delivery changes a few figures).
struct CalendarService: Service, CustomStringConvertible {
    var description: String { "CalendarService" }

    let runtime: GatewayRuntime
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var known: Set<String> = []
            while !Task.isCancelled {
                let loaded = runtime.loaded
                do {
                    let rows = try await loaded.calendar.rows(store: runtime.store, now: Date())
                    known = runtime.metrics.refreshCalendar(rows, previouslyReported: known)
                    let counts = (at: Date(), overdue: rows.reduce(0) { $0 + $1.overdue }, dueSoon: rows.reduce(0) { $0 + $1.dueSoon })
                    runtime.calendarSnapshot.value.withLock { $0 = counts }
                } catch is CancellationError {
                    return
                } catch {
                    logger.error("counting the reporting calendar failed", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: loaded.configuration.calendar.refresh)
            }
        }
    }
}

extension GatewayMetrics {
    /// Sets the overdue and due-soon gauges of every indicator in `rows`, and zeroes those of an
    /// indicator no longer listed, so a figure that arrived does not stay overdue in the metrics.
    /// Returns the indicators reported.
    func refreshCalendar(_ rows: [ReportingCalendar.Row], previouslyReported: Set<String>) -> Set<String> {
        var overdue: [String: Int] = [:]
        var dueSoon: [String: Int] = [:]
        for row in rows {
            overdue[row.indicator, default: 0] += row.overdue
            dueSoon[row.indicator, default: 0] += row.dueSoon
        }
        let indicators = Set(overdue.keys).union(previouslyReported)
        for indicator in indicators {
            gauge(
                "figures_overdue", unit: "", "Expected figures past their due day and not accepted by the centre.",
                [
                    ("indicator", indicator)
                ]
            ).set(to: Double(overdue[indicator] ?? 0))
            gauge(
                "figures_due_soon", unit: "", "Expected figures not yet accepted that fall due within seven days.",
                [
                    ("indicator", indicator)
                ]
            ).set(to: Double(dueSoon[indicator] ?? 0))
        }
        return indicators
    }
}
