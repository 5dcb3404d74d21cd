// swift-tools-version:6.1
// libFuzzer targets for the parsers a client reaches. Built only by Fuzz/run.sh, with
// `-sanitize=fuzzer,address` applied to every module, so coverage guides the fuzzer through
// Eddy's code and its dependencies alike.
import Foundation
import PackageDescription

/// The Eddy package is this folder's parent; a path dependency's identity is its folder's name,
/// which differs between clones.
let eddy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

/// Each target: its name (the folder under Targets/, the executable and its corpus folder) and
/// the Eddy products it imports. ConcrntCrypto is no product of its own; EddyServer brings it.
let targets: [(name: String, modules: [String])] = [
    ("json", ["EddyCore"]),
    ("merge-patch", ["EddyCore"]),
    ("resource-path", ["EddyCore"]),
    ("etag-condition", ["EddyCore"]),
    ("checkpoint", ["EddyCore"]),
    ("wait-header", ["EddyServer"]),
    ("link-header", ["EddyClient"]),
    ("iso-duration", ["EddyCore"]),
    ("instant", ["EddyServer"]),
    ("channel-request", ["EddyServer"]),
    ("signed-document", ["EddyServer"]),
    ("websocket-frames", ["EddyServer"]),
    ("first-request-guard", ["EddyServer"]),
    ("solid-legacy", ["EddyServer"]),
    ("concrnt-recent", ["EddyServer"]),
]

let package = Package(
    name: "EddyFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .target(name: "CLibFuzzer", path: "Support/CLibFuzzer"),
        .target(name: "FuzzDriver", dependencies: ["CLibFuzzer"], path: "Support/FuzzDriver"),
    ] + targets.map { target in
        .executableTarget(
            name: target.name,
            dependencies: target.modules.map { .product(name: $0, package: eddy) } + [
                "FuzzDriver",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Targets/\(target.name)"
        )
    }
)
