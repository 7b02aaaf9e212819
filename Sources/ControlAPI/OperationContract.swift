import LiveGateModel
import ChannelStore

/// What one route promises in the OpenAPI document beyond its method and path: the request
/// body it reads, the `data` of its success answer (or the media types of a non-JSON one),
/// the statuses its handler can answer besides those its shape implies (auth, path
/// parameters, bodies and query strings imply theirs: `OpenAPIDocument.responses`), and the
/// operations a client can go on to with the created id (`links`).
struct OperationContract: Sendable {
    /// Component name of the JSON request body (`ChannelCreate`).
    var request: String?
    /// The body may be left out (`rotate-secret`: an empty request takes the defaults).
    var requestOptional = false
    /// Schema of `data` in the success envelope; nil with `media` or a 204.
    var data: JSONValue?
    /// Success media types of a non-JSON answer (HLS, MP4, Prometheus text), with their schemas.
    var media: [String: JSONValue]?
    /// Statuses beyond the implied ones (206, 416, 503 …), each with its `ec` codes (empty: success).
    var statuses: [Int: [Int]]
    /// What an extra status means for this operation, when the generic text would mislead.
    var descriptions: [Int: String] = [:]
    /// Whether a user limit or fixed cap can refuse it (403 with 4031 as well as 4030).
    var limited: Bool
    /// `links` of the success answer: name → (operationId, parameter → runtime expression).
    var links: [String: (operation: String, parameters: [String: String])]

    init(request: String? = nil, data: JSONValue? = nil, media: [String: JSONValue]? = nil, statuses: [Int: [Int]] = [:], descriptions: [Int: String] = [:],
         limited: Bool = false, links: [String: (operation: String, parameters: [String: String])] = [:]) {
        self.descriptions = descriptions
        self.request = request
        self.data = data
        self.media = media
        self.statuses = statuses
        self.limited = limited
        self.links = links
    }

    /// A JSON answer whose `data` is the named component.
    static func json(_ component: String, request: String? = nil, limited: Bool = false, statuses: [Int: [Int]] = [:],
                     links: [String: (operation: String, parameters: [String: String])] = [:]) -> OperationContract {
        OperationContract(request: request, data: .object(["$ref": .string("#/components/schemas/\(component)")]), statuses: statuses,
                          limited: limited, links: links)
    }

    static let noContent = OperationContract()

    /// Links from a created (or addressed) resource to the operations on it, by id.
    static func links(_ operations: [String], _ parameters: [String: String]) -> [String: (operation: String, parameters: [String: String])] {
        Dictionary(uniqueKeysWithValues: operations.map { op in (op.prefix(1).uppercased() + op.dropFirst(), (op, parameters)) })
    }
}
