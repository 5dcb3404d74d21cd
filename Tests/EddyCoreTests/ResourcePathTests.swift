import Testing

@testable import EddyCore

@Suite struct ResourcePathTests {
    @Test func parsesObjectsAndCollections() throws {
        let object = try ResourcePath(parsing: "/a/b%20c")
        #expect(object.segments == ["a", "b c"])
        #expect(!object.isCollection)
        #expect(object.description == "/a/b c")
        #expect(object.encoded == "/a/b%20c")
        #expect(object.parent == (try ResourcePath(parsing: "/a/")))

        let collection = try ResourcePath(parsing: "/a/")
        #expect(collection.isCollection)
        #expect(collection.segments == ["a"])
        #expect(collection.parent == .root)
        #expect(try ResourcePath(parsing: "/") == .root)
    }

    @Test(arguments: ["a/b", "//a", "/a//b", "/a/%zz", "/a/%C3%28", "/a\u{01}b"])
    func refusesMalformedPaths(_ raw: String) {
        #expect(throws: PathError.self) { try ResourcePath(parsing: raw) }
    }

    @Test func decodedFormReadsBack() throws {
        // %CC%81 is a combining accent: decoded, "/" and it would make one Character.
        for raw in ["/", "/a", "/a/", "/a/b%20c/d%C3%A9/", "/a/%CC%81b"] {
            let path = try ResourcePath(parsing: raw)
            #expect(try ResourcePath(decoded: path.description) == path)
        }
        let spaced = try ResourcePath(parsing: "/a/b%20c")
        #expect(try ResourcePath(decoded: "/a/b c") == spaced)
        #expect(throws: PathError.self) { try ResourcePath(decoded: "a/b") }
    }

    @Test func slashesSplitAsBytes() throws {
        let raw = "/.x/caf\u{E9}/\u{301}b/"
        let path = try ResourcePath(parsing: raw.dropFirst(3))
        #expect(path.segments == ["caf\u{E9}", "\u{301}b"])
        #expect(path.isCollection)
    }

    @Test func equalityAndHashingFollowTheDecodedForm() throws {
        let spelled = try ResourcePath(parsing: "/a/b%20c")
        let built = try ResourcePath(segments: ["a", "b c"], isCollection: false)
        #expect(spelled == built)
        #expect(Set([spelled, built, try ResourcePath(parsing: "/a/b%20c/")]).count == 2)
        #expect(try ResourcePath(parsing: "/a") != ResourcePath(parsing: "/a/"))
        // Which is why the decoded form can stand for the path: no segment holds a slash.
        #expect(throws: PathError.self) { try ResourcePath(segments: ["a/b"], isCollection: false) }
        #expect(ResourcePath.root == (try ResourcePath(parsing: "/")))
    }

    @Test func refusesReservedSegments() {
        #expect(throws: PathError.reserved("segments starting with '.' are reserved for Eddy's own endpoints")) {
            try ResourcePath(parsing: "/a/.hidden")
        }
        #expect(throws: PathError.self) { try ResourcePath(parsing: "/.eddy/x") }
    }

    @Test func refusesOverlongPaths() {
        let long = "/" + String(repeating: "x", count: ResourcePath.maximumLength + 1)
        #expect(throws: PathError.self) { try ResourcePath(parsing: long) }
    }

    @Test func subtreeContainment() throws {
        let prefix = try ResourcePath(parsing: "/a/")
        #expect(prefix.contains(try ResourcePath(parsing: "/a/b/c")))
        #expect(!prefix.contains(try ResourcePath(parsing: "/ab/c")))
        #expect(ResourcePath.root.contains(try ResourcePath(parsing: "/x")))
        #expect(try ResourcePath(parsing: "/a/b/c").ancestors.map(\.description) == ["/", "/a/", "/a/b/"])
    }

    @Test func filtersMatchByMode() throws {
        let child = try ResourcePath(parsing: "/a/b")
        let grandchild = try ResourcePath(parsing: "/a/x/y")
        let collection = try ResourcePath(parsing: "/a/")
        #expect(SubscriptionFilter.value(child).matches(child))
        #expect(SubscriptionFilter.children(collection).matches(child))
        #expect(!SubscriptionFilter.children(collection).matches(grandchild))
        #expect(SubscriptionFilter.subtree(collection).matches(grandchild))
    }

    @Test func serverIDsSortInCreationOrder() {
        let ids = [1, 35, 36, 1_000, 46_656, 9_999_999].map { ResourceID.make(from: UInt64($0)) }
        #expect(ids == ids.sorted())
        #expect(Set(ids.map(\.count)) == [ResourceID.width])
    }
}
