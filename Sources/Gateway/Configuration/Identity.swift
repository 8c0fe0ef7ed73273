import GatewayConfig
import GatewayContracts

extension GatewayConfiguration {
    /// `gateway:`: who sends the reports.
    public struct Identity: Sendable {
        /// Signed into every report, e.g. `son-la-gw-01`.
        public var id: String
        /// The two-digit province code of Decision 19/2025/QĐ-TTg.
        public var province: String

        /// Nil when a required field is missing or wrong; the reader holds why.
        init?(_ section: ConfigValue?) {
            guard let section else { return nil }
            section.allowOnly(["id", "province"])
            let id = section.string("id")
            if id?.trimmingCharacters(in: .whitespaces).isEmpty == true {
                section["id"]?.report("must name this gateway (it is sent with every report), e.g. son-la-gw-01")
            }
            if let id, let control = SemanticRules.firstControlCharacter(in: id) {
                section["id"]?.report("holds the control character U+\(String(format: "%04X", control)); it is signed into every report")
            }
            let province = section.string("province")
            if let province, !(province.count == 2 && province.allSatisfy(\.isNumber)) {
                section["province"]?.report("expected a two-digit province code (Decision 19/2025/QĐ-TTg), e.g. \"14\" for Sơn La")
            }
            guard let id, let province else { return nil }
            self.id = id
            self.province = province
        }
    }
}
