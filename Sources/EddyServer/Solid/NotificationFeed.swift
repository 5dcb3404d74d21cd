import EddyCore
import Foundation
import Synchronization

/// Turns hub events into a channel's notifications and applies its features: nothing before
/// `startAt` or after `endAt`, and at most one notification per `rate` period — when several
/// changes fall into one period, the last one is sent at the period's end, never a stale one.
final class NotificationFeed: HubSubscriber {
    typealias Send = @Sendable (_ notification: String, _ checkpoint: Checkpoint?) -> Bool

    private struct RateState {
        var lastSent: ContinuousClock.Instant?
        var pending: (String, Checkpoint)?
        var timerRunning = false
    }

    let channel: SolidChannel
    private let epoch: String
    /// Shared by every channel on the same topic URL and kind.
    private let encodingKey: String
    private let send: Send
    private let onEnd: @Sendable () -> Void
    private let rate = Mutex(RateState())

    init(channel: SolidChannel, epoch: String, keys: EncodingKeys, send: @escaping Send, onEnd: @escaping @Sendable () -> Void) {
        self.channel = channel
        self.epoch = epoch
        encodingKey = keys.shared("solid:" + (channel.isContainer ? "c:" : "v:") + channel.topic + "|" + channel.base)
        self.send = send
        self.onEnd = onEnd
    }

    func receive(_ event: HubEvent) -> Bool {
        let now = Date()
        if channel.hasEnded(at: now) {
            onEnd()
            return true
        }
        if let startAt = channel.startAt, now < startAt { return true }
        let channel = self.channel
        let epoch = self.epoch
        guard let notification = event.encoded(as: encodingKey, { SolidNotification.make(for: event.change, channel: channel, epoch: epoch) }) else {
            return true
        }
        return offer(notification, Checkpoint(epoch: epoch, sequence: event.sequence))
    }

    func hubDidDrop(reason: HubDropReason) {
        onEnd()
    }

    /// Sends now, or holds the notification until the rate period allows it.
    func offer(_ notification: String, _ checkpoint: Checkpoint?) -> Bool {
        guard let period = channel.rate, period > .zero else { return send(notification, checkpoint) }
        let now = ContinuousClock.now
        enum Action { case sendNow, wait(Duration), queued }
        let action: Action = rate.withLock { state in
            if let last = state.lastSent, now - last < period {
                state.pending = (notification, checkpoint ?? Checkpoint(epoch: epoch, sequence: 0))
                if state.timerRunning { return .queued }
                state.timerRunning = true
                return .wait(period - (now - last))
            }
            state.lastSent = now
            return .sendNow
        }
        switch action {
        case .sendNow: return send(notification, checkpoint)
        case .queued: return true
        case .wait(let delay):
            Task { [weak self] in
                try? await Task.sleep(for: delay)
                self?.flushPending()
            }
            return true
        }
    }

    private func flushPending() {
        let pending: (String, Checkpoint)? = rate.withLock { state in
            state.timerRunning = false
            defer { state.pending = nil }
            if state.pending != nil { state.lastSent = ContinuousClock.now }
            return state.pending
        }
        if let (notification, checkpoint) = pending { _ = send(notification, checkpoint) }
    }
}
