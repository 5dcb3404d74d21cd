import EddyCore
import Foundation

/// Activity Streams 2.0 notifications for a channel's topic: Create/Update/Delete of the topic
/// itself, Add/Remove (with `target`) when the topic is a container and a child comes or goes.
enum SolidNotification {
    static let context = "[\(JSONValue.quoted(SolidVocabulary.activityStreams)),\(JSONValue.quoted(SolidVocabulary.notificationContext))]"

    /// The notification for `change` on `channel`, or nil when the change says nothing about
    /// the topic (a child merely updated inside a container).
    static func make(for change: ChangeEvent, channel: SolidChannel, epoch: String) -> String? {
        let checkpoint = Checkpoint(epoch: epoch, sequence: change.sequence).token
        if channel.isContainer {
            let type: String
            switch change.kind {
            case .created: type = "Add"
            case .deleted: type = "Remove"
            case .updated: return nil
            }
            return body(
                id: "urn:eddy:notification:\(checkpoint):\(type)", type: type, object: channel.base + change.path.encoded,
                target: channel.topic, state: checkpoint, published: change.date)
        }
        let type: String
        switch change.kind {
        case .created: type = "Create"
        case .updated: type = "Update"
        case .deleted: type = "Delete"
        }
        return body(
            id: "urn:eddy:notification:\(checkpoint):\(type)", type: type, object: channel.topic, target: nil,
            state: change.kind == .deleted ? nil : change.etag.headerValue, published: change.date)
    }

    /// The notification a `state` mismatch triggers when a channel opens.
    static func current(channel: SolidChannel, state: String, at date: Date) -> String {
        body(
            id: "urn:eddy:notification:state:\(SolidChannel.newToken())", type: "Update", object: channel.topic, target: nil, state: state,
            published: date)
    }

    static func body(id: String, type: String, object: String, target: String?, state: String?, published: Date) -> String {
        var out = "{\"@context\":\(context),\"id\":\(JSONValue.quoted(id)),\"type\":\(JSONValue.quoted(type)),\"object\":\(JSONValue.quoted(object))"
        if let target { out += ",\"target\":\(JSONValue.quoted(target))" }
        if let state { out += ",\"state\":\(JSONValue.quoted(state))" }
        out += ",\"published\":\(JSONValue.quoted(Instant.format(published)))}"
        return out
    }
}
