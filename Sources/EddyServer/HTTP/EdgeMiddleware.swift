import Hummingbird

/// The first and last middleware every request meets: answers CORS preflights, turns anything
/// thrown behind it into its problem response (logging what an operator should see: server
/// errors and refused writes), and adds the CORS headers to every answer, errors included.
/// One frame rather than two: each middleware is an async call on every request.
struct EdgeMiddleware: RouterMiddleware {
    typealias Context = EddyRequestContext
    let cors: CORS
    let maximumBodyBytes: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if cors.isPreflight(request) { return cors.preflight(request) }
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            let problem = Problem.from(error, maximumBodyBytes: maximumBodyBytes)
            if problem.status == .internalServerError {
                context.logger.error("request failed", metadata: ["path": "\(context.rawPath)", "error": "\(error)"])
            } else if problem.status == .tooManyRequests {
                context.logger.notice("write refused: rate limit", metadata: ["client": "\(context.clientAddress)"])
            }
            response = problem.response(forHEAD: request.method == .head)
        }
        cors.decorate(&response, for: request)
        return response
    }
}
