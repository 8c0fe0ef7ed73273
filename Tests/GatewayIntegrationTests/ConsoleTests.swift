import AsyncHTTPClient
import Foundation
import Gateway
import GatewayConfig
import NIOSSL
import GatewayContracts
import GatewaySigning
import GatewayStore
import GatewayTestKit
import NIOCore
import Testing

/// A person at a browser, as far as HTTP goes: cookies kept, forms posted, redirects not followed.
final class ConsoleVisitor: @unchecked Sendable {
    let base: String
    let client: HTTPClient
    /// Cookie name to value, as the console last set them.
    private(set) var cookies: [String: String] = [:]
    /// Every page this visitor was shown, for the secret scan.
    private(set) var pages: [String] = []

    init(base: String, client: HTTPClient) {
        self.base = base
        self.client = client
    }

    struct Answer {
        let status: Int
        let location: String?
        let body: String
        let headers: [(String, String)]
        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    }

    func get(_ path: String) async throws -> Answer { try await send(path, body: nil) }

    func post(_ path: String, _ fields: [(String, String)], withCSRF: Bool = true) async throws -> Answer {
        var fields = fields
        if withCSRF, let token = csrf { fields.append(("csrf", token)) }
        let body = fields.map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }.joined(separator: "&")
        return try await send(path, body: body)
    }

    /// The CSRF token of the last page that had a form.
    var csrf: String? {
        for page in pages.reversed() {
            if let range = page.range(of: #"name="csrf" value=""#) {
                return String(page[range.upperBound...].prefix { $0 != "\"" })
            }
        }
        return nil
    }

    func login(_ user: String, _ password: String) async throws -> Answer {
        try await post("/login", [("user", user), ("password", password), ("back", "/")], withCSRF: false)
    }

    private func send(_ path: String, body: String?) async throws -> Answer {
        var request = HTTPClientRequest(url: base + path)
        request.method = body == nil ? .GET : .POST
        if !cookies.isEmpty { request.headers.add(name: "Cookie", value: cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await client.execute(request, timeout: .seconds(60))
        let text = String(buffer: try await response.body.collect(upTo: 64 << 20))
        for value in response.headers["Set-Cookie"] {
            let pair = value.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
            let name = String(pair[0]), content = pair.count > 1 ? String(pair[1]) : ""
            cookies[name] = content.isEmpty ? nil : content
        }
        pages.append(text)
        return Answer(
            status: Int(response.status.code), location: response.headers.first(name: "Location"), body: text,
            headers: response.headers.map { ($0.name, $0.value) })
    }

    static func encode(_ text: String) -> String {
        text.addingPercentEncoding(
            withAllowedCharacters: CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"))
            ?? ""
    }
}

/// A gateway with its console, against the mocks: the portal's adapter file with one code mapped
/// to an indicator that does not exist, and every report a dead letter (the centre failed until
/// `body` runs; then it answers). Two accounts: an operator and a viewer.
struct ConsoleFixture {
    /// How long an address that failed three logins waits (`console.login_lockout`).
    static let loginLockoutSeconds = 10

    let runtime: GatewayRuntime
    let running: MockSystems.Running
    let directory: URL
    /// The portal's adapter file, broken, and its text as shipped.
    let portal: URL
    let good: String
    let users: String
    let operatorAccount: (name: String, password: String)
    let viewerAccount: (name: String, password: String)
    var base: String {
        "\(runtime.loaded.configuration.console.usesTLS ? "https" : "http")://127.0.0.1:\(runtime.consolePort ?? 0)"
    }

    /// What no page may show: the sources' client secret, the passwords, their hashes.
    func secrets() throws -> [String] {
        let hashes = try String(contentsOfFile: users, encoding: .utf8).split(separator: "\"").filter { $0.hasPrefix("$2") }
        return [try String(contentsOfFile: running.clientSecretPath, encoding: .utf8), operatorAccount.password, viewerAccount.password]
            + hashes.map(String.init)
    }

    static func run(
        _ name: String, overrides: [String: String] = [:], _ body: @escaping @Sendable (ConsoleFixture) async throws -> Void
    ) async throws {
        let directory = try makeTemporaryDirectory(name)
        let key = SigningKey.generate()
        let keyPath = try writeKey(key, in: directory)
        let mocks = MockSystems.Configuration(
            directory: directory.appendingPathComponent("mocks"),
            source: .init(clientID: "lgsp-gateway-demo", clientSecret: "s3cr3t-\(UUID())"),
            trustedKeys: [key.publicKey], faults: .init(failureRate: 1, kinds: [.unavailable]))
        try await MockSystems.withRunning(mocks, logger: quietLogger) { running in
            let adapters = try shippedAdapters(["dvc-portal", "qlvb-documents"], in: directory)
            let portal = adapters.appendingPathComponent("dvc-portal.yaml")
            let good = try String(contentsOf: portal, encoding: .utf8)
            #expect(good.contains("HS_TT: HS_TRUC_TUYEN"))
            try good.replacingOccurrences(of: "HS_TT: HS_TRUC_TUYEN", with: "HS_TT: HS_TRUC_TUYEM").write(
                to: portal, atomically: true, encoding: .utf8)
            let users = directory.appendingPathComponent("console-users.yaml").path
            let operatorAccount = (name: "an.nguyen", password: "mật-khẩu-vận-hành-\(UUID().uuidString.prefix(6))")
            let viewerAccount = (name: "binh.tran", password: "viewer-password-\(UUID().uuidString.prefix(6))")
            try ConsoleAccounts.append(
                name: operatorAccount.name, role: .operator, hash: ConsoleAccounts.hash(password: operatorAccount.password), to: users)
            try ConsoleAccounts.append(
                name: viewerAccount.name, role: .viewer, hash: ConsoleAccounts.hash(password: viewerAccount.password), to: users)
            let environment = Demo.environment(
                for: running, repository: repositoryRoot, keyPath: keyPath,
                storePath: directory.appendingPathComponent("gateway.sqlite").path,
                overrides: [
                    "LGSP_ADAPTERS": adapters.path, "LGSP_CONSOLE_LISTEN": "127.0.0.1:0", "LGSP_CONSOLE_USERS": users,
                    "LGSP_CONSOLE_MAX_FAILED_LOGINS": "3", "LGSP_CONSOLE_LOGIN_LOCKOUT": "\(Self.loginLockoutSeconds)s",
                    "LGSP_RETRY_BASE": "50ms", "LGSP_RETRY_CAP": "100ms", "LGSP_MAX_AGE": "1s", "LGSP_BREAKER_FAILURES": "1000",
                ].merging(overrides) { $1 })
            let loaded = try LoadedGateway.load(
                file: repositoryRoot.appendingPathComponent("deploy/examples/gateway.yaml").path, environment: environment)
            let runtime = try GatewayRuntime(loaded: loaded, logger: quietLogger, environment: environment)
            let group = runtime.makeServiceGroup(signals: [])
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await runtime.run(group: group) }
                // Every report becomes a dead letter while the centre fails, then the centre comes back.
                let ready = try await eventually(timeout: .seconds(60)) {
                    let stats = try await runtime.store.outboxStats(now: Date())
                    let pulled = try await runtime.store.adapterStatuses().count { $0.lastSuccess != nil } == 2
                    return pulled && stats.deadLettered > 0 && stats.undelivered == 0 && runtime.consolePort != nil
                }
                #expect(ready)
                running.central.setFaults(.none)
                do {
                    if ready {
                        try await body(
                            ConsoleFixture(
                                runtime: runtime, running: running, directory: directory, portal: portal, good: good, users: users,
                                operatorAccount: operatorAccount, viewerAccount: viewerAccount))
                    }
                } catch {
                    Issue.record("\(error)")
                }
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
        }
    }
}

@Suite("The operator console over HTTP, against the mocks", .serialized)
struct ConsoleTests {
    @Test(
        "an operator reprocesses what a broken mapping quarantined and replays dead letters, each arriving once; a viewer only reads; CSRF, sessions and the login limit hold; no page shows a secret"
    )
    func operatorAndViewer() async throws {
        try await ConsoleFixture.run("console") { fixture in
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
            let stranger = ConsoleVisitor(base: fixture.base, client: client)
            let operatorVisitor = ConsoleVisitor(base: fixture.base, client: client)
            let viewer = ConsoleVisitor(base: fixture.base, client: client)
            do {
                try await scenario(fixture, stranger: stranger, operatorVisitor: operatorVisitor, viewer: viewer)
            } catch {
                Issue.record("\(error)")
            }
            // No page shows a secret, nor a session id.
            let secrets =
                try fixture.secrets() + [operatorVisitor.cookies["lgsp_session"], viewer.cookies["lgsp_session"]].compactMap { $0 }
            let pages = stranger.pages + operatorVisitor.pages + viewer.pages
            #expect(pages.count > 20)
            for secret in secrets where !secret.isEmpty {
                #expect(!pages.contains { $0.contains(secret.trimmingCharacters(in: .whitespacesAndNewlines)) }, "a page shows a secret")
            }
            try await client.shutdown()
        }
    }

    @Test("with TLS the console answers over HTTPS and its session cookie is Secure; off loopback it will not start without TLS")
    func tls() async throws {
        let authority = try TestCertificateAuthority(commonName: "Console test CA")
        let (certificate, key) = try authority.issueServerCertificate()
        let directory = try makeTemporaryDirectory("console-tls-files")
        let (certificatePath, keyPath, caPath) = (
            directory.appendingPathComponent("console.pem").path, directory.appendingPathComponent("console-key.pem").path,
            directory.appendingPathComponent("ca.pem").path
        )
        try certificate.write(toFile: certificatePath, atomically: true, encoding: .utf8)
        try key.write(toFile: keyPath, atomically: true, encoding: .utf8)
        try authority.certificatePEM.write(toFile: caPath, atomically: true, encoding: .utf8)
        try await ConsoleFixture.run("console-tls", overrides: ["LGSP_CONSOLE_CERT": certificatePath, "LGSP_CONSOLE_KEY": keyPath]) {
            fixture in
            #expect(fixture.base.hasPrefix("https://"))
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .file(caPath)
            let client = HTTPClient(
                eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls, redirectConfiguration: .disallow))
            let visitor = ConsoleVisitor(base: fixture.base, client: client)
            #expect(try await visitor.get("/").status == 303)
            let signedIn = try await visitor.login(fixture.operatorAccount.name, fixture.operatorAccount.password)
            #expect(signedIn.status == 303)
            let cookie = signedIn.header("Set-Cookie") ?? ""
            #expect(cookie.contains("Secure") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "\(cookie)")
            #expect(try await visitor.get("/").body.contains(fixture.operatorAccount.name))
            try await client.shutdown()
        }

        // Reachable from other machines and no certificate: `check` says so, naming the file and field.
        let users = directory.appendingPathComponent("users.yaml").path
        try ConsoleAccounts.append(name: "an", role: .operator, hash: ConsoleAccounts.hash(password: "a-long-password-1"), to: users)
        let config = repositoryRoot.appendingPathComponent("deploy/examples/gateway.yaml").path
        do {
            _ = try GatewayConfiguration.load(
                file: config,
                environment: ConfigEnvironment(variables: ["LGSP_CONSOLE_LISTEN": "0.0.0.0:9465", "LGSP_CONSOLE_USERS": users]))
            Issue.record("a console on 0.0.0.0 without TLS was accepted")
        } catch {
            let refusal = error.issues.first { $0.field == "console.listen" }
            #expect(refusal?.message.contains("needs console.tls.certificate and console.tls.key") == true, "\(error)")
            #expect(refusal?.file == config && refusal?.line != nil)
        }
    }

    func scenario(
        _ fixture: ConsoleFixture, stranger: ConsoleVisitor, operatorVisitor: ConsoleVisitor, viewer: ConsoleVisitor
    ) async throws {
        let (runtime, running, portal, good) = (fixture.runtime, fixture.running, fixture.portal, fixture.good)
        let passwords = (operator: fixture.operatorAccount.password, viewer: fixture.viewerAccount.password)
        // No session: pages send to the login, actions are refused.
        let anonymous = try await stranger.get("/quarantine")
        #expect(anonymous.status == 303 && anonymous.location == "/login?back=%2Fquarantine")
        #expect(try await stranger.post("/quarantine/purge", [("id", "1"), ("confirmed", "1")]).status == 401)
        let loginPage = try await stranger.get("/login")
        #expect(loginPage.status == 200 && loginPage.body.contains("Đăng nhập bảng điều khiển"))
        #expect(loginPage.header("Content-Security-Policy")?.contains("default-src 'none'") == true)

        // The operator signs in: the cookie is HttpOnly and SameSite=Strict (not Secure: loopback, plain HTTP).
        let signedIn = try await operatorVisitor.login("an.nguyen", passwords.operator)
        #expect(signedIn.status == 303 && signedIn.location == "/")
        let setCookie = signedIn.header("Set-Cookie") ?? ""
        #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict"), "\(setCookie)")
        let overview = try await operatorVisitor.get("/")
        #expect(overview.status == 200)
        #expect(overview.body.contains("Tổng quan") && overview.body.contains("dvc-portal") && overview.body.contains("qlvb-documents"))
        #expect(overview.body.contains("an.nguyen") && overview.body.contains("người vận hành"))
        let stats = try await runtime.store.outboxStats(now: Date())
        #expect(overview.body.contains(#"<dd id="outbox-dead">\#(stats.deadLettered)</dd>"#))

        // The broken mapping's records are in quarantine, with their reasons and the source's record.
        let quarantine = try await operatorVisitor.get("/quarantine?adapter=dvc-portal")
        #expect(quarantine.status == 200)
        // Besides the portal's own bad records, which stay quarantined whatever the mapping.
        let held = try await runtime.store.quarantined(matching: QuarantineFilter(adapter: "dvc-portal"), limit: 100)
        let broken = held.filter { $0.indicator == "HS_TRUC_TUYEM" }
        #expect(!broken.isEmpty)
        for record in held { #expect(quarantine.body.contains(#"<a href="/quarantine/\#(record.id)">"#)) }
        let one = try await operatorVisitor.get("/quarantine/\(broken[0].id)")
        #expect(one.body.contains("HS_TRUC_TUYEM") && one.body.contains("Bản ghi gốc của nguồn"))
        let csv = try await operatorVisitor.get("/quarantine.csv?adapter=dvc-portal")
        #expect(csv.status == 200 && csv.header("Content-Type")?.hasPrefix("text/csv") == true)
        #expect(csv.body.split(separator: "\r\n").count == held.count + 1, "\(csv.body)")

        // A POST without its CSRF token changes nothing.
        let forged = try await operatorVisitor.post("/quarantine/purge", [("id", String(held[0].id)), ("confirmed", "1")], withCSRF: false)
        #expect(forged.status == 403)
        #expect(try await runtime.store.quarantinedRecord(id: held[0].id) != nil)

        // Fix the file, reload, reprocess every record of the adapter.
        try good.write(to: portal, atomically: true, encoding: .utf8)
        let reloaded = try await operatorVisitor.post("/reload", [])
        #expect(reloaded.status == 200 && reloaded.body.contains("Đã nạp lại cấu hình"), "\(reloaded.body)")
        let reprocessed = try await operatorVisitor.post(
            "/quarantine/reprocess", [("scope", "all"), ("adapter", "dvc-portal"), ("rule", ""), ("indicator", ""), ("period", "")])
        #expect(reprocessed.status == 200)
        // What failed only for the wrong code passes now; a record with a fault of its own stays.
        let fixable = broken.filter { $0.reasons.allSatisfy { $0.rule == "indicator.known" } }
        #expect(fixable.count < broken.count, "the portal's data has an HS_TT record with a fault of its own")
        #expect(reprocessed.body.contains(#"<td class="sent">\#(fixable.count)</td>"#), "\(reprocessed.body)")
        let remaining = try await runtime.store.quarantined(matching: QuarantineFilter(adapter: "dvc-portal"), limit: 100)
        #expect(remaining.count == held.count - fixable.count && !remaining.contains { $0.indicator == "HS_TRUC_TUYEM" })

        // Replay the dead letters: a confirmation first, then they go.
        let dead = try await runtime.store.entries(state: .deadLettered, limit: 1000).map(\.reportID)
        let letters = try await operatorVisitor.get("/dead-letters")
        for id in dead { #expect(letters.body.contains(id)) }
        let asked = try await operatorVisitor.post("/dead-letters/retry", dead.map { ("id", $0) })
        #expect(asked.status == 200 && asked.body.contains(#"id="confirm-form""#))
        #expect(try await runtime.store.outboxStats(now: Date()).deadLettered == dead.count)
        let retried = try await operatorVisitor.post("/dead-letters/retry", dead.map { ("id", $0) } + [("confirmed", "1")])
        #expect(retried.status == 200 && retried.body.contains("Đã đưa lại vào hàng đợi: \(dead.count)"), "\(retried.body)")
        #expect(
            try await eventually(timeout: .seconds(30)) {
                let now = try await runtime.store.outboxStats(now: Date())
                return now.undelivered == 0 && now.deadLettered == 0
            })
        // Retrying what is no longer a dead letter does nothing and says so.
        let again = try await operatorVisitor.post("/dead-letters/retry", [("id", dead[0]), ("confirmed", "1")])
        #expect(
            again.body.contains("Đã đưa lại vào hàng đợi: 0") && again.body.contains("\(dead[0]): không phải thư chết"), "\(again.body)")
        // At the centre: every figure once, the reprocessed ones included.
        #expect(running.central.statistics.duplicateObservations == 0)
        for record in fixable {
            let key = FigureKey(
                indicator: "HS_TRUC_TUYEN", province: "14", level: .province, area: record.area ?? "", period: record.period ?? "")
            #expect(running.central.figure(key) != nil, "\(key) did not arrive")
        }
        let accepted = running.central.statistics.acceptedReports
        #expect(accepted == (try await runtime.store.outboxStats(now: Date()).delivered))

        // The audit page shows what the operator did, under the operator's name.
        let audit = try await operatorVisitor.get("/audit?verify=1")
        #expect(audit.body.contains("Chuỗi nguyên vẹn"), "\(audit.body)")
        for action in ["config.reload", "quarantine.reprocess", "outbox.retry"] {
            #expect(audit.body.contains("<code>\(action)</code>"), "\(action)")
        }
        let actions = try await runtime.store.operatorActions(before: nil, limit: 10)
        #expect(actions.allSatisfy { $0.user == "an.nguyen" && $0.via == "console" })

        // Every page answers, in English after the switch.
        for path in ["/", "/adapters/dvc-portal", "/quarantine", "/dead-letters", "/calendar", "/progress", "/progress.csv", "/audit"] {
            #expect(try await operatorVisitor.get(path).status == 200, "\(path)")
        }
        let switched = try await operatorVisitor.get("/lang/en?back=/calendar")
        #expect(switched.status == 303 && switched.location == "/calendar")
        let english = try await operatorVisitor.get("/calendar")
        #expect(english.body.contains("Reporting calendar") && english.body.contains(#"<html lang="en">"#))
        let progress = try await operatorVisitor.get("/progress")
        #expect(progress.body.contains("<svg") && progress.body.contains("Progress against the resolution"))
        let dryRun = try await operatorVisitor.post("/adapters/qlvb-documents/test", [])
        #expect(dryRun.body.contains(#"id="dry-run-result""#) && dryRun.body.contains("Dry run result"), "\(dryRun.body.suffix(2000))")

        // A viewer reads, and is refused every action.
        #expect(try await viewer.login("binh.tran", passwords.viewer).status == 303)
        let viewerOverview = try await viewer.get("/")
        #expect(viewerOverview.body.contains("người xem") && !viewerOverview.body.contains(#"id="reload""#))
        #expect(!(try await viewer.get("/quarantine")).body.contains("reprocess-all"))
        for action in ["/reload", "/quarantine/reprocess", "/quarantine/purge", "/dead-letters/retry", "/dead-letters/purge"] {
            #expect(try await viewer.post(action, [("id", "1"), ("scope", "all"), ("confirmed", "1")]).status == 403, "\(action)")
        }
        #expect(try await runtime.store.operatorActions(before: nil, limit: 100).allSatisfy { $0.user != "binh.tran" })
        // Signing out ends the session: the old cookie opens nothing.
        let cookie = viewer.cookies["lgsp_session"] ?? ""
        #expect(try await viewer.post("/logout", []).status == 303)
        #expect(try await viewer.get("/").status == 303)
        #expect(!cookie.isEmpty)

        // Failed logins are limited per address: past three, even the right password is refused until the lockout ends.
        // The window runs from the first failure, and each failure costs a bcrypt check (about a
        // second in a debug build on a busy machine): a 3 s window let the first expire before the
        // fourth attempt. The wait after the refusal runs from the first failure's answer, by when
        // that failure is recorded.
        #expect(try await stranger.login("an.nguyen", "wrong").status == 401)
        let firstFailure = ContinuousClock.now
        for _ in 2...3 { #expect(try await stranger.login("an.nguyen", "wrong").status == 401) }
        #expect(try await stranger.login("an.nguyen", passwords.operator).status == 429)
        try await Task.sleep(until: firstFailure + .seconds(ConsoleFixture.loginLockoutSeconds) + .milliseconds(200))
        #expect(try await stranger.login("an.nguyen", passwords.operator).status == 303)
    }
}
