import LiveGateModel
import ChannelStore
import Foundation
import RTMPServer
#if canImport(Glibc)
import Glibc
#endif

/// Checks that need more than one value, or the machine: everything `serve` would otherwise
/// refuse only after some listeners were already up. `check-config` and `serve` run the same
/// checks, so a configuration that passes one passes the other (both exit 78 otherwise).
public struct ConfigurationPreflight {
    public typealias Problem = LiveGateConfiguration.Problem

    public let configuration: LiveGateConfiguration
    /// Try to bind each listener's address (off where the caller binds itself right after).
    public var probePorts = true

    public init(configuration: LiveGateConfiguration, probePorts: Bool = true) {
        self.configuration = configuration
        self.probePorts = probePorts
    }

    public func problems() -> [Problem] {
        var out: [Problem] = []
        func add(_ key: String, _ reason: String, sourceKey: String? = nil) {
            out.append(Problem(source: configuration.source(of: sourceKey ?? key), key: key, reason: reason))
        }
        // The store.
        if let reason = StoreFactory.problem(url: configuration.string("database.url")) { add("database.url", reason) }

        // Public addresses: absolute URLs of the right kind, or empty.
        for (key, schemes) in [("publicRtmpUrl", ["rtmp", "rtmps"]), ("publicHttpUrl", ["http", "https"])] {
            let value = configuration.string(key)
            guard !value.isEmpty else { continue }
            let components = URLComponents(string: value)
            if components?.scheme.map({ schemes.contains($0.lowercased()) }) != true || (components?.host ?? "").isEmpty {
                add(key, "must be a \(schemes.map { "\($0)://" }.joined(separator: " or ")) URL with a host (got '\(value.prefix(80))')")
            } else if key == "publicRtmpUrl", (components?.path ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "/")).isEmpty {
                add(key, "must name the application (rtmp://HOST[:PORT]/\(configuration.string("rtmp.app")))")
            }
        }

        // API credentials: both or neither, and a secret worth the name (it guards an admin token).
        if configuration.string("rtmp.proxyProtocol") != "off" && configuration.string("rtmp.trustedProxies").isEmpty {
            add("rtmp.trustedProxies", "must list the balancers' addresses when rtmp.proxyProtocol is \(configuration.string("rtmp.proxyProtocol")) (a PROXY header from anyone else is refused)")
        }
        let tokenId = configuration.string("api.tokenId"), tokenSecret = configuration.string("api.tokenSecret")
        if tokenId.isEmpty != tokenSecret.isEmpty {
            add(tokenId.isEmpty ? "api.tokenId" : "api.tokenSecret", "must be set with \(tokenId.isEmpty ? "api.tokenSecret" : "api.tokenId") (LIVE_TOKEN_ID and LIVE_TOKEN_SECRET go together)")
        } else if !tokenSecret.isEmpty && tokenSecret.count < 16 {
            add("api.tokenSecret", "must be at least 16 characters (it is \(tokenSecret.count)); an admin token needs a secret that cannot be guessed")
        }

        // TLS: both halves or neither; both files usable and matching.
        for (prefix, what) in [("rtmp", "RTMPS would silently stay off"),
                               ("http", "the API and its Basic credentials would be served in clear")] {
            let certKey = "\(prefix).tlsCertificate", keyKey = "\(prefix).tlsKey"
            let certificate = configuration.string(certKey), key = configuration.string(keyKey)
            switch (certificate.isEmpty, key.isEmpty) {
            case (true, true):
                continue
            case (false, true):
                add(keyKey, "must be set with \(certKey): TLS is half-configured (\(what))", sourceKey: certKey)
            case (true, false):
                add(certKey, "must be set with \(keyKey): TLS is half-configured (\(what))", sourceKey: keyKey)
            case (false, false):
                if let problem = TLSFiles(certificatePath: certificate, keyPath: key).problem() {
                    add(problem.part == .certificate ? certKey : keyKey, problem.reason)
                }
            }
        }

        // Hosts, then ports: distinct where they would collide, and bindable.
        var hostsOK: [String: Bool] = [:]
        for key in ["rtmp.host", "http.host"] {
            let reason = Self.hostProblem(configuration.string(key))
            hostsOK[key] = reason == nil
            if let reason { add(key, reason) }
        }
        var listeners: [(name: String, hostKey: String, portKey: String)] = [("RTMP", "rtmp.host", "rtmp.port"), ("HTTP", "http.host", "http.port")]
        if !configuration.string("rtmp.tlsCertificate").isEmpty && !configuration.string("rtmp.tlsKey").isEmpty {
            listeners.append(("RTMPS", "rtmp.host", "rtmp.tlsPort"))
        }
        var clashing: Set<String> = []
        for (i, a) in listeners.enumerated() {
            for b in listeners[(i + 1)...] {
                let portA = configuration.int(a.portKey), portB = configuration.int(b.portKey)
                guard portA != 0, portA == portB, Self.overlap(configuration.string(a.hostKey), configuration.string(b.hostKey)) else { continue }
                add(b.portKey, "\(portB) is also \(a.portKey) (the \(a.name) listener); each listener needs its own port")
                clashing.insert(b.portKey)
            }
        }
        if probePorts {
            for listener in listeners where hostsOK[listener.hostKey] == true && !clashing.contains(listener.portKey) {
                let host = configuration.string(listener.hostKey), port = configuration.int(listener.portKey)
                guard port != 0 else { continue }
                if let reason = Self.bindProblem(host: host, port: port) {
                    add(listener.portKey, "the \(listener.name) listener cannot bind \(host):\(port): \(reason)")
                }
            }
        }

        // The data directory and the folders the outputs write into.
        let dataDir = configuration.string("dataDir")
        if dataDir.isEmpty {
            add("dataDir", "must not be empty")
        } else {
            for path in [dataDir, "\(dataDir)/hls", "\(dataDir)/recordings"] {
                if let reason = Self.directoryProblem(path) {
                    add("dataDir", reason)
                    break
                }
            }
            let database = configuration.string("database.url")
            if database.isEmpty, let reason = Self.fileProblem("\(dataDir)/livegate.sqlite") { add("dataDir", reason) }
            if database.hasPrefix("sqlite://"), let reason = Self.fileProblem(String(database.dropFirst("sqlite://".count))) {
                add("database.url", reason)
            }
            if configuration.string("nodeId").isEmpty, let reason = Self.fileProblem("\(dataDir)/\(NodeIdentity.fileName)") {
                add("dataDir", reason)
            }
        }
        return out
    }

    // MARK: Single checks

    /// Why `host` cannot be a listener address: an IPv4 or IPv6 literal, or a name that resolves.
    static func hostProblem(_ host: String) -> String? {
        if host.isEmpty { return "must not be empty (0.0.0.0 = every IPv4 address, :: = every IPv6 address)" }
        if host.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7F }) { return "must not contain spaces or control characters" }
        var storage = in6_addr()
        if host.allSatisfy({ $0.isNumber || $0 == "." }) {
            return inet_pton(AF_INET, host, &storage) == 1 ? nil : "'\(host)' is not an IPv4 address"
        }
        if host.contains(":") {
            return inet_pton(AF_INET6, host, &storage) == 1 ? nil : "'\(host)' is not an IPv6 address"
        }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.allSatisfy({ !$0.isEmpty && $0.count <= 63 && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") } }) else {
            return "'\(host)' is neither an IP address nor a host name"
        }
        return resolve(host: host, port: 0) == nil ? "'\(host)' does not resolve to an address of this machine" : nil
    }

    /// Whether two listener hosts could take the same port (same address, or a wildcard).
    static func overlap(_ a: String, _ b: String) -> Bool {
        let wildcard: Set<String> = ["0.0.0.0", "::", "[::]", ""]
        return a == b || wildcard.contains(a) || wildcard.contains(b)
    }

    private static func resolve(host: String, port: Int) -> (family: Int32, address: [UInt8])? {
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0, let first = result else { return nil }
        defer { freeaddrinfo(result) }
        guard let address = first.pointee.ai_addr else { return nil }
        let bytes = UnsafeRawBufferPointer(start: address, count: Int(first.pointee.ai_addrlen))
        return (first.pointee.ai_family, Array(bytes))
    }

    /// Binds `host:port` once (as the listener will, with SO_REUSEADDR) and lets go at once.
    static func bindProblem(host: String, port: Int) -> String? {
        guard let (family, address) = resolve(host: host, port: port) else { return "cannot resolve the address" }
        let fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return String(cString: strerror(errno)) }
        defer { close(fd) }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = address.withUnsafeBytes { raw in
            bind(fd, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
        }
        if bound != 0 {
            let code = errno
            let hint = code == EACCES && port < 1024 ? " (ports below 1024 need privileges this user does not have)" : ""
            return "\(String(cString: strerror(code)))\(hint)"
        }
        // Listening is what another listener on the port conflicts with.
        if listen(fd, 1) != 0 { return String(cString: strerror(errno)) }
        return nil
    }

    /// Why the directory at `path` cannot be created or written by this user. Tried for real —
    /// a file created and removed, a missing directory created and removed again — because
    /// `access(2)` says yes to root everywhere, also where `mkdir` then fails (/proc, a read-only mount).
    static func directoryProblem(_ path: String) -> String? {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        var created: String?
        if manager.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { return "\(path) exists and is not a directory" }
        } else {
            // Remember the topmost directory that did not exist, to remove it afterwards.
            var top = path
            while true {
                let parent = (top as NSString).deletingLastPathComponent
                if parent.isEmpty || parent == top || manager.fileExists(atPath: parent) { break }
                top = parent
            }
            // mkdir(2) down from the first missing component, so the reason is the errno's.
            var components: [String] = []
            var cursor = path
            while !cursor.isEmpty, cursor != "/", !manager.fileExists(atPath: cursor) {
                components.insert(cursor, at: 0)
                cursor = (cursor as NSString).deletingLastPathComponent
            }
            for directory in components where mkdir(directory, 0o755) != 0 {
                let code = errno
                if directory != components.first { try? manager.removeItem(atPath: top) }
                return "\(path) cannot be created by this user (uid \(getuid())): \(String(cString: strerror(code)))"
            }
            created = top
        }
        defer { if let created { try? manager.removeItem(atPath: created) } }
        let probe = (path as NSString).appendingPathComponent(".livegate-write-check-\(getpid())")
        let fd = open(probe, O_CREAT | O_EXCL | O_WRONLY, 0o600)
        guard fd >= 0 else { return "\(path) is not writable by this user (uid \(getuid())): \(String(cString: strerror(errno)))" }
        close(fd)
        unlink(probe)
        return nil
    }

    /// Why an existing file at `path` cannot be read and written (a missing one is created later).
    static func fileProblem(_ path: String) -> String? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return access(path, R_OK | W_OK) == 0 ? nil : "\(path) is not readable and writable by this user (uid \(getuid()))"
    }
}

extension LiveGateConfiguration {
    /// This configuration with the preflight's problems added (what `check-config` and `serve` use).
    public func checked(probePorts: Bool = true) -> LiveGateConfiguration {
        var copy = self
        copy.append(ConfigurationPreflight(configuration: self, probePorts: probePorts).problems())
        return copy
    }

    /// `check-config`'s database check: PostgreSQL is connected to and authenticated, as `serve`
    /// will. A refusal (wrong password, no such database) is a problem — `serve` would exit 78;
    /// a server not answering now is a warning — `serve` keeps trying for
    /// `database.connectTimeoutSec`. Returns a line for the report when the check passed.
    public mutating func checkDatabase() async -> String? {
        let url = string("database.url")
        let result = await StoreFactory.checkConnection(url: url)
        switch result {
        case .refused(let reason):
            append([Problem(source: source(of: "database.url"), key: "database.url", reason: "PostgreSQL refused the connection: \(reason)")])
        case .unreachable(let reason):
            appendWarning(Problem(source: source(of: "database.url"), key: "database.url",
                                  reason: "PostgreSQL does not answer now (serve retries for database.connectTimeoutSec): \(reason)"))
        case .ok:
            return "database.url: PostgreSQL reachable, credentials accepted"
        case .notChecked:
            break
        }
        return nil
    }

    /// Whether a node with this configuration is running now: its HTTP listener answers
    /// `/healthz` naming this configuration's node id (configured, or kept in `dataDir`).
    /// `check-config` then checks everything but binding that node's ports, and says so.
    public func runningNode() async -> (id: String, url: String)? {
        guard let id = NodeIdentity.existing(configured: string("nodeId"), dataDirectory: string("dataDir")) else { return nil }
        let probe = HealthProbe(configuration: self, path: "/healthz", timeoutSeconds: 2)
        let result = await probe.run()
        return result.healthy && result.nodeId == id ? (id, probe.url) : nil
    }
}
