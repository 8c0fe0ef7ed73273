import Crypto
import Foundation
import SwiftASN1

/// The JWS `alg` names this gateway can write for an Ed25519 key.
public enum JWSAlgorithm: String, Sendable, CaseIterable, Codable {
    /// The fully-specified name registered by RFC 9864.
    case ed25519 = "Ed25519"
    /// The older polymorphic name (RFC 8037), for verifiers that predate RFC 9864.
    case edDSA = "EdDSA"
}

/// A key this gateway signs with, and the public half a verifier needs.
public struct SigningKey: Sendable {
    let privateKey: Curve25519.Signing.PrivateKey

    public init(_ privateKey: Curve25519.Signing.PrivateKey) { self.privateKey = privateKey }

    public static func generate() -> SigningKey { SigningKey(Curve25519.Signing.PrivateKey()) }

    public var publicKey: VerificationKey { VerificationKey(privateKey.publicKey) }

    public func sign(_ message: some DataProtocol) throws -> Data {
        try privateKey.signature(for: Data(message))
    }

    /// Reads a PKCS#8 `PRIVATE KEY` PEM holding an Ed25519 key (RFC 8410), as `openssl genpkey -algorithm ed25519` writes.
    public init(pem: String) throws(KeyError) {
        let document: PEMDocument
        do { document = try PEMDocument(pemString: pem) } catch {
            throw KeyError("not a PEM document")
        }
        guard document.discriminator == "PRIVATE KEY" else {
            throw KeyError("expected a PKCS#8 \"PRIVATE KEY\" PEM, found \"\(document.discriminator)\"")
        }
        let info: PKCS8PrivateKeyInfo
        do { info = try PKCS8PrivateKeyInfo(derEncoded: document.derBytes) } catch {
            throw KeyError("the PKCS#8 structure cannot be read")
        }
        guard info.algorithm == PKCS8PrivateKeyInfo.ed25519 else {
            throw KeyError("the key's algorithm \(info.algorithm) is not Ed25519 (1.3.101.112)")
        }
        do { self.privateKey = try Curve25519.Signing.PrivateKey(rawRepresentation: info.privateKey) } catch {
            throw KeyError("the Ed25519 private key is not 32 bytes")
        }
    }

    /// Loads a key file, refusing one that other users can read.
    public init(contentsOf url: URL) throws(KeyError) {
        if let attributes = try? FileManager.default.attributesOfItem(atPath: url.path),
            let mode = attributes[.posixPermissions] as? Int, mode & 0o077 != 0
        {
            throw KeyError("\(url.path): the key file can be read by other users (mode \(String(mode, radix: 8))); run chmod 600 on it")
        }
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw KeyError("\(url.path): cannot be read")
        }
        do { try self.init(pem: text) } catch { throw KeyError("\(url.path): \(error.message)") }
    }

    /// The key as a PKCS#8 `PRIVATE KEY` PEM.
    public var pemRepresentation: String {
        var serializer = DER.Serializer()
        try! serializer.serialize(PKCS8PrivateKeyInfo(algorithm: PKCS8PrivateKeyInfo.ed25519, privateKey: privateKey.rawRepresentation))
        return PEMDocument(type: "PRIVATE KEY", derBytes: serializer.serializedBytes).pemString + "\n"
    }
}

/// An Ed25519 public key, as a verifier holds it.
public struct VerificationKey: Sendable, Hashable {
    let publicKey: Curve25519.Signing.PublicKey

    public init(_ publicKey: Curve25519.Signing.PublicKey) { self.publicKey = publicKey }

    public init(rawRepresentation: Data) throws(KeyError) {
        do { publicKey = try Curve25519.Signing.PublicKey(rawRepresentation: rawRepresentation) } catch {
            throw KeyError("an Ed25519 public key is 32 bytes")
        }
    }

    public var rawRepresentation: Data { publicKey.rawRepresentation }

    public func isValidSignature(_ signature: some DataProtocol, for message: some DataProtocol) -> Bool {
        publicKey.isValidSignature(Data(signature), for: Data(message))
    }

    /// The public JWK (RFC 8037 §2): `{"crv":"Ed25519","kty":"OKP","x":…}`.
    public var jwk: [String: String] { ["kty": "OKP", "crv": "Ed25519", "x": Base64URL.encode(rawRepresentation)] }

    /// RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order, base64url.
    public var thumbprint: String {
        let canonical = #"{"crv":"Ed25519","kty":"OKP","x":"\#(Base64URL.encode(rawRepresentation))"}"#
        return Base64URL.encode(Data(SHA256.hash(data: Data(canonical.utf8))))
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.rawRepresentation == rhs.rawRepresentation }
    public func hash(into hasher: inout Hasher) { hasher.combine(rawRepresentation) }
}

public struct KeyError: Error, Sendable, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// `PrivateKeyInfo` of RFC 5208 / `OneAsymmetricKey` of RFC 5958, as far as Ed25519 needs it.
struct PKCS8PrivateKeyInfo: DERImplicitlyTaggable {
    static let ed25519: ASN1ObjectIdentifier = [1, 3, 101, 112]
    static var defaultIdentifier: ASN1Identifier { .sequence }

    let algorithm: ASN1ObjectIdentifier
    /// The raw 32-byte key (the `CurvePrivateKey` octet string inside `privateKey`).
    let privateKey: Data

    init(algorithm: ASN1ObjectIdentifier, privateKey: Data) {
        self.algorithm = algorithm
        self.privateKey = privateKey
    }

    init(derEncoded rootNode: ASN1Node, withIdentifier identifier: ASN1Identifier) throws {
        self = try DER.sequence(rootNode, identifier: identifier) { nodes in
            let version = try Int(derEncoded: &nodes)
            guard version == 0 || version == 1 else { throw ASN1Error.invalidASN1Object(reason: "PKCS#8 version \(version)") }
            let algorithm = try DER.sequence(of: ASN1ObjectIdentifier.self, identifier: .sequence, nodes: &nodes).first
            let wrapped = try ASN1OctetString(derEncoded: &nodes)
            // Attributes and the public key (version 1) may follow; they are not needed to sign.
            while nodes.next() != nil {}
            let inner = try ASN1OctetString(derEncoded: wrapped.bytes)
            guard let algorithm else { throw ASN1Error.invalidASN1Object(reason: "no algorithm") }
            return PKCS8PrivateKeyInfo(algorithm: algorithm, privateKey: Data(inner.bytes))
        }
    }

    func serialize(into coder: inout DER.Serializer, withIdentifier identifier: ASN1Identifier) throws {
        try coder.appendConstructedNode(identifier: identifier) { coder in
            try coder.serialize(0)
            try coder.appendConstructedNode(identifier: .sequence) { coder in try coder.serialize(algorithm) }
            var inner = DER.Serializer()
            try inner.serialize(ASN1OctetString(contentBytes: ArraySlice(privateKey)))
            try coder.serialize(ASN1OctetString(contentBytes: ArraySlice(inner.serializedBytes)))
        }
    }
}
