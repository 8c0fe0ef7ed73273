// swift-tools-version:6.2
import PackageDescription

// libFuzzer targets for every parser fed by outside bytes. Built apart from the gateway, with
// `-sanitize=fuzzer,address -parse-as-library` (see run.sh): libFuzzer supplies `main`.
let package = Package(
    name: "lgsp-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "lgsp-gateway", path: "../..")],
    targets: [
        .target(name: "FuzzDriver"),
        .executableTarget(
            name: "lgsp-fuzz",
            dependencies: [
                "FuzzDriver",
                .product(name: "GatewayContracts", package: "lgsp-gateway"),
                .product(name: "GatewayJSON", package: "lgsp-gateway"),
                .product(name: "GatewayHTTP", package: "lgsp-gateway"),
                .product(name: "GatewayConfig", package: "lgsp-gateway"),
                .product(name: "GatewayAdapters", package: "lgsp-gateway"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)
