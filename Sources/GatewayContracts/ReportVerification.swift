import Foundation
import GatewaySigning
import X509
import GatewayJSON

/// Checks a signed report as the central side or an auditor would: signature against a JWKS,
/// Content-Digest when known, the `x5c` chain against a CA bundle when given. Every finding is
/// said in plain words; the report verifies only if every check that was asked for holds.
public struct ReportVerification: Sendable {
    public struct Finding: Sendable, Equatable {
        public let check: String
        public let passed: Bool
        public let detail: String
    }

    public private(set) var findings: [Finding] = []
    public var passed: Bool { !findings.isEmpty && findings.allSatisfy(\.passed) }

    /// - Parameters:
    ///   - body: the report as sent: flattened JSON or compact JWS, or a detached signature with `detachedPayload`.
    ///   - contentDigest: the `Content-Digest` it was sent with, to check against `body` (or the payload when detached).
    public static func run(
        body: Data, detachedPayload: Data? = nil, jwks: JWKS, caBundle: [Certificate]? = nil, contentDigest: String? = nil,
        contracts: ContractLibrary? = nil
    ) async -> ReportVerification {
        var result = ReportVerification()
        func record(_ check: String, _ passed: Bool, _ detail: String) {
            result.findings.append(Finding(check: check, passed: passed, detail: detail))
        }

        let jws: FlattenedJWS
        do {
            if let detachedPayload {
                jws = try FlattenedJWS.parse(detached: String(decoding: body, as: UTF8.self), payload: detachedPayload)
            } else {
                jws = try FlattenedJWS.parse(any: body)
            }
        } catch {
            record("format", false, "the file is not a JWS: \(error.message)")
            return result
        }
        if jws.payload.isEmpty {
            record("format", false, "the JWS is detached (no payload); give the report with --payload")
            return result
        }

        if let contentDigest {
            let matches = ContentDigest.verify(header: contentDigest, body: detachedPayload ?? body)
            record(
                "digest", matches,
                matches
                    ? "Content-Digest matches the body"
                    : "Content-Digest does not match the body: the bytes were changed after they were sent")
        }

        let keys: [String: VerificationKey]
        do { keys = try jwks.verificationKeys() } catch {
            record("keys", false, "the JWKS cannot be read: \(error.message)")
            return result
        }
        var verified: JWSVerifier.Verified?
        do {
            let outcome = try JWSVerifier(keysByID: keys).verify(jws)
            verified = outcome
            record("signature", true, "\(outcome.algorithm.rawValue) signature by key \(outcome.keyID) holds")
        } catch {
            record("signature", false, error.message)
        }

        let header = try? jws.header()
        if let caBundle {
            if let x5c = header?.x5c {
                do {
                    let chain = try CertificateChain(x5c: x5c)
                    let signedAt =
                        verified.flatMap { try? JSONValue.parse($0.payload)["created_at"]?.stringValue }.flatMap(Timestamps.parse) ?? Date()
                    if let failure = await chain.validate(roots: caBundle, at: signedAt) {
                        record("certificate", false, "the x5c chain does not lead to a CA in the bundle: \(failure)")
                    } else if let key = verified?.key, (try? VerificationKey(certificate: chain.leaf)) != key {
                        record("certificate", false, "the x5c leaf certificate is for another key than the one that signed")
                    } else {
                        record(
                            "certificate", true,
                            "x5c chain of \(chain.certificates.count) leads to a trusted CA; leaf \(chain.leaf.subject)")
                    }
                } catch {
                    record("certificate", false, error.message)
                }
            } else {
                record("certificate", false, "a CA bundle was given but the report carries no x5c certificate chain")
            }
        }

        if let verified, let envelope = try? JSONDecoder().decode(ReportEnvelope.self, from: verified.payload) {
            record(
                "report", true,
                "report \(envelope.reportID): \(envelope.observations.count) observations, province \(envelope.province), gateway \(envelope.gatewayID), created \(envelope.createdAt), contract \(envelope.contractVersion)"
            )
            if let contracts, let payload = try? JSONValue.parse(verified.payload) {
                let problems = contracts.problems(in: payload)
                record(
                    "contract", problems.isEmpty,
                    problems.isEmpty
                        ? "conforms to contract \(envelope.contractVersion): schema and catalogue rules"
                        : "does not conform to contract \(envelope.contractVersion): " + problems.joined(separator: "; "))
            }
        } else if verified != nil {
            record("report", false, "the signed payload is not an LGSP indicator report")
        }
        return result
    }
}
