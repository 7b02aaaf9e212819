import HTTPTypes
import Hummingbird
import NIOCore

/// `/ui/`: the operator dashboard (docs/contract.md §6, "The dashboard"). The page itself holds
/// no data and needs no credentials; everything it shows it asks the API for with the token
/// the operator signs in with. Not part of the API's OpenAPI document.
extension ControlAPI {
    /// Only this origin's own script, style, API and pictures (blob: URLs of fetched JPEGs).
    static let dashboardPolicy = "default-src 'self'; img-src 'self' blob:; style-src 'self'; script-src 'self'; connect-src 'self'; "
        + "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"

    static func dashboardAsset(_ text: String, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "no-cache", .contentSecurityPolicy: dashboardPolicy,
                                        HTTPField.Name("X-Content-Type-Options")!: "nosniff", HTTPField.Name("Referrer-Policy")!: "no-referrer",
                                        HTTPField.Name("X-Frame-Options")!: "DENY"],
                 body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    func addDashboard(to router: Router<APIRequestContext>) {
        // `/ui` and `/ui/` are one route to the router.
        router.on(RouterPath("/ui/"), method: .get) { _, _ in Self.dashboardAsset(DashboardPage.html, type: "text/html; charset=utf-8") }
        router.on(RouterPath("/ui/app.js"), method: .get) { _, _ in Self.dashboardAsset(DashboardScript.js, type: "text/javascript; charset=utf-8") }
        router.on(RouterPath("/ui/app.css"), method: .get) { _, _ in Self.dashboardAsset(DashboardPage.css, type: "text/css; charset=utf-8") }
    }
}
