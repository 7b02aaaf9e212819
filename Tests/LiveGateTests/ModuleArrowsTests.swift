import Foundation
import TestSupport
import XCTest

/// The arrows between LiveGate's targets (docs/architecture.md, "Targets and arrows"): each
/// target may import only the targets of ours this table names. Both places an arrow can hide
/// are read — the manifest's dependencies (`swift package dump-package`) and every source
/// file's `import` lines — so a forbidden arrow fails here whichever way it was added.
final class ModuleArrowsTests: XCTestCase {
    /// Targets of ours each target may depend on. A target missing from the table fails too:
    /// a new target needs its arrows decided.
    static let allowed: [String: Set<String>] = [
        "LiveGateModel": [],
        "RTMPCore": [],
        "RTMPServer": ["RTMPCore"],
        "IngestCore": ["LiveGateModel", "RTMPCore"],
        "ChannelStore": ["LiveGateModel", "CSQLite3"],
        "Webhooks": ["LiveGateModel", "ChannelStore"],
        "ControlAPI": ["LiveGateModel", "ChannelStore", "Webhooks"],
        "CFFmpeg": [],
        "CSQLite3": [],
        "CMalloc": [],
        "CFileOps": [],
        "MediaPipeline": ["CFFmpeg", "CFileOps", "RTMPCore"],
        "LiveGate": ["LiveGateModel", "IngestCore", "RTMPCore", "RTMPServer", "ChannelStore", "Webhooks", "ControlAPI", "MediaPipeline", "CMalloc"],
        "livegate": ["LiveGate"],
        "RTMPFuzzHarness": ["RTMPCore"],
        "RTMPFuzzer": ["RTMPFuzzHarness"],
        "rtmp-bench": ["RTMPCore"],
        "alloc-guard": ["RTMPCore", "RTMPServer", "MediaPipeline"],
    ]

    static var root: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    struct Target {
        var name: String
        var type: String
        var path: String?
        var dependencies: [String]
    }

    /// The manifest as SwiftPM reads it. A scratch path of its own keeps it off the lock the
    /// running `swift test` holds on `.build`.
    func manifestTargets() async throws -> [Target] {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("arrows-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let run = try await ProcessRunner.run("swift", ["package", "--package-path", Self.root.path, "--scratch-path", scratch.path, "dump-package"], timeout: 120)
        XCTAssertEqual(run.exitCode, 0, run.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let targets = try XCTUnwrap(json["targets"] as? [[String: Any]])
        return targets.map { target in
            let dependencies = (target["dependencies"] as? [[String: Any]] ?? []).compactMap { dependency -> String? in
                // Only dependencies on targets of this package: `byName` or `target`; products
                // come from other packages.
                for key in ["byName", "target"] { if let value = dependency[key] as? [Any], let name = value.first as? String { return name } }
                return nil
            }
            return Target(name: target["name"] as? String ?? "", type: target["type"] as? String ?? "", path: target["path"] as? String, dependencies: dependencies)
        }
    }

    /// Files whose imports the table alone cannot judge: the ingest domain inside the LiveGate
    /// target must not reach into the HTTP module (its ports live in LiveGateModel).
    static let forbiddenInFiles: [(prefix: String, module: String)] = [
        ("Sources/LiveGate/IngestCoordinator", "ControlAPI"),
    ]

    func testEveryTargetImportsOnlyWhatTheArchitectureAllows() async throws {
        let targets = try await manifestTargets()
        let ours = Set(targets.map(\.name))
        var violations: [String] = []
        for target in targets where target.type != "test" && target.name != "TestSupport" {
            guard let allowed = Self.allowed[target.name] else {
                violations.append("\(target.name): not in the table of docs/architecture.md — decide its arrows")
                continue
            }
            for dependency in target.dependencies where !allowed.contains(dependency) {
                violations.append("\(target.name) depends on \(dependency) in Package.swift")
            }
            let directory = Self.root.appendingPathComponent(target.path ?? "Sources/\(target.name)")
            let files = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil)?
                .compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" } ?? []
            if ["regular", "executable"].contains(target.type) { XCTAssertFalse(files.isEmpty, "\(target.name) has sources at \(directory.path)") }
            for file in files {
                let text = try String(contentsOf: file, encoding: .utf8)
                let relative = file.path.replacingOccurrences(of: Self.root.path + "/", with: "")
                for imported in Self.imports(in: text) where ours.contains(imported) && !allowed.contains(imported) {
                    violations.append("\(relative) imports \(imported)")
                }
                for rule in Self.forbiddenInFiles where relative.hasPrefix(rule.prefix) && Self.imports(in: text).contains(rule.module) {
                    violations.append("\(relative) imports \(rule.module) (the ingest domain does not depend on it)")
                }
            }
        }
        XCTAssertEqual(violations, [], "arrows the architecture forbids:\n" + violations.joined(separator: "\n"))
    }

    /// The checker itself: it sees every spelling of an import, and ignores comments.
    func testTheImportReaderSeesEverySpelling() {
        let text = """
        import Foundation
        @preconcurrency import ChannelStore
        internal import CFFmpeg
        public import struct RTMPCore.ChunkDecoder
        @_exported import Webhooks
        // import ControlAPI
        let importantValue = 1
        """
        XCTAssertEqual(Self.imports(in: text), ["Foundation", "ChannelStore", "CFFmpeg", "RTMPCore", "Webhooks"])
    }

    static func imports(in text: String) -> [String] {
        text.split(separator: "\n").compactMap { line -> String? in
            var words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            while let first = words.first, first.hasPrefix("@") || ["internal", "public", "package", "private", "fileprivate"].contains(first) {
                words.removeFirst()
            }
            guard words.count >= 2, words[0] == "import" else { return nil }
            let kinds: Set<String> = ["struct", "class", "enum", "protocol", "func", "var", "let", "typealias"]
            let path = kinds.contains(words[1]) && words.count >= 3 ? words[2] : words[1]
            return path.split(separator: ".").first.map(String.init)
        }
    }
}
