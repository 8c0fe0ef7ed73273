import AsyncHTTPClient
import Foundation
import Gateway
import GatewayContracts
import GatewayJSON
import GatewaySigning
import GatewayStore
import GatewayTestKit
import Logging
import NIOCore

/// The console's pages timed over loopback HTTP against a store the size the console issue names:
/// a million quarantined records, 200,000 delivered reports, and ten years of quarterly figures
/// for 100 communes and 50 indicators (one figure per report, so the same 200,000).
enum ConsolePageTimes {
    static let pages = [
        "/", "/adapters/qlvb-documents", "/quarantine", "/quarantine?adapter=so-gddt", "/quarantine?rule=indicator.known",
        "/quarantine?indicator=CHI_TIEU_7&period=2017-Q4", "/quarantine/12345", "/quarantine.csv?rule=indicator.known",
        "/dead-letters", "/calendar", "/calendar/HSCV_DIEN_TU/2026-Q3", "/progress", "/progress.csv", "/audit",
        "/audit?verify=1",
    ]

    static func measure(quarantined: Int, reports: Int, rounds: Int, repository: URL, in directory: URL) async throws {
        let storePath = directory.appendingPathComponent("console.sqlite").path
        let filling = ContinuousClock.now
        // In a function of its own, so the store and its owner's lock are gone before the gateway opens it.
        try await fill(storePath, quarantined: quarantined, reports: reports, repository: repository)
        let fillSeconds = (ContinuousClock.now - filling).benchSeconds
        print(
            String(
                format: "console pages: %d quarantined, %d delivered reports and figures stored in %.1f s", quarantined, reports,
                fillSeconds))

        let key = SigningKey.generate()
        let keyPath = directory.appendingPathComponent("signing-key.pem").path
        _ = FileManager.default.createFile(
            atPath: keyPath, contents: Data(key.pemRepresentation.utf8), attributes: [.posixPermissions: 0o600])
        let users = directory.appendingPathComponent("console-users.yaml").path
        let password = ConsoleAccounts.randomPassword()
        try ConsoleAccounts.append(name: "bench", role: .operator, hash: ConsoleAccounts.hash(password: password), to: users)
        let mocks = MockSystems.Configuration(
            directory: directory.appendingPathComponent("mocks"),
            source: .init(clientID: "lgsp-gateway-demo", clientSecret: "bench-\(UUID())"),
            trustedKeys: [key.publicKey])
        let results = try await MockSystems.withRunning(mocks, logger: Logger(label: "lgsp-bench")) { running in
            let environment = Demo.environment(
                for: running, repository: repository, keyPath: keyPath, storePath: storePath,
                overrides: ["LGSP_CONSOLE_LISTEN": "127.0.0.1:0", "LGSP_CONSOLE_USERS": users, "LGSP_STORE_MAX_SIZE": "100GB"])
            let loaded = try LoadedGateway.load(
                file: repository.appendingPathComponent("deploy/examples/gateway.yaml").path, environment: environment)
            let runtime = try GatewayRuntime(loaded: loaded, logger: Logger(label: "lgsp-bench"), environment: environment)
            let group = runtime.makeServiceGroup(signals: [])
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
            return try await withThrowingTaskGroup(of: Void.self) { tasks -> [String: JSONValue] in
                var results: [String: JSONValue] = [:]
                tasks.addTask { try await runtime.run(group: group) }
                // The pulls at start-up and their deliveries first, so the pages are timed on a quiet gateway.
                let settled = ContinuousClock.now + .seconds(120)
                while ContinuousClock.now < settled {
                    let pulled = try await runtime.store.adapterStatuses().count { $0.lastPull != nil } == runtime.adapters.count
                    if pulled, runtime.consolePort != nil, try await runtime.store.outboxStats(now: Date()).undelivered == 0 { break }
                    try await Task.sleep(for: .milliseconds(200))
                }
                let base = "http://127.0.0.1:\(runtime.consolePort ?? 0)"
                let cookie = try await login(client: client, base: base, password: password)
                for page in pages {
                    var times: [Double] = []
                    var bytes = 0
                    var status: UInt = 0
                    for round in 0..<(rounds + 3) {
                        var request = HTTPClientRequest(url: base + page)
                        request.headers.add(name: "Cookie", value: cookie)
                        let started = ContinuousClock.now
                        let response = try await client.execute(request, timeout: .seconds(120))
                        let body = try await response.body.collect(upTo: 1 << 30)
                        // The first three warm the caches and are not counted.
                        if round >= 3 { times.append((ContinuousClock.now - started).benchSeconds * 1000) }
                        (bytes, status) = (body.readableBytes, response.status.code)
                    }
                    times.sort()
                    let p50 = times[times.count / 2], p99 = times[min(times.count - 1, Int(Double(times.count) * 0.99))]
                    print(
                        "  \(page.padding(toLength: 50, withPad: " ", startingAt: 0))"
                            + String(format: " p50 %8.2f ms  p99 %8.2f ms  (HTTP %d, %d bytes)", p50, p99, status, bytes))
                    results[page] = .object([
                        "p50_ms": .number((p50 * 100).rounded() / 100), "p99_ms": .number((p99 * 100).rounded() / 100),
                        "status": .number(Double(status)), "bytes": .number(Double(bytes)),
                    ])
                }
                // What the console's service does after a delivery: the store's totals, against
                // every accepted figure read out (what the progress page did before).
                for (name, rounds, read) in [
                    ("progress: acceptedTotals", 20, { _ = try await runtime.store.acceptedTotals() }),
                    ("progress: latestAcceptedFigures", 3, { _ = try await runtime.store.latestAcceptedFigures() }),
                ] as [(String, Int, () async throws -> Void)] {
                    var times: [Double] = []
                    for _ in 0..<rounds {
                        let started = ContinuousClock.now
                        try await read()
                        times.append((ContinuousClock.now - started).benchSeconds * 1000)
                    }
                    times.sort()
                    let (p50, worst) = (times[times.count / 2], times[times.count - 1])
                    print(
                        "  \(name.padding(toLength: 50, withPad: " ", startingAt: 0))"
                            + String(format: " p50 %8.2f ms  max %8.2f ms", p50, worst))
                    results[name] = .object([
                        "p50_ms": .number((p50 * 100).rounded() / 100), "max_ms": .number((worst * 100).rounded() / 100),
                    ])
                }
                try await client.shutdown()
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                return results
            }
        }
        print(
            String(
                decoding: try JSONValue.object([
                    "quarantined_records": .number(Double(quarantined)), "delivered_reports": .number(Double(reports)),
                    "fill_s": .number((fillSeconds * 10).rounded() / 10), "pages": .object(JSONObject(results)),
                ]).canonicalData(), as: UTF8.self))
    }

    static func fill(_ path: String, quarantined: Int, reports: Int, repository: URL) async throws {
        let store = try SQLiteStore(path: path)
        try await QuarantineReads.fill(store, count: quarantined)
        try await fillDelivered(store, count: reports, repository: repository)
        try await store.close()
    }

    static func login(client: HTTPClient, base: String, password: String) async throws -> String {
        var request = HTTPClientRequest(url: base + "/login")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.body = .bytes(ByteBuffer(string: "user=bench&password=\(password)&back=/"))
        let response = try await client.execute(request, timeout: .seconds(30))
        guard let cookie = response.headers["Set-Cookie"].first?.split(separator: ";").first else {
            throw BenchError("the console did not sign the bench in (HTTP \(response.status.code))")
        }
        return String(cookie)
    }

    /// `count` delivered reports of one figure each: 50 indicators (the catalogue's, then made-up
    /// ones) × 100 communes × 40 quarters from 2016, a revision each, with audit links.
    static func fillDelivered(_ store: SQLiteStore, count: Int, repository: URL) async throws {
        let catalogue = try ContractSet.load(from: repository.appendingPathComponent("Contracts")).catalogue
        let known = catalogue.indicators.map(\.code)
        let indicators = (0..<50).map { $0 < known.count ? known[$0] : "CHI_TIEU_\($0)" }
        let batch = 10_000
        for start in stride(from: 0, to: count, by: batch) {
            let reports = (start..<min(start + batch, count)).map { number -> SignedReport in
                let quarter = number / 5_000 % 40
                let key = FigureKey(
                    indicator: indicators[number % 50], province: "14", level: .commune,
                    area: String(format: "%05d", 3646 + 3 * (number / 50 % 100)), period: "\(2016 + quarter / 4)-Q\(quarter % 4 + 1)")
                let value = FigureValue(
                    value: Double(40 + number % 60), numerator: Double(40 + number % 60), denominator: 100, unit: "percent")
                let body = Data(#"{"bench":\#(number),"figure":"\#(key)"}"#.utf8)
                return SignedReport(
                    reportID: String(format: "bench-%08d", number), body: body, contentDigest: "sha-256=:bench\(number):",
                    observationCount: 1, figures: [ReportedFigure(key: key, revision: 1, value: value)])
            }
            let at = Date(timeIntervalSince1970: 1_450_000_000 + Double(start) * 1_500)
            try await store.storeReports(reports, adapter: "qlvb-documents", now: at)
            let leased = try await store.leaseDue(now: at.addingTimeInterval(1), limit: batch, leaseDuration: 600)
            _ = try await store.complete(
                leased.map {
                    CompletedAttempt(reportID: $0.reportID, attempt: $0.attempt, completion: .delivered(status: 202, receipt: nil))
                },
                now: at.addingTimeInterval(2))
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension Duration {
    var benchSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
