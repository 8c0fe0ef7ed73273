import Foundation
import GatewayConfig
import GatewayContracts
import GatewayHTTP

extension CompiledAdapterSpec {
    /// `kind: compiled`: a Swift adapter from `AdapterRegistry`, by `type`, with its `settings`.
    static func parse(_ root: ConfigValue, name: String?) -> CompiledAdapterSpec? {
        root.allowOnly(["name", "kind", "description", "source_system", "schedule", "type", "settings", "expects"])
        let sourceSystem = root.optionalString("source_system") ?? name
        var schedule = PullSchedule.every(.seconds(300))
        if let value = root.required("schedule") { schedule = PullSchedule.parse(value) }
        guard let typeName = root.string("type") else { return nil }
        guard let type = AdapterRegistry.type(named: typeName) else {
            root["type"]?.report(
                "no compiled adapter \"\(typeName)\" in this build; it has: \(AdapterRegistry.compiled.map { $0.type }.joined(separator: ", "))"
            )
            return nil
        }
        guard let settings = root.required("settings"), let name, let sourceSystem,
            let make = type.configure(name: name, schedule: schedule, sourceSystem: sourceSystem, settings: settings)
        else { return nil }
        return CompiledAdapterSpec(name: name, type: typeName, schedule: schedule, origin: "compiled adapter \(typeName)", make: make)
    }
}
