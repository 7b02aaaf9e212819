import LiveGateModel
import ChannelStore
import Foundation
import Hummingbird

/// `/v1/openapi.json`, generated from the route table (OpenAPI 3.1): every operation with its
/// parameters, request body, answers (each status with its `ec` codes and headers), content
/// types and links, from `APIRoute` and its `OperationContract`; the objects from
/// `OpenAPIResourceSchemas`, the webhook payloads from `OpenAPIEventSchemas`.
extension ControlAPI {
    var openAPIDocument: JSONValue {
        var paths: [String: JSONValue] = [:]
        var envelopes: [String: JSONValue] = [:]
        for route in routes {
            var operation: [String: JSONValue] = [
                "summary": .string(route.summary),
                "operationId": .string(route.operationId),
                "tags": .array([.string(Self.tag(route.path))]),
                "responses": .object(Self.responses(route, envelopes: &envelopes)),
            ]
            if !route.requiresAuth { operation["security"] = .array([]) }
            if route.requiresAuth { operation["description"] = .string(route.access.summary) }
            var parameters = route.pathParameters.map { name -> JSONValue in
                let schema: JSONValue = name == "userId" ? .object(["type": .string("string"), "pattern": .string(InputRules.userIdPattern)])
                    : .object(["type": .string("string")])
                return .object(["name": .string(name), "in": .string("path"), "required": .bool(true), "schema": schema])
            } + route.query.map(\.json)
            if route.isIdempotentCreate {
                parameters.append(.object([
                    "name": .string("Idempotency-Key"), "in": .string("header"), "required": .bool(false),
                    "description": .string("Retries with the same key and body within 24 h get the first answer again (Idempotent-Replayed: true)"),
                    "schema": .object(["type": .string("string"), "minLength": .number(1), "maxLength": .number(255), "pattern": .string("^[!-~]+$")]),
                ]))
            }
            parameters += route.preconditionParameters
            if !parameters.isEmpty { operation["parameters"] = .array(parameters) }
            if let body = route.contract.request {
                let schema: JSONValue = .object(["schema": OpenAPIResourceSchemas.ref(body)])
                // One media type: generators cannot type a body offered as two (PATCH takes
                // application/merge-patch+json too; the body is read as JSON whatever its type).
                operation["requestBody"] = .object(["required": .bool(!route.contract.requestOptional), "content": .object(["application/json": schema])])
            }
            var item = paths[route.path]?.objectValue ?? [:]
            item[route.method.rawValue.lowercased()] = .object(operation)
            paths[route.path] = .object(item)
        }
        var schemas = OpenAPIEventSchemas.components
        schemas.merge(OpenAPIResourceSchemas.answers) { $1 }
        schemas.merge(OpenAPIResourceSchemas.requests) { $1 }
        schemas.merge(envelopes) { $1 }
        schemas["ErrorDetails"] = OpenAPIResourceSchemas.errorDetails
        for shape in Self.errorStatuses.values { schemas[shape.name] = OpenAPIResourceSchemas.error(shape.codes) }
        return .object([
            "openapi": .string("3.1.0"),
            "info": .object(["title": .string("LiveGate control API"), "version": .string(configuration.version),
                             "description": .string("Every JSON answer is the envelope {ec, data, msg}; ec is 0 on success and names the error otherwise.")]),
            // Behind a balancer, the address clients use (`publicHttpUrl`); else relative to wherever the document was read.
            "servers": .array([.object(["url": .string(configuration.publicHttpUrlSetting.isEmpty ? "/" : configuration.publicHttpUrl)])]),
            "security": .array([.object(["basicAuth": .array([])])]),
            "components": .object([
                "securitySchemes": .object(["basicAuth": .object(["type": .string("http"), "scheme": .string("basic"),
                                                                  "description": .string("An API token: Basic id:secret")])]),
                "schemas": .object(schemas),
            ]),
            "paths": .object(paths),
            "webhooks": .object(OpenAPIEventSchemas.webhooks),
        ])
    }

    static func tag(_ path: String) -> String {
        let parts = path.split(separator: "/")
        guard parts.first == "v1", parts.count > 1 else { return parts.first == "hls" ? "media" : "operations" }
        switch parts[1] {
        case "channels": return path.contains("/forwards") ? "forwards" : "channels"
        case "videos": return "media"
        default: return String(parts[1])
        }
    }

    /// Error statuses: component name, the `ec` codes (docs/contract.md §4) and the headers always sent.
    static let errorStatuses: [Int: (name: String, codes: [Int], headers: [String])] = [
        400: ("BadRequestError", [4000], []), 401: ("UnauthorizedError", [4010], ["WWW-Authenticate"]),
        403: ("ForbiddenError", [4030, 4031], []), 404: ("NotFoundError", [4040, 4041], []), 409: ("ConflictError", [4090], []),
        412: ("PreconditionFailedError", [4120], []), 413: ("PayloadTooLargeError", [4130], []),
        415: ("UnsupportedMediaTypeError", [4150], []), 416: ("RangeNotSatisfiableError", [4160], ["Content-Range"]),
        422: ("ValidationError", [4220], []), 429: ("TooManyRequestsError", [4290], ["Retry-After"]),
        503: ("ServiceUnavailableError", [5030], ["Retry-After"]),
    ]

    static let errorDescriptions: [Int: String] = [
        400: "Bad query parameter (unknown, repeated or invalid, named in data.fields / data.unknownParameters), or a body that is not strict JSON: malformed, a duplicate member name, nesting deeper than 32 (4000; data.pointer says where)",
        401: "Missing or wrong credentials (4010)", 404: "No such resource (4040)",
        409: "A request with this Idempotency-Key is still in progress (4090)", 413: "Body over 64 KiB (4130)",
        412: "If-Match names a representation that is no longer current (4120; data.etag is the current one)",
        415: "The body is not sent as application/json (4150; data.accepted lists the media types taken)",
        416: "Range not satisfiable (4160)", 422: "Invalid fields, each named in data.fields (4220)",
        429: "Too many failed logins from this address; retry after Retry-After (4290)",
        503: "The store is unavailable; retry after Retry-After (5030)",
    ]

    static func responses(_ route: APIRoute, envelopes: inout [String: JSONValue]) -> [String: JSONValue] {
        let contract = route.contract
        var r: [String: JSONValue] = [:]
        var success: [String: JSONValue] = ["description": .string(route.successStatus == 204 ? "Done; no content" : "Success")]
        if let media = contract.media {
            success["content"] = .object(media.mapValues { .object(["schema": $0]) })
        } else if let data = contract.data {
            var name = route.operationId.prefix(1).uppercased() + route.operationId.dropFirst()
            if case .string(let ref)? = data.objectValue?["$ref"], let last = ref.split(separator: "/").last { name = String(last) }
            name += "Envelope"
            envelopes[name] = OpenAPIResourceSchemas.object([
                "ec": .object(["const": .number(0)]), "data": data, "msg": OpenAPIResourceSchemas.string,
            ])
            success["content"] = .object(["application/json": .object(["schema": OpenAPIResourceSchemas.ref(name)])])
        }
        if route.isIdempotentCreate {
            success["headers"] = .object(["Idempotent-Replayed": .object(["description": .string("true when this is the kept answer to an earlier request"),
                                                                          "schema": .object(["type": .string("string"), "enum": .array([.string("true")])])])])
        }
        if !contract.links.isEmpty {
            success["links"] = .object(Dictionary(uniqueKeysWithValues: contract.links.map { name, link in
                (name, JSONValue.object(["operationId": .string(link.operation), "parameters": .object(link.parameters.mapValues { .string($0) })]))
            }))
        }

        var errors: [Int: String] = [:]
        if !route.anyQuery { errors[400] = errorDescriptions[400] }
        if route.requiresAuth {
            for status in [401, 429, 503] { errors[status] = errorDescriptions[status] }
            if let scope = route.scope {
                let unbound = route.access == RouteAccess.unbound(scope) ? ", or is bound to a user" : ""
                let orStats = route.access == RouteAccess.operatorRead(scope) ? " (and stats:read)" : ""
                errors[403] = "The token lacks the \(scope.rawValue) scope\(orStats)\(unbound) (4030)" + (contract.limited ? "; or a user limit or fixed cap was reached (4031)" : "")
            }
        }
        if !route.pathParameters.isEmpty { errors[404] = errorDescriptions[404] }
        if route.query.contains(where: { $0.name == "userId" }) {
            errors[422] = "The userId filter begins or ends with whitespace (4220; data.fields.userId)"
        }
        if route.pathParameters.contains("userId") {
            errors[422] = "The user id begins or ends with whitespace or holds a control character (4220; data.fields.userId)"
        }
        if contract.request != nil {
            errors[413] = errorDescriptions[413]
            errors[415] = errorDescriptions[415]
            errors[422] = errorDescriptions[422]
        }
        let validatorHeaders: JSONValue = .object([
            "ETag": .object(["required": .bool(true), "description": .string("Strong entity tag of this representation"), "schema": OpenAPIResourceSchemas.string]),
            "Last-Modified": .object(["required": .bool(false), "description": .string("updatedAt (or createdAt) as an HTTP date"), "schema": OpenAPIResourceSchemas.string]),
        ])
        if route.hasValidators {
            if route.successStatus != 204 { success["headers"] = validatorHeaders }
            if route.method == .get {
                r["304"] = .object(["description": .string("Not modified: If-None-Match names the current ETag"), "headers": validatorHeaders])
            } else {
                errors[412] = errorDescriptions[412]
            }
        }
        if route.isIdempotentCreate {
            errors[409] = errorDescriptions[409]
            errors[422] = "Invalid fields, each named in data.fields; or this Idempotency-Key was used with another body (4220)"
        }
        for (status, _) in contract.statuses where status >= 400 {
            errors[status] = contract.descriptions[status] ?? errors[status] ?? errorDescriptions[status] ?? "Error"
        }
        for (status, description) in errors {
            guard let shape = errorStatuses[status] else { continue }
            var response: [String: JSONValue] = [
                "description": .string(description),
                "content": .object(["application/json": .object(["schema": OpenAPIResourceSchemas.ref(shape.name)])]),
            ]
            if !shape.headers.isEmpty {
                response["headers"] = .object(Dictionary(uniqueKeysWithValues: shape.headers.map { name in
                    (name, JSONValue.object(["required": .bool(true), "schema": OpenAPIResourceSchemas.string]))
                }))
            }
            r[String(status)] = .object(response)
        }
        r[String(route.successStatus)] = .object(success)
        if contract.statuses[206] != nil, let media = contract.media {
            r["206"] = .object([
                "description": .string("The requested byte range"),
                "headers": .object(["Content-Range": .object(["required": .bool(true), "schema": OpenAPIResourceSchemas.string]),
                                    "ETag": .object(["required": .bool(true), "schema": OpenAPIResourceSchemas.string])]),
                "content": .object(media.mapValues { .object(["schema": $0]) }),
            ])
        }
        return r
    }

    func openAPIResponse() -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: openAPIDocument.jsonText)))
    }
}

extension APIRoute {
    /// POSTs that create honour `Idempotency-Key`.
    var isIdempotentCreate: Bool { method == .post && successStatus == 201 }

    /// Answers carry `ETag`/`Last-Modified` and honour preconditions (docs/api.md, "Conditional requests").
    var hasValidators: Bool { ControlAPI.conditionalPaths.contains(path) || operationId == "downloadVideoFile" }

    /// The precondition headers it takes, as OpenAPI parameters.
    var preconditionParameters: [JSONValue] {
        guard hasValidators else { return [] }
        func header(_ name: String, _ text: String) -> JSONValue {
            .object(["name": .string(name), "in": .string("header"), "required": .bool(false), "description": .string(text),
                     "schema": .object(["type": .string("string")])])
        }
        switch method {
        case .get where operationId == "downloadVideoFile":
            return [header("If-None-Match", "304 when it names the current ETag"),
                    header("If-Range", "Send the Range only if this is the current ETag or Last-Modified; otherwise the whole file")]
        case .get: return [header("If-None-Match", "304 when it names the current ETag (or *)")]
        default: return [header("If-Match", "Go on only if this is the current ETag (or * for any); otherwise 412")]
        }
    }
}
