import Crypto
import Foundation
import _CryptoExtras

/// RFC 9421 HTTP Message Signatures over the parts of a request that matter to a report:
/// method, target URI, Content-Digest and Idempotency-Key. The JWS already protects the report;
/// this binds the request carrying it to the gateway, for receivers that check at the HTTP layer.
public enum HTTPMessageSignatures {
    /// The components a gateway's report request covers.
    public static let reportComponents = ["@method", "@target-uri", "content-digest", "idempotency-key"]

    /// A request as far as signatures care: method, full URL, headers.
    public struct Request: Sendable {
        public var method: String
        public var url: String
        public var headers: [(String, String)]

        public init(method: String, url: String, headers: [(String, String)]) {
            self.method = method
            self.url = url
            self.headers = headers
        }

        func header(_ name: String) -> String? {
            let values = headers.filter { $0.0.lowercased() == name }.map { $0.1.trimmingCharacters(in: .whitespaces) }
            return values.isEmpty ? nil : values.joined(separator: ", ")
        }
    }

    /// The signature base of RFC 9421 §2.5 for `components`, ending with `@signature-params`.
    public static func signatureBase(for request: Request, components: [String], parameters: String) throws(JWSError) -> String {
        var lines: [String] = []
        for component in components {
            lines.append("\"\(component)\": \(try value(of: component, in: request))")
        }
        lines.append("\"@signature-params\": \(parameters)")
        return lines.joined(separator: "\n")
    }

    static func value(of component: String, in request: Request) throws(JWSError) -> String {
        guard let url = URLComponents(string: request.url) else { throw JWSError("\(request.url) is not a URL") }
        switch component {
        case "@method": return request.method.uppercased()
        case "@target-uri": return request.url
        case "@authority":
            let host = (url.host ?? "").lowercased()
            let defaultPort = url.scheme?.lowercased() == "https" ? 443 : 80
            return url.port.map { $0 == defaultPort ? host : "\(host):\($0)" } ?? host
        case "@path": return url.percentEncodedPath.isEmpty ? "/" : url.percentEncodedPath
        case "@query": return "?" + (url.percentEncodedQuery ?? "")
        case "@scheme": return (url.scheme ?? "").lowercased()
        default:
            guard !component.hasPrefix("@") else { throw JWSError("derived component \(component) is not supported") }
            guard let value = request.header(component) else { throw JWSError("the request has no \(component) header to sign") }
            return value
        }
    }

    /// `("@method" …);created=…;keyid="…";alg="…"`
    public static func parameters(components: [String], created: Int, keyID: String, algorithm: String?) -> String {
        var text = "(" + components.map { "\"\($0)\"" }.joined(separator: " ") + ");created=\(created);keyid=\"\(keyID)\""
        if let algorithm { text += ";alg=\"\(algorithm)\"" }
        return text
    }

    /// The `Signature-Input` and `Signature` header fields for `request`, signed by `key`.
    public static func sign(
        _ request: Request, key: SigningKey, keyID: String, created: Date, label: String = "sig1",
        components: [String] = reportComponents, includeAlgorithm: Bool = true
    ) throws -> [(String, String)] {
        let parameters = parameters(
            components: components, created: Int(created.timeIntervalSince1970), keyID: keyID,
            algorithm: includeAlgorithm ? key.httpSignatureAlgorithm : nil)
        let base = try signatureBase(for: request, components: components, parameters: parameters)
        let signature = try key.signHTTPMessage(Data(base.utf8))
        return [("Signature-Input", "\(label)=\(parameters)"), ("Signature", "\(label)=:\(signature.base64EncodedString()):")]
    }

    /// Checks the request's signature with the key its `keyid` names; returns that `keyid`.
    /// `maxAge` refuses signatures created too long ago (replays), when given.
    @discardableResult
    public static func verify(_ request: Request, keys: [String: VerificationKey], now: Date, maxAge: TimeInterval? = 300) throws(JWSError)
        -> String
    {
        guard let input = request.header("signature-input"), let signatureField = request.header("signature") else {
            throw JWSError("the request has no Signature-Input and Signature headers")
        }
        guard let equals = input.firstIndex(of: "=") else { throw JWSError("Signature-Input is malformed") }
        let label = String(input[..<equals])
        let parameters = String(input[input.index(after: equals)...])
        guard parameters.hasPrefix("("), let close = parameters.firstIndex(of: ")") else {
            throw JWSError("Signature-Input has no component list")
        }
        let components = parameters[parameters.index(after: parameters.startIndex)..<close]
            .split(separator: " ").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        var values: [String: String] = [:]
        for parameter in parameters[parameters.index(after: close)...].split(separator: ";") {
            let pair = parameter.split(separator: "=", maxSplits: 1)
            if pair.count == 2 { values[String(pair[0])] = pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        }
        guard let keyID = values["keyid"], let key = keys[keyID] else { throw JWSError("the signature's keyid is not a trusted key") }
        if let maxAge, let created = values["created"].flatMap(Double.init), now.timeIntervalSince1970 - created > maxAge {
            throw JWSError(
                "the request signature was created \(Int(now.timeIntervalSince1970 - created)) s ago, more than \(Int(maxAge)) s")
        }
        if let algorithm = values["alg"], algorithm != key.httpSignatureAlgorithm {
            throw JWSError("the signature's alg \(algorithm) does not fit key \(keyID)")
        }
        let prefix = label + "=:"
        guard signatureField.hasPrefix(prefix), signatureField.hasSuffix(":"),
            let signature = Data(base64Encoded: String(signatureField.dropFirst(prefix.count).dropLast()))
        else { throw JWSError("Signature has no byte sequence for label \(label)") }
        let base = try signatureBase(for: request, components: components, parameters: parameters)
        guard key.isValidHTTPMessageSignature(signature, for: Data(base.utf8)) else {
            throw JWSError("the request signature does not match")
        }
        return keyID
    }
}

extension SigningKey {
    /// The RFC 9421 §3.3 algorithm this key signs requests with.
    public var httpSignatureAlgorithm: String { publicKey.httpSignatureAlgorithm }

    func signHTTPMessage(_ base: Data) throws -> Data {
        switch backing {
        case .ed25519(let key): try key.signature(for: base)
        case .p256(let key): try key.signature(for: SHA256.hash(data: base)).rawRepresentation
        case .rsa(let key): try key.signature(for: SHA512.hash(data: base), padding: .PSS).rawRepresentation
        }
    }
}

extension VerificationKey {
    public var httpSignatureAlgorithm: String {
        switch backing {
        case .ed25519: "ed25519"
        case .p256: "ecdsa-p256-sha256"
        case .rsa: "rsa-pss-sha512"
        }
    }

    func isValidHTTPMessageSignature(_ signature: Data, for base: Data) -> Bool {
        switch backing {
        case .ed25519(let key): return key.isValidSignature(signature, for: base)
        case .p256(let key):
            guard let parsed = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return key.isValidSignature(parsed, for: SHA256.hash(data: base))
        case .rsa(let key):
            return key.isValidSignature(
                _RSA.Signing.RSASignature(rawRepresentation: signature), for: SHA512.hash(data: base), padding: .PSS)
        }
    }
}
