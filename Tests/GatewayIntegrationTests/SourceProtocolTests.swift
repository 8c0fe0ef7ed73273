import Foundation
import GatewayAdapters
import GatewayConfig
import GatewayContracts
import GatewayHTTP
import GatewayTestKit
import Testing

/// The shapes real provincial systems answer in: their own logins, errors inside HTTP 200
/// answers, and pages that fail part-way through a pull.
@Suite("Sources with their own login, status envelopes and failing pages", .serialized)
struct SourceProtocolTests {
    /// The shipped education adapter, with its in-pull retries set to `retry`.
    static func educationAdapter(retry: String) throws -> String {
        let shipped = try String(contentsOf: repositoryRoot.appendingPathComponent("Adapters/so-gddt.yaml"), encoding: .utf8)
        let lines = shipped.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasPrefix("  retry: ") ? "  retry: \(retry)" : String(line)
        }
        return lines.joined(separator: "\n")
    }

    /// The education adapter against the mocks, logging in with `password` (the mock's own when nil).
    static func educationDefinition(
        _ running: MockSystems.Running, in directory: URL, password: String? = nil, retry: String = "{ attempts: 4, backoff: 50ms }"
    ) throws -> HTTPAdapter.Definition {
        let passwordFile = directory.appendingPathComponent("sgd-password-\(UUID().uuidString.prefix(6))")
        try (password ?? running.source.configuration.clientSecret).write(to: passwordFile, atomically: true, encoding: .utf8)
        let environment = Demo.environment(
            for: running, repository: repositoryRoot, keyPath: "", storePath: "", overrides: ["SGD_PASSWORD": "file:" + passwordFile.path])
        return try loadHTTPAdapter(
            educationAdapter(retry: retry), name: "adapters-\(UUID().uuidString.prefix(6))", in: directory, environment: environment)
    }

    /// One pull of the education adapter.
    static func pull(
        _ running: MockSystems.Running, in directory: URL, password: String? = nil, retry: String = "{ attempts: 4, backoff: 50ms }"
    ) async throws -> Result<PullOutput, any Error> {
        let definition = try educationDefinition(running, in: directory, password: password, retry: retry)
        return try await withTransport { transport in
            let adapter = HTTPAdapter(definition: definition, transport: transport)
            do { return .success(try await adapter.pull(cursor: nil, context: PullContext(province: "14", collectedAt: Date()))) } catch {
                return .failure(error)
            }
        }
    }

    /// The figures a pull mapped, as "INDICATOR PERIOD", in the order they came.
    static func figures(_ output: PullOutput) -> [String] {
        output.records.compactMap { record -> String? in
            guard case .mapped(let value, _) = record else { return nil }
            return "\(value["indicator"]?.stringValue ?? "?") \(value["period"]?.stringValue ?? "?")"
        }
    }

    /// The figures the dataset's wide table should make: both columns of each whole-province row.
    static let expectedFigures = ["2025-Q3", "2025-Q4", "2025", "2026-Q1", "2026-Q2", "2026-Q3"].flatMap {
        ["TRUONG_HOC_CONG_NGHE_SO \($0)", "CBCC_KY_NANG_SO \($0)"]
    }

    @Test("a JSON login's token opens every page of a wide table; a proxy's HTML 503 and a 429 met part-way are retried, after Retry-After")
    func loginAndRetriedPages() async throws {
        try await withSignedMocks { running, directory, _ in
            let education = running.source.education
            education.script([(page: 2, fault: .proxyUnavailable), (page: 3, fault: .tooManyRequests(retryAfter: 1))])
            let started = ContinuousClock.now
            let pulled = try await Self.pull(running, in: directory).get()
            let took = ContinuousClock.now - started
            // Two observations per row; the school groups' rows skipped, both of their columns.
            #expect(Self.figures(pulled) == Self.expectedFigures)
            let skipped = pulled.records.filter { if case .skipped = $0 { true } else { false } }
            #expect(skipped.count == 24, "\(skipped.count)")
            #expect(pulled.records.count == running.source.configuration.dataset.educationObservations.count)
            #expect(education.statistics.logins == 1 && education.statistics.faultsServed == 2)
            // Five pages of four rows (18 rows) and the two failed attempts, the 429's second no sooner than it asked.
            #expect(education.statistics.dataRequests == 7)
            #expect(took >= .seconds(1), "\(took)")
        }
    }

    @Test("a session the source says has expired (maLoi 401 in a 200) is logged into again and the page asked for again")
    func expiredSession() async throws {
        try await withSignedMocks { running, directory, _ in
            let education = running.source.education
            // Two pulls through one adapter: the second finds its cached session ended.
            let definition = try Self.educationDefinition(running, in: directory)
            try await withTransport { transport in
                let adapter = HTTPAdapter(definition: definition, transport: transport)
                let context = PullContext(province: "14", collectedAt: Date())
                _ = try await adapter.pull(cursor: nil, context: context)
                education.expireSessions()
                let again = try await adapter.pull(cursor: nil, context: context)
                #expect(Self.figures(again) == Self.expectedFigures)
            }
            #expect(education.statistics.logins == 2 && education.statistics.expiredSessionAnswers == 1)
        }
    }

    @Test("a refused login, an error code in a 200, and retries that run out each fail the pull with the source's own words")
    func failures() async throws {
        try await withSignedMocks { running, directory, _ in
            let education = running.source.education
            let refused = try await Self.pull(running, in: directory, password: "sai")
            let refusal = String(describing: refused.failure)
            #expect(
                refusal.contains("login at https://")
                    && refusal.contains("was refused: the source answered with code 01: Sai tên đăng nhập hoặc mật khẩu"),
                "\(refusal)")
            #expect(!refusal.contains("sai\""))

            education.script([(page: 2, fault: .busy)])
            let busy = try await Self.pull(running, in: directory)
            #expect(
                String(describing: busy.failure).contains(
                    "the source answered with code 99: Hệ thống đang bận, vui lòng thử lại sau (for /sgd/api/chi-tieu, page 2)"),
                "\(String(describing: busy.failure))")

            education.script(Array(repeating: (page: 1, fault: .proxyUnavailable), count: 3))
            let exhausted = try await Self.pull(running, in: directory, retry: "{ attempts: 3, backoff: 10ms }")
            #expect(
                String(describing: exhausted.failure).contains(
                    "source answered HTTP 503 for /sgd/api/chi-tieu: an HTML page \"503 Service Temporarily Unavailable\" (3 attempts)"),
                "\(String(describing: exhausted.failure))")

            // A source asking to wait longer than the adapter allows fails the pull at once.
            education.script([(page: 1, fault: .tooManyRequests(retryAfter: 600))])
            let started = ContinuousClock.now
            let impatient = try await Self.pull(running, in: directory)
            #expect(ContinuousClock.now - started < .seconds(5))
            #expect(
                String(describing: impatient.failure).contains("asking to wait 600 s, longer than source.retry.max_retry_after (120 s)"),
                "\(String(describing: impatient.failure))")
        }
    }

    @Test("a token endpoint's refusal carries its error and error_description (RFC 6749 §5.2) into the pull's error")
    func tokenEndpointErrorDetails() async throws {
        try await withSignedMocks { running, directory, _ in
            let environment = Demo.environment(for: running, repository: repositoryRoot, keyPath: "", storePath: "")
            let definition = try loadHTTPAdapter(
                """
                name: dvc
                schedule: { every: 1h }
                \(mockSourceYAML)
                    scope: lgsp:khac
                request: { path: /dvc/1.0.0/chi-tieu }
                response: { records: $.duLieu.banGhi }
                \(portalMappingYAML)
                """, name: "adapters", in: directory, environment: environment)
            let error = try await withTransport { transport in
                await #expect(throws: PullError.self) {
                    try await HTTPAdapter(definition: definition, transport: transport).pull(
                        cursor: nil, context: PullContext(province: "14", collectedAt: Date()))
                }
            }
            #expect(
                error?.message.contains(
                    "answered 400: invalid_scope (The requested scope lgsp:khac is not allowed for this application)") == true,
                "\(String(describing: error))")
        }
    }

    /// The issues the adapter loader finds in `files` (name → text), each written to one folder.
    static func loaderIssues(_ files: [String: String]) throws -> (issues: [String], folder: URL) {
        let folder = try makeTemporaryDirectory().appendingPathComponent("adapters")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for (name, text) in files { try text.write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8) }
        do {
            _ = try AdapterLoader.definitions(directory: folder.path, environment: ConfigEnvironment(variables: [:]))
            return ([], folder)
        } catch { return (error.issues.map(\.description), folder) }
    }

    @Test("check names the file, line and field of a login or status written wrong")
    func loginMistakes() throws {
        let (shown, folder) = try Self.loaderIssues([
            "a.yaml": """
            name: so-gddt
            schedule: { every: 1h }
            source:
              base_url: https://127.0.0.1:1
              retry: { attempts: 0 }
              auth:
                kind: login
                path: sgd/api/dang-nhap
                token: duLieu..token
                body_format: xml
            request: { path: /sgd/api/chi-tieu }
            response:
              records: $.duLieu.danhSach
              status: { code: maLoi }
            mapping: { indicator: a, level: b, area: c, period: d, value: e, unit: f }
            """
        ])
        let file = folder.appendingPathComponent("a.yaml")
        func has(_ line: Int, _ field: String, _ words: String) -> Bool {
            shown.contains { $0.contains("\(file.path):\(line): \(field):") && $0.contains(words) }
        }
        #expect(has(5, "source.retry.attempts", "1"), "\(shown)")
        #expect(has(8, "source.auth.path", "must start with /"), "\(shown)")
        #expect(has(9, "source.auth.token", "is not a field path"), "\(shown)")
        #expect(has(10, "source.auth.body_format", "expected json or form"), "\(shown)")
        #expect(shown.contains { $0.contains("source.auth.body") && $0.contains("required field is missing") }, "\(shown)")
        #expect(has(14, "response.status", "success"), "\(shown)")
    }
}

extension SourceProtocolTests {
    @Test("a secret written in an adapter file is an error naming file, line and field, never the secret; a login's user name may be")
    func inlineSecrets() throws {
        let (shown, folder) = try Self.loaderIssues([
            "a.yaml": """
            name: so-gddt
            schedule: { every: 1h }
            source:
              base_url: https://127.0.0.1:1
              auth:
                kind: login
                path: /sgd/api/dang-nhap
                body:
                  tenDangNhap: so-gddt-14
                  matKhau: hunter2-inline
                token: duLieu.token
            request: { path: /sgd/api/chi-tieu }
            response: { records: $.duLieu.danhSach }
            mapping: { indicator: a, level: b, area: c, period: d, value: e, unit: f }
            """,
            "b.yaml": """
            name: basic
            schedule: { every: 1h }
            source:
              base_url: https://127.0.0.1:1
              auth: { kind: basic, username: u, password: also-inline }
            request: { path: /x }
            response: { records: $.x }
            mapping: { indicator: a, level: b, area: c, period: d, value: e, unit: f }
            """,
        ])
        let file = folder.appendingPathComponent("a.yaml"), second = folder.appendingPathComponent("b.yaml")
        #expect(shown.contains { $0.hasPrefix("\(file.path):10: source.auth.body.matKhau: a secret written in the file") }, "\(shown)")
        #expect(shown.contains { $0.hasPrefix("\(second.path):5: source.auth.password: a secret written in the file") }, "\(shown)")
        #expect(!shown.contains { $0.contains("tenDangNhap") }, "\(shown)")
        #expect(!shown.joined().contains("hunter2") && !shown.joined().contains("also-inline"))
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let failure) = self { return failure }
        return nil
    }
}
