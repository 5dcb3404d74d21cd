/// The members of a JSON object, in the order they were written. Member names are identities:
/// they compare by their exact bytes (see `ByteIdentity`), so `"\u00e9"` and `"e\u0301"` are
/// two members. A parsed object never holds two members of one name (I-JSON, RFC 7493 §2.3).
///
/// Two objects are equal when they hold the same members, whatever their order.
public struct JSONObject: Hashable, Sendable, ExpressibleByDictionaryLiteral {
    public struct Member: Hashable, Sendable {
        public var name: String
        public var value: JSONValue

        public init(name: String, value: JSONValue) {
            self.name = name
            self.value = value
        }
    }

    public private(set) var members: [Member]

    public init() {
        members = []
    }

    /// Members with distinct names, in this order (the parser checks names are distinct).
    init(uniqueMembers members: [Member]) {
        self.members = members
    }

    /// A `Dictionary` has no order: its members are taken in the byte order of their names,
    /// so an object built from one serialises the same way in every process.
    public init(_ dictionary: [String: JSONValue]) {
        members = dictionary.map { Member(name: $0.key, value: $0.value) }
            .sorted { ByteIdentity($0.name) < ByteIdentity($1.name) }
    }

    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        members = []
        for (name, value) in elements { self[name] = value }
    }

    public var isEmpty: Bool { members.isEmpty }
    public var count: Int { members.count }
    public var keys: [String] { members.map(\.name) }

    /// The member named by exactly these bytes. Setting a value replaces the member in place or
    /// appends it; setting nil removes it. Each access scans the members: code that looks up
    /// many names of a large object builds an index instead (see `merging`).
    public subscript(name: String) -> JSONValue? {
        get { members.first { $0.name.hasSameBytes(as: name) }?.value }
        set {
            let position = members.firstIndex { $0.name.hasSameBytes(as: name) }
            switch (position, newValue) {
            case (let position?, let value?): members[position].value = value
            case (let position?, nil): members.remove(at: position)
            case (nil, let value?): members.append(Member(name: name, value: value))
            case (nil, nil): break
            }
        }
    }

    @discardableResult
    public mutating func removeValue(forKey name: String) -> JSONValue? {
        let old = self[name]
        self[name] = nil
        return old
    }

    /// Positions of the members by name.
    var index: [ByteIdentity: Int] {
        var index: [ByteIdentity: Int] = [:]
        index.reserveCapacity(members.count)
        for (position, member) in members.enumerated() { index[ByteIdentity(member.name)] = position }
        return index
    }

    /// RFC 7396 on an object: members keep their place, a patched one its own, and members
    /// new to the object follow in the patch's order. Linear in both sizes.
    func merging(patch: JSONObject) -> JSONObject {
        let patchIndex = patch.index
        var patched = Array(repeating: false, count: patch.members.count)
        var result: [Member] = []
        result.reserveCapacity(members.count + patch.members.count)
        for member in members {
            guard let position = patchIndex[ByteIdentity(member.name)] else {
                result.append(member)
                continue
            }
            patched[position] = true
            let change = patch.members[position].value
            if change != .null { result.append(Member(name: member.name, value: member.value.merging(patch: change))) }
        }
        for (position, member) in patch.members.enumerated() where !patched[position] && member.value != .null {
            result.append(Member(name: member.name, value: JSONValue.null.merging(patch: member.value)))
        }
        return JSONObject(uniqueMembers: result)
    }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.members.count == rhs.members.count else { return false }
        let index = lhs.index
        return rhs.members.allSatisfy { member in
            index[ByteIdentity(member.name)].map { lhs.members[$0].value == member.value } ?? false
        }
    }

    /// Order-independent, as `==` is.
    public func hash(into hasher: inout Hasher) {
        var sum = 0
        for member in members {
            var one = Hasher()
            one.combine(ByteIdentity(member.name))
            one.combine(member.value)
            sum &+= one.finalize()
        }
        hasher.combine(members.count)
        hasher.combine(sum)
    }
}

extension JSONObject: Sequence {
    public func makeIterator() -> IndexingIterator<[Member]> {
        members.makeIterator()
    }
}
