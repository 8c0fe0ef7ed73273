import Foundation
import Gateway
import GatewayAdapters
import GatewayConfig
import GatewayContracts
import GatewayTestKit
import GatewayHTTP
import GatewaySigning
import GatewayStore
import Testing

@Suite("Malformed answers from a source", .serialized)
struct MalformedAnswerTests {
    @Test(
        "each is a failed pull whose error names the adapter and what was wrong",
        arguments: [
            (MalformedAnswer.truncated, "the answer is not valid JSON"),
            (.wrongType, "content type text/plain; charset=utf-8, expected JSON"),
            // An HTML page is said to be one, with its title, not parsed as data.
            (.html, "source answered with an HTML page \"502 Bad Gateway\" instead of data"),
            (.oversized, "is larger than 4096 bytes"),
            (.invalidUTF8, "the answer is not valid JSON"),
            (.slow, "failed"),
            (.trickle, "no complete answer within 1s (the deadline covers the whole exchange, body included)"),
        ])
    func named(kind: MalformedAnswer, message: String) async throws {
        try await withSignedMocks { running, directory, _ in
            let environment = Demo.environment(for: running, repository: repositoryRoot, keyPath: "", storePath: "")
            let definition = try loadHTTPAdapter(
                Self.adapterFile(name: "hong-\(kind.rawValue)", kind: kind), name: "adapters", in: directory, environment: environment)
            let started = ContinuousClock.now
            let (error, took) = try await withTransport { transport in
                let error = await #expect(throws: PullError.self) {
                    try await HTTPAdapter(definition: definition, transport: transport).pull(
                        cursor: nil, context: PullContext(province: "14", collectedAt: Date()))
                }
                return (error, ContinuousClock.now - started)
            }
            #expect(error?.description.hasPrefix("adapter hong-\(kind.rawValue): ") == true, "\(String(describing: error))")
            #expect(error?.description.contains(message) == true, "\(String(describing: error))")
            // The adapter's 1 s timeout, not the source's 5 s, decides.
            if kind == .slow || kind == .trickle { #expect(took < .seconds(4), "\(String(describing: error))") }
        }
    }

    static func adapterFile(name: String, kind: MalformedAnswer) -> String {
        """
        name: \(name)
        schedule: { every: 1h }
        \(mockSourceYAML)
          timeout: 1s
          max_response_bytes: 4096
          retry: { attempts: 1 }   # one exchange, so the timeout alone is measured
        request: { path: /hong/\(kind.rawValue) }
        response: { records: $.duLieu.banGhi }
        mapping: { indicator: maChiTieu, level: capHanhChinh, area: maDonVi, period: kyBaoCao, value: giaTri, unit: donVi }
        """
    }

    @Test("the daemon goes on: the good adapters deliver everything while the broken source's pulls fail and are reported")
    func daemonGoesOn() async throws {
        try await withSignedMocks { running, directory, keyPath in
            let folder = directory.appendingPathComponent("adapters")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for file in try FileManager.default.contentsOfDirectory(atPath: repositoryRoot.appendingPathComponent("Adapters").path)
            where file.hasSuffix(".yaml") {
                try FileManager.default.copyItem(
                    at: repositoryRoot.appendingPathComponent("Adapters/\(file)"), to: folder.appendingPathComponent(file))
            }
            try Self.adapterFile(name: "hong", kind: .html).write(
                to: folder.appendingPathComponent("hong.yaml"), atomically: true, encoding: .utf8)
            let good = running.source.configuration.dataset.goodRecordCount
            let result = try await runGateway(
                running, directory: directory, keyPath: keyPath, overrides: ["LGSP_ADAPTERS": folder.path], timeout: .seconds(60)
            ) { runtime in
                let stats = try await runtime.store.outboxStats(now: Date())
                let broken = try await runtime.store.adapterStatuses().first { $0.adapter == "hong" }
                return stats.deliveredObservations == good && stats.undelivered == 0 && broken?.lastError != nil
            }
            #expect(result.stats.deliveredObservations == good)
            let store = try SQLiteStore(path: directory.appendingPathComponent("gateway.sqlite").path, exclusive: false)
            let broken = try #require(try await store.adapterStatuses().first { $0.adapter == "hong" })
            #expect(
                broken.lastError?.contains("adapter hong: source answered with an HTML page \"502 Bad Gateway\"") == true,
                "\(String(describing: broken.lastError))")
            #expect(broken.lastSuccess == nil)
            #expect(try await store.integrityCheck().isEmpty)
        }
    }
}
