import Foundation
import GatewayContracts
import GatewayStore
import GatewayTestKit
import Testing

@Suite("The operator console in a real browser")
struct BrowserTests {
    @Test(
        "in headless Chromium an operator sees the adapters, the quarantine and the dead letters, fixes a mapping, reprocesses and retries; a viewer is refused; English on the switch"
    )
    func operatorWalk() async throws {
        try await ConsoleFixture.run("browser") { fixture in
            // LGSP_CONSOLE_SCREENSHOTS=docs/console refreshes the operator's guide's pictures.
            let screenshots =
                ProcessInfo.processInfo.environment["LGSP_CONSOLE_SCREENSHOTS"].map { URL(fileURLWithPath: $0, relativeTo: repositoryRoot) }
                ?? fixture.directory.appendingPathComponent("screenshots")
            let held = try await fixture.runtime.store.quarantined(matching: QuarantineFilter(adapter: "dvc-portal"), limit: 100)
            let fixable = held.filter { $0.indicator == "HS_TRUC_TUYEM" && $0.reasons.allSatisfy { $0.rule == "indicator.known" } }
            let dead = try await fixture.runtime.store.entries(state: .deadLettered, limit: 1000).count
            #expect(!fixable.isEmpty && dead > 0)
            let configuration: [String: Any] = [
                "base": fixture.base, "adapter_file": fixture.portal.path, "fixed_text": fixture.good, "screenshots": screenshots.path,
                "operator": ["name": fixture.operatorAccount.name, "password": fixture.operatorAccount.password],
                "viewer": ["name": fixture.viewerAccount.name, "password": fixture.viewerAccount.password],
            ]
            let file = fixture.directory.appendingPathComponent("browser.json")
            try JSONSerialization.data(withJSONObject: configuration).write(to: file)
            let (status, output) = try await runToolOffPool([
                "python3", repositoryRoot.appendingPathComponent("Tests/browser/console_walk.py").path, file.path,
            ])
            #expect(status == 0, "\(output)")
            #expect(output.hasSuffix("ok\n"), "\(output)")
            // What the clicks did, read from the store and the centre rather than the pages.
            let stats = try await fixture.runtime.store.outboxStats(now: Date())
            #expect(stats.deadLettered == 0 && stats.undelivered == 0)
            #expect(fixture.running.central.statistics.duplicateObservations == 0)
            #expect(fixture.running.central.statistics.acceptedReports == stats.delivered)
            for record in fixable {
                let key = FigureKey(
                    indicator: "HS_TRUC_TUYEN", province: "14", level: .province, area: record.area ?? "", period: record.period ?? "")
                #expect(fixture.running.central.figure(key) != nil, "\(key) did not arrive")
            }
            let actions = try await fixture.runtime.store.operatorActions(before: nil, limit: 20)
            #expect(Set(actions.map(\.action)) == ["config.reload", "quarantine.reprocess", "outbox.retry"], "\(actions)")
            #expect(actions.allSatisfy { $0.user == fixture.operatorAccount.name })
            let pictures = try FileManager.default.contentsOfDirectory(atPath: screenshots.path).filter { $0.hasSuffix(".png") }
            #expect(pictures.count >= 13, "\(pictures)")
        }
    }
}
