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
    /// The figures the adapter files declare their sources responsible for.
    public let expectations: [DeclaredExpectation]
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
        var files: [AdapterFile] = []
        do { files = try AdapterLoader.files(directory: configuration.adaptersDirectory, environment: environment) } catch {
            issues += error.issues
        }
        let adapters = files.map(\.spec)
        let expectations = files.flatMap(\.expectations)
        if let contracts {
            issues += Self.calendarIssues(configuration: configuration, expectations: expectations, catalogue: contracts.catalogue)
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
            configuration: configuration, contracts: contracts, adapters: adapters, expectations: expectations, signingKey: key,
            certificateChain: chain, retiredKeys: retired)
    }

    /// The reporting calendar the configuration, the catalogue and the adapter files make.
    public var calendar: ReportingCalendar {
        ReportingCalendar(
            catalogue: contracts.catalogue, province: configuration.gateway.province, expectations: expectations.map(\.expectation),
            defaultDue: configuration.calendar.defaultDue, overrides: configuration.calendar.overrides, from: configuration.calendar.from)
    }

    /// What the catalogue refuses of the calendar's overrides and the adapters' expectations.
    static func calendarIssues(
        configuration: GatewayConfiguration, expectations: [DeclaredExpectation], catalogue: IndicatorCatalogue
    ) -> [ConfigIssue] {
        var issues: [ConfigIssue] = []
        for (code, override) in configuration.calendar.overrides.sorted(by: { $0.key < $1.key }) {
            guard let indicator = catalogue.indicator(code) else {
                issues.append(
                    ConfigIssue(
                        file: configuration.file, line: nil, field: "calendar.indicators.\(code)",
                        message: "indicator \(code) is not in catalogue \(catalogue.catalogueVersion)"))
                continue
            }
            if let outside = override.rhythm?.first(where: { !indicator.periodicity.contains($0) }) {
                issues.append(
                    ConfigIssue(
                        file: configuration.file, line: nil, field: "calendar.indicators.\(code).rhythm",
                        message:
                            "\(code) is not accepted by \(outside.rawValue) (accepted: \(indicator.periodicity.map(\.rawValue).joined(separator: ", ")))"
                    ))
            }
        }
        for declared in expectations {
            let expectation = declared.expectation
            func issue(_ field: String, _ message: String) {
                issues.append(ConfigIssue(file: declared.file, line: declared.line, field: declared.field + field, message: message))
            }
            guard let indicator = catalogue.indicator(expectation.indicator) else {
                issue(".indicator", "indicator \(expectation.indicator) is not in catalogue \(catalogue.catalogueVersion)")
                continue
            }
            if !indicator.levels.contains(expectation.level) {
                issue(
                    ".level",
                    "\(indicator.code) is not reported at \(expectation.level.rawValue) level (allowed: \(indicator.levels.map(\.rawValue).joined(separator: ", ")))"
                )
            }
            if let outside = expectation.kinds?.first(where: { !indicator.periodicity.contains($0) }) {
                issue(
                    ".periods",
                    "\(indicator.code) is not accepted by \(outside.rawValue) (accepted: \(indicator.periodicity.map(\.rawValue).joined(separator: ", ")))"
                )
            }
        }
        return issues
    }
}
