import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// `eddy get|put|post|delete <url> [json]`: quick edits from a terminal.
struct RequestOptions: ParsableArguments {
    @Argument(help: "The resource URL.")
    var url: String

    @Option(help: "Bearer token (EDDY_TOKEN).")
    var token: String?

    func send(_ method: HTTPMethod, body: String? = nil, contentType: String = "application/json") async throws {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let token = token ?? environment("TOKEN") { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let text = String(buffer: try await response.body.collect(upTo: 64 << 20))
        let etag = response.headers.first(name: "ETag").map { " ETag: \($0)" } ?? ""
        FileHandle.standardError.write(Data("\(response.status.code) \(response.status.reasonPhrase)\(etag)\n".utf8))
        if !text.isEmpty { print(text) }
        if response.status.code >= 400 { throw ExitCode(1) }
    }
}

struct GetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "GET a resource and print it.")
    @OptionGroup var options: RequestOptions
    func run() async throws { try await options.send(.GET) }
}

struct PutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "put", abstract: "PUT a JSON object at a URL.")
    @OptionGroup var options: RequestOptions
    @Argument(help: "The JSON object.") var json: String
    func run() async throws { try await options.send(.PUT, body: json) }
}

struct PatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "patch", abstract: "Apply a JSON merge patch.")
    @OptionGroup var options: RequestOptions
    @Argument(help: "The merge patch.") var json: String
    func run() async throws { try await options.send(.PATCH, body: json, contentType: "application/merge-patch+json") }
}

struct PostCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "post", abstract: "POST a JSON object to a collection.")
    @OptionGroup var options: RequestOptions
    @Argument(help: "The JSON object.") var json: String
    func run() async throws { try await options.send(.POST, body: json) }
}

struct DeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "DELETE a resource.")
    @OptionGroup var options: RequestOptions
    func run() async throws { try await options.send(.DELETE) }
}
