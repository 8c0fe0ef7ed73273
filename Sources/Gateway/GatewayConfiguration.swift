import Foundation
import GatewayAdapters
import GatewayConfig
import GatewayContracts
import GatewayDelivery
import GatewayHTTP
import GatewaySigning
import GatewayStore

/// Everything `gateway.yaml` says, checked and resolved (paths absolute, secrets read).
public struct GatewayConfiguration: Sendable {
    public var file: String
    public var gatewayID: String
    public var province: String
    public var centralURL: String
    public var centralTLS: EndpointTLS
    public var centralToken: Secret?
    public var requestTimeout: Duration
    /// Sign each request with RFC 9421 HTTP Message Signatures too.
    public var httpSignatures: Bool
    public var signingKeyPath: String
    /// The algorithm to sign with: configured, or the key type's default.
    public var signingAlgorithm: JWSAlgorithm
    /// `kid`; the key's RFC 7638 thumbprint when nil.
    public var keyID: String?
    /// PEM chain sent as `x5c`.
    public var certificateChainPath: String?
    /// Keys no longer used to sign, still published in the JWKS so earlier reports verify.
    public var retiredKeyPaths: [String]
    public var serialization: JWSSerialization
    public var storePath: String
    /// Pulls pause when less than this is free on the store's disk.
    public var minimumFreeBytes: Int64
    /// Pulls pause when the store is larger than this.
    public var maximumStoreBytes: Int64
    public var contractsDirectory: String
    public var adaptersDirectory: String
    public var retry: RetryPolicy
    public var breaker: CircuitBreaker.Configuration
    /// Deliveries under way at once to the central endpoint.
    public var maxConcurrent: Int
    /// Reports per request (1: one per request; more: batches to `/v1/reports/batch`), and a batch's byte limit.
    public var maxReportsPerRequest: Int
    public var maxBytesPerRequest: Int
    /// Keep delivered reports this long; their audit links stay for good.
    public var retention: Duration
    /// The centre's receipt keys, by kid; receipts are verified when set.
    public var receiptKeys: [String: VerificationKey]?
    public var deliveryPoll: Duration
    public var maxObservationsPerReport: Int
    public var shutdownTimeout: Duration
    /// Where `/healthz`, `/readyz` and `/metrics` listen (port 0: any free port), and the bearer token guarding them.
    public var adminHost: String
    public var adminPort: Int
    public var adminToken: Secret?
    public var warnings: [String]

    /// Reads and checks `file`; throws every problem found, each with file, line and field.
    public static func load(file: String, environment: ConfigEnvironment = .process) throws(ConfigIssues) -> GatewayConfiguration {
        let reader = ConfigReader(file: file, environment: environment)
        guard let root = reader.root else { throw ConfigIssues(reader.issues) }
        root.allowOnly(["gateway", "central", "signing", "store", "contracts", "adapters", "delivery", "reports", "shutdown", "admin"])
        var adminHost = "127.0.0.1", adminPort = 9464
        var adminToken: Secret?
        if let admin = root["admin"] {
            admin.allowOnly(["listen", "token"])
            if let listen = admin.optionalString("listen") {
                let parts = listen.split(separator: ":")
                if parts.count == 2, let port = Int(parts[1]), (0...65535).contains(port) {
                    adminHost = String(parts[0])
                    adminPort = port
                } else {
                    admin["listen"]?.report("expected host:port such as 127.0.0.1:9464, found \"\(listen)\"")
                }
            }
            if admin.optionalString("token") != nil { adminToken = admin.secret("token") }
        }
        var warnings: [String] = []

        let gateway = root.required("gateway")
        gateway?.allowOnly(["id", "province"])
        let gatewayID = gateway?.string("id")
        if gatewayID?.trimmingCharacters(in: .whitespaces).isEmpty == true {
            gateway?["id"]?.report("must name this gateway (it is sent with every report), e.g. son-la-gw-01")
        }
        if let gatewayID, let control = SemanticRules.firstControlCharacter(in: gatewayID) {
            gateway?["id"]?.report("holds the control character U+\(String(format: "%04X", control)); it is signed into every report")
        }
        let province = gateway?.string("province")
        if let province, !(province.count == 2 && province.allSatisfy(\.isNumber)) {
            gateway?["province"]?.report("expected a two-digit province code (Decision 19/2025/QĐ-TTg), e.g. \"14\" for Sơn La")
        }

        let central = root.required("central")
        central?.allowOnly(
            ConfigValue.tlsFields.union([
                "url", "timeout", "token", "allow_plain_http", "http_signatures", "receipt_keys", "max_concurrent", "batch_max_reports",
                "batch_max_bytes",
            ]))
        let maxConcurrent = central?.int("max_concurrent", default: 4, range: 1...64) ?? 4
        let maxReportsPerRequest = central?.int("batch_max_reports", default: 1, range: 1...10_000) ?? 1
        let maxBytesPerRequest = Int(central?.size("batch_max_bytes", default: 8 << 20, range: (64 << 10)...(1 << 30)) ?? (8 << 20))
        var receiptKeys: [String: VerificationKey]?
        if let path = central?.path("receipt_keys", required: false) {
            do {
                receiptKeys = try JSONDecoder().decode(JWKS.self, from: Data(contentsOf: URL(fileURLWithPath: path))).verificationKeys()
            } catch {
                central?["receipt_keys"]?.report("\(path) is not a readable JWKS of the centre's receipt keys")
            }
        }
        let allowPlain = central?.bool("allow_plain_http", default: false) ?? false
        let centralURL = central?.url("url", allowPlainHTTP: allowPlain)
        let centralTLS = central?.endpointTLS(url: centralURL) ?? EndpointTLS()
        if let centralURL { warnings += centralTLS.warnings(endpoint: "central.url", url: centralURL) }
        let requestTimeout =
            central?.duration("timeout", default: .seconds(30), range: .milliseconds(100)...(.seconds(3600))) ?? .seconds(30)
        let centralToken = central?["token"] != nil ? central?.secret("token") : nil
        let httpSignatures = central?.bool("http_signatures", default: false) ?? false

        let signing = root.required("signing")
        signing?.allowOnly(["key", "algorithm", "key_id", "certificate_chain", "retired_keys", "serialization"])
        let keyPath = signing?.path("key")
        var algorithm: JWSAlgorithm?
        if let name = signing?.optionalString("algorithm") {
            algorithm = JWSAlgorithm(rawValue: name)
            if algorithm == nil {
                signing?["algorithm"]?.report(
                    "expected one of \(JWSAlgorithm.allCases.map(\.rawValue).joined(separator: ", ")), found \"\(name)\"")
            }
        }
        var signingKey: SigningKey?
        if let keyPath {
            do { signingKey = try SigningKey(contentsOf: URL(fileURLWithPath: keyPath)) } catch {
                signing?["key"]?.report(error.message)
            }
        }
        if let signingKey, let algorithm, algorithm.keyType != signingKey.keyType {
            let usable = JWSAlgorithm.allCases.filter { $0.keyType == signingKey.keyType }.map(\.rawValue).joined(separator: " or ")
            signing?["algorithm"]?.report(
                "\(algorithm.rawValue) needs \(algorithm.keyType.withArticle) key, but the key is \(signingKey.keyType.rawValue); use \(usable)"
            )
        }
        let keyID = signing?.optionalString("key_id")
        let chainPath = signing?.path("certificate_chain", required: false)
        if let chainPath, let signingKey {
            do { try CertificateChain(pemFile: chainPath).check(matches: signingKey.publicKey, at: Date()) } catch {
                signing?["certificate_chain"]?.report(error.message)
            }
        }
        var retiredKeyPaths: [String] = []
        for item in signing?["retired_keys"]?.items ?? [] {
            guard let path = item.resolvedPath else { continue }
            do { _ = try VerificationKey(contentsOf: URL(fileURLWithPath: path)) } catch { item.report(error.message) }
            retiredKeyPaths.append(path)
        }
        var serialization = JWSSerialization.flattened
        if let name = signing?.optionalString("serialization") {
            if let chosen = JWSSerialization(rawValue: name) {
                serialization = chosen
            } else {
                signing?["serialization"]?.report("expected flattened, compact or detached, found \"\(name)\"")
            }
        }

        let store = root.required("store")
        store?.allowOnly(["path", "min_free_space", "max_size"])
        // A postgres:// URL for several gateways on one database, otherwise the SQLite file's path.
        let storeText = store?.optionalString("path")
        let storePath = storeText.map { StoreLocation.isPostgres($0) } == true ? storeText : store?.path("path")
        let minimumFreeBytes = store?.size("min_free_space", default: 64 << 20, range: 0...(1 << 40)) ?? 64 << 20
        let maximumStoreBytes = store?.size("max_size", default: 10 << 30, range: (1 << 20)...(1 << 50)) ?? 10 << 30

        let contracts = root.required("contracts")
        contracts?.allowOnly(["directory"])
        let contractsDirectory = contracts?.path("directory")

        let adapters = root.required("adapters")
        adapters?.allowOnly(["directory"])
        let adaptersDirectory = adapters?.path("directory")

        var retry = RetryPolicy()
        var breaker = CircuitBreaker.Configuration()
        var retention = Duration.seconds(365 * 86400)
        var poll = Duration.seconds(5)
        if let delivery = root["delivery"] {
            delivery.allowOnly([
                "retry_base", "retry_cap", "max_age", "retry_after_max", "retry_statuses", "breaker_failures", "breaker_cooldown", "poll",
                "retention",
            ])
            let day = 86_400
            retention = delivery.duration("retention", default: .seconds(365 * day), range: .seconds(3600)...(.seconds(36_500 * day)))
            var statuses = RetryPolicy.defaultRetryableStatuses
            if let list = delivery["retry_statuses"] {
                statuses = []
                for item in list.items {
                    guard let text = item.text, let status = Int(text), (400...599).contains(status), ![400, 409, 422].contains(status)
                    else {
                        item.report("expected an HTTP status from 400 to 599 other than 400, 409 and 422")
                        continue
                    }
                    statuses.insert(status)
                }
            }
            retry = RetryPolicy(
                baseDelay: delivery.duration("retry_base", default: .seconds(1), range: .milliseconds(1)...(.seconds(3600))),
                maxDelay: delivery.duration("retry_cap", default: .seconds(300), range: .milliseconds(1)...(.seconds(7 * day))),
                maxAge: delivery.duration("max_age", default: .seconds(30 * day), range: .seconds(1)...(.seconds(3650 * day))),
                retryableStatuses: statuses,
                retryAfterMax: delivery.duration("retry_after_max", default: .seconds(3600), range: .seconds(1)...(.seconds(7 * day))))
            if retry.maxDelay < retry.baseDelay {
                delivery["retry_cap"]?.report("must be at least retry_base (\(ConfigUnits.duration(retry.baseDelay)))")
            }
            breaker = CircuitBreaker.Configuration(
                failureThreshold: delivery.int("breaker_failures", default: 5, range: 1...1000),
                coolDown: delivery.duration("breaker_cooldown", default: .seconds(30), range: .milliseconds(10)...(.seconds(day))))
            poll = delivery.duration("poll", default: .seconds(5), range: .milliseconds(10)...(.seconds(3600)))
        }
        var maxObservations = 500
        if let reports = root["reports"] {
            reports.allowOnly(["max_observations"])
            maxObservations = reports.int("max_observations", default: 500, range: 1...100_000)
        }
        var shutdownTimeout = Duration.seconds(30)
        if let shutdown = root["shutdown"] {
            shutdown.allowOnly(["timeout"])
            shutdownTimeout = shutdown.duration("timeout", default: .seconds(30), range: .milliseconds(10)...(.seconds(3600)))
        }

        guard reader.issues.isEmpty, let gatewayID, let province, let centralURL, let keyPath, let signingKey, let storePath,
            let contractsDirectory, let adaptersDirectory
        else {
            // Report the adapter files' problems in the same run, so one `check` shows everything to fix.
            var issues = reader.issues
            if let adaptersDirectory {
                do { _ = try AdapterLoader.definitions(directory: adaptersDirectory, environment: environment) } catch {
                    issues += error.issues
                }
            }
            throw ConfigIssues(issues)
        }
        return GatewayConfiguration(
            file: file, gatewayID: gatewayID, province: province, centralURL: centralURL, centralTLS: centralTLS,
            centralToken: centralToken, requestTimeout: requestTimeout, httpSignatures: httpSignatures, signingKeyPath: keyPath,
            signingAlgorithm: algorithm ?? signingKey.keyType.defaultAlgorithm, keyID: keyID, certificateChainPath: chainPath,
            retiredKeyPaths: retiredKeyPaths, serialization: serialization,
            storePath: storePath, minimumFreeBytes: minimumFreeBytes, maximumStoreBytes: maximumStoreBytes,
            contractsDirectory: contractsDirectory, adaptersDirectory: adaptersDirectory, retry: retry, breaker: breaker,
            maxConcurrent: maxConcurrent, maxReportsPerRequest: maxReportsPerRequest, maxBytesPerRequest: maxBytesPerRequest,
            retention: retention, receiptKeys: receiptKeys,
            deliveryPoll: poll, maxObservationsPerReport: maxObservations, shutdownTimeout: shutdownTimeout,
            adminHost: adminHost, adminPort: adminPort, adminToken: adminToken, warnings: warnings)
    }
}

/// A configuration with everything it refers to loaded: what `check` verifies and `run` runs.
public struct LoadedGateway: Sendable {
    public var configuration: GatewayConfiguration
    public let contracts: ContractSet
    public let adapters: [AdapterSpec]
    public let signingKey: SigningKey
    public let certificateChain: CertificateChain?
    public let retiredKeys: [VerificationKey]

    /// The signer for reports, as configured.
    public var signer: JWSSigner {
        JWSSigner(
            key: signingKey, algorithm: configuration.signingAlgorithm, keyID: configuration.keyID, type: "lgsp-report+jws",
            certificateChain: certificateChain?.derCertificates ?? [])
    }

    /// What the central side should trust: the active key and every retired one.
    public var jwks: JWKS {
        JWKS(publishing: [(signingKey.publicKey, configuration.signingAlgorithm, configuration.keyID)] + retiredKeys.map { ($0, nil, nil) })
    }

    /// Loads the configuration, its adapters, its contracts and its key, reporting every problem at once.
    public static func load(file: String, environment: ConfigEnvironment = .process) throws(ConfigIssues) -> LoadedGateway {
        let configuration = try GatewayConfiguration.load(file: file, environment: environment)
        var issues: [ConfigIssue] = []
        var contracts: ContractSet?
        do { contracts = try ContractSet.load(from: URL(fileURLWithPath: configuration.contractsDirectory)) } catch {
            issues.append(ConfigIssue(file: configuration.contractsDirectory, line: nil, field: "", message: error.message))
        }
        var adapters: [AdapterSpec] = []
        do { adapters = try AdapterLoader.definitions(directory: configuration.adaptersDirectory, environment: environment) } catch {
            issues += error.issues
        }
        if adapters.isEmpty && issues.isEmpty {
            issues.append(
                ConfigIssue(file: configuration.adaptersDirectory, line: nil, field: "", message: "no adapter files (*.yaml) found"))
        }
        let key: SigningKey
        do { key = try SigningKey(contentsOf: URL(fileURLWithPath: configuration.signingKeyPath)) } catch {
            throw ConfigIssues(issues + [ConfigIssue(file: configuration.file, line: nil, field: "signing.key", message: error.message)])
        }
        guard issues.isEmpty, let contracts else { throw ConfigIssues(issues) }
        // The chain and the retired keys were checked while the configuration was read.
        let chain = configuration.certificateChainPath.flatMap { try? CertificateChain(pemFile: $0) }
        let retired = configuration.retiredKeyPaths.compactMap { try? VerificationKey(contentsOf: URL(fileURLWithPath: $0)) }
        return LoadedGateway(
            configuration: configuration, contracts: contracts, adapters: adapters, signingKey: key,
            certificateChain: chain, retiredKeys: retired)
    }
}
