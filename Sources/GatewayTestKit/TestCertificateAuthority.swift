import Crypto
import Foundation
import SwiftASN1
import X509

/// A certificate authority made at start-up, so mocks and tests speak real TLS on loopback
/// with certificates nobody else trusts.
public struct TestCertificateAuthority: Sendable {
    public let certificatePEM: String
    let certificate: Certificate
    let privateKey: P256.Signing.PrivateKey

    public init(commonName: String = "LGSP Gateway Test CA") throws {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName {
            OrganizationName("LGSP Gateway mocks")
            CommonName(commonName)
        }
        let now = Date()
        certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(30 * 86400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: .init(key.publicKey))
            },
            issuerPrivateKey: .init(key))
        certificatePEM = try certificate.serializeAsPEM().pemString + "\n"
        privateKey = key
    }

    /// A client certificate for mutual TLS, as PEM certificate and PKCS#8 key.
    public func issueClientCertificate(commonName: String = "lgsp-gateway-test") throws -> (certificatePEM: String, privateKeyPEM: String) {
        let key = P256.Signing.PrivateKey()
        let leaf = try issue(for: .init(key.publicKey), commonName: commonName, usage: .clientAuth)
        return (try leaf.serializeAsPEM().pemString + "\n", key.pemRepresentation + "\n")
    }

    /// A certificate vouching for a signing key (sent as `x5c`), valid from `notBefore` to `notAfter`.
    public func issueSigningCertificate(
        for publicKey: Certificate.PublicKey, commonName: String = "Sơn La indicator gateway",
        notBefore: Date = Date().addingTimeInterval(-3600), notAfter: Date = Date().addingTimeInterval(30 * 86400)
    ) throws -> String {
        let subject = try DistinguishedName {
            OrganizationName("UBND tỉnh Sơn La")
            CommonName(commonName)
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: publicKey, notValidBefore: notBefore, notValidAfter: notAfter,
            issuer: self.certificate.subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, nonRepudiation: true))
                AuthorityKeyIdentifier(keyIdentifier: try self.certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
            },
            issuerPrivateKey: .init(privateKey))
        return try certificate.serializeAsPEM().pemString + "\n"
    }

    private func issue(for publicKey: Certificate.PublicKey, commonName: String, usage: ExtendedKeyUsage.Usage) throws -> Certificate {
        let now = Date()
        return try Certificate(
            version: .v3, serialNumber: .init(), publicKey: publicKey,
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(30 * 86400),
            issuer: certificate.subject, subject: try DistinguishedName { CommonName(commonName) }, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([usage])
                AuthorityKeyIdentifier(keyIdentifier: try certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
            },
            issuerPrivateKey: .init(privateKey))
    }

    /// A server certificate for `localhost` and 127.0.0.1 (and `hosts`), as PEM certificate and PKCS#8 key;
    /// for `hosts` alone when `onlyHosts`, as a server known by name only has.
    public func issueServerCertificate(hosts: [String] = [], onlyHosts: Bool = false) throws -> (
        certificatePEM: String, privateKeyPEM: String
    ) {
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName { CommonName(onlyHosts ? hosts.first ?? "localhost" : "localhost") }
        var names: [GeneralName] = onlyHosts ? [] : [.dnsName("localhost"), .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))]
        names += hosts.map { .dnsName($0) }
        let now = Date()
        let leaf = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(30 * 86400),
            issuer: certificate.subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(names)
                AuthorityKeyIdentifier(keyIdentifier: try certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
            },
            issuerPrivateKey: .init(privateKey))
        return (try leaf.serializeAsPEM().pemString + "\n", key.pemRepresentation + "\n")
    }
}
