import Foundation
import GatewayConfig
import GatewaySigning

extension GatewayConfiguration {
    /// `signing:`: the key reports are signed with, and what is published beside it.
    public struct Signing: Sendable {
        public var keyPath: String
        /// The algorithm to sign with: configured, or the key type's default.
        public var algorithm: JWSAlgorithm
        /// `kid`; the key's RFC 7638 thumbprint when nil.
        public var keyID: String?
        /// PEM chain sent as `x5c`.
        public var certificateChainPath: String?
        /// Keys no longer used to sign, still published in the JWKS so earlier reports verify.
        public var retiredKeyPaths: [String]
        public var serialization: JWSSerialization

        init?(_ section: ConfigValue?) {
            guard let section else { return nil }
            section.allowOnly(["key", "algorithm", "key_id", "certificate_chain", "retired_keys", "serialization"])
            let keyPath = section.path("key")
            var algorithm: JWSAlgorithm?
            if let name = section.optionalString("algorithm") {
                algorithm = JWSAlgorithm(rawValue: name)
                if algorithm == nil {
                    section["algorithm"]?.report(
                        "expected one of \(JWSAlgorithm.allCases.map(\.rawValue).joined(separator: ", ")), found \"\(name)\"")
                }
            }
            var signingKey: SigningKey?
            if let keyPath {
                do { signingKey = try SigningKey(contentsOf: URL(fileURLWithPath: keyPath)) } catch {
                    section["key"]?.report(error.message)
                }
            }
            if let signingKey, let algorithm, algorithm.keyType != signingKey.keyType {
                let usable = JWSAlgorithm.allCases.filter { $0.keyType == signingKey.keyType }.map(\.rawValue)
                    .joined(separator: " or ")
                section["algorithm"]?.report(
                    "\(algorithm.rawValue) needs \(algorithm.keyType.withArticle) key, but the key is \(signingKey.keyType.rawValue); use \(usable)"
                )
            }
            keyID = section.optionalString("key_id")
            certificateChainPath = section.path("certificate_chain", required: false)
            if let certificateChainPath, let signingKey {
                do { try CertificateChain(pemFile: certificateChainPath).check(matches: signingKey.publicKey, at: Date()) } catch {
                    section["certificate_chain"]?.report(error.message)
                }
            }
            retiredKeyPaths = []
            for item in section["retired_keys"]?.items ?? [] {
                guard let path = item.resolvedPath else { continue }
                do { _ = try VerificationKey(contentsOf: URL(fileURLWithPath: path)) } catch { item.report(error.message) }
                retiredKeyPaths.append(path)
            }
            serialization = .flattened
            if let name = section.optionalString("serialization") {
                if let chosen = JWSSerialization(rawValue: name) {
                    serialization = chosen
                } else {
                    section["serialization"]?.report("expected flattened, compact or detached, found \"\(name)\"")
                }
            }
            guard let keyPath, let signingKey else { return nil }
            self.keyPath = keyPath
            self.algorithm = algorithm ?? signingKey.keyType.defaultAlgorithm
        }
    }
}
