import ArgumentParser
import Foundation
import Gateway
import GatewayAdapters
import GatewayContracts
import GatewayTestKit
import GatewayHTTP
import GatewaySigning
import GatewayStore
import Logging
import ServiceLifecycle
import GatewayJSON
import GatewayPipeline

/// Measures, in one run on loopback, each stage's ceiling on its own and the whole pipeline, in
/// observations per second. Figures are for comparing within one run (ratios), not across machines.
@main
struct LGSPBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lgsp-bench",
        abstract: "Measure each stage of the gateway on its own and the whole pipeline, on loopback; the last line is JSON.")

    @Option(help: "Observations to push through each stage and the pipeline.")
    var observations = 100_000

    @Option(help: "Observations per signed report.")
    var observationsPerReport = 500

    @Option(help: "Reports per delivery request (1: no batching).")
    var reportsPerRequest = 20

    @Option(help: "Deliveries under way at once.")
    var concurrency = 4

    @Option(help: "Records per page the pipeline's document source is asked for (0: the whole history in one answer).")
    var pageSize = 5_000

    @Option(
        help:
            "Stored observations a separate lgsp-gateway process drains to the mock central endpoint, and a tenth of it to compare peak memory (0: skip)."
    )
    var backlog = 1_000_000

    @Option(
        help:
            "The lgsp-gateway the backlog and idle measurements start (default: the one beside lgsp-bench), e.g. the static build the Debian package ships."
    )
    var gateway: String?

    @Option(
        help:
            "Instead of the pipeline: fill a SQLite store with this many quarantined records and time the reads the console's quarantine page makes (0: the pipeline)."
    )
    var quarantineReads = 0

    @Flag(
        help:
            "Instead of the pipeline: fill a SQLite store as the console issue says (1,000,000 quarantined records, 200,000 delivered reports and figures) and time each console page over loopback HTTP."
    )
    var consolePages = false

    @Option(help: "With --console-pages: rounds per page.") var rounds = 100

    func validate() throws {
        guard quarantineReads == 0 || quarantineReads >= 10_000 else {
            throw ValidationError("--quarantine-reads must be 0 or at least 10000")
        }
        guard observations >= 20 else { throw ValidationError("--observations must be at least 20") }
        guard backlog == 0 || backlog >= 100 else { throw ValidationError("--backlog must be 0 or at least 100") }
        guard (0...10_000).contains(pageSize) else {
            throw ValidationError("--page-size must be 0 to 10000 (the mock source's largest page)")
        }
        if let gateway, !FileManager.default.isExecutableFile(atPath: gateway) {
            throw ValidationError("--gateway \(gateway) is not an executable file")
        }
    }

    struct Stage: Codable {
        let name: String
        let observations: Int
        let seconds: Double
        /// This process's CPU time (every thread) while the stage ran.
        let cpuSeconds: Double
        var perSecond: Double { Double(observations) / max(seconds, 1e-9) }
        var cpuMicrosecondsPerObservation: Double { cpuSeconds / Double(max(observations, 1)) * 1e6 }
    }

    func run() async throws {
        LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
        guard let repository = Demo.locateRepository() else {
            throw ValidationError("cannot find Contracts/ and deploy/examples/: run from the repository checkout")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lgsp-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let key = SigningKey.generate()
        if quarantineReads > 0 {
            try await QuarantineReads.measure(count: quarantineReads, rounds: 100, in: directory)
            return
        }
        if consolePages {
            try await ConsolePageTimes.measure(
                quarantined: 1_000_000, reports: 200_000, rounds: rounds, repository: repository, in: directory)
            return
        }
        let keyPath = directory.appendingPathComponent("signing-key.pem").path
        _ = FileManager.default.createFile(
            atPath: keyPath, contents: Data(key.pemRepresentation.utf8), attributes: [.posixPermissions: 0o600])

        // The document-management source reports five quarters per commune.
        let dataset = MockDataset(province: "14", communes: max(1, (observations - 10) / 5))
        let mocks = MockSystems.Configuration(
            directory: directory.appendingPathComponent("mocks"),
            source: .init(clientID: "lgsp-gateway-demo", clientSecret: "bench-\(UUID().uuidString)", dataset: dataset),
            trustedKeys: [key.publicKey])
        let gatewayBinary =
            gateway.map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("lgsp-gateway")
        let (observationsPerReport, reportsPerRequest, concurrency, backlog, pageSize) =
            (self.observationsPerReport, self.reportsPerRequest, self.concurrency, self.backlog, self.pageSize)
        let pages = pageSize > 0 ? "pages of \(pageSize)" : "one answer"
        print(
            "lgsp-bench: \(dataset.portalRecords.count + dataset.documentRecords.count) source records (\(pages)), \(observationsPerReport) observations per report, \(reportsPerRequest) reports per request, \(concurrency) at once"
        )

        let summary = try await MockSystems.withRunning(mocks, logger: Logger(label: "lgsp-bench")) { running in
            func loaded(store: String, onlyDocuments: Bool) throws -> LoadedGateway {
                let adapters = directory.appendingPathComponent(onlyDocuments ? "adapters-documents" : "adapters")
                try? FileManager.default.createDirectory(at: adapters, withIntermediateDirectories: true)
                for name in onlyDocuments ? ["qlvb-documents.yaml"] : ["qlvb-documents.yaml", "dvc-portal.yaml"] {
                    // The shipped adapters as they are, but for the answer size (a whole history
                    // in one answer is large) and, in the pipeline, the document system's pages.
                    var text = try String(contentsOf: repository.appendingPathComponent("Adapters/\(name)"), encoding: .utf8)
                        .replacingOccurrences(of: "\n  timeout: 30s\n", with: "\n  timeout: 300s\n  max_response_bytes: 1073741824\n")
                    if name == "qlvb-documents.yaml", !onlyDocuments, pageSize > 0 {
                        text +=
                            "\npagination: { kind: page, page_param: trang, size_param: so_ban_ghi, size: \(pageSize), max_pages: 100000 }\n"
                    }
                    try text.write(to: adapters.appendingPathComponent(name), atomically: true, encoding: .utf8)
                }
                let environment = Demo.environment(
                    for: running, repository: repository, keyPath: keyPath, storePath: directory.appendingPathComponent(store).path,
                    overrides: [
                        "LGSP_ADAPTERS": adapters.path, "LGSP_REPORT_MAX_OBSERVATIONS": "\(observationsPerReport)",
                        "LGSP_CENTRAL_BATCH_MAX_REPORTS": "\(reportsPerRequest)", "LGSP_CENTRAL_MAX_CONCURRENT": "\(concurrency)",
                        "LGSP_CENTRAL_BATCH_MAX_BYTES": "64MB", "LGSP_STORE_MAX_SIZE": "100GB",
                    ])
                return try LoadedGateway.load(
                    file: repository.appendingPathComponent("deploy/examples/gateway.yaml").path, environment: environment)
            }
            var stages: [Stage] = []
            func measure<T>(_ name: String, observations: Int, _ body: () async throws -> T) async rethrows -> T {
                let started = ContinuousClock.now
                let cpuBefore = ProcessUsage.cpuSeconds()
                let result = try await body()
                let elapsed = ContinuousClock.now - started
                let stage = Stage(
                    name: name, observations: observations,
                    seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
                    cpuSeconds: ProcessUsage.cpuSeconds() - cpuBefore)
                stages.append(stage)
                let label = name.padding(toLength: 9, withPad: " ", startingAt: 0)
                print(
                    label
                        + String(
                            format: " %12.0f obs/s  (%d observations in %.3f s; %.2f CPU µs each)",
                            stage.perSecond, observations, stage.seconds, stage.cpuMicrosecondsPerObservation))
                fflush(nil)
                return result
            }

            // Stages on their own, each fed by the previous one's output.
            let stagesGateway = try loaded(store: "stages.sqlite", onlyDocuments: true)
            guard case .http(let definition)? = stagesGateway.adapters.first else {
                throw MockError("the bench's adapter is not an HTTP adapter")
            }
            let page = try JSONValue.object([
                "ketQua": .object(["danhSach": .array(dataset.documentRecords.map { .object(JSONObject($0.fields)) })]),
                "soLuong": .number(Double(dataset.documentRecords.count)),
            ]).canonicalData()
            let records = try await measure("decode", observations: dataset.documentRecords.count) { () throws -> [JSONValue] in
                guard case .json(let recordsPath) = definition.format,
                    case .array(let records)? = recordsPath.select(in: try JSONValue.parse(page))
                else {
                    throw MockError("no records in the page")
                }
                return records
            }
            let context = PullContext(province: "14", collectedAt: Date())
            let mapped = await measure("map", observations: records.count) { records.map { definition.mapping.map($0, context: context) } }
            let contracts = stagesGateway.contracts
            let rules = SemanticRules(catalogue: contracts.catalogue, province: "14")
            let valid = await measure("validate", observations: mapped.count) { () -> [Observation] in
                mapped.compactMap { record in
                    guard case .mapped(let value, _) = record, case .success(let observation) = contracts.check(value, rules: rules) else {
                        return nil
                    }
                    return observation
                }
            }
            let runtime = try GatewayRuntime(loaded: stagesGateway, logger: Logger(label: "lgsp-bench"))
            let reports = try await measure("sign", observations: valid.count) {
                try await runtime.runner.signReports(valid, adapter: "qlvb-documents", createdAt: Date())
            }
            // Commits of ten reports each, as a pull of a few thousand observations would make.
            try await measure("store", observations: valid.count) {
                var start = 0
                while start < reports.count {
                    let chunk = Array(reports[start..<min(start + 10, reports.count)])
                    try await runtime.store.commit(
                        PullCommit(
                            adapter: "qlvb-documents", startedAt: Date(), pulledRecords: chunk.count, reports: chunk, quarantined: [],
                            cursor: nil),
                        now: Date())
                    start += 10
                }
            }
            // HTTPS delivery of what was stored, to a receiver that answers at once and checks nothing.
            running.central.setMinimal(true)
            try await measure("deliver", observations: valid.count) {
                var forwarder = runtime.forwarder
                // The minimal receiver signs no receipts: checking them would make every report a dead letter.
                forwarder.configuration.receiptVerifier = nil
                let group = ServiceGroup(configuration: .init(services: [forwarder], logger: Logger(label: "lgsp-bench")))
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    tasks.addTask { try await group.run() }
                    while try await runtime.store.outboxStats(now: Date()).undelivered > 0 { try await Task.sleep(for: .milliseconds(5)) }
                    await group.triggerGracefulShutdown()
                    try await tasks.waitForAll()
                }
            }
            try await runtime.transport.shutdown()
            running.central.setMinimal(false)

            // The whole pipeline: mock source → gateway → mock central (which verifies every signature).
            let pipelineGateway = try loaded(store: "pipeline.sqlite", onlyDocuments: false)
            let pipeline = try GatewayRuntime(loaded: pipelineGateway, logger: Logger(label: "lgsp-bench"))
            let group = pipeline.makeServiceGroup(signals: [])
            // The pipeline runs the portal's and the document system's adapters only.
            let expected = (dataset.portalRecords + dataset.documentRecords).count { $0.defect == nil }
            let cpuBefore = ProcessUsage.cpuSeconds()
            try await measure("pipeline", observations: expected) {
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    tasks.addTask { try await pipeline.run(group: group) }
                    var last = (count: -1, at: ContinuousClock.now)
                    while case let accepted = running.central.statistics.acceptedObservations, accepted < expected {
                        if accepted != last.count {
                            last = (accepted, ContinuousClock.now)
                        } else if ContinuousClock.now - last.at > .seconds(120) {
                            let statuses = try await pipeline.store.adapterStatuses().map { "\($0.adapter): \($0.lastError ?? "no error")" }
                            throw MockError(
                                "the pipeline stalled at \(accepted) of \(expected) observations; \(statuses.joined(separator: "; "))")
                        }
                        try await Task.sleep(for: .milliseconds(5))
                    }
                    await group.triggerGracefulShutdown()
                    try await tasks.waitForAll()
                }
            }
            let cpu = ProcessUsage.cpuSeconds() - cpuBefore
            let central = running.central.statistics
            guard central.duplicateObservations == 0, central.signatureFailures == 0 else {
                throw MockError(
                    "the pipeline delivered duplicates (\(central.duplicateObservations)) or bad signatures (\(central.signatureFailures))")
            }
            var drains: [Drain] = []
            if backlog > 0 {
                // The second backlog's figures follow the first's: the centre would take repeats as replays.
                for (size, offset) in [(backlog / 10, 0), (backlog, backlog / 10)] {
                    let store = directory.appendingPathComponent("backlog-\(size).sqlite").path
                    let filled = try await Self.fillBacklog(observations: size, from: offset, runner: runtime.runner, storePath: store)
                    let drain = try await Self.drainBacklog(
                        binary: gatewayBinary, observations: size, storePath: store, running: running, repository: repository,
                        keyPath: keyPath, directory: directory,
                        overrides: [
                            "LGSP_REPORT_MAX_OBSERVATIONS": "\(observationsPerReport)",
                            "LGSP_CENTRAL_BATCH_MAX_REPORTS": "\(reportsPerRequest)",
                            "LGSP_CENTRAL_MAX_CONCURRENT": "\(concurrency)", "LGSP_CENTRAL_BATCH_MAX_BYTES": "64MB",
                            "LGSP_STORE_MAX_SIZE": "100GB",
                        ])
                    print(
                        String(
                            format:
                                "backlog  %12.0f obs/s  (%d stored observations drained in %.3f s by lgsp-gateway; peak RSS %.1f MB; stored in %.1f s)",
                            Double(size) / drain.seconds, size, drain.seconds, drain.peakRSSMB, filled))
                    fflush(nil)
                    drains.append(drain)
                }
                let after = running.central.statistics
                guard after.duplicateObservations == 0, after.signatureFailures == 0 else {
                    throw MockError(
                        "the backlog drain delivered duplicates (\(after.duplicateObservations)) or bad signatures (\(after.signatureFailures))"
                    )
                }
            }
            return (stages, cpu, expected, drains)
        }
        let (stages, cpu, delivered, drains) = summary
        // The idle daemon against the small demo dataset: what it costs while it waits.
        let small = MockSystems.Configuration(
            directory: directory.appendingPathComponent("mocks-idle"),
            source: .init(clientID: "lgsp-gateway-demo", clientSecret: "idle-\(UUID().uuidString)"),
            trustedKeys: [key.publicKey])
        let idle = try await MockSystems.withRunning(small, logger: Logger(label: "lgsp-bench")) { running in
            try await Self.measureIdleDaemon(
                binary: gatewayBinary, running: running, repository: repository, keyPath: keyPath, directory: directory)
        }
        let pipeline = try require(stages.first { $0.name == "pipeline" })
        let slowest = try require(stages.filter { $0.name != "pipeline" }.min { $0.perSecond < $1.perSecond })
        let peakRSS = try require(ProcessUsage.megabytes("VmHWM"), "this process's peak memory is unreadable")
        // What the stages' CPU allows: if every core ran the stages back to back, with nothing
        // waiting and the mocks costing nothing. When the stages cost about the same, the slowest
        // one's ceiling is far above this bound, and the ratio to it says little on few cores.
        let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
        let stagesCPU = stages.filter { $0.name != "pipeline" }.reduce(0) { $0 + $1.cpuMicrosecondsPerObservation }
        let stagesBound = cores * 1e6 / max(stagesCPU, 1e-9)
        // The most `ratio_to_slowest_stage` could be at the pipeline's own CPU cost per observation,
        // every core busy with nothing waiting: below a target ratio, no scheduling reaches it.
        let pipelineAtFullCores = cores * 1e6 / max(pipeline.cpuMicrosecondsPerObservation, 1e-9)
        let result: [String: JSONValue] = [
            "observations": .number(Double(delivered)),
            "pipeline_obs_per_s": .number(pipeline.perSecond.rounded()),
            "slowest_stage": .string(slowest.name),
            "slowest_stage_obs_per_s": .number(slowest.perSecond.rounded()),
            "ratio_to_slowest_stage": .number((pipeline.perSecond / slowest.perSecond * 1000).rounded() / 1000),
            "peak_rss_mb": .number((peakRSS * 10).rounded() / 10),
            "cpu_s_per_million": .number((cpu / Double(delivered) * 1_000_000 * 100).rounded() / 100),
            "idle_rss_mb": idle.map { .number(($0.rssMB * 10).rounded() / 10) } ?? .null,
            "ready_s": idle.map { .number(($0.readySeconds * 1000).rounded() / 1000) } ?? .null,
            "stages_obs_per_s": .object(
                JSONObject(Dictionary(uniqueKeysWithValues: stages.map { ($0.name, JSONValue.number($0.perSecond.rounded())) }))),
            "stages_cpu_us_per_obs": .object(
                JSONObject(
                    Dictionary(
                        uniqueKeysWithValues: stages.map {
                            ($0.name, JSONValue.number(($0.cpuMicrosecondsPerObservation * 100).rounded() / 100))
                        }))),
            "stages_cpu_bound_obs_per_s": .number(stagesBound.rounded()),
            "ratio_to_stages_cpu_bound": .number((pipeline.perSecond / stagesBound * 1000).rounded() / 1000),
            "ratio_to_slowest_stage_at_full_cores": .number((pipelineAtFullCores / slowest.perSecond * 1000).rounded() / 1000),
            "slowest_stage_s": .number((slowest.seconds * 1000).rounded() / 1000),
            "backlog_observations": drains.last.map { .number(Double($0.observations)) } ?? .null,
            "backlog_obs_per_s": drains.last.map { .number((Double($0.observations) / $0.seconds).rounded()) } ?? .null,
            "backlog_peak_rss_mb": drains.last.map { .number(($0.peakRSSMB * 10).rounded() / 10) } ?? .null,
            "backlog_tenth_peak_rss_mb": drains.first.map { .number(($0.peakRSSMB * 10).rounded() / 10) } ?? .null,
        ]
        print(
            String(
                format: "pipeline / slowest stage (%@): %.3f; peak RSS %.1f MB; %.2f CPU s per million observations",
                slowest.name as NSString, pipeline.perSecond / slowest.perSecond, peakRSS, cpu / Double(delivered) * 1_000_000))
        print(
            String(
                format:
                    "the stages' CPU, %.2f µs per observation, allows %.0f obs/s on %.0f cores; the pipeline (mocks included) reached %.3f of that",
                stagesCPU, stagesBound, cores, pipeline.perSecond / stagesBound))
        print(
            String(
                format:
                    "at its own %.2f CPU µs per observation the pipeline could reach at most %.0f obs/s on %.0f cores, %.3f of the slowest stage",
                pipeline.cpuMicrosecondsPerObservation, pipelineAtFullCores, cores, pipelineAtFullCores / slowest.perSecond))
        // A stage timed over a few hundredths of a second carries its start-up (threads, TLS
        // handshakes, first pages) in its ceiling, which comes out low and flatters the ratio to it.
        if slowest.seconds < 0.1 {
            print(
                String(
                    format:
                        "note: the %@ stage ran for only %.3f s; its start-up weighs on its ceiling, which flatters the ratio to it: read ratios from runs of --observations 100000 or more",
                    slowest.name as NSString, slowest.seconds))
        }
        print(String(decoding: try JSONValue.object(JSONObject(result)).canonicalData(), as: UTF8.self))
    }

    /// Starts `binary` as systemd would (a notify socket), and reports how long it took to say
    /// READY=1 and how much it holds resident 5 s and 15 s later.
    static func measureIdleDaemon(
        binary: URL, running: MockSystems.Running, repository: URL, keyPath: String, directory: URL
    ) async throws -> (readySeconds: Double, rssMB: Double)? {
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            print("idle: no lgsp-gateway beside lgsp-bench; build it to measure the idle daemon")
            return nil
        }
        let socketPath = directory.appendingPathComponent("notify").path
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in for (index, byte) in socketPath.utf8.enumerated() { buffer[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw MockError("cannot bind \(socketPath)") }
        var environment = Demo.environment(
            for: running, repository: repository, keyPath: keyPath, storePath: directory.appendingPathComponent("idle.sqlite").path
        ).variables
        environment["NOTIFY_SOCKET"] = socketPath
        let process = Process()
        process.executableURL = binary
        process.arguments = [
            "run", "--config", repository.appendingPathComponent("deploy/examples/gateway.yaml").path, "--log-format", "json",
        ]
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let started = ContinuousClock.now
        try process.run()
        defer { if process.isRunning { process.terminate(); process.waitUntilExit() } }
        var buffer = [UInt8](repeating: 0, count: 4096)
        var ready: Duration?
        while ready == nil, ContinuousClock.now - started < .seconds(30) {
            let count = recv(descriptor, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if count > 0, String(decoding: buffer[0..<count], as: UTF8.self).hasPrefix("READY=1") { ready = ContinuousClock.now - started }
            try await Task.sleep(for: .milliseconds(1))
        }
        guard let ready else { throw MockError("lgsp-gateway did not say READY=1 within 30 s") }
        func residentMegabytes() throws -> Double {
            try require(
                ProcessUsage.megabytes("VmRSS", process: "\(process.processIdentifier)"), "lgsp-gateway's resident memory is unreadable")
        }
        // After its first pulls the daemon waits; once it has been quiet for a while it gives
        // memory back (IdleMemoryService), so both moments are read.
        try await Task.sleep(for: .seconds(5))
        let early = try residentMegabytes()
        try await Task.sleep(for: .seconds(10))
        let megabytes = try residentMegabytes()
        let readySeconds = Double(ready.components.seconds) + Double(ready.components.attoseconds) / 1e18
        print(
            String(
                format:
                    "idle     ready in %.3f s; %.1f MB resident after 5 s, %.1f MB after 15 s (pages this benchmark maps too, such as shared Swift libraries, stay)",
                readySeconds, early, megabytes))
        return (readySeconds, megabytes)
    }

    struct Drain {
        let observations: Int
        let seconds: Double
        let peakRSSMB: Double
    }

    /// Signs and stores `count` observations as the gateway would have after an outage: distinct
    /// figures (commune × month, numbered from `offset`) of one indicator, in reports of the
    /// configured size. Returns seconds.
    static func fillBacklog(observations count: Int, from offset: Int, runner: PullRunner, storePath: String) async throws -> Double {
        let started = ContinuousClock.now
        let store = try SQLiteStore(path: storePath)
        var start = offset
        while start < offset + count {
            let end = min(start + runner.maxObservationsPerReport * 20, offset + count)
            let observations = (start..<end).map { index -> Observation in
                let (area, month) = (10_000 + index % 80_000, index / 80_000)
                let denominator = Double(200 + index % 800)
                return Observation(
                    indicator: "TK_THANH_TOAN_DT", province: "14", level: .commune, area: String(area),
                    period: String(format: "%04d-%02d", 2025 - month / 12, month % 12 + 1), value: 50, unit: "percent",
                    numerator: denominator / 2, denominator: denominator, sourceSystem: "backlog", sourceRecordID: "B-\(index)",
                    collectedAt: "2026-11-22T04:00:00.000Z")
            }
            let reports = try await runner.signReports(observations, adapter: "backlog", createdAt: Date())
            for chunk in stride(from: 0, to: reports.count, by: 10) {
                let part = Array(reports[chunk..<min(chunk + 10, reports.count)])
                try await store.commit(
                    PullCommit(
                        adapter: "backlog", startedAt: Date(), pulledRecords: part.count, reports: part, quarantined: [], cursor: nil),
                    now: Date())
            }
            start = end
        }
        return (ContinuousClock.now - started).timeInterval
    }

    /// Starts `lgsp-gateway run` on a store holding `count` undelivered observations, with one
    /// adapter whose source refuses connections (so nothing new arrives), and times it until the mock
    /// central endpoint has accepted them all; reads the process's peak resident memory then.
    static func drainBacklog(
        binary: URL, observations count: Int, storePath: String, running: MockSystems.Running, repository: URL, keyPath: String,
        directory: URL,
        overrides: [String: String]
    ) async throws -> Drain {
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw MockError("no lgsp-gateway beside lgsp-bench: build it to measure the backlog drain, or pass --backlog 0")
        }
        let adapters = directory.appendingPathComponent("adapters-backlog")
        try? FileManager.default.createDirectory(at: adapters, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            at: repository.appendingPathComponent("Adapters/qlvb-documents.yaml"),
            to: adapters.appendingPathComponent("qlvb-documents.yaml"))
        defer { try? FileManager.default.removeItem(at: adapters) }
        var variables = overrides
        variables["LGSP_ADAPTERS"] = adapters.path
        // Port 9 (discard) on loopback: nothing listens, so the adapter's pulls fail at once.
        variables["LGSP_SOURCE_URL"] = "https://127.0.0.1:9"
        let environment = Demo.environment(
            for: running, repository: repository, keyPath: keyPath, storePath: storePath, overrides: variables
        ).variables
        let before = running.central.statistics.acceptedObservations
        let process = Process()
        process.executableURL = binary
        process.arguments = [
            "run", "--config", repository.appendingPathComponent("deploy/examples/gateway.yaml").path, "--log-format", "json",
        ]
        process.environment = environment
        let logPath = directory.appendingPathComponent("backlog-\(count).log").path
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        defer { try? log.close() }
        process.standardOutput = log
        process.standardError = log
        let started = ContinuousClock.now
        try process.run()
        defer { if process.isRunning { process.terminate(); process.waitUntilExit() } }
        var last = (count: -1, at: ContinuousClock.now)
        while case let accepted = running.central.statistics.acceptedObservations - before, accepted < count {
            if accepted != last.count {
                last = (accepted, ContinuousClock.now)
            } else if ContinuousClock.now - last.at > .seconds(60) || !process.isRunning {
                let tail = ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").split(separator: "\n").suffix(5).joined(
                    separator: "\n")
                throw MockError("the backlog drain stalled at \(accepted) of \(count) observations; the gateway's last log lines:\n\(tail)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        let seconds = (ContinuousClock.now - started).timeInterval
        let peak = try require(
            ProcessUsage.megabytes("VmHWM", process: "\(process.processIdentifier)"), "lgsp-gateway's peak memory is unreadable")
        return Drain(observations: count, seconds: seconds, peakRSSMB: peak)
    }
}

/// `#require` for an executable: fails the run with a message instead of a test.
func require<T>(_ value: T?, _ message: @autoclosure () -> String = "a value the benchmark needs is missing") throws -> T {
    guard let value else { throw MockError(message()) }
    return value
}
