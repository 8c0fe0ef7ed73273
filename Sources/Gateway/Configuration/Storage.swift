import GatewayConfig
import GatewayStore

extension GatewayConfiguration {
    /// `store:`: where reports wait for delivery, and the limits that pause pulls.
    public struct Storage: Sendable {
        /// A postgres:// URL for several gateways on one database, otherwise the SQLite file's path.
        public var location: String
        /// Pulls pause when less than this is free on the store's disk.
        public var minimumFreeBytes: Int64
        /// Pulls pause when the store is larger than this.
        public var maximumBytes: Int64

        init?(_ section: ConfigValue?) {
            guard let section else { return nil }
            section.allowOnly(["path", "min_free_space", "max_size"])
            let text = section.optionalString("path")
            let location = text.map { StoreLocation.isPostgres($0) } == true ? text : section.path("path")
            minimumFreeBytes = section.size("min_free_space", default: 64 << 20, range: 0...(1 << 40))
            maximumBytes = section.size("max_size", default: 10 << 30, range: (1 << 20)...(1 << 50))
            guard let location else { return nil }
            self.location = location
        }
    }
}
