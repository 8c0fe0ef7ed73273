import Foundation
import GatewayContracts
import GatewayHTTP
import GatewayTestKit
import Testing
import GatewayJSON

@Suite("The shipped adapters' folders")
struct ShippedAdapterTests {
    /// Each shipped adapter's sample, and the request that gets the same from the mocks.
    static let samples: [(adapter: String, file: String, path: String)] = [
        ("dvc-portal", "sample.json", "/dvc/1.0.0/chi-tieu?tinh=14"),
        ("qlvb-documents", "sample.json", "/qlvb/1.0.0/thong-ke-ho-so?tinh=14"),
        ("thong-ke-kinh-te-so", "sample.csv", "/thongke/1.0.0/kinh-te-so.csv"),
        ("vien-thong-cap-quang", "sample.json", "/vienthong/api/v1/phu-cap-quang?page=1&size=200"),
        ("ngan-hang-thanh-toan", "sample.json", "/nhnn/v1/bao-cao/tai-khoan-thanh-toan"),
        ("so-gddt", "sample.json", "/sgd/api/chi-tieu?trang=1&soBanGhi=50"),
    ]

    @Test("every shipped adapter file has a folder with a README that names it and a sample")
    func everyAdapterIsDocumented() throws {
        let adapters = repositoryRoot.appendingPathComponent("Adapters")
        let files = try FileManager.default.contentsOfDirectory(atPath: adapters.path).filter { $0.hasSuffix(".yaml") }.map {
            String($0.dropLast(5))
        }
        #expect(Set(files) == Set(Self.samples.map(\.adapter)))
        for name in files {
            let readme = try String(contentsOf: adapters.appendingPathComponent("\(name)/README.md"), encoding: .utf8)
            #expect(readme.hasPrefix("# \(name) "), "\(name)/README.md")
            #expect(readme.contains("`../\(name).yaml`"), "\(name)/README.md")
            #expect(readme.contains("lgsp-gateway adapters test \(name) "), "\(name)/README.md")
        }
    }

    @Test("each sample is what the mock system serves, asked with that adapter's credential")
    func samplesMatchTheMocks() async throws {
        try await withSignedMocks { running, _, _ in
            let secret = running.source.configuration.clientSecret
            try await withTransport { transport in
                let tls = EndpointTLS(caBundlePath: running.caBundlePath)
                let tokenAnswer = try await transport.send(
                    method: "POST", url: running.sourceURL + "/token",
                    headers: [
                        ("Authorization", "Basic " + Data("lgsp-gateway-demo:\(secret)".utf8).base64EncodedString()),
                        ("Content-Type", "application/x-www-form-urlencoded"),
                    ],
                    body: Data("grant_type=client_credentials".utf8), tls: tls, timeout: .seconds(10))
                let token = try #require(try JSONValue.parse(tokenAnswer.body)["access_token"]?.stringValue)
                // The education system's own login, with the same secret as its password.
                let login = try await transport.send(
                    method: "POST", url: running.sourceURL + "/sgd/api/dang-nhap", headers: [("Content-Type", "application/json")],
                    body: try JSONValue.object(["tenDangNhap": .string(MockEducationSystem.username), "matKhau": .string(secret)])
                        .canonicalData(),
                    tls: tls, timeout: .seconds(10))
                let session = try #require(try JSONValue.parse(login.body)["duLieu"]?["token"]?.stringValue)

                for (adapter, file, path) in Self.samples {
                    var url = running.sourceURL + path
                    var headers = [("Authorization", "Bearer " + token)]
                    var endpointTLS = tls
                    switch adapter {
                    case "vien-thong-cap-quang": headers = [("X-API-Key", secret)]
                    case "so-gddt": headers = [("Authorization", "Bearer " + session)]
                    case "ngan-hang-thanh-toan":
                        url = running.bankURL + path
                        headers = []
                        endpointTLS = EndpointTLS(
                            caBundlePath: running.caBundlePath, clientCertificatePath: running.clientCertificatePath,
                            clientKeyPath: running.clientKeyPath)
                    default: break
                    }
                    let answer = try await transport.send(
                        method: "GET", url: url, headers: headers, tls: endpointTLS, timeout: .seconds(10))
                    #expect(answer.status == 200, "\(adapter): \(answer.status)")
                    let sample = try Data(contentsOf: repositoryRoot.appendingPathComponent("Adapters/\(adapter)/\(file)"))
                    if file.hasSuffix(".csv") {
                        #expect(answer.body == sample, "\(adapter): the sample is not byte for byte what the mock serves")
                    } else {
                        // The sample is indented for reading; the values must be the same.
                        #expect(
                            try JSONValue.parse(answer.body) == JSONValue.parse(sample),
                            "\(adapter): the sample differs from what the mock serves")
                    }
                }

                // The bank's server refuses a client without the certificate in the handshake.
                await #expect(throws: (any Error).self) {
                    _ = try await transport.send(
                        method: "GET", url: running.bankURL + "/nhnn/v1/bao-cao/tai-khoan-thanh-toan", tls: tls, timeout: .seconds(10))
                }
            }
        }
    }
}
