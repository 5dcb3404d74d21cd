import EddyCore
import Testing

@testable import EddyServer

@Suite struct AccessPolicyTests {
    static let example = """
        {"rules":[{"path":"/public/","read":"anyone","write":"authenticated"},
        {"path":"/users/{sub}/","read":"owner","write":"owner"},
        {"path":"/team/","read":["alice","bob"],"write":["alice"]},
        {"path":"/team/board","read":"anyone","write":"nobody"}]}
        """

    private func path(_ text: String) -> ResourcePath { try! ResourcePath(parsing: text) }

    @Test func longestPrefixWinsAndNoMatchMeansNoAccess() throws {
        let policy = try AccessPolicy(parsing: Self.example)
        #expect(policy.allows(nil, to: .read, at: path("/public/x")))
        #expect(policy.allows(nil, to: .read, at: path("/public/")))
        #expect(!policy.allows(nil, to: .write, at: path("/public/x")))
        #expect(policy.allows("carol", to: .write, at: path("/public/x")))
        #expect(policy.allows("alice", to: .read, at: path("/users/alice/notes/1")))
        #expect(!policy.allows("bob", to: .read, at: path("/users/alice/notes/1")))
        #expect(!policy.allows(nil, to: .read, at: path("/users/alice/x")))
        #expect(!policy.allows("alice", to: .read, at: path("/users/")))
        #expect(policy.allows("bob", to: .read, at: path("/team/plan")))
        #expect(!policy.allows("bob", to: .write, at: path("/team/plan")))
        #expect(!policy.allows("carol", to: .read, at: path("/team/plan")))
        // A more specific rule overrides its parent's.
        #expect(policy.allows(nil, to: .read, at: path("/team/board")))
        #expect(!policy.allows("alice", to: .write, at: path("/team/board")))
        #expect(!policy.allows("alice", to: .read, at: path("/elsewhere")))
        #expect(!policy.allows("alice", to: .read, at: path("/publicity")))
    }

    @Test func knowsWhereStricterRulesHideBelow() throws {
        let policy = try AccessPolicy(parsing: Self.example)
        #expect(policy.hasRulesBelow(path("/team/")))
        #expect(policy.hasRulesBelow(path("/users/")))
        #expect(policy.hasRulesBelow(.root))
        #expect(!policy.hasRulesBelow(path("/public/")))
    }

    @Test(arguments: [
        "", "[]", #"{"rules":{}}"#, #"{"rules":[{"path":"x","read":"anyone"}]}"#,
        #"{"rules":[{"path":"/a/","read":"everyone"}]}"#, #"{"rules":[{"path":"/a/","read":"owner"}]}"#,
        #"{"rules":[{"path":"/a//b","read":"anyone"}]}"#, #"{"rules":[{"path":"/a/","read":[1]}]}"#,
    ])
    func refusesBrokenPolicies(_ text: String) {
        #expect(throws: PolicyError.self) { try AccessPolicy(parsing: text) }
    }
}
