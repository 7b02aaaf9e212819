import LiveGateModel
/// A configuration holds secrets (the API token secret, the database password in its URL).
/// swift-service-lifecycle logs the services it starts at `debug` with `String(describing:)`,
/// and the default description of a struct prints every stored value: the token secret was in
/// that line. The configuration and the services that hold it describe themselves by name only.
extension LiveGateConfiguration: CustomStringConvertible, CustomDebugStringConvertible {
    public var description: String { "LiveGateConfiguration" }
    public var debugDescription: String { description }
}

extension GatewayCore: CustomStringConvertible {
    var description: String { "GatewayCore" }
}

extension NamedListener: CustomStringConvertible {
    var description: String { "NamedListener(\(name))" }
}

extension LiveGateApp: CustomStringConvertible {
    public var description: String { "LiveGateApp" }
}
