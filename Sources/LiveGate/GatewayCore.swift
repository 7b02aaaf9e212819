import LiveGateModel
import ControlAPI
import ServiceLifecycle

/// Everything that needs the store — the store itself, the webhook dispatcher, the ingest
/// coordinator and the RTMP listener — as one service beside the HTTP listener, so the HTTP
/// listener can answer `/healthz` and `/readyz` while the store is still being opened.
struct GatewayCore: Service {
    let app: LiveGateApp
    let identity: NodeIdentity
    let gate: StartupGate<APIRequestContext>

    func run() async throws {
        try await app.runCore(identity: identity, gate: gate)
    }
}
