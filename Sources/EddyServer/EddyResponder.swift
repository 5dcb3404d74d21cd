import EddyCore
import HTTPTypes
import Hummingbird
import Logging

/// Routes every request: Eddy's own endpoints live under `/.eddy/` (a prefix no resource can
/// take, since resource segments may not start with '.'); every other path is a resource.
struct EddyResponder: HTTPResponder {
    typealias Context = BasicRequestContext

    let resources: ResourceHandler
    let eventLog: EventLogHandler
    let maximumBodyBytes: Int

    func respond(to request: Request, context: Context) async throws -> Response {
        var request = request
        do {
            return try await route(&request, context: context)
        } catch {
            let problem = Problem.from(error, maximumBodyBytes: maximumBodyBytes)
            if problem.status == .internalServerError {
                context.logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            }
            return problem.response(forHEAD: request.method == .head)
        }
    }

    private func route(_ request: inout Request, context: Context) async throws -> Response {
        let rawPath = request.uri.path
        switch rawPath {
        case "/healthz":
            guard request.method == .get || request.method == .head else {
                throw Problem.methodNotAllowed(request.method, allowed: [.get, .head], target: "/healthz")
            }
            return .json(.ok, "{\"status\":\"ok\"}", head: request.method == .head)
        case "/.eddy/events":
            return try await eventLog.respond(to: request)
        default:
            if rawPath.hasPrefix("/.") {
                throw Problem.notFound(rawPath)
            }
            let path = try ResourcePath(parsing: rawPath)
            return try await resources.respond(to: &request, path: path)
        }
    }
}
