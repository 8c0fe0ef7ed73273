import Foundation
import Gateway
import GatewayHTTP
import GatewaySigning
import GatewayTestKit
import Synchronization
import Testing

@Suite("Admin endpoints: health, readiness, Prometheus metrics", .serialized)
struct AdminTests {
    final class Findings: Sendable {
        let value = Mutex<[String: String]>([:])
    }

    @Test("healthz, readyz and metrics answer behind the bearer token; an independent parser reads the metrics")
    func adminEndpoints() async throws {
        let directory = try makeTemporaryDirectory()
        let key = SigningKey.generate()
        let keyPath = try writeKey(key, in: directory)
        let mocks = MockSystems.Configuration(
            directory: directory.appendingPathComponent("mocks"), source: .init(clientID: "lgsp-gateway-demo", clientSecret: "s"),
            trustedKeys: [key.publicKey], faults: .init(scripted: [.unavailable, .tooManyRequests]))
        let findings = Findings()
        let transport = HTTPTransport()
        let dataset = MockDataset()
        // The shipped adapters, the document system's expecting a seventh commune it has no record
        // of: one figure overdue in each of its five quarters.
        let adapters = try shippedAdapters(
            ["dvc-portal", "qlvb-documents", "thong-ke-kinh-te-so", "vien-thong-cap-quang", "ngan-hang-thanh-toan", "so-gddt"],
            in: directory)
        let qlvb = adapters.appendingPathComponent("qlvb-documents.yaml")
        try String(contentsOf: qlvb, encoding: .utf8).replacingOccurrences(of: #""03661"]"#, with: #""03661", "03999"]"#)
            .write(to: qlvb, atomically: true, encoding: .utf8)
        try await MockSystems.withRunning(mocks, logger: quietLogger) { running in
            _ = try await runGateway(
                running, directory: directory, keyPath: keyPath,
                overrides: [
                    "LGSP_ADMIN_TOKEN": "t0ken", "LGSP_RETRY_BASE": "50ms", "LGSP_ADAPTERS": adapters.path,
                    "LGSP_CALENDAR_REFRESH": "200ms",
                ]
            ) { runtime in
                guard try await allPulledAndDelivered(runtime), let port = runtime.adminPort else { return false }
                let base = "http://127.0.0.1:\(port)"
                func get(_ path: String, token: String?) async throws -> (Int, String) {
                    let answer = try await transport.send(
                        method: "GET", url: base + path, headers: token.map { [("Authorization", "Bearer " + $0)] } ?? [],
                        tls: EndpointTLS(),
                        timeout: .seconds(10))
                    return (answer.status, String(decoding: answer.body, as: UTF8.self))
                }
                let (unauthorized, _) = try await get("/metrics", token: nil)
                let (wrong, _) = try await get("/healthz", token: "nope")
                let (health, _) = try await get("/healthz", token: "t0ken")
                let (ready, readiness) = try await get("/readyz", token: "t0ken")
                let (metricsStatus, metrics) = try await get("/metrics", token: "t0ken")
                // The calendar is counted every 200 ms: wait for a count made after the deliveries.
                guard metrics.contains(#"lgsp_figures_overdue{indicator="HSCV_DIEN_TU"} 5"#) else { return false }
                findings.value.withLock {
                    $0 = [
                        "unauthorized": "\(unauthorized)", "wrong": "\(wrong)", "health": "\(health)", "ready": "\(ready)",
                        "readiness": readiness, "metricsStatus": "\(metricsStatus)", "metrics": metrics,
                    ]
                }
                return true
            }
        }
        try await transport.shutdown()
        let found = findings.value.withLock { $0 }
        #expect(found["unauthorized"] == "401" && found["wrong"] == "401")
        #expect(found["health"] == "200")
        #expect(found["ready"] == "200", "\(found["readiness"] ?? "")")
        #expect(found["metricsStatus"] == "200")

        let metricsPath = directory.appendingPathComponent("metrics.txt")
        try (found["metrics"] ?? "").write(to: metricsPath, atomically: true, encoding: .utf8)
        let (status, output) = try runTool([
            "python3", repositoryRoot.appendingPathComponent("Tests/interop/parse_metrics.py").path, metricsPath.path,
        ])
        #expect(status == 0, "\(output)")
        let samples = try JSONDecoder().decode([String: Double].self, from: Data(output.utf8))
        #expect(samples["lgsp_build_info{version=\(GatewayRuntime.version)}"] == 1)
        #expect(samples["lgsp_pulls_total{adapter=dvc-portal,outcome=success}"] == 1)
        #expect(samples["lgsp_pulls_total{adapter=qlvb-documents,outcome=success}"] == 1)
        #expect(samples["lgsp_pulls_total{adapter=ngan-hang-thanh-toan,outcome=success}"] == 1)
        let valid = samples.filter { $0.key.hasPrefix("lgsp_records_total{") && $0.key.contains("outcome=valid") }.values.reduce(0, +)
        let quarantined = samples.filter { $0.key.hasPrefix("lgsp_records_total{") && $0.key.contains("outcome=quarantined") }.values
            .reduce(0, +)
        #expect(Int(valid) == dataset.goodRecordCount && Int(quarantined) == dataset.badRecordCount)
        #expect(samples["lgsp_records_total{adapter=so-gddt,outcome=skipped}"].map(Int.init) == dataset.skippedRecordCount, "\(samples)")
        #expect(samples["lgsp_records_total{adapter=dvc-portal,outcome=quarantined,reason_class=indicator}"] != nil)
        #expect(samples["lgsp_delivery_attempts_total{status_class=5xx}"] == 1)
        #expect(samples["lgsp_delivery_attempts_total{status_class=4xx}"] == 1)
        #expect((samples["lgsp_delivery_attempts_total{status_class=2xx}"] ?? 0) >= 2)
        #expect(samples["lgsp_delivery_retries_total{}"] == 2)
        #expect(samples["lgsp_outbox_reports{state=pending}"] == 0)
        #expect((samples["lgsp_outbox_reports{state=delivered}"] ?? 0) >= 2)
        #expect(samples["lgsp_outbox_oldest_undelivered_age_seconds{}"] == 0)
        // What the shipped alert on a silent adapter reads: its last success and its interval.
        let lastSuccess = try #require(samples["lgsp_adapter_last_success_timestamp_seconds{adapter=dvc-portal}"])
        #expect(abs(lastSuccess - Date().timeIntervalSince1970) < 600)
        #expect((samples["lgsp_adapter_pull_interval_seconds{adapter=dvc-portal}"] ?? 0) > 0)
        #expect(samples["lgsp_records_total{adapter=dvc-portal,outcome=unchanged}"] == 0)
        #expect(samples.keys.contains { $0.hasPrefix("lgsp_pull_duration_seconds_bucket{") })
        // What the overdue alert reads: the commune that never reported, in each quarter; nothing
        // of the portal's, which sent every figure it is responsible for.
        #expect(samples["lgsp_figures_overdue{indicator=HSCV_DIEN_TU}"] == 5)
        #expect(samples["lgsp_figures_overdue{indicator=DVC_TOAN_TRINH}"] == 0)
        #expect(samples["lgsp_figures_due_soon{indicator=HSCV_DIEN_TU}"] == 0)
        #expect(samples.keys.contains { $0.hasPrefix("lgsp_delivery_duration_seconds_count{") })
    }
}
