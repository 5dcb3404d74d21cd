import EddyClient
import Foundation
import Synchronization

/// Follows a `LiveResource` in the background and lets a test await the n-th event with a
/// deadline, so tests wait on events, never on guessed delays.
final class EventCollector: Sendable {
    private struct State {
        var events: [LiveResourceEvent] = []
        var ending: String?
        var waiters: [UUID: (count: Int, continuation: CheckedContinuation<Void, Never>)] = [:]
    }

    private let state = Mutex(State())
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(_ resource: LiveResource) {
        // Holds the collector until `stop()`: a test stops what it started.
        let started = Task {
            do {
                for try await event in resource {
                    self.update { $0.events.append(event) }
                }
                self.update { $0.ending = "the events ended" }
            } catch {
                self.update { $0.ending = "the events failed: \(error)" }
            }
        }
        task.withLock { $0 = started }
    }

    var events: [LiveResourceEvent] { state.withLock { $0.events } }

    func stop() { task.withLock { $0 }?.cancel() }

    /// The events once there are at least `count`; fails after `seconds` or when they end.
    func waitFor(_ count: Int, seconds: Double = 30) async throws -> [LiveResourceEvent] {
        let id = UUID()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withTaskCancellationHandler {
                    await withCheckedContinuation { continuation in
                        let ready = self.state.withLock { state in
                            guard state.events.count < count, state.ending == nil, !Task.isCancelled else { return true }
                            state.waiters[id] = (count, continuation)
                            return false
                        }
                        if ready { continuation.resume() }
                    }
                } onCancel: {
                    self.state.withLock { $0.waiters.removeValue(forKey: id) }?.continuation.resume()
                }
            }
            group.addTask { try? await Task.sleep(for: .seconds(seconds)) }
            await group.next()
            group.cancelAll()
        }
        let (events, ending) = state.withLock { ($0.events, $0.ending) }
        guard events.count >= count else {
            throw CollectorFailure("after \(seconds) s, got \(events.count) of \(count) events (\(ending ?? "still running")): \(events.map(\.kind))")
        }
        return events
    }

    private func update(_ change: (inout State) -> Void) {
        let ready = state.withLock { state in
            change(&state)
            let ready = state.waiters.filter { $0.value.count <= state.events.count || state.ending != nil }
            for id in ready.keys { state.waiters.removeValue(forKey: id) }
            return ready.values.map(\.continuation)
        }
        for continuation in ready { continuation.resume() }
    }
}

struct CollectorFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
