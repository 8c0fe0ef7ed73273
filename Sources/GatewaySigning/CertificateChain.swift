import Crypto
import Foundation
import SwiftASN1
@_spi(FixedExpiryValidationTime) import X509
import _CryptoExtras

/// An X.509 chain (leaf first) that vouches for the signing key; sent as `x5c`.
public struct CertificateChain: Sendable {
    public let certificates: [Certificate]

    public init(certificates: [Certificate]) { self.certificates = certificates }

    /// Reads every `CERTIFICATE` block of a PEM file, leaf first.
    public init(pemFile path: String) throws(KeyError) {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch { throw KeyError("\(path): cannot be read") }
        do { self.init(certificates: try Self.parsePEM(text)) } catch { throw KeyError("\(path): \(error.message)") }
        if certificates.isEmpty { throw KeyError("\(path): holds no certificate") }
    }

    static func parsePEM(_ text: String) throws(KeyError) -> [Certificate] {
        do {
            return try PEMDocument.parseMultiple(pemString: text).filter { $0.discriminator == "CERTIFICATE" }.map {
                try Certificate(derEncoded: $0.derBytes)
            }
        } catch {
            throw KeyError("not PEM certificates")
        }
    }

    public var leaf: Certificate { certificates[0] }

    /// Standard-base64 DER, as `x5c` carries it.
    public var x5c: [String] { derCertificates.map { $0.base64EncodedString() } }

    public var derCertificates: [Data] {
        certificates.map { certificate in
            var serializer = DER.Serializer()
            try! serializer.serialize(certificate)
            return Data(serializer.serializedBytes)
        }
    }

    /// Refuses a chain whose leaf is not for `key` or is outside its validity period at `date`.
    public func check(matches key: VerificationKey, at date: Date) throws(KeyError) {
        guard leaf.publicKey == key.certificatePublicKey else {
            throw KeyError("the leaf certificate (\(leaf.subject)) is for another key than the signing key")
        }
        guard leaf.notValidBefore <= date else { throw KeyError("the leaf certificate is not valid before \(leaf.notValidBefore)") }
        guard date <= leaf.notValidAfter else { throw KeyError("the leaf certificate expired on \(leaf.notValidAfter)") }
    }

    /// Reads an `x5c` header.
    public init(x5c: [String]) throws(KeyError) {
        var certificates: [Certificate] = []
        for (index, text) in x5c.enumerated() {
            guard let der = Data(base64Encoded: text), let certificate = try? Certificate(derEncoded: Array(der)) else {
                throw KeyError("x5c[\(index)] is not a base64 DER certificate")
            }
            certificates.append(certificate)
        }
        guard !certificates.isEmpty else { throw KeyError("x5c is empty") }
        self.init(certificates: certificates)
    }

    /// Validates the chain up to one of `roots` (RFC 5280), with expiry judged at `date`: for an
    /// archived report, the time it was signed. Returns the failure in plain words, or nil.
    public func validate(roots: [Certificate], at date: Date) async -> String? {
        var verifier = Verifier(rootCertificates: CertificateStore(roots)) { RFC5280Policy(fixedExpiryValidationTime: date) }
        let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore(certificates.dropFirst()))
        switch result {
        case .validCertificate: return nil
        case .couldNotValidate(let failures):
            let reasons = failures.map { "\($0.policyFailureReason)" }
            return reasons.isEmpty ? "no chain from the leaf to a trusted CA was found" : reasons.joined(separator: "; ")
        }
    }

    /// Reads a CA bundle (PEM certificates).
    public static func roots(pemFile path: String) throws(KeyError) -> [Certificate] {
        try CertificateChain(pemFile: path).certificates
    }
}

extension VerificationKey {
    /// The key as swift-certificates represents it, to put in or compare with a certificate.
    public var certificatePublicKey: Certificate.PublicKey {
        switch backing {
        case .ed25519(let key): Certificate.PublicKey(key)
        case .p256(let key): Certificate.PublicKey(key)
        case .rsa(let key): Certificate.PublicKey(key)
        }
    }

    /// The key inside a certificate, if it is of a type this gateway verifies.
    public init(certificate: Certificate) throws(KeyError) {
        try self.init(certificatePublicKey: certificate.publicKey)
    }

    init(certificatePublicKey publicKey: Certificate.PublicKey) throws(KeyError) {
        if let key = P256.Signing.PublicKey(publicKey) {
            self.init(.p256(key))
        } else if let key = _RSA.Signing.PublicKey(publicKey) {
            self.init(.rsa(key))
        } else if let key = Curve25519.Signing.PublicKey(publicKey) {
            self.init(.ed25519(key))
        } else {
            throw KeyError("the key is not Ed25519, P-256 or RSA")
        }
    }

    /// Reads a key file for verification: a `PUBLIC KEY` PEM, or a private key PEM (only its public half is kept).
    /// Retired keys can so be kept as public keys alone once their private half is destroyed.
    public init(contentsOf url: URL) throws(KeyError) {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch { throw KeyError("\(url.path): cannot be read") }
        if text.contains("-----BEGIN PUBLIC KEY-----") {
            do { try self.init(certificatePublicKey: try Certificate.PublicKey(pemEncoded: text)) } catch {
                throw KeyError("\(url.path): not a readable Ed25519, P-256 or RSA public key")
            }
        } else {
            self = try SigningKey(contentsOf: url).publicKey
        }
    }
}
