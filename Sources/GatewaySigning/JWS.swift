import Crypto
import Foundation

/// How a signed report travels (RFC 7515 §7 and appendix F).
public enum JWSSerialization: String, Sendable, CaseIterable, Codable {
    /// The flattened JSON serialization as the body (`application/jose+json`). The default.
    case flattened
    /// `header.payload.signature` as the body (`application/jose`).
    case compact
    /// The report itself as the body (`application/json`) and `header..signature` in the
    /// `JWS-Signature` header: receivers that only read JSON still read the report.
    case detached

    public var contentType: String {
        switch self {
        case .flattened: "application/jose+json"
        case .compact: "application/jose"
        case .detached: "application/json"
        }
    }

    /// The HTTP header carrying a detached signature.
    public static let detachedHeader = "JWS-Signature"
}

/// A JWS in flattened JSON serialization (RFC 7515 §7.2.2).
public struct FlattenedJWS: Sendable, Hashable, Codable {
    public var protected: String
    public var payload: String
    public var signature: String

    public init(protected: String, payload: String, signature: String) {
        self.protected = protected
        self.payload = payload
        self.signature = signature
    }

    /// The JWS Signing Input: `BASE64URL(header) || '.' || BASE64URL(payload)`.
    public var signingInput: Data { Self.signingInput(protected: protected, payload: payload) }

    /// Copied once into its buffer: joining the strings first copied the payload twice.
    static func signingInput(protected: String, payload: String) -> Data {
        var input = Data(capacity: protected.utf8.count + 1 + payload.utf8.count)
        input.append(contentsOf: protected.utf8)
        input.append(UInt8(ascii: "."))
        input.append(contentsOf: payload.utf8)
        return input
    }

    public var compact: String { protected + "." + payload + "." + signature }
    /// Appendix F: the compact form with the payload left out.
    public var detached: String { protected + ".." + signature }

    public func encoded() throws -> Data {
        // The three members are base64url, which JSON never escapes: written directly, since
        // `JSONEncoder` inspects each character of a payload that can be megabytes long.
        if Base64URL.isAlphabet(protected), Base64URL.isAlphabet(payload), Base64URL.isAlphabet(signature) {
            var body = Data()
            body.reserveCapacity(protected.utf8.count + payload.utf8.count + signature.utf8.count + 44)
            body.append(contentsOf: #"{"payload":""#.utf8)
            body.append(contentsOf: payload.utf8)
            body.append(contentsOf: #"","protected":""#.utf8)
            body.append(contentsOf: protected.utf8)
            body.append(contentsOf: #"","signature":""#.utf8)
            body.append(contentsOf: signature.utf8)
            body.append(contentsOf: #""}"#.utf8)
            return body
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// The body to send for `serialization`, and the detached signature header if any.
    public func message(_ serialization: JWSSerialization) throws -> (body: Data, detachedSignature: String?) {
        switch serialization {
        case .flattened: return (try encoded(), nil)
        case .compact: return (Data(compact.utf8), nil)
        case .detached:
            guard let payloadBytes = Base64URL.decode(payload) else { throw JWSError("the payload is not base64url") }
            return (payloadBytes, detached)
        }
    }

    public static func decode(_ data: Data) throws(JWSError) -> FlattenedJWS {
        do { return try JSONDecoder().decode(FlattenedJWS.self, from: data) } catch {
            throw JWSError("the body is not a flattened JWS JSON object with protected, payload and signature")
        }
    }

    public static func parse(compact: String) throws(JWSError) -> FlattenedJWS {
        let parts = compact.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw JWSError("a compact JWS has three parts separated by dots; this has \(parts.count)") }
        return FlattenedJWS(protected: String(parts[0]), payload: String(parts[1]), signature: String(parts[2]))
    }

    /// Rebuilds the JWS from a detached signature (`header..signature`) and the payload sent beside it.
    public static func parse(detached: String, payload: Data) throws(JWSError) -> FlattenedJWS {
        var jws = try parse(compact: detached)
        guard jws.payload.isEmpty else { throw JWSError("a detached JWS must have an empty payload part") }
        jws.payload = Base64URL.encode(payload)
        return jws
    }

    /// Reads a signed report as sent or exported: flattened JSON or compact.
    public static func parse(any data: Data) throws(JWSError) -> FlattenedJWS {
        let trimmed = data.drop { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
        if trimmed.first == UInt8(ascii: "{") { return try decode(Data(trimmed)) }
        return try parse(compact: String(decoding: trimmed, as: UTF8.self))
    }

    public func header() throws(JWSError) -> JWSHeader {
        guard let data = Base64URL.decode(protected), let header = try? JSONDecoder().decode(JWSHeader.self, from: data) else {
            throw JWSError("the protected header is not base64url-encoded JSON")
        }
        return header
    }
}

public struct JWSHeader: Sendable, Hashable, Codable {
    public var alg: String
    public var kid: String?
    public var typ: String?
    public var cty: String?
    /// The signer's certificate chain, leaf first, standard base64 DER (RFC 7515 §4.1.6).
    public var x5c: [String]?

    public init(alg: String, kid: String? = nil, typ: String? = nil, cty: String? = nil, x5c: [String]? = nil) {
        self.alg = alg
        self.kid = kid
        self.typ = typ
        self.cty = cty
        self.x5c = x5c
    }
}

public struct JWSError: Error, Sendable, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Signs payloads as JWS with one key.
public struct JWSSigner: Sendable {
    public let key: SigningKey
    public let algorithm: JWSAlgorithm
    public let keyID: String
    public let type: String?
    /// DER certificates, leaf first, sent as `x5c`.
    public let certificateChain: [Data]

    /// `algorithm` defaults to the key's type (Ed25519, ES256 or PS256); `keyID` to its RFC 7638 thumbprint.
    public init(key: SigningKey, algorithm: JWSAlgorithm? = nil, keyID: String? = nil, type: String? = nil, certificateChain: [Data] = []) {
        self.key = key
        self.algorithm = algorithm ?? key.keyType.defaultAlgorithm
        self.keyID = keyID ?? key.publicKey.thumbprint
        self.type = type
        self.certificateChain = certificateChain
    }

    public func sign(payload: Data) throws -> FlattenedJWS {
        let header = JWSHeader(
            alg: algorithm.rawValue, kid: keyID, typ: type,
            x5c: certificateChain.isEmpty ? nil : certificateChain.map { $0.base64EncodedString() })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let protected = Base64URL.encode(try encoder.encode(header))
        let encodedPayload = Base64URL.encode(payload)
        let signature = try key.sign(FlattenedJWS.signingInput(protected: protected, payload: encodedPayload), algorithm: algorithm)
        return FlattenedJWS(protected: protected, payload: encodedPayload, signature: Base64URL.encode(signature))
    }
}

/// A JSON Web Key Set: the public keys a receiver trusts, each with its `kid`.
public struct JWKS: Sendable, Codable {
    public var keys: [[String: String]]

    public init(keys: [[String: String]]) { self.keys = keys }

    /// The set publishing `keys` under their thumbprints, marked for signature use.
    public init(publishing keys: [(VerificationKey, JWSAlgorithm?, String?)]) {
        self.keys = keys.map { key, algorithm, kid in
            var jwk = key.jwk
            jwk["kid"] = kid ?? key.thumbprint
            jwk["use"] = "sig"
            if let algorithm { jwk["alg"] = algorithm.rawValue }
            return jwk
        }
    }

    /// The keys by `kid` (their thumbprint when the JWK has none).
    public func verificationKeys() throws(KeyError) -> [String: VerificationKey] {
        var result: [String: VerificationKey] = [:]
        for (index, jwk) in keys.enumerated() {
            let key: VerificationKey
            do { key = try VerificationKey(jwk: jwk) } catch { throw KeyError("key \(index) of the JWKS: \(error.message)") }
            result[jwk["kid"] ?? key.thumbprint] = key
        }
        return result
    }
}

/// Verifies JWS against trusted keys, found by `kid`.
public struct JWSVerifier: Sendable {
    public let trusted: [String: VerificationKey]

    /// Keys trusted under their RFC 7638 thumbprints.
    public init(keys: [VerificationKey]) {
        var trusted: [String: VerificationKey] = [:]
        for key in keys { trusted[key.thumbprint] = key }
        self.trusted = trusted
    }

    /// Keys trusted under the given `kid`s, as a JWKS lists them.
    public init(keysByID: [String: VerificationKey]) { trusted = keysByID }

    public struct Verified: Sendable {
        public let header: JWSHeader
        public let algorithm: JWSAlgorithm
        public let payload: Data
        public let key: VerificationKey
        public let keyID: String
    }

    public func verify(_ jws: FlattenedJWS) throws(JWSError) -> Verified {
        let header = try jws.header()
        guard let algorithm = JWSAlgorithm(rawValue: header.alg) else {
            throw JWSError("algorithm \"\(header.alg)\" is not accepted (Ed25519, EdDSA, ES256, PS256, RS256)")
        }
        guard let kid = header.kid else { throw JWSError("the protected header has no kid, so no trusted key can be chosen") }
        guard let key = trusted[kid] else { throw JWSError("key \(kid) is not among the trusted keys") }
        guard key.keyType == algorithm.keyType else {
            throw JWSError("key \(kid) is \(key.keyType.withArticle) key but the header says \(algorithm.rawValue)")
        }
        guard let signature = Base64URL.decode(jws.signature), let payload = Base64URL.decode(jws.payload) else {
            throw JWSError("the signature or the payload is not base64url")
        }
        guard key.isValidSignature(signature, for: jws.signingInput, algorithm: algorithm) else {
            throw JWSError("the signature does not match: the report was changed after signing, or signed with another key")
        }
        return Verified(header: header, algorithm: algorithm, payload: payload, key: key, keyID: kid)
    }
}

/// RFC 9530 `Content-Digest` with SHA-256.
public enum ContentDigest {
    /// `sha-256=:BASE64:` for `body`.
    public static func sha256(_ body: some DataProtocol) -> String {
        // Hashed where it lies: a batch body is megabytes, and `Data(body)` copied all of them.
        "sha-256=:" + Data(SHA256.hash(data: body)).base64EncodedString() + ":"
    }

    /// Whether `header` carries a SHA-256 digest matching `body`. Other algorithms are ignored;
    /// a header with no SHA-256 member does not verify.
    public static func verify(header: String, body: some DataProtocol) -> Bool {
        let expected = Data(SHA256.hash(data: body)).base64EncodedString()
        for member in header.split(separator: ",") {
            let parts = member.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0] == "sha-256" else { continue }
            let value = parts[1].trimmingCharacters(in: .whitespaces)
            guard value.hasPrefix(":"), value.hasSuffix(":"), value.count >= 2 else { return false }
            return String(value.dropFirst().dropLast()) == expected
        }
        return false
    }
}
