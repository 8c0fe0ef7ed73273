import Crypto
import Foundation

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
    public var signingInput: Data { Data((protected + "." + payload).utf8) }

    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    public static func decode(_ data: Data) throws(JWSError) -> FlattenedJWS {
        do { return try JSONDecoder().decode(FlattenedJWS.self, from: data) } catch {
            throw JWSError("the body is not a flattened JWS JSON object with protected, payload and signature")
        }
    }
}

public struct JWSHeader: Sendable, Hashable, Codable {
    public var alg: String
    public var kid: String?
    public var typ: String?
    public var cty: String?

    public init(alg: String, kid: String? = nil, typ: String? = nil, cty: String? = nil) {
        self.alg = alg
        self.kid = kid
        self.typ = typ
        self.cty = cty
    }
}

public struct JWSError: Error, Sendable, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Signs payloads as flattened JWS with one key.
public struct JWSSigner: Sendable {
    public let key: SigningKey
    public let algorithm: JWSAlgorithm
    public let keyID: String
    public let type: String?

    /// `keyID` defaults to the key's RFC 7638 thumbprint.
    public init(key: SigningKey, algorithm: JWSAlgorithm = .ed25519, keyID: String? = nil, type: String? = nil) {
        self.key = key
        self.algorithm = algorithm
        self.keyID = keyID ?? key.publicKey.thumbprint
        self.type = type
    }

    public func sign(payload: Data) throws -> FlattenedJWS {
        let header = JWSHeader(alg: algorithm.rawValue, kid: keyID, typ: type)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let protected = Base64URL.encode(try encoder.encode(header))
        let encodedPayload = Base64URL.encode(payload)
        let signature = try key.sign(Data((protected + "." + encodedPayload).utf8))
        return FlattenedJWS(protected: protected, payload: encodedPayload, signature: Base64URL.encode(signature))
    }
}

/// Verifies flattened JWS against a set of trusted keys, found by `kid`.
public struct JWSVerifier: Sendable {
    public let trusted: [String: VerificationKey]

    /// Keys are trusted under their RFC 7638 thumbprints.
    public init(keys: [VerificationKey]) {
        var trusted: [String: VerificationKey] = [:]
        for key in keys { trusted[key.thumbprint] = key }
        self.trusted = trusted
    }

    public struct Verified: Sendable {
        public let header: JWSHeader
        public let payload: Data
        public let key: VerificationKey
    }

    public func verify(_ jws: FlattenedJWS) throws(JWSError) -> Verified {
        guard let headerData = Base64URL.decode(jws.protected),
            let header = try? JSONDecoder().decode(JWSHeader.self, from: headerData)
        else { throw JWSError("the protected header is not base64url JSON") }
        guard JWSAlgorithm(rawValue: header.alg) != nil else {
            throw JWSError("algorithm \"\(header.alg)\" is not accepted (Ed25519 or EdDSA)")
        }
        guard let kid = header.kid else { throw JWSError("the protected header has no kid") }
        guard let key = trusted[kid] else { throw JWSError("key \(kid) is not trusted") }
        guard let signature = Base64URL.decode(jws.signature), let payload = Base64URL.decode(jws.payload) else {
            throw JWSError("signature or payload is not base64url")
        }
        guard key.isValidSignature(signature, for: jws.signingInput) else {
            throw JWSError("the signature does not verify with key \(kid)")
        }
        return Verified(header: header, payload: payload, key: key)
    }
}

/// RFC 9530 `Content-Digest` with SHA-256.
public enum ContentDigest {
    /// `sha-256=:BASE64:` for `body`.
    public static func sha256(_ body: some DataProtocol) -> String {
        "sha-256=:" + Data(SHA256.hash(data: Data(body))).base64EncodedString() + ":"
    }

    /// Whether `header` carries a SHA-256 digest matching `body`. Other algorithms are ignored;
    /// a header with no SHA-256 member does not verify.
    public static func verify(header: String, body: some DataProtocol) -> Bool {
        let expected = Data(SHA256.hash(data: Data(body))).base64EncodedString()
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
