/// What a subscriber watches: one resource, the direct children of a collection, or
/// everything below a collection.
public enum SubscriptionFilter: Hashable, Sendable, CustomStringConvertible {
    case value(ResourcePath)
    case children(ResourcePath)
    case subtree(ResourcePath)

    public func matches(_ path: ResourcePath) -> Bool {
        switch self {
        case .value(let target): path == target
        case .children(let collection): path.parent == collection && !path.isCollection
        case .subtree(let prefix): prefix.contains(path)
        }
    }

    /// The resource or collection the filter is anchored at.
    public var path: ResourcePath {
        switch self {
        case .value(let path), .children(let path), .subtree(let path): path
        }
    }

    public var description: String {
        switch self {
        case .value(let path): "value \(path)"
        case .children(let path): "children \(path)"
        case .subtree(let path): "subtree \(path)"
        }
    }
}
