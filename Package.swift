// swift-tools-version: 6.0
// regionspotd — open-vocabulary region recognition daemon (RegionSpot on SAM + CLIP).
// Layout: Decode, Recognizer and Temporal never import each other; Daemon composes them.
// C libraries come from Debian through module-map shims.
import PackageDescription

// Hot numeric code is optimized even in debug builds so the parity tests stay fast.
let optimized: [SwiftSetting] = [.unsafeFlags(["-O"])]

let package = Package(
    name: "regionspotd",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "regionspotd", targets: ["Daemon"]),
        .library(name: "Decode", targets: ["Decode"]),
        .library(name: "Recognizer", targets: ["Recognizer"]),
        .library(name: "Temporal", targets: ["Temporal"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CFFmpeg", path: "Sources/CFFmpeg",
            pkgConfig: "libavformat",
            providers: [.apt(["libavformat-dev", "libavcodec-dev", "libswscale-dev", "libavutil-dev"])]),
        .systemLibrary(
            name: "CBLAS", path: "Sources/CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CZMQ", path: "Sources/CZMQ",
            pkgConfig: "libzmq",
            providers: [.apt(["libzmq3-dev"])]),
        // oneDNN 2.6 (bf16 matmuls); Debian ships no pkg-config file for it.
        .systemLibrary(
            name: "CDNNL", path: "Sources/CDNNL",
            providers: [.apt(["libdnnl-dev"])]),
        .systemLibrary(
            name: "CZlib", path: "Sources/CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]),

        // C kernels for instructions the Swift targets are not built for, chosen at run time.
        .target(name: "CKernels", path: "Sources/CKernels", cSettings: [.unsafeFlags(["-O3"])]),

        .target(name: "Decode", dependencies: ["CFFmpeg"], swiftSettings: optimized),
        .target(name: "Recognizer", dependencies: ["CBLAS", "CDNNL", "CZlib", "CKernels"], swiftSettings: optimized),
        .target(name: "Temporal", swiftSettings: optimized),
        .executableTarget(
            name: "Daemon",
            dependencies: [
                "Decode", "Recognizer", "Temporal", "CZMQ",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]),

        // Seeded dice, case counts and deadlines shared by the fuzz tests (test code only).
        .target(name: "FuzzSupport", path: "Tests/FuzzSupport"),
        .testTarget(name: "DecodeTests", dependencies: ["Decode", "FuzzSupport"]),
        .testTarget(name: "RecognizerTests", dependencies: ["Recognizer", "FuzzSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TemporalTests", dependencies: ["Temporal"], resources: [.copy("Fixtures")]),
        // Fixtures/ is read by path (ConfigFuzzTests), not bundled.
        .testTarget(name: "DaemonTests", dependencies: ["Daemon", "FuzzSupport", .product(name: "Yams", package: "Yams")],
                    exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v6]
)
