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
        subcommands: [Serve.self, Version.self, CheckConfig.self, HealthCheck.self],
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

/// EX_CONFIG from sysexits.h: what `check-config` and `serve` exit with on a configuration error.
let exitConfigurationError: Int32 = 78

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the gateway (the default command).")
    @OptionGroup var options: ConfigOption

    func run() async throws {
        // The same checks as `check-config`, before anything listens or opens.
        let config = options.load().checked()
        let level = Logger.Level(rawValue: config.string("log.level")) ?? .info
        let format = LiveGateLogHandler.Format(rawValue: config.string("log.format")) ?? .text
        LoggingSystem.bootstrap { LiveGateLogHandler(label: $0, level: level, format: format) }
        let logger = Logger(label: "livegate")
        for warning in config.warnings { logger.warning("\(warning)") }
        guard config.problems.isEmpty else {
            for problem in config.problems { logger.error("\(problem)") }
            logger.error("configuration refused; nothing started (livegate check-config lists the same problems)")
            throw ExitCode(exitConfigurationError)
        }
        do {
            let budget = ShutdownBudget()
            let watchdog = ShutdownWatchdog(deadline: budget.watchdog, logger: logger)
            try await LiveGateApp(configuration: config, logger: logger, shutdownBudget: budget).run()
            _ = watchdog
        } catch let error as LiveGateApp.StartupError {
            logger.critical("LiveGate cannot start: \(error)")
            throw ExitCode(error.exitCode)
        } catch {
            logger.critical("LiveGate stopped on an error: \(error)")
            throw ExitCode(1)
        }
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")
    func run() { print("livegate \(LiveGateApp.version)") }
}

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Check the configuration as `serve` would (values, files, certificates, ports, directories, the database: connected and authenticated) and exit: 0 = OK, 78 = problems (FILE: KEY: reason). On a node running with this configuration, everything but binding its ports is checked.")
    @OptionGroup var options: ConfigOption

    func run() async throws {
        let loaded = options.load()
        // A running node holds the ports: checking them would only say "cannot bind".
        let running = await loaded.runningNode()
        var config = loaded.checked(probePorts: running == nil)
        let database = await config.checkDatabase()
        for warning in config.warnings { print("warning: \(warning)") }
        if let running {
            print("note: node \(running.id) is running with this configuration (\(running.url)): every check was made but binding its ports")
        }
        if let database { print("note: \(database)") }
        if config.problems.isEmpty {
            print("configuration OK")
            return
        }
        for problem in config.problems { print(problem) }
        throw ExitCode(exitConfigurationError)
    }
}

struct HealthCheck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "healthcheck",
        abstract: "Ask the running gateway (same configuration: port, HTTP or HTTPS) whether it is ready; exit 0 = yes. Used by the Docker HEALTHCHECK.")
    @OptionGroup var options: ConfigOption
    @Flag(name: .long, help: "Check liveness (/healthz) instead of readiness (/readyz).")
    var live = false
    @Option(name: .long, help: "Seconds to wait for the answer.")
    var timeout: Double = 3

    func run() async throws {
        let config = options.load()
        let probe = HealthProbe(configuration: config, path: live ? "/healthz" : "/readyz", timeoutSeconds: timeout)
        let result = await probe.run()
        print(result.summary)
        if !result.healthy { throw ExitCode(1) }
    }
}
