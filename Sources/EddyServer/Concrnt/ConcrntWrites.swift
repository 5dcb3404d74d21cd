import ConcrntCrypto
import EddyCore
import Foundation

/// The writes a verified Concrnt document makes on the resource tree, whether a client
/// committed it here or it was relayed from its home server: the document's record at its
/// path and a member entry in each collection it joins; or, for a deletion, the removal of
/// both, each keeping the signed delete document as its tombstone.
enum ConcrntWrites {
    /// Collections one document may join. Each costs a write and a stored copy of the
    /// document, so a commit's work stays bounded; beyond it the commit is refused with 422.
    static let maximumMemberOf = 64

    struct Put {
        let mutations: [Mutation]
        /// The document's path, then each member entry's.
        let paths: [ResourcePath]
        let members: [ConcrntURI]
    }

    static func put(_ verified: VerifiedDocument, envelope: String, uri: ConcrntURI) throws -> Put {
        guard verified.memberOf.count <= maximumMemberOf else {
            throw Problem(
                .init(code: 422, reasonPhrase: "Unprocessable Content"), "too-many-collections",
                "memberOf lists \(verified.memberOf.count) collections; at most \(maximumMemberOf)")
        }
        let members = try verified.memberOf.map(ConcrntURI.init(parsing:))
        let documentPath = try uri.path
        let entries = try members.map { try $0.membersPath.child(ConcrntURI.memberID(uri)) }
        let open = (try? JSONValue(parsing: verified.value ?? "null"))?["open"] == .bool(true)
        var record: [String: JSONValue] = [
            "uri": .string(uri.description), "author": .string(verified.author), "key": .string(uri.key),
            "createdAt": .string(verified.createdAtText), "memberOf": .array(members.map { .string($0.description) }),
            "signedDocument": .string(envelope), "open": .bool(open),
        ]
        if let schema = verified.schema { record["schema"] = .string(schema) }
        let createdAt = Int64(verified.createdAt.timeIntervalSince1970 * 1000)
        let member: [String: JSONValue] = [
            "member": .bool(true), "href": .string(uri.description), "timestamp": .string(verified.createdAtText),
            "signedDocument": .string(envelope),
        ]
        let mutations =
            [Mutation(path: documentPath, operation: .put(.object(record)), createdAt: createdAt)]
            + entries.map { Mutation(path: $0, operation: .put(.object(member)), createdAt: createdAt) }
        return Put(mutations: mutations, paths: [documentPath] + entries, members: members)
    }

    /// The deletions of `uri`'s document and of the member entries it has; nil when the
    /// document is not stored. `authorize` is asked for each entry's path.
    static func delete(
        _ uri: ConcrntURI, envelope: String, store: any ResourceStore, authorize: (ResourcePath) throws -> Void
    ) async throws -> [Mutation]? {
        let documentPath = try uri.path
        guard let existing = try await store.resource(at: documentPath) else { return nil }
        var entries: [ResourcePath] = []
        if case .array(let collections)? = try JSONValue(parsing: existing.value)["memberOf"] {
            for case .string(let text) in collections {
                guard let collection = try? ConcrntURI(parsing: text) else { continue }
                let entry = try collection.membersPath.child(ConcrntURI.memberID(uri))
                try authorize(entry)
                if try await store.resource(at: entry) != nil { entries.append(entry) }
            }
        }
        let documentTombstone = JSONDocument(.object(["uri": .string(uri.description), "signedDocument": .string(envelope)]))
        let entryTombstone = JSONDocument(
            .object(["member": .bool(true), "href": .string(uri.description), "signedDocument": .string(envelope)]))
        return entries.map { Mutation(path: $0, operation: .delete, tombstone: entryTombstone) }
            + [Mutation(path: documentPath, operation: .delete, tombstone: documentTombstone)]
    }
}
