import Synchronization

/// One timer for every open stream's keep-alives, instead of a sleeping task per stream: an
/// idle stream then costs its buffers and nothing that ticks.
final class KeepAliveTicker: Sendable {
    private let intervalSeconds: Double
    private let beats = Mutex<(next: Int, listeners: [Int: any KeepAliveListener])>((0, [:]))
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(intervalSeconds: Double) {
        self.intervalSeconds = intervalSeconds
    }

    /// Calls `beat` every interval until the returned token is cancelled.
    func register(_ beat: @escaping @Sendable () -> Void) -> Registration {
        register(BeatClosure(beat: beat))
    }

    /// Beats `listener` every interval until the returned token is cancelled.
    func register(_ listener: any KeepAliveListener) -> Registration {
        let id = beats.withLock { state in
            defer { state.next += 1 }
            state.listeners[state.next] = listener
            return state.next
        }
        startIfNeeded()
        return Registration(ticker: self, id: id)
    }

    struct Registration: Sendable {
        let ticker: KeepAliveTicker
        let id: Int

        func cancel() {
            _ = ticker.beats.withLock { $0.listeners.removeValue(forKey: id) }
        }
    }

    private func startIfNeeded() {
        task.withLock { task in
            guard task == nil else { return }
            let interval = intervalSeconds
            task = Task { [weak self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(interval))
                    guard let self else { return }
                    let listeners = self.beats.withLock { Array($0.listeners.values) }
                    for listener in listeners { listener.keepAliveBeat() }
                }
            }
        }
    }

    func stop() {
        task.withLock { $0?.cancel() }
    }
}

/// Something the ticker beats. A class registers itself, which costs no closure per stream.
protocol KeepAliveListener: AnyObject, Sendable {
    func keepAliveBeat()
}

private final class BeatClosure: KeepAliveListener {
    let beat: @Sendable () -> Void

    init(beat: @escaping @Sendable () -> Void) {
        self.beat = beat
    }

    func keepAliveBeat() {
        beat()
    }
}
