import Foundation
import GatewayDelivery
import GatewayHTTP
import GatewayStore
import Prometheus
import GatewayPipeline

/// The gateway's metrics, in one registry per runtime, exposed in Prometheus text format.
/// Names and labels are documented in the README; everything is prefixed `lgsp_`.
public final class GatewayMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    static let latencyBuckets: [Duration] = [
        .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
    ]

    public init(version: String) {
        registry.makeGauge(
            descriptor: .init(
                namespace: "lgsp", metricName: "build", unitName: "info", helpText: "Build information; the value is always 1."),
            labels: [("version", version)]
        ).set(to: 1)
    }

    func counter(_ name: String, _ help: String, _ labels: [(String, String)]) -> Counter {
        registry.makeCounter(descriptor: .init(namespace: "lgsp", metricName: name, unitName: "total", helpText: help), labels: labels)
    }

    func gauge(_ name: String, unit: String, _ help: String, _ labels: [(String, String)] = []) -> Gauge {
        registry.makeGauge(descriptor: .init(namespace: "lgsp", metricName: name, unitName: unit, helpText: help), labels: labels)
    }

    func histogram(_ name: String, _ help: String, _ labels: [(String, String)]) -> DurationHistogram {
        registry.makeDurationHistogram(
            descriptor: .init(namespace: "lgsp", metricName: name, unitName: "seconds", helpText: help), labels: labels,
            buckets: Self.latencyBuckets)
    }

    /// The schedule an adapter runs on, for the alert on an adapter silent for two intervals.
    func recordSchedule(adapter: String, interval: TimeInterval) {
        gauge(
            "adapter_pull_interval", unit: "seconds", "How long one interval of the adapter's schedule is (cron: the gap between runs).",
            [("adapter", adapter)]
        ).set(to: interval)
    }

    /// A pull ended: its outcome, its records by outcome (quarantined ones by reason class), its reports, its duration.
    func recordPull(adapter: String, result: Result<PullSummary, any Error>, duration: Duration) {
        histogram("pull_duration", "Time one pull took, fetch to commit.", [("adapter", adapter)]).record(duration)
        switch result {
        case .success(let summary):
            counter("pulls", "Pulls by adapter and outcome.", [("adapter", adapter), ("outcome", "success")]).increment()
            gauge(
                "adapter_last_success", unit: "timestamp_seconds", "When the adapter's last successful pull ended (Unix time).",
                [("adapter", adapter)]
            ).set(to: Date().timeIntervalSince1970)
            counter("records", "Records pulled, by outcome.", [("adapter", adapter), ("outcome", "valid")]).increment(
                by: Int64(summary.valid))
            for (reasonClass, count) in summary.quarantinedByClass {
                counter(
                    "records", "Records pulled, by outcome.",
                    [("adapter", adapter), ("outcome", "quarantined"), ("reason_class", reasonClass)]
                )
                .increment(by: Int64(count))
            }
            counter("records", "Records pulled, by outcome.", [("adapter", adapter), ("outcome", "unchanged")]).increment(
                by: Int64(summary.unchanged))
            counter("records", "Records pulled, by outcome.", [("adapter", adapter), ("outcome", "still_quarantined")]).increment(
                by: Int64(summary.stillQuarantined))
            counter("records", "Records pulled, by outcome.", [("adapter", adapter), ("outcome", "skipped")]).increment(
                by: Int64(summary.skipped.values.reduce(0, +)))
            counter("figures_revised", "Observations sent as a new revision of a figure sent before.", [("adapter", adapter)])
                .increment(by: Int64(summary.revisions))
            counter("reports_signed", "Reports signed and stored.", [("adapter", adapter)]).increment(by: Int64(summary.reports))
        case .failure:
            counter("pulls", "Pulls by adapter and outcome.", [("adapter", adapter), ("outcome", "failure")]).increment()
        }
    }

    /// A delivery attempt ended.
    func recordDelivery(_ event: DeliveryEvent) {
        let statusClass = event.status.map { "\($0 / 100)xx" } ?? "network"
        counter("delivery_attempts", "Delivery attempts by answer class (2xx, 4xx, 5xx, network).", [("status_class", statusClass)])
            .increment()
        if case .retry = event.completion { counter("delivery_retries", "Attempts that will be retried.", []).increment() }
        if case .deadLetter = event.completion { counter("dead_letters", "Reports given up on (dead letters made).", []).increment() }
        if event.receiptVerified == false {
            counter("receipts_unverified", "Receipts from the centre that did not verify against central.receipt_keys.", []).increment()
        }
        histogram("delivery_duration", "Time one delivery attempt took.", []).record(Duration(clampingSeconds: event.duration))
    }

    func recordBreaker(open: Bool) {
        gauge("circuit_breaker", unit: "open", "1 while the central endpoint's circuit breaker is open.").set(to: open ? 1 : 0)
    }

    /// Reads the outbox now, so the gauges are current at every scrape.
    func refreshOutbox(_ stats: OutboxStats) {
        for (state, count) in [
            ("pending", stats.pending), ("in_flight", stats.inFlight), ("delivered", stats.delivered),
            ("dead_lettered", stats.deadLettered),
        ] {
            gauge("outbox", unit: "reports", "Reports in the outbox by state.", [("state", state)]).set(to: Double(count))
        }
        gauge("outbox_oldest_undelivered_age", unit: "seconds", "Age of the oldest report not yet delivered.").set(
            to: Double(stats.oldestUndeliveredAgeSeconds))
        gauge("outbox_unverified_receipts", unit: "reports", "Reports whose receipt from the centre did not verify.").set(
            to: Double(stats.unverifiedReceipts))
    }
}
