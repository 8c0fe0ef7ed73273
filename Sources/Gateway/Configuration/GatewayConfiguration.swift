import Foundation
import GatewayAdapters
import GatewayConfig
import GatewayContracts

/// Everything `gateway.yaml` says, checked and resolved (paths absolute, secrets read), one
/// value per section of the file. Each section reads and checks itself in its own file, with the
/// located errors (`file:line: field: message`) of ``ConfigReader``.
public struct GatewayConfiguration: Sendable {
    public var file: String
    public var gateway: Identity
    public var central: Central
    public var signing: Signing
    public var store: Storage
    /// The directory of the shared contracts (schemas, catalogue, rules).
    public var contractsDirectory: String
    /// The contract version reports are made under; the manifest's current one when nil. A centre
    /// that has not moved to 1.2 keeps receiving 1.1 (`contracts.version: "1.1"`).
    public var contractsVersion: String?
    /// The directory of the adapter files (`*.yaml`).
    public var adaptersDirectory: String
    public var delivery: Delivery
    public var reports: Reports
    public var shutdown: Shutdown
    public var admin: Admin
    public var calendar: Calendar
    public var console: Console
    /// What is allowed but unwise (a CA file beside an http:// URL, …): `check` prints these.
    public var warnings: [String]

    /// Reads and checks `file`; throws every problem found, each with file, line and field.
    public static func load(file: String, environment: ConfigEnvironment = .process) throws(ConfigIssues) -> GatewayConfiguration {
        let reader = ConfigReader(file: file, environment: environment)
        guard let root = reader.root else { throw ConfigIssues(reader.issues) }
        root.allowOnly([
            "gateway", "central", "signing", "store", "contracts", "adapters", "delivery", "reports", "shutdown", "admin",
            "calendar", "console",
        ])
        var warnings: [String] = []
        let gateway = Identity(root.required("gateway"))
        let central = Central(root.required("central"), warnings: &warnings)
        let signing = Signing(root.required("signing"))
        let store = Storage(root.required("store"))
        let contractsSection = root.required("contracts")
        contractsSection?.allowOnly(["directory", "version"])
        let contractsDirectory = contractsSection?.path("directory")
        let contractsVersion = contractsSection?.optionalString("version").flatMap { $0.isEmpty ? nil : $0 }
        let adaptersDirectory = directory(root.required("adapters"))
        let delivery = Delivery(root["delivery"])
        let reports = Reports(root["reports"])
        let shutdown = Shutdown(root["shutdown"])
        let admin = Admin(root["admin"])
        let calendar = Calendar(root["calendar"])
        let console = Console(root["console"], environment: environment)

        guard reader.issues.isEmpty, let gateway, let central, let signing, let store, let contractsDirectory, let adaptersDirectory
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
            file: file, gateway: gateway, central: central, signing: signing, store: store, contractsDirectory: contractsDirectory,
            contractsVersion: contractsVersion, adaptersDirectory: adaptersDirectory, delivery: delivery, reports: reports,
            shutdown: shutdown, admin: admin, calendar: calendar, console: console, warnings: warnings)
    }

    /// `adapters:` holds one key, the directory.
    private static func directory(_ section: ConfigValue?) -> String? {
        section?.allowOnly(["directory"])
        return section?.path("directory")
    }
}
