import Testing

@testable import EddyServer

/// `RoutingKey.key` skips spelling the key out segment by segment for a plain path; the
/// shortcut must give the same key for every path, and `EddyResponder`'s shortcut by shape
/// must agree with the trie (asserted there in debug builds, which every routing test runs).
struct RoutingKeyTests {
    @Test func theShortcutGivesTheSpelledOutKeyForEveryPath() {
        // Every path of up to six bytes over the bytes that matter: '/', '%', '.', a letter.
        let alphabet: [Character] = ["/", "%", ".", "a"]
        var paths = [""]
        var frontier = [""]
        for _ in 1...6 {
            frontier = frontier.flatMap { path in alphabet.map { path + String($0) } }
            paths += frontier
        }
        paths += ["/healthz", "/healthz/", "/%resources", "/.eddy/events", "/a/%%/b", "/a/%/", "/Ka/b"]
        var plain = 0
        for path in paths {
            #expect(RoutingKey.key(for: path) == RoutingKey.spelledOut(path), "\(path)")
            if RoutingKey.isPlain(path) { plain += 1 }
        }
        // Both branches are taken.
        #expect(plain > 100 && plain < paths.count - 100)
    }

    @Test func aResourcePathsShapeIsTheOneItsKeyResolvesTo() {
        #expect(RoutingKey.resourceShape(of: "/") == .rootCollection)
        #expect(RoutingKey.resourceShape(of: "/a/") == .collection)
        #expect(RoutingKey.resourceShape(of: "/a/b/") == .collection)
        #expect(RoutingKey.resourceShape(of: "/a") == .object)
        // Empty and `%` segments are left to the trie.
        #expect(RoutingKey.resourceShape(of: "/a//") == nil)
        #expect(RoutingKey.resourceShape(of: "/a//b") == nil)
        #expect(RoutingKey.resourceShape(of: "/a/%/b") == nil)
        #expect(RoutingKey.resourceShape(of: "/%/") == nil)
        #expect(RoutingKey.resourceShape(of: "/.eddy/events") == nil)
        #expect(RoutingKey.resourceShape(of: "/healthz") == nil)
        #expect(RoutingKey.resourceShape(of: "/healthy") == .object)
        #expect(RoutingKey.resourceShape(of: "/healthz/") == .collection)
        #expect(RoutingKey.resourceShape(of: "/a.b") == .object)
    }
}
