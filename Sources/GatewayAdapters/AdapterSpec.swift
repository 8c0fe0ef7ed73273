import GatewayHTTP
import Logging

/// An adapter file read: an HTTP source, a program to run, or a compiled adapter.
public enum AdapterSpec: Sendable {
    case http(HTTPAdapter.Definition)
    case exec(ExecAdapter.Definition)
    case compiled(CompiledAdapterSpec)

    public var name: String {
        switch self {
        case .http(let definition): definition.name
        case .exec(let definition): definition.name
        case .compiled(let spec): spec.name
        }
    }

    public var schedule: PullSchedule {
        switch self {
        case .http(let definition): definition.schedule
        case .exec(let definition): definition.schedule
        case .compiled(let spec): spec.schedule
        }
    }

    /// Said at every start: plain HTTP or certificate checks turned off.
    public var warnings: [String] {
        if case .http(let definition) = self { return definition.warnings }
        return []
    }

    /// Where the data comes from, for `check` and `adapters list`.
    public var origin: String {
        switch self {
        case .http(let definition): definition.baseURL + definition.path
        case .exec(let definition): ([definition.executable] + definition.arguments).joined(separator: " ")
        case .compiled(let spec): spec.origin
        }
    }

    public func makeAdapter(transport: HTTPTransport, logger: Logger) -> any Adapter {
        switch self {
        case .http(let definition): HTTPAdapter(definition: definition, transport: transport)
        case .exec(let definition): ExecAdapter(definition: definition, logger: logger)
        case .compiled(let spec): spec.make(AdapterResources(transport: transport, logger: logger))
        }
    }
}
