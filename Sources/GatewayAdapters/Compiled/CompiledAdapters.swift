import Foundation
import GatewayConfig
import GatewayHTTP
import Logging

/// What a compiled adapter gets from the gateway when it is made.
public struct AdapterResources: Sendable {
    /// The gateway's HTTPS client (TLS 1.2 or later, certificate checks on, size limits).
    public let transport: HTTPTransport
    public let logger: Logger

    public init(transport: HTTPTransport, logger: Logger) {
        self.transport = transport
        self.logger = logger
    }
}

/// An adapter written in Swift and compiled into the gateway, for a source that one file cannot
/// describe: one that needs several requests combined, arithmetic across records, or a protocol of
/// its own. An adapter file names it with `kind: compiled` and `type:`, and gives its `settings:`.
///
/// To add one: write a type conforming to this protocol (`DossierTotalsAdapter` is the worked
/// example), add it to `AdapterRegistry.compiled`, rebuild, and describe it in Adapters/README.md.
public protocol CompiledAdapterType: Sendable {
    /// The `type:` adapter files use.
    static var type: String { get }
    /// Reads `settings` when the adapter file is loaded, reporting each problem on the value it
    /// concerns (so `check` names file, line and field), and returns how to make the adapter, or
    /// nil when the settings cannot be used.
    static func configure(name: String, schedule: PullSchedule, sourceSystem: String, settings: ConfigValue) -> (
        @Sendable (AdapterResources) -> any Adapter
    )?
}

/// The compiled adapters this build knows, by `type`. Explicit rather than discovered: what can
/// run inside the gateway is decided when it is built.
public enum AdapterRegistry {
    public static let compiled: [any CompiledAdapterType.Type] = [
        DossierTotalsAdapter.self
    ]

    static func type(named name: String) -> (any CompiledAdapterType.Type)? {
        compiled.first { $0.type == name }
    }
}

/// A compiled adapter as an adapter file configured it.
public struct CompiledAdapterSpec: Sendable {
    public let name: String
    public let type: String
    public let schedule: PullSchedule
    public let origin: String
    let make: @Sendable (AdapterResources) -> any Adapter
}
