import EddyCore
import Foundation
import Synchronization

/// Turns hub events into a channel's notifications, applying its pace: nothing before
/// `startAt`, and at most one notification per `rate` period, by the core's `RateGate` — when
/// several changes fall into one period, the last one is sent at the period's end, never a
/// stale one. The hub ends the subscription at `endAt` (`hubDidDrop(.ended)`), which ends it.
final class NotificationFeed: HubSubscriber {
    var kind: HubSubscriberKind { .solidNotifications }
    typealias Send = @Sendable (Notification) -> Bool

    /// One notification on its way out, with the event it tells of: a wire adapter builds its
    /// bytes through `encoded`, once per event for every channel of the same topic and format.
    struct Notification: Sendable {
        let text: String
        let checkpoint: Checkpoint?
        let event: HubEvent?

        func encoded<Encoding: Sendable>(as key: EncodingKey<Encoding>, _ build: () -> Encoding) -> Encoding {
            event?.encoded(as: key, build) ?? build()
        }
    }

    let channel: SolidChannel
    private let epoch: String
    /// Shared by every channel on the same topic URL and kind.
    private let encodingKey: EncodingKey<String?>
    private let send: Send
    /// Told why the feed ended: the hub's drop, or `tooSlow` when a notification held for the
    /// end of its period could not be sent.
    private let onEnd: @Sendable (HubDropReason) -> Void
    private let rate: Mutex<RateGate<Notification>>
    private let flushing = Mutex<Task<Void, Never>?>(nil)

    init(channel: SolidChannel, epoch: String, keys: EncodingKeys, send: @escaping Send, onEnd: @escaping @Sendable (HubDropReason) -> Void) {
        self.channel = channel
        self.epoch = epoch
        encodingKey = keys.shared(EncodingKey(Self.encodingKey(of: channel)))
        self.send = send
        self.onEnd = onEnd
        rate = Mutex(RateGate(interval: channel.rate))
    }

    /// Names a notification's encodings: the same for every channel on the topic URL and kind.
    static func encodingKey(of channel: SolidChannel) -> String {
        // Both are client-given: the topic's length keeps one (topic, base) pair from spelling another.
        "solid:" + (channel.isContainer ? "c:" : "v:") + "\(channel.topic.utf8.count):" + channel.topic + channel.base
    }

    func receive(_ event: HubEvent) -> Bool {
        guard channel.pace.isOpen(at: Date()) else { return true }
        let channel = self.channel
        let epoch = self.epoch
        guard let notification = event.encoded(as: encodingKey, { SolidNotification.make(for: event.change, channel: channel, epoch: epoch) }) else {
            return true
        }
        let pending = Notification(text: notification, checkpoint: Checkpoint(epoch: epoch, sequence: event.sequence), event: event)
        switch rate.withLock({ $0.offer(pending, now: .now) }) {
        case .deliver(let now): return send(now)
        case .held: return true
        case .flush(let instant):
            let task = Task { [weak self] in
                try? await Task.sleep(until: instant, clock: .continuous)
                guard !Task.isCancelled else { return }
                self?.flush()
            }
            flushing.withLock { $0 = task }
            return true
        }
    }

    private func flush() {
        guard channel.pace.isOpen(at: Date()), let due = rate.withLock({ $0.due(now: .now) }) else { return }
        if !send(due) { onEnd(.tooSlow) }
    }

    func hubDidDrop(reason: HubDropReason) {
        flushing.withLock { $0 }?.cancel()
        onEnd(reason)
    }
}
