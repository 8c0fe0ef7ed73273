import Foundation
import GatewayTestKit
import Testing

@Suite("The shipped Prometheus alerting rules")
struct PrometheusRulesTests {
    static let rules = repositoryRoot.appendingPathComponent("deploy/prometheus/lgsp-gateway.rules.yml")

    @Test("promtool accepts the rules, and each alert fires on the series it is for and not on the ones beside them")
    func promtool() throws {
        let (checked, checkOutput) = try runTool(["promtool", "check", "rules", Self.rules.path])
        #expect(checked == 0 && checkOutput.contains("SUCCESS: 6 rules found"), "\(checkOutput)")
        let tests = repositoryRoot.appendingPathComponent("Tests/fixtures/prometheus/lgsp-gateway.rules.test.yml")
        let (tested, testOutput) = try runTool(["promtool", "test", "rules", tests.path])
        #expect(tested == 0 && testOutput.contains("SUCCESS"), "\(testOutput)")
    }

    @Test("every metric the rules read is one the README documents")
    func metricsDocumented() throws {
        let rules = try String(contentsOf: Self.rules, encoding: .utf8)
        let readme = try String(contentsOf: repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let names = Set(rules.matches(of: /lgsp_[a-z_]+/).map { String($0.output) })
        #expect(names.count >= 6)
        for name in names { #expect(readme.contains("`\(name)`"), "\(name) is not in the README's table of metrics") }
    }
}
