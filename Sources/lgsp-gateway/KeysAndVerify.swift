import ArgumentParser
import Foundation
import GatewayContracts
import Gateway
import GatewaySigning
import GatewayStore

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make signing keys and show what the central side must trust.",
        subcommands: [Generate.self, List.self, Show.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a new private key (PKCS#8 PEM, mode 600).")

        @Option(help: "Ed25519, EdDSA, ES256, PS256 or RS256 (RSA keys are 3072 bits).")
        var alg: String = "Ed25519"

        @Option(help: "Where to write the key; an existing file is never overwritten.")
        var out: String

        func run() throws {
            guard let algorithm = JWSAlgorithm(rawValue: alg) else {
                throw ValidationError("--alg must be one of \(JWSAlgorithm.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let key = try SigningKey.generate(algorithm.keyType)
            // O_EXCL through createFile's refusal to replace: check first, then create with 0600 in one call.
            guard !FileManager.default.fileExists(atPath: out) else { throw ValidationError("\(out) exists; choose another file") }
            guard
                FileManager.default.createFile(
                    atPath: out, contents: Data(key.pemRepresentation.utf8), attributes: [.posixPermissions: 0o600])
            else {
                throw ValidationError("\(out) cannot be written")
            }
            print("wrote \(out): \(key.keyType.rawValue) key for \(algorithm.rawValue), kid \(key.publicKey.thumbprint)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the active and retired keys of a configuration.")
        @OptionGroup var options: ConfigOption

        func run() async throws {
            let loaded: LoadedGateway
            do { loaded = try LoadedGateway.load(file: options.config) } catch { throw failOnIssues(error) }
            let configuration = loaded.configuration
            print("active   \(loaded.signer.keyID)  \(configuration.signing.algorithm.rawValue)  \(configuration.signing.keyPath)")
            if let chain = loaded.certificateChain {
                print("         certificate \(chain.leaf.subject), valid until \(chain.leaf.notValidAfter)")
            }
            for (key, path) in zip(loaded.retiredKeys, configuration.signing.retiredKeyPaths) {
                print("retired  \(key.thumbprint)  \(key.keyType.rawValue)  \(path)")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the public JWK of a key, or with --config the JWKS the central side should trust.")

        @Flag(help: "Print as JWK (the only form for now).")
        var jwk = false

        @Option(help: "A private or public key PEM file.")
        var key: String?

        @Option(help: "A gateway configuration: prints the JWKS of its active and retired keys.")
        var config: String?

        func validate() throws {
            guard (key == nil) != (config == nil) else { throw ValidationError("give --key FILE or --config FILE") }
        }

        func run() async throws {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            if let key {
                let publicKey = try VerificationKey(contentsOf: URL(fileURLWithPath: key))
                print(String(decoding: try encoder.encode(JWKS(publishing: [(publicKey, nil, nil)]).keys[0]), as: UTF8.self))
            } else if let config {
                let loaded: LoadedGateway
                do { loaded = try LoadedGateway.load(file: config) } catch { throw failOnIssues(error) }
                print(String(decoding: try encoder.encode(loaded.jwks), as: UTF8.self))
            }
        }
    }
}

struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a signed report: signature, digest and certificate chain. Exits 0 only when everything holds.")

    @Argument(help: "The report as sent (flattened JSON or compact JWS), or a detached signature with --payload.")
    var file: String?

    @Option(help: "Verify a report kept in this gateway store (the SQLite file) instead of a FILE; with --report.")
    var store: String?

    @Option(help: "The report id (its Idempotency-Key) to verify from --store.")
    var report: String?

    @Option(help: "JWKS file of the keys to trust (e.g. from `keys show --jwk --config`).")
    var jwks: String

    @Option(help: "CA bundle (PEM) to check the report's x5c certificate chain against.")
    var caBundle: String?

    @Option(help: "The report body, when FILE holds a detached signature.")
    var payload: String?

    @Option(help: "The Content-Digest header the report was sent with.")
    var contentDigest: String?

    @Option(
        help:
            "The contracts (manifest.json and its versions) to check the report against the version it names. Default: the repository's Contracts/, else /usr/share/lgsp-gateway/contracts."
    )
    var contracts: String?

    func validate() throws {
        guard (file == nil) != (store == nil), (store == nil) == (report == nil) else {
            throw ValidationError("give a FILE, or --store PATH with --report ID")
        }
    }

    func run() async throws {
        func read(_ path: String) throws -> Data {
            do { return try Data(contentsOf: URL(fileURLWithPath: path)) } catch { throw ValidationError("\(path) cannot be read") }
        }
        let keySet: JWKS
        do { keySet = try JSONDecoder().decode(JWKS.self, from: try read(jwks)) } catch is ValidationError {
            throw ValidationError("\(jwks) cannot be read")
        } catch {
            throw ValidationError("\(jwks) is not a JWKS ({\"keys\": [...]})")
        }
        let roots = try caBundle.map { try CertificateChain.roots(pemFile: $0) }
        let library: ContractLibrary?
        if let directory = contracts ?? ContractsDirectory.default() {
            do { library = try ContractLibrary.load(from: URL(fileURLWithPath: directory)) } catch {
                throw ValidationError(error.message)
            }
        } else {
            library = nil
            print("note: no contracts found; the report is not checked against its contract (give --contracts)")
        }
        let result: ReportVerification
        let name: String
        if let store, let report {
            guard let stored = try await StoreLocation.withStore(store, exclusive: false, { try await $0.signedReport(reportID: report) })
            else {
                throw ValidationError("report \(report) is not in \(store)")
            }
            name = "report \(report)"
            // A detached report's body is the payload and its signature is the stored header.
            result = await ReportVerification.run(
                body: stored.detachedSignature.map { Data($0.utf8) } ?? stored.body,
                detachedPayload: stored.detachedSignature == nil ? nil : stored.body, jwks: keySet, caBundle: roots,
                contentDigest: contentDigest ?? stored.contentDigest, contracts: library)
        } else {
            let file = file ?? ""
            name = file
            result = await ReportVerification.run(
                body: try read(file), detachedPayload: try payload.map(read), jwks: keySet, caBundle: roots, contentDigest: contentDigest,
                contracts: library)
        }
        for finding in result.findings {
            print("\(finding.passed ? "ok  " : "FAIL") \(finding.check): \(finding.detail)")
        }
        print(result.passed ? "\(name): verified" : "\(name): NOT verified")
        if !result.passed { throw ExitCode(1) }
    }
}
