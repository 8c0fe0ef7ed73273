import GatewayConfig
import GatewayHTTP

extension GatewayConfiguration {
    /// `reports:`: how reports are cut.
    public struct Reports: Sendable {
        /// Observations per signed report; a pull with more is cut into several.
        public var maxObservations = 500

        init(_ section: ConfigValue?) {
            guard let section else { return }
            section.allowOnly(["max_observations"])
            maxObservations = section.int("max_observations", default: maxObservations, range: 1...100_000)
        }
    }

    /// `shutdown:`: how long a stop may take before work in hand is cut off.
    public struct Shutdown: Sendable {
        public var timeout = Duration.seconds(30)

        init(_ section: ConfigValue?) {
            guard let section else { return }
            section.allowOnly(["timeout"])
            timeout = section.duration("timeout", default: timeout, range: .milliseconds(10)...(.seconds(3600)))
        }
    }

    /// `admin:`: where `/healthz`, `/readyz` and `/metrics` listen, and the bearer token guarding them.
    public struct Admin: Sendable {
        public var host = "127.0.0.1"
        /// 0: any free port.
        public var port = 9464
        public var token: Secret?

        init(_ section: ConfigValue?) {
            guard let section else { return }
            section.allowOnly(["listen", "token"])
            if let listen = section.optionalString("listen") {
                let parts = listen.split(separator: ":")
                if parts.count == 2, let port = Int(parts[1]), (0...65535).contains(port) {
                    host = String(parts[0])
                    self.port = port
                } else {
                    section["listen"]?.report("expected host:port such as 127.0.0.1:9464, found \"\(listen)\"")
                }
            }
            if section.optionalString("token") != nil { token = section.secret("token") }
        }
    }
}
