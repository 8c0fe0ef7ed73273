import Foundation
import GatewayAdapters
import GatewayConfig
import GatewayContracts
import GatewayDelivery
import GatewayHTTP
import GatewaySigning

/// Everything `gateway.yaml` says, checked and resolved (paths absolute, secrets read).
public struct GatewayConfiguration: Sendable {
    public var file: String
    public var gatewayID: String
    public var province: String
    public var centralURL: String
    public var centralTLS: EndpointTLS
    public var centralToken: Secret?
    public var requestTimeout: Duration
    public var signingKeyPath: String
    public var signingAlgorithm: JWSAlgorithm
    public var storePath: String
    public var contractsDirectory: String
    public var adaptersDirectory: String
    public var retry: RetryPolicy
    public var deliveryPoll: Duration
    public var maxObservationsPerReport: Int
    public var shutdownTimeout: Duration
    public var warnings: [String]

    /// Reads and checks `file`; throws every problem found, each with file, line and field.
    public static func load(file: String, environment: ConfigEnvironment = .process) throws(ConfigIssues) -> GatewayConfiguration {
        let reader = ConfigReader(file: file, environment: environment)
        guard let root = reader.root else { throw ConfigIssues(reader.issues) }
        root.allowOnly(["gateway", "central", "signing", "store", "contracts", "adapters", "delivery", "reports", "shutdown"])
        var warnings: [String] = []

        let gateway = root.required("gateway")
        gateway?.allowOnly(["id", "province"])
        let gatewayID = gateway?.string("id")
        let province = gateway?.string("province")
        if let province, !(province.count == 2 && province.allSatisfy(\.isNumber)) {
            gateway?["province"]?.report("expected a two-digit province code (Decision 19/2025/QĐ-TTg), e.g. \"14\" for Sơn La")
        }

        let central = root.required("central")
        central?.allowOnly(["url", "ca_bundle", "timeout", "token", "allow_plain_http"])
        let allowPlain = central?.bool("allow_plain_http", default: false) ?? false
        let centralURL = central?.url("url", allowPlainHTTP: allowPlain)
        if allowPlain, centralURL?.lowercased().hasPrefix("http://") == true {
            warnings.append("central.url uses plain http://: reports travel unencrypted (allow_plain_http is set)")
        }
        let centralTLS = EndpointTLS(caBundlePath: central?.path("ca_bundle", required: false))
        let requestTimeout = central?.duration("timeout", default: .seconds(30)) ?? .seconds(30)
        let centralToken = central?["token"] != nil ? central?.secret("token") : nil

        let signing = root.required("signing")
        signing?.allowOnly(["key", "algorithm"])
        let keyPath = signing?.path("key")
        var algorithm = JWSAlgorithm.ed25519
        if let name = signing?.optionalString("algorithm") {
            if let chosen = JWSAlgorithm(rawValue: name) { algorithm = chosen } else {
                signing?["algorithm"]?.report("expected Ed25519 or EdDSA, found \"\(name)\"")
            }
        }
        if let keyPath {
            do { _ = try SigningKey(contentsOf: URL(fileURLWithPath: keyPath)) } catch {
                signing?["key"]?.report(error.message)
            }
        }

        let store = root.required("store")
        store?.allowOnly(["path"])
        let storePath = store?.path("path")

        let contracts = root.required("contracts")
        contracts?.allowOnly(["directory"])
        let contractsDirectory = contracts?.path("directory")

        let adapters = root.required("adapters")
        adapters?.allowOnly(["directory"])
        let adaptersDirectory = adapters?.path("directory")

        var retry = RetryPolicy()
        var poll = Duration.seconds(5)
        if let delivery = root["delivery"] {
            delivery.allowOnly(["retry_base", "retry_cap", "poll"])
            retry = RetryPolicy(baseDelay: delivery.duration("retry_base", default: .seconds(1)),
                                maxDelay: delivery.duration("retry_cap", default: .seconds(300)))
            poll = delivery.duration("poll", default: .seconds(5))
        }
        var maxObservations = 500
        if let reports = root["reports"] {
            reports.allowOnly(["max_observations"])
            maxObservations = reports.int("max_observations", default: 500, range: 1...100_000)
        }
        var shutdownTimeout = Duration.seconds(30)
        if let shutdown = root["shutdown"] {
            shutdown.allowOnly(["timeout"])
            shutdownTimeout = shutdown.duration("timeout", default: .seconds(30))
        }

        guard reader.issues.isEmpty, let gatewayID, let province, let centralURL, let keyPath, let storePath,
            let contractsDirectory, let adaptersDirectory
        else { throw ConfigIssues(reader.issues) }
        return GatewayConfiguration(
            file: file, gatewayID: gatewayID, province: province, centralURL: centralURL, centralTLS: centralTLS,
            centralToken: centralToken, requestTimeout: requestTimeout, signingKeyPath: keyPath, signingAlgorithm: algorithm,
            storePath: storePath, contractsDirectory: contractsDirectory, adaptersDirectory: adaptersDirectory, retry: retry,
            deliveryPoll: poll, maxObservationsPerReport: maxObservations, shutdownTimeout: shutdownTimeout, warnings: warnings)
    }
}

/// A configuration with everything it refers to loaded: what `check` verifies and `run` runs.
public struct LoadedGateway: Sendable {
    public let configuration: GatewayConfiguration
    public let contracts: ContractSet
    public let adapters: [HTTPAdapter.Definition]
    public let signingKey: SigningKey

    /// Loads the configuration, its adapters, its contracts and its key, reporting every problem at once.
    public static func load(file: String, environment: ConfigEnvironment = .process) throws(ConfigIssues) -> LoadedGateway {
        let configuration = try GatewayConfiguration.load(file: file, environment: environment)
        var issues: [ConfigIssue] = []
        var contracts: ContractSet?
        do { contracts = try ContractSet.load(from: URL(fileURLWithPath: configuration.contractsDirectory)) } catch {
            issues.append(ConfigIssue(file: configuration.contractsDirectory, line: nil, field: "", message: error.message))
        }
        var adapters: [HTTPAdapter.Definition] = []
        do { adapters = try AdapterLoader.definitions(directory: configuration.adaptersDirectory, environment: environment) } catch {
            issues += error.issues
        }
        if adapters.isEmpty && issues.isEmpty {
            issues.append(ConfigIssue(file: configuration.adaptersDirectory, line: nil, field: "", message: "no adapter files (*.yaml) found"))
        }
        let key: SigningKey
        do { key = try SigningKey(contentsOf: URL(fileURLWithPath: configuration.signingKeyPath)) } catch {
            throw ConfigIssues(issues + [ConfigIssue(file: configuration.file, line: nil, field: "signing.key", message: error.message)])
        }
        guard issues.isEmpty, let contracts else { throw ConfigIssues(issues) }
        return LoadedGateway(configuration: configuration, contracts: contracts, adapters: adapters, signingKey: key)
    }
}
