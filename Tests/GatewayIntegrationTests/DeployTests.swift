import Foundation
import GatewayTestKit
import Testing

@Suite("Installing", .serialized)
struct DeployTests {
    /// Swift symbols name their module with its length, and every symbol of the test kit (mocks,
    /// test CA, demo) begins with its module's. Type names are no use here: the mangler shortens
    /// `TestCertificateAuthority` to a back-reference into `GatewayTestKit`.
    static let testKitSymbols = ["14GatewayTestKit"]

    /// Which of `testKitSymbols` a binary's symbol table holds.
    static func testKit(in binary: URL) throws -> [String] {
        let (status, symbols) = try runTool(["nm", "--defined-only", binary.path], includeStandardError: false)
        #expect(status == 0)
        #expect(
            symbols.contains("11GatewayHTTP"), "the symbol table of \(binary.path) reads as nothing; the check below would prove nothing")
        return testKitSymbols.filter { symbols.contains($0) }
    }

    @Test("the lgsp-gateway an operator installs links no mock system, demo or test certificate authority; lgsp-mock does")
    func noTestKitInTheProduct() throws {
        #expect(try Self.testKit(in: gatewayExecutable()).isEmpty)
        #expect(try Self.testKit(in: mockExecutable()) == Self.testKitSymbols, "the check cannot see the mocks in lgsp-mock")
    }

    @Test(
        "install.sh stages the layout, keeps an edited gateway.yaml on a second run, and its configuration names exactly what is left to fill in"
    )
    func installLayout() throws {
        let root = try makeTemporaryDirectory().appendingPathComponent("root")
        let binary = try gatewayExecutable().path
        let install = repositoryRoot.appendingPathComponent("deploy/install.sh").path
        let (status, output) = try runTool(["bash", install, "--destdir", root.path, "--binary", binary, "--no-system"])
        #expect(status == 0, "\(output)")
        let files = FileManager.default
        for path in [
            "usr/bin/lgsp-gateway", "usr/share/lgsp-gateway/contracts/manifest.json", "usr/share/lgsp-gateway/contracts/v1/catalogue.json",
            "usr/share/lgsp-gateway/adapters/dvc-portal.yaml", "usr/share/lgsp-gateway/adapters/README.md",
            "usr/share/lgsp-gateway/prometheus/lgsp-gateway.rules.yml",
            "usr/share/doc/lgsp-gateway/operators-guide.md", "lib/systemd/system/lgsp-gateway.service", "etc/lgsp-gateway/gateway.yaml",
        ] {
            #expect(files.fileExists(atPath: root.appendingPathComponent(path).path), "\(path) missing")
        }
        let credentials = try files.attributesOfItem(atPath: root.appendingPathComponent("etc/lgsp-gateway/credentials").path)
        #expect((credentials[.posixPermissions] as? Int) == 0o700)
        let adapters = try files.contentsOfDirectory(atPath: root.appendingPathComponent("etc/lgsp-gateway/adapters.d").path)
        #expect(adapters.isEmpty, "no adapter runs until the operator adds one")

        // A fresh configuration fails check on exactly the lines to fill in, each named.
        let configuration = root.appendingPathComponent("etc/lgsp-gateway/gateway.yaml")
        let (checkStatus, check) = try runTool([binary, "check", "--config", configuration.path])
        #expect(checkStatus == 2)
        for field in ["gateway.id", "gateway.province", "central.url", "signing.key"] {
            #expect(check.contains(": \(field): "), "\(field) not named in:\n\(check)")
        }
        #expect(!check.contains("central.ca_bundle"), "an empty CA bundle means the system trust store:\n\(check)")

        // A second run upgrades in place and keeps what the operator wrote.
        let edited = try String(contentsOf: configuration, encoding: .utf8).replacingOccurrences(
            of: "id: \"\"", with: "id: quang-ninh-gw-01")
        try edited.write(to: configuration, atomically: true, encoding: .utf8)
        let (again, againOutput) = try runTool(["bash", install, "--destdir", root.path, "--binary", binary, "--no-system"])
        #expect(again == 0, "\(againOutput)")
        #expect(try String(contentsOf: configuration, encoding: .utf8) == edited)
        #expect(files.fileExists(atPath: configuration.path + ".dist"))
        #expect(againOutput.contains("kept your"), "\(againOutput)")
    }
}
