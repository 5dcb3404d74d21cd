import Foundation

/// A wait that ran out of time: what it waited for never happened.
public struct WaitTimedOut: Error, CustomStringConvertible {
    public let what: String
    public let seconds: Double
    public var description: String { "timed out after \(seconds) s waiting until \(what)" }
}

/// Polls `condition` until it holds, for at most `seconds`. Tests wait for what they need (a
/// subscription registered, a delivery made), never for a fixed time: a fixed time is too
/// short on a loaded machine and needlessly long on an idle one.
public func waitUntil(_ what: String, seconds: Double = 10, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while try await !condition() {
        guard ContinuousClock.now < deadline else { throw WaitTimedOut(what: what, seconds: seconds) }
        try await Task.sleep(for: .milliseconds(10))
    }
}

extension RunningServer {
    /// Waits until the hub holds at least `count` subscriptions: the streams, waits or sockets
    /// opened since it held fewer have registered what they watch, so a write made now reaches
    /// them as a live event.
    public func waitForSubscribers(atLeast count: Int, seconds: Double = 10) async throws {
        try await waitUntil("the hub holds \(count) subscriptions", seconds: seconds) { server.hub.subscriberCount >= count }
    }

    /// Waits until the hub holds at most `count` subscriptions: the streams closed since have
    /// let go of theirs.
    public func waitForSubscribers(atMost count: Int, seconds: Double = 10) async throws {
        try await waitUntil("the hub holds at most \(count) subscriptions", seconds: seconds) { server.hub.subscriberCount <= count }
    }
}
