import Crypto
import Foundation
import HTTPTypes
import Hummingbird

/// The JavaScript client (`/.eddy/client.js`), the live page (`/.eddy/app/`) and the OpenAPI
/// document (`/.eddy/openapi.json`), read once from the package's `Web` resources. Served to
/// anyone: they are code and descriptions, not data, and the data calls they make carry their own
/// credentials.
struct WebAssets: Sendable {
    static let clientPath = "/.eddy/client.js"
    static let appPrefix = "/.eddy/app/"
    /// The OpenAPI document of the REST API and every `/.eddy/` endpoint (Web/openapi.json).
    static let openAPIPath = "/.eddy/openapi.json"

    struct Asset: Sendable {
        let body: ByteBuffer
        let etag: String
        let contentType: String
    }

    /// Keyed by the path they are served at.
    let assets: [String: Asset]

    init(directory: URL? = Self.locate()) {
        guard let directory else {
            assets = [:]
            return
        }
        var assets: [String: Asset] = [:]
        let files = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil)?.compactMap { $0 as? URL } ?? []
        let root = directory.standardizedFileURL.path
        for file in files {
            guard let data = try? Data(contentsOf: file), let type = Self.contentType(file.pathExtension) else { continue }
            let relative = String(file.standardizedFileURL.path.dropFirst(root.count))
            let path = relative == "/client.js" ? Self.clientPath : "/.eddy" + relative
            let digest = SHA256.hash(data: data).prefix(12).map { String(format: "%02x", $0) }.joined()
            assets[path] = Asset(body: ByteBuffer(bytes: data), etag: "\"" + digest + "\"", contentType: type)
        }
        if let index = assets[Self.appPrefix + "index.html"] { assets[Self.appPrefix] = index }
        self.assets = assets
    }

    /// The resource bundle beside the executable (or the test runner); in a source checkout
    /// whose bundle is missing, the sources themselves.
    static func locate() -> URL? {
        let name = "Eddy_EddyServer.resources/Web"
        let executable = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath().deletingLastPathComponent()
        let candidates = [
            Bundle.main.bundleURL.appendingPathComponent(name),
            executable.appendingPathComponent(name),
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Web"),
        ]
        return candidates.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("client.js").path) }
    }

    static func contentType(_ fileExtension: String) -> String? {
        switch fileExtension {
        case "js": "text/javascript; charset=utf-8"
        case "html": "text/html; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "svg": "image/svg+xml"
        case "json": "application/json"
        default: nil
        }
    }

    /// Routed before identification: a stale token cookie must not lock anyone out of the
    /// sign-in page.
    func routes() -> EddyRoutes {
        var routes = EddyRoutes()
        for pattern in [RoutingKey.key(for: Self.clientPath), RoutingKey.key(for: Self.openAPIPath), RoutingKey.below(Self.appPrefix.dropLast())] {
            routes.on(pattern, .get) { request, context in try respond(request, rawPath: context.rawPath) }
        }
        routes.on(RoutingKey.key(for: "/.eddy/app"), .get) { _, _ in
            Response(status: .movedPermanently, headers: [.location: Self.appPrefix, .contentLength: "0"])
        }
        return routes
    }

    func respond(_ request: Request, rawPath: String) throws -> Response {
        guard let asset = assets[rawPath] else { throw Problem.notFound(rawPath) }
        // Revalidated on every load, so a new server version's assets are picked up at once.
        var headers: HTTPFields = [.contentType: asset.contentType, .eTag: asset.etag, .cacheControl: "no-cache"]
        if let inm = request.headers[.ifNoneMatch], inm.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == asset.etag }) {
            headers[.contentLength] = "0"
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentLength] = String(asset.body.readableBytes)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: asset.body))
    }
}
