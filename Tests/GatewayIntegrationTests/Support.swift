import Foundation
import Gateway
import GatewayAdapters
import GatewayConfig
import GatewayTestKit
import GatewayHTTP
import GatewaySigning
import GatewayStore
import Logging
import ServiceLifecycle

/// Mocks that keep gateways busy for a while: 60 communes' figures, served 25 records an answer so
/// pulls go on for a dozen rounds, and a centre that fails as `faults` says.
func busyMocks(
    in directory: URL, trusting key: SigningKey, faults: MockCentral.FaultPlan, educationTable: Bool = true
) -> (MockSystems.Configuration, MockDataset) {
    let dataset = MockDataset(province: "14", communes: 60, educationTable: educationTable)
    let mocks = MockSystems.Configuration(
        directory: directory.appendingPathComponent("mocks"),
        source: .init(clientID: "lgsp-gateway-demo", clientSecret: "s-\(UUID())", dataset: dataset, maxRecordsPerAnswer: 25),
        trustedKeys: [key.publicKey], faults: faults)
    return (mocks, dataset)
}

/// `runTool` on a thread of its own, for async tests: waiting for a process on one of the
/// cooperative pool's threads (two, on a two-core machine) can starve the work it waits for.
func runToolOffPool(_ arguments: [String], includeStandardError: Bool = true) async throws -> (status: Int32, output: String) {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(with: Result { try runTool(arguments, includeStandardError: includeStandardError) })
        }
    }
}

/// Runs a tool from PATH (openssl, python3) and returns its exit status and what it printed.
func runTool(_ arguments: [String], includeStandardError: Bool = true) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    if includeStandardError { process.standardError = output }
    try process.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, text)
}

/// The mocks on loopback, trusting a fresh signing key written to the test's directory: the
/// set-up of most tests that run the gateway against them.
func withSignedMocks(_ body: @escaping @Sendable (MockSystems.Running, _ directory: URL, _ keyPath: String) async throws -> Void)
    async throws
{
    let directory = try makeTemporaryDirectory()
    let key = SigningKey.generate()
    let keyPath = try writeKey(key, in: directory)
    let mocks = MockSystems.Configuration(
        directory: directory.appendingPathComponent("mocks"),
        source: .init(clientID: "lgsp-gateway-demo", clientSecret: "secret-\(UUID())"),
        trustedKeys: [key.publicKey])
    try await MockSystems.withRunning(mocks, logger: quietLogger) { running in try await body(running, directory, keyPath) }
}

/// The `source:` of an adapter file that reaches the mock LGSP source through its OAuth2 token endpoint.
let mockSourceYAML = """
    source:
      base_url: ${LGSP_SOURCE_URL}
      ca_bundle: ${LGSP_SOURCE_CA}
      auth:
        kind: oauth2_client_credentials
        token_url: ${LGSP_SOURCE_URL}/token
        client_id: ${LGSP_CLIENT_ID}
        client_secret: ${LGSP_CLIENT_SECRET}
    """

/// The `mapping:` of the portal's records (`dvc/1.0.0/chi-tieu` and the routes serving the same records).
let portalMappingYAML = """
    mapping:
      indicator: { path: maChiTieu, lookup: { DVC_TT: DVC_TOAN_TRINH, HS_TT: HS_TRUC_TUYEN }, unmatched: keep }
      level: { path: capHanhChinh, lookup: { TINH: province } }
      area: maDonVi
      period: kyBaoCao
      value: giaTri
      unit: { path: donVi, lookup: { "%": percent } }
      source_record_id: id
    """

/// Writes `yaml` as the one file of a new adapters folder named `name` and loads it as HTTP.
func loadHTTPAdapter(_ yaml: String, name: String, in directory: URL, environment: ConfigEnvironment) throws -> HTTPAdapter.Definition {
    let folder = directory.appendingPathComponent(name)
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    try yaml.write(to: folder.appendingPathComponent("a.yaml"), atomically: true, encoding: .utf8)
    guard case .http(let definition)? = try AdapterLoader.definitions(directory: folder.path, environment: environment).first else {
        throw MockError("\(name) did not load as an HTTP adapter")
    }
    return definition
}

/// An HTTPS client shut down however `body` ends.
func withTransport<T>(_ body: (HTTPTransport) async throws -> T) async throws -> T {
    let transport = HTTPTransport()
    do {
        let result = try await body(transport)
        try await transport.shutdown()
        return result
    } catch {
        try? await transport.shutdown()
        throw error
    }
}

/// A new adapters folder holding the shipped adapter files named, for a gateway run on a few.
func shippedAdapters(_ names: [String], in directory: URL) throws -> URL {
    let folder = directory.appendingPathComponent("adapters")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    for name in names {
        try FileManager.default.copyItem(
            at: repositoryRoot.appendingPathComponent("Adapters/\(name).yaml"), to: folder.appendingPathComponent("\(name).yaml"))
    }
    return folder
}

/// The environment a command run as its own process gets: the variables that point the example
/// configuration at `running`, `overrides`, and a `PATH`.
func commandEnvironment(
    _ running: MockSystems.Running, keyPath: String, storePath: String, overrides: [String: String] = [:]
) -> [String: String] {
    var environment = Demo.environment(
        for: running, repository: repositoryRoot, keyPath: keyPath, storePath: storePath, overrides: overrides
    )
    .variables
    environment["PATH"] = "/usr/bin:/bin"
    return environment
}

/// `lgsp-gateway outbox …` against the example configuration, with the variables the mocks need:
/// a function that runs one such command and returns its exit status and output.
func outboxCommand(
    _ running: MockSystems.Running, directory: URL, keyPath: String, storePath: String, overrides: [String: String]
) -> ([String]) async throws -> (Int32?, String) {
    let environment = commandEnvironment(running, keyPath: keyPath, storePath: storePath, overrides: overrides)
    let config = repositoryRoot.appendingPathComponent("deploy/examples/gateway.yaml").path
    return { arguments in
        let child = try ChildProcess(
            ["outbox"] + arguments + ["--config", config], environment: environment,
            outputPath: directory.appendingPathComponent("outbox-\(UUID().uuidString.prefix(6)).out"))
        return (try await child.waitForExit(timeout: .seconds(30)), child.output)
    }
}

/// A gateway from the example configuration against the mocks, whose reloads read the files again
/// with the same variables, and the service group to run it in.
func reloadableGateway(
    _ running: MockSystems.Running, directory: URL, keyPath: String, overrides: [String: String]
) throws -> (runtime: GatewayRuntime, group: ServiceGroup) {
    let environment = Demo.environment(
        for: running, repository: repositoryRoot, keyPath: keyPath, storePath: directory.appendingPathComponent("gateway.sqlite").path,
        overrides: overrides)
    let loaded = try LoadedGateway.load(
        file: repositoryRoot.appendingPathComponent("deploy/examples/gateway.yaml").path, environment: environment)
    let runtime = try GatewayRuntime(loaded: loaded, logger: quietLogger, environment: environment)
    return (runtime, runtime.makeServiceGroup(signals: []))
}

/// Runs `sql` on a store with the database's own client (`sqlite3` for a file, `psql` for a
/// PostgreSQL URL), as a test puts a store back the way an earlier version left it.
/// Records the shipped adapters that keep a cursor have pulled, and the pulls committed of the
/// education system, which keeps none and reads its whole table each time: a gateway restarted
/// pulls the first only once in all, the second once per start.
func recordsPulled(on location: String) async throws -> (byCursor: Int, educationPulls: Int) {
    let (status, output) = try await runSQL(
        "SELECT COALESCE(SUM(CASE WHEN adapter <> 'so-gddt' THEN records END), 0), COUNT(CASE WHEN adapter = 'so-gddt' THEN 1 END) FROM pulls",
        on: location)
    let fields = output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "|").compactMap { Int($0) }
    guard status == 0, fields.count == 2 else { throw MockError("reading the pulls: \(output)") }
    return (fields[0], fields[1])
}

func runSQL(_ sql: String, on location: String) async throws -> (status: Int32, output: String) {
    guard StoreLocation.isPostgres(location) else { return try runTool(["sqlite3", location, sql]) }
    return try await runToolOffPool([
        "psql", location.replacingOccurrences(of: "?sslmode=disable", with: ""), "--quiet", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-c",
        sql,
    ])
}
