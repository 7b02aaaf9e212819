import ArgumentParser
import Foundation
import LiveGate
import Logging

@main
struct LiveGateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "livegate",
        abstract: "RTMP ingest gateway with an embedded control API.",
        version: LiveGateApp.version,
        subcommands: [Serve.self, Version.self, CheckConfig.self],
        defaultSubcommand: Serve.self
    )
}

struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "Path to the YAML config file (default: $LIVEGATE_CONFIG, else config/livegate.yaml if present).")
    var config: String?

    @Option(name: .customLong("rtmp-port"), help: "RTMP port (overrides config and environment).")
    var rtmpPort: Int?

    @Option(name: .customLong("http-port"), help: "HTTP port (overrides config and environment).")
    var httpPort: Int?

    func load() -> LiveGateConfiguration {
        let env = ProcessInfo.processInfo.environment
        var file = config ?? env["LIVEGATE_CONFIG"]
        if file == nil, FileManager.default.fileExists(atPath: "config/livegate.yaml") { file = "config/livegate.yaml" }
        var overrides: [String: String] = [:]
        if let rtmpPort { overrides["rtmp.port"] = String(rtmpPort) }
        if let httpPort { overrides["http.port"] = String(httpPort) }
        return LiveGateConfiguration(file: file, environment: env, overrides: overrides)
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the gateway (the default command).")
    @OptionGroup var options: ConfigOption

    func run() async throws {
        let config = options.load()
        let level = Logger.Level(rawValue: config.string("log.level")) ?? .info
        let format = LiveGateLogHandler.Format(rawValue: config.string("log.format")) ?? .text
        LoggingSystem.bootstrap { LiveGateLogHandler(label: $0, level: level, format: format) }
        let logger = Logger(label: "livegate")
        guard config.problems.isEmpty else {
            for problem in config.problems { logger.error("configuration problem", metadata: ["problem": "\(problem)"]) }
            throw ExitCode(78) // EX_CONFIG
        }
        try await LiveGateApp(configuration: config, logger: logger).run()
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")
    func run() { print("livegate \(LiveGateApp.version)") }
}

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check-config", abstract: "Validate configuration and exit.")
    @OptionGroup var options: ConfigOption

    func run() throws {
        let config = options.load()
        if config.problems.isEmpty {
            print("configuration OK")
            return
        }
        for problem in config.problems { print(problem) }
        throw ExitCode(78)
    }
}
