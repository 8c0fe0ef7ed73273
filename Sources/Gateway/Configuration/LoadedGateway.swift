import Foundation
import GatewayAdapters
import GatewayConfig
import GatewayContracts
import GatewaySigning

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
            key: signingKey, algorithm: configuration.signing.algorithm, keyID: configuration.signing.keyID, type: "lgsp-report+jws",
            certificateChain: certificateChain?.derCertificates ?? [])
    }

    /// What the central side should trust: the active key and every retired one.
    public var jwks: JWKS {
        JWKS(
            publishing: [(signingKey.publicKey, configuration.signing.algorithm, configuration.signing.keyID)]
                + retiredKeys.map { ($0, nil, nil) })
    }

    /// Loads the configuration, its adapters, its contracts and its key, reporting every problem at once.
    public static func load(file: String, environment: ConfigEnvironment = .process) throws(ConfigIssues) -> LoadedGateway {
        let configuration = try GatewayConfiguration.load(file: file, environment: environment)
        var issues: [ConfigIssue] = []
        var contracts: ContractSet?
        do {
            contracts = try ContractSet.load(
                from: URL(fileURLWithPath: configuration.contractsDirectory), version: configuration.contractsVersion)
        } catch {
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
        do { key = try SigningKey(contentsOf: URL(fileURLWithPath: configuration.signing.keyPath)) } catch {
            throw ConfigIssues(issues + [ConfigIssue(file: configuration.file, line: nil, field: "signing.key", message: error.message)])
        }
        guard issues.isEmpty, let contracts else { throw ConfigIssues(issues) }
        // The chain and the retired keys were checked while the configuration was read.
        let chain = configuration.signing.certificateChainPath.flatMap { try? CertificateChain(pemFile: $0) }
        let retired = configuration.signing.retiredKeyPaths.compactMap { try? VerificationKey(contentsOf: URL(fileURLWithPath: $0)) }
        return LoadedGateway(
            configuration: configuration, contracts: contracts, adapters: adapters, signingKey: key,
            certificateChain: chain, retiredKeys: retired)
    }
}
