// swift-tools-version:6.2
import PackageDescription

// Warnings are errors in the project's own targets only (SE-0480): dependencies keep theirs.
let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .treatAllWarnings(as: .error),
]

let package = Package(
    name: "lgsp-gateway",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "lgsp-gateway", targets: ["lgsp-gateway"]),
        .executable(name: "lgsp-mock", targets: ["lgsp-mock"]),
        .library(name: "GatewayJSON", targets: ["GatewayJSON"]),
        .library(name: "GatewayContracts", targets: ["GatewayContracts"]),
        .library(name: "GatewaySigning", targets: ["GatewaySigning"]),
        // For the fuzzing package in Tests/Fuzz, which reaches the parsers through them.
        .library(name: "GatewayHTTP", targets: ["GatewayHTTP"]),
        .library(name: "GatewayConfig", targets: ["GatewayConfig"]),
        .library(name: "GatewayAdapters", targets: ["GatewayAdapters"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
    ],
    targets: [
        // JSON, JSON Schema and the ECMA-262 patterns it needs: no domain, reusable on its own.
        .target(
            name: "GatewayJSON",
            swiftSettings: swiftSettings
        ),
        // The domain and its verification stay free of networking so a central receiver can reuse them.
        .target(
            name: "GatewayContracts",
            dependencies: [
                "GatewayJSON",
                "GatewaySigning",
                .product(name: "X509", package: "swift-certificates"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "GatewaySigning",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "GatewayStore",
            dependencies: [
                "GatewaySigning",
                "GatewayContracts",
                "GatewayJSON",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "GatewayHTTP",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "GatewayConfig",
            dependencies: [
                "GatewayHTTP",
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "GatewayAdapters",
            dependencies: [
                "GatewayContracts",
                "GatewayJSON",
                "GatewayHTTP",
                "GatewayConfig",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "GatewayDelivery",
            dependencies: [
                "GatewayContracts",
                "GatewayJSON",
                "GatewaySigning",
                "GatewayStore",
                "GatewayHTTP",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The pull pipeline: adapter output to checked, signed reports stored with their cursor.
        .target(
            name: "GatewayPipeline",
            dependencies: [
                "GatewayAdapters",
                "GatewayContracts",
                "GatewayJSON",
                "GatewaySigning",
                "GatewayStore",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Gateway",
            dependencies: [
                "GatewayPipeline",
                "GatewayContracts",
                "GatewayJSON",
                "GatewaySigning",
                "GatewayStore",
                "GatewayHTTP",
                "GatewayAdapters",
                "GatewayDelivery",
                "GatewayConfig",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The test kit: mock provincial systems, a mock centre, a test certificate authority and
        // the demo that runs them beside the gateway. Tests, the bench and lgsp-mock link it; the
        // shipped lgsp-gateway does not (Tests/GatewayIntegrationTests/DeployTests.swift checks).
        .target(
            name: "GatewayTestKit",
            dependencies: [
                "GatewayPipeline",
                "Gateway",
                "GatewayConfig",
                "GatewayContracts",
                "GatewayJSON",
                "GatewayDelivery",
                "GatewayHTTP",
                "GatewaySigning",
                "GatewayStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "lgsp-gateway",
            dependencies: [
                "GatewayPipeline",
                "Gateway",
                "GatewayConfig",
                "GatewaySigning",
                "GatewayStore",
                "GatewayContracts",
                "GatewayJSON",
                "GatewayAdapters",
                "GatewayHTTP",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "lgsp-bench",
            dependencies: [
                "GatewayPipeline",
                "Gateway", "GatewayAdapters", "GatewayContracts", "GatewayJSON", "GatewayHTTP", "GatewaySigning",
                "GatewayStore", "GatewayTestKit",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "lgsp-schema-bench",
            dependencies: [
                "GatewayContracts",
                "GatewayJSON",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "lgsp-mock",
            dependencies: [
                "GatewayTestKit",
                "GatewaySigning",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        // Pure tests: no network, no processes, no database server, no root; seconds on their own
        // (`swift test --filter GatewayUnitTests`).
        .testTarget(
            name: "GatewayUnitTests",
            dependencies: [
                "GatewayPipeline",
                "Gateway", "GatewayTestKit", "GatewayContracts", "GatewayJSON", "GatewaySigning", "GatewayAdapters", "GatewayConfig",
                "GatewayDelivery", "GatewayHTTP",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Tests of the real thing: HTTPS on loopback, SQLite and PostgreSQL, processes, the built binaries.
        .testTarget(
            name: "GatewayIntegrationTests",
            dependencies: [
                "GatewayPipeline",
                "Gateway", "GatewayTestKit", "GatewayContracts", "GatewayJSON", "GatewaySigning", "GatewayStore", "GatewayAdapters",
                "GatewayConfig", "GatewayDelivery", "GatewayHTTP",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
