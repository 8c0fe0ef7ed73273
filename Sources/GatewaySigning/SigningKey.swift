import Crypto
import Foundation
import SwiftASN1
import _CryptoExtras

/// The kinds of key the gateway signs with.
public enum KeyType: String, Sendable, CaseIterable, Codable {
    case ed25519 = "Ed25519"
    case p256 = "P-256"
    case rsa = "RSA"

    /// The type's name with its article, for sentences: "an RSA key".
    public var withArticle: String { self == .p256 ? "a P-256" : "an \(rawValue)" }

    /// What a key of this type signs with unless configured otherwise.
    public var defaultAlgorithm: JWSAlgorithm {
        switch self {
        case .ed25519: .ed25519
        case .p256: .es256
        case .rsa: .ps256
        }
    }
}

/// The JWS `alg` values this gateway signs and verifies with (RFC 7518, RFC 8037, RFC 9864).
public enum JWSAlgorithm: String, Sendable, CaseIterable, Codable {
    /// Ed25519, the fully-specified name registered by RFC 9864.
    case ed25519 = "Ed25519"
    /// Ed25519 under the older polymorphic name (RFC 8037), for verifiers that predate RFC 9864.
    case edDSA = "EdDSA"
    /// ECDSA with P-256 and SHA-256.
    case es256 = "ES256"
    /// RSASSA-PSS with SHA-256 and MGF1 with SHA-256.
    case ps256 = "PS256"
    /// RSASSA-PKCS1-v1_5 with SHA-256, for receivers that know nothing newer.
    case rs256 = "RS256"

    public var keyType: KeyType {
        switch self {
        case .ed25519, .edDSA: .ed25519
        case .es256: .p256
        case .ps256, .rs256: .rsa
        }
    }
}

public struct KeyError: Error, Sendable, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A private key this gateway signs with.
public struct SigningKey: Sendable {
    enum Backing: Sendable {
        case ed25519(Curve25519.Signing.PrivateKey)
        case p256(P256.Signing.PrivateKey)
        case rsa(_RSA.Signing.PrivateKey)
    }

    let backing: Backing

    public init(_ key: Curve25519.Signing.PrivateKey) { backing = .ed25519(key) }
    public init(_ key: P256.Signing.PrivateKey) { backing = .p256(key) }
    public init(_ key: _RSA.Signing.PrivateKey) { backing = .rsa(key) }

    /// A new Ed25519 key.
    public static func generate() -> SigningKey { SigningKey(Curve25519.Signing.PrivateKey()) }

    /// A new key of `type` (RSA keys are 3072 bits).
    public static func generate(_ type: KeyType) throws -> SigningKey {
        switch type {
        case .ed25519: SigningKey(Curve25519.Signing.PrivateKey())
        case .p256: SigningKey(P256.Signing.PrivateKey())
        case .rsa: SigningKey(try _RSA.Signing.PrivateKey(keySize: .bits3072))
        }
    }

    public var keyType: KeyType {
        switch backing {
        case .ed25519: .ed25519
        case .p256: .p256
        case .rsa: .rsa
        }
    }

    public var publicKey: VerificationKey {
        switch backing {
        case .ed25519(let key): VerificationKey(.ed25519(key.publicKey))
        case .p256(let key): VerificationKey(.p256(key.publicKey))
        case .rsa(let key): VerificationKey(.rsa(key.publicKey))
        }
    }

    /// The raw JWS signature of `message` (RFC 7518 §3: `r || s` for ECDSA).
    public func sign(_ message: some DataProtocol, algorithm: JWSAlgorithm) throws -> Data {
        guard algorithm.keyType == keyType else {
            throw KeyError("\(algorithm.rawValue) needs \(algorithm.keyType.withArticle) key, but the key is \(keyType.rawValue)")
        }
        // A report's signing input is hundreds of kilobytes: not copied when it is `Data` already.
        let bytes = message as? Data ?? Data(message)
        switch (backing, algorithm) {
        case (.ed25519(let key), _): return try key.signature(for: bytes)
        case (.p256(let key), _): return try key.signature(for: bytes).rawRepresentation
        case (.rsa(let key), .rs256): return try key.signature(for: SHA256.hash(data: bytes), padding: .insecurePKCS1v1_5).rawRepresentation
        case (.rsa(let key), _): return try key.signature(for: SHA256.hash(data: bytes), padding: .PSS).rawRepresentation
        }
    }

    /// Signs with the key type's default algorithm (Ed25519, ES256 or PS256).
    public func sign(_ message: some DataProtocol) throws -> Data { try sign(message, algorithm: keyType.defaultAlgorithm) }

    /// Reads a PEM private key: PKCS#8 `PRIVATE KEY` (Ed25519, P-256 or RSA), SEC1 `EC PRIVATE KEY`
    /// or PKCS#1 `RSA PRIVATE KEY`, as openssl and other common tools write them.
    public init(pem: String) throws(KeyError) {
        let document: PEMDocument
        do { document = try PEMDocument(pemString: pem) } catch {
            throw KeyError("not a PEM document")
        }
        switch document.discriminator {
        case "EC PRIVATE KEY":
            do { backing = .p256(try P256.Signing.PrivateKey(pemRepresentation: pem)) } catch {
                throw KeyError("the SEC1 EC key cannot be read as a P-256 key (only P-256 is supported)")
            }
        case "RSA PRIVATE KEY":
            backing = .rsa(try Self.readRSA(pem))
        case "PRIVATE KEY":
            let info: PKCS8PrivateKeyInfo
            do { info = try PKCS8PrivateKeyInfo(derEncoded: document.derBytes) } catch {
                throw KeyError("the PKCS#8 structure cannot be read")
            }
            switch info.algorithm {
            case PKCS8PrivateKeyInfo.ed25519:
                do { backing = .ed25519(try Curve25519.Signing.PrivateKey(rawRepresentation: info.privateKey)) } catch {
                    throw KeyError("the Ed25519 private key is not 32 bytes")
                }
            case PKCS8PrivateKeyInfo.ecPublicKey:
                do { backing = .p256(try P256.Signing.PrivateKey(pemRepresentation: pem)) } catch {
                    throw KeyError("the EC key is not on the P-256 curve (only P-256 is supported)")
                }
            case PKCS8PrivateKeyInfo.rsaEncryption:
                backing = .rsa(try Self.readRSA(pem))
            default:
                throw KeyError("the key's algorithm \(info.algorithm) is not Ed25519, EC P-256 or RSA")
            }
        default:
            throw KeyError("expected a PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY PEM, found \"\(document.discriminator)\"")
        }
    }

    private static func readRSA(_ pem: String) throws(KeyError) -> _RSA.Signing.PrivateKey {
        let key: _RSA.Signing.PrivateKey
        do { key = try _RSA.Signing.PrivateKey(unsafePEMRepresentation: pem) } catch {
            throw KeyError("the RSA key cannot be read")
        }
        guard key.keySizeInBits >= 2048 else { throw KeyError("the RSA key has \(key.keySizeInBits) bits; at least 2048 are required") }
        return key
    }

    /// Loads a key file, refusing one that other users can read. `credential:NAME` is read from
    /// systemd's `$CREDENTIALS_DIRECTORY`, which systemd itself keeps private to the service.
    ///
    /// The file is opened once and judged by what was opened (`fstat`), so a symlink is judged by
    /// its target's mode and owner, not by the link's own `lrwxrwxrwx`, and the file cannot be
    /// swapped between the check and the read. The owner must be the gateway's user or root.
    public init(contentsOf url: URL) throws(KeyError) {
        let text = try Self.readPrivateFile(url.path)
        do { try self.init(pem: text) } catch { throw KeyError("\(url.path): \(error.message)") }
    }

    static func readPrivateFile(_ path: String) throws(KeyError) -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw KeyError("\(path): cannot be read (\(String(cString: strerror(errno))))") }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw KeyError("\(path): cannot be read") }
        guard status.st_mode & S_IFMT == S_IFREG else { throw KeyError("\(path): is not a regular file") }
        let mode = Int(status.st_mode & 0o7777)
        if mode & 0o077 != 0 {
            throw KeyError("\(path): the key file can be read by other users (mode \(String(mode, radix: 8))); run chmod 600 on it")
        }
        if status.st_uid != geteuid() && status.st_uid != 0 {
            throw KeyError(
                "\(path): the key file belongs to user id \(status.st_uid), not to the gateway's user (\(geteuid())) or root; chown it")
        }
        let limit = 1 << 20
        let contents = try? FileHandle(fileDescriptor: descriptor, closeOnDealloc: false).read(upToCount: limit + 1)
        guard let contents, contents.count <= limit, let text = String(validating: contents, as: UTF8.self) else {
            throw KeyError("\(path): cannot be read as a key (text of at most 1 MiB)")
        }
        return text
    }

    /// The key as a PKCS#8 `PRIVATE KEY` PEM.
    public var pemRepresentation: String {
        switch backing {
        case .ed25519(let key):
            var serializer = DER.Serializer()
            try! serializer.serialize(PKCS8PrivateKeyInfo(algorithm: PKCS8PrivateKeyInfo.ed25519, privateKey: key.rawRepresentation))
            return PEMDocument(type: "PRIVATE KEY", derBytes: serializer.serializedBytes).pemString + "\n"
        case .p256(let key): return key.pemRepresentation + "\n"
        case .rsa(let key): return key.pkcs8PEMRepresentation + "\n"
        }
    }
}

/// A public key, as a verifier holds it.
public struct VerificationKey: Sendable, Hashable {
    enum Backing: Sendable {
        case ed25519(Curve25519.Signing.PublicKey)
        case p256(P256.Signing.PublicKey)
        case rsa(_RSA.Signing.PublicKey)
    }

    let backing: Backing

    init(_ backing: Backing) { self.backing = backing }

    public init(_ key: Curve25519.Signing.PublicKey) { backing = .ed25519(key) }

    public var keyType: KeyType {
        switch backing {
        case .ed25519: .ed25519
        case .p256: .p256
        case .rsa: .rsa
        }
    }

    /// Reads a public JWK (RFC 7517): OKP Ed25519, EC P-256 or RSA.
    public init(jwk: [String: String]) throws(KeyError) {
        func member(_ name: String) throws(KeyError) -> Data {
            guard let text = jwk[name], let bytes = Base64URL.decode(text), !bytes.isEmpty else {
                throw KeyError("the JWK has no valid \"\(name)\"")
            }
            return bytes
        }
        switch (jwk["kty"], jwk["crv"]) {
        case ("OKP", "Ed25519"):
            do { backing = .ed25519(try Curve25519.Signing.PublicKey(rawRepresentation: try member("x"))) } catch {
                throw KeyError("the Ed25519 JWK's x is not 32 bytes")
            }
        case ("EC", "P-256"):
            let x = try member("x"), y = try member("y")
            do { backing = .p256(try P256.Signing.PublicKey(rawRepresentation: x + y)) } catch {
                throw KeyError("the P-256 JWK's point is not on the curve")
            }
        case ("RSA", _):
            let n = try member("n"), e = try member("e")
            do { backing = .rsa(try _RSA.Signing.PublicKey(n: n, e: e)) } catch {
                throw KeyError("the RSA JWK's n and e do not make a key")
            }
        default:
            throw KeyError("JWK kty \(jwk["kty"] ?? "none") crv \(jwk["crv"] ?? "none") is not supported (OKP Ed25519, EC P-256, RSA)")
        }
    }

    /// The public JWK's required members (RFC 7517, 7518 §6, 8037 §2).
    public var jwk: [String: String] {
        switch backing {
        case .ed25519(let key):
            return ["kty": "OKP", "crv": "Ed25519", "x": Base64URL.encode(key.rawRepresentation)]
        case .p256(let key):
            let point = key.rawRepresentation
            return ["kty": "EC", "crv": "P-256", "x": Base64URL.encode(point.prefix(32)), "y": Base64URL.encode(point.suffix(32))]
        case .rsa(let key):
            let primitives = try! key.getKeyPrimitives()
            return [
                "kty": "RSA", "n": Base64URL.encode(primitives.modulus.drop { $0 == 0 }),
                "e": Base64URL.encode(primitives.publicExponent.drop { $0 == 0 }),
            ]
        }
    }

    /// RFC 7638 thumbprint: SHA-256 over the required members, in lexicographic order, base64url.
    public var thumbprint: String {
        let members = jwk
        let canonical = "{" + members.keys.sorted().map { "\"\($0)\":\"\(members[$0]!)\"" }.joined(separator: ",") + "}"
        return Base64URL.encode(Data(SHA256.hash(data: Data(canonical.utf8))))
    }

    /// The DER SubjectPublicKeyInfo, to compare with a certificate's key.
    public var derRepresentation: Data {
        switch backing {
        case .ed25519(let key):
            // SubjectPublicKeyInfo for Ed25519 (RFC 8410): fixed 12-byte prefix, then the key.
            return Data([0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00]) + key.rawRepresentation
        case .p256(let key): return key.derRepresentation
        case .rsa(let key): return key.derRepresentation
        }
    }

    public func isValidSignature(_ signature: some DataProtocol, for message: some DataProtocol, algorithm: JWSAlgorithm) -> Bool {
        guard algorithm.keyType == keyType else { return false }
        let bytes = message as? Data ?? Data(message), signatureBytes = Data(signature)
        switch (backing, algorithm) {
        case (.ed25519(let key), _):
            return key.isValidSignature(signatureBytes, for: bytes)
        case (.p256(let key), _):
            guard let parsed = try? P256.Signing.ECDSASignature(rawRepresentation: signatureBytes) else { return false }
            return key.isValidSignature(parsed, for: bytes)
        case (.rsa(let key), .rs256):
            return key.isValidSignature(
                _RSA.Signing.RSASignature(rawRepresentation: signatureBytes), for: SHA256.hash(data: bytes), padding: .insecurePKCS1v1_5)
        case (.rsa(let key), _):
            return key.isValidSignature(
                _RSA.Signing.RSASignature(rawRepresentation: signatureBytes), for: SHA256.hash(data: bytes), padding: .PSS)
        }
    }

    /// Verifies with the key type's default algorithm (Ed25519, ES256 or PS256).
    public func isValidSignature(_ signature: some DataProtocol, for message: some DataProtocol) -> Bool {
        isValidSignature(signature, for: message, algorithm: keyType.defaultAlgorithm)
    }

    public var rawRepresentation: Data {
        switch backing {
        case .ed25519(let key): key.rawRepresentation
        case .p256(let key): key.rawRepresentation
        case .rsa(let key): key.derRepresentation
        }
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.thumbprint == rhs.thumbprint }
    public func hash(into hasher: inout Hasher) { hasher.combine(thumbprint) }
}

/// `PrivateKeyInfo` of RFC 5208 / `OneAsymmetricKey` of RFC 5958: the algorithm and the key octets.
struct PKCS8PrivateKeyInfo: DERImplicitlyTaggable {
    static let ed25519: ASN1ObjectIdentifier = [1, 3, 101, 112]
    static let ecPublicKey: ASN1ObjectIdentifier = [1, 2, 840, 10045, 2, 1]
    static let rsaEncryption: ASN1ObjectIdentifier = [1, 2, 840, 113549, 1, 1, 1]
    static var defaultIdentifier: ASN1Identifier { .sequence }

    let algorithm: ASN1ObjectIdentifier
    /// For Ed25519 the raw 32-byte key (the `CurvePrivateKey` inside); for others the inner DER.
    let privateKey: Data

    init(algorithm: ASN1ObjectIdentifier, privateKey: Data) {
        self.algorithm = algorithm
        self.privateKey = privateKey
    }

    init(derEncoded rootNode: ASN1Node, withIdentifier identifier: ASN1Identifier) throws {
        self = try DER.sequence(rootNode, identifier: identifier) { nodes in
            let version = try Int(derEncoded: &nodes)
            guard version == 0 || version == 1 else { throw ASN1Error.invalidASN1Object(reason: "PKCS#8 version \(version)") }
            guard let algorithmNode = nodes.next() else { throw ASN1Error.invalidASN1Object(reason: "no algorithm") }
            let algorithm = try DER.sequence(algorithmNode, identifier: .sequence) { inner in
                let oid = try ASN1ObjectIdentifier(derEncoded: &inner)
                while inner.next() != nil {}  // parameters: a curve OID, NULL or nothing
                return oid
            }
            let wrapped = try ASN1OctetString(derEncoded: &nodes)
            while nodes.next() != nil {}  // attributes and (version 1) the public key are not needed to sign
            if algorithm == Self.ed25519 {
                let inner = try ASN1OctetString(derEncoded: wrapped.bytes)
                return PKCS8PrivateKeyInfo(algorithm: algorithm, privateKey: Data(inner.bytes))
            }
            return PKCS8PrivateKeyInfo(algorithm: algorithm, privateKey: Data(wrapped.bytes))
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
