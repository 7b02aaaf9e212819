import ChannelStore
import Foundation
import Hummingbird

/// `/v1/openapi.json`, generated from the route table (OpenAPI 3.1).
extension ControlAPI {
    var openAPIDocument: JSONValue {
        var paths: [String: JSONValue] = [:]
        for route in routes {
            var operation: [String: JSONValue] = [
                "summary": .string(route.summary),
                "operationId": .string(route.operationId),
                "responses": .object(Self.responses(route)),
            ]
            if !route.requiresAuth { operation["security"] = .array([]) }
            if let scope = route.scope { operation["description"] = .string("Needs a token with the `\(scope.rawValue)` scope (or `admin`).") }
            let parameters = route.pathParameters.map { name -> JSONValue in
                .object(["name": .string(name), "in": .string("path"), "required": .bool(true), "schema": .object(["type": .string("string")])])
            } + route.query.map(\.json)
            if !parameters.isEmpty { operation["parameters"] = .array(parameters) }
            if [.post, .put, .patch].contains(route.method), route.path != "/v1/channels/{id}/reset-key",
               !route.path.hasSuffix("/enable"), !route.path.hasSuffix("/disable") {
                operation["requestBody"] = .object(["required": .bool(true), "content": .object([
                    "application/json": .object(["schema": .object(["type": .string("object")])]),
                ])])
            }
            if route.path == "/v1/events", var responses = operation["responses"]?.objectValue {
                responses["200"] = .object(["description": .string("Events, oldest first: exactly the webhook bodies"),
                                            "content": .object(["application/json": .object(["schema": Self.envelope(data: OpenAPIEventSchemas.ref("EventPage"))])])])
                operation["responses"] = .object(responses)
            }
            var item = paths[route.path]?.objectValue ?? [:]
            item[route.method.rawValue.lowercased()] = .object(operation)
            paths[route.path] = .object(item)
        }
        return .object([
            "openapi": .string("3.1.0"),
            "info": .object(["title": .string("LiveGate control API"), "version": .string(configuration.version)]),
            "servers": .array([.object(["url": .string("/")])]),
            "security": .array([.object(["basicAuth": .array([])])]),
            "components": .object([
                "securitySchemes": .object(["basicAuth": .object(["type": .string("http"), "scheme": .string("basic")])]),
                "schemas": .object(OpenAPIEventSchemas.components.merging(["Envelope": .object([
                    "type": .string("object"), "required": .array(["ec", "data", "msg"].map { .string($0) }),
                    "properties": .object(["ec": .object(["type": .string("integer")]), "data": .object([:]), "msg": .object(["type": .string("string")])]),
                ])]) { $1 }),
            ]),
            "paths": .object(paths),
            "webhooks": .object(OpenAPIEventSchemas.webhooks),
        ])
    }

    /// The envelope with a typed `data`.
    static func envelope(data: JSONValue) -> JSONValue {
        .object(["allOf": .array([.object(["$ref": .string("#/components/schemas/Envelope")]),
                                  .object(["type": .string("object"), "properties": .object(["data": data])])])])
    }

    static func responses(_ route: APIRoute) -> [String: JSONValue] {
        let envelope: JSONValue = .object(["application/json": .object(["schema": .object(["$ref": .string("#/components/schemas/Envelope")])])])
        var r: [String: JSONValue] = [:]
        r[String(route.successStatus)] = route.successStatus == 204 ? .object(["description": .string("No content")])
            : .object(["description": .string("Success"), "content": envelope])
        if route.requiresAuth { r["401"] = .object(["description": .string("Missing or wrong credentials"), "content": envelope]) }
        if let scope = route.scope {
            r["403"] = .object(["description": .string("The token lacks the \(scope.rawValue) scope (4030), or a limit or cap was reached (4031)"),
                                "content": envelope])
        }
        if route.requiresAuth { r["503"] = .object(["description": .string("The store is unavailable; retry after Retry-After (5030)"), "content": envelope]) }
        if !route.pathParameters.isEmpty { r["404"] = .object(["description": .string("Not found"), "content": envelope]) }
        if [.post, .put, .patch].contains(route.method) {
            r["400"] = .object(["description": .string("Malformed JSON"), "content": envelope])
            r["413"] = .object(["description": .string("Body over 64 KiB"), "content": envelope])
            r["422"] = .object(["description": .string("Invalid fields"), "content": envelope])
        }
        return r
    }

    func openAPIResponse() -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: openAPIDocument.jsonText)))
    }
}
