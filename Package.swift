// swift-tools-version:6.0
import PackageDescription

/// LiveGate: an RTMP ingest gateway. The arrows between targets follow docs/architecture.md:
/// protocol code (RTMPCore) knows nothing of sockets; RTMPServer adds SwiftNIO; LiveGate composes.
/// The per-byte ingest path (chunk decoding, the session state machine, the NIO handler) runs
/// with dynamic exclusivity checks off in release builds: perf showed `swift_beginAccess` at ~5%
/// of ingest CPU (BENCHMARKS.md). Debug builds — every test run — keep the checks.
let hotPathSettings: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "LiveGate",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "livegate", targets: ["livegate"]),
        .executable(name: "rtmp-bench", targets: ["rtmp-bench"]),
        .library(name: "RTMPCore", targets: ["RTMPCore"]),
        .library(name: "RTMPServer", targets: ["RTMPServer"]),
        .library(name: "LiveGate", targets: ["LiveGate"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/vapor/sql-kit", from: "3.36.0"),
        .package(url: "https://github.com/vapor/postgres-kit", from: "2.17.0"),
        .package(url: "https://github.com/vapor/async-kit", from: "1.22.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/ordo-one/malloc-interposer", from: "1.6.1"),
    ],
    targets: [
        // The vocabulary every part shares: channels, limits, sessions, events and their
        // payloads, the ports between the API and the ingest domain. Foundation only.
        .target(name: "LiveGateModel"),
        .target(
            name: "RTMPCore",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: hotPathSettings
        ),
        // The ingest domain: the channel machine and the rules it decides by, pure (no I/O, time
        // as an input). It knows the protocol's vocabulary, never a socket, a database or HTTP.
        .target(
            name: "IngestCore",
            dependencies: ["LiveGateModel", "RTMPCore"]
        ),
        .target(
            name: "RTMPServer",
            dependencies: [
                "RTMPCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: hotPathSettings
        ),
        .systemLibrary(
            name: "CFFmpeg",
            pkgConfig: "libavformat",
            providers: [.apt(["libavformat-dev", "libavcodec-dev", "libavutil-dev", "libswscale-dev"])]
        ),
        .target(
            name: "MediaPipeline",
            dependencies: [
                "CFFmpeg",
                "CFileOps",
                "RTMPCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // renameat2(RENAME_EXCHANGE), for `PlaylistFile` (docs/architecture.md "Output threads").
        .systemLibrary(name: "CFileOps"),
        // glibc's heap counters and trim, for `MemoryTrimmer` (docs/architecture.md "Memory after a burst").
        .systemLibrary(name: "CMalloc"),
        // SQLite layer (docs/architecture.md "The store").
        .systemLibrary(
            name: "CSQLite3",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .target(
            name: "ChannelStore",
            dependencies: [
                "LiveGateModel",
                "CSQLite3",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "AsyncKit", package: "async-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(
            name: "Webhooks",
            dependencies: [
                "LiveGateModel",
                "ChannelStore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "ControlAPI",
            dependencies: [
                "LiveGateModel",
                "ChannelStore",
                "Webhooks",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "LiveGate",
            dependencies: [
                "CMalloc",
                "LiveGateModel",
                "IngestCore",
                "RTMPCore",
                "MediaPipeline",
                "RTMPServer",
                "ChannelStore",
                "ControlAPI",
                "Webhooks",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .executableTarget(
            name: "rtmp-bench",
            dependencies: [
                "RTMPCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The allocation guard (docs/architecture.md, "Performance guard"): heap allocations per
        // received media message on the real listener, counted by the preloaded interposer.
        .executableTarget(
            name: "alloc-guard",
            dependencies: [
                "RTMPCore", "RTMPServer", "MediaPipeline",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MallocInterposerSwift", package: "malloc-interposer"),
            ]
        ),
        // The fuzzing entry point, kept out of RTMPCore's public API: the libFuzzer target and
        // the regression tests share it.
        .target(
            name: "RTMPFuzzHarness",
            dependencies: ["RTMPCore", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .executableTarget(
            name: "RTMPFuzzer",
            dependencies: ["RTMPFuzzHarness"]
        ),
        .executableTarget(
            name: "livegate",
            dependencies: [
                "LiveGate",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "TestSupport",
            dependencies: [
                "RTMPCore", "RTMPServer",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "PostgresKit", package: "postgres-kit"),
            ],
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "RTMPCoreTests",
            dependencies: ["RTMPCore", "RTMPFuzzHarness", "TestSupport", .product(name: "NIOCore", package: "swift-nio")],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "IngestCoreTests",
            dependencies: ["IngestCore", "LiveGateModel", "RTMPCore"]
        ),
        .testTarget(
            name: "RTMPServerTests",
            dependencies: [
                "RTMPServer", "RTMPCore", "TestSupport", "CMalloc",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "MediaPipelineTests",
            dependencies: [
                "MediaPipeline", "CFFmpeg", "CMalloc", "RTMPCore", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "ChannelStoreTests",
            dependencies: ["LiveGateModel", "IngestCore", "ChannelStore", "TestSupport", .product(name: "Logging", package: "swift-log"),
                           .product(name: "NIOConcurrencyHelpers", package: "swift-nio")]
        ),
        .testTarget(
            name: "ControlAPITests",
            dependencies: [
                "LiveGateModel",
                "ControlAPI", "ChannelStore", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "LiveGateTests",
            dependencies: [
                "LiveGateModel",
                "LiveGate", "IngestCore", "RTMPCore", "RTMPServer", "ChannelStore", "Webhooks", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
