import EddyCore
import Logging

/// Where a stored registration goes when it cannot be served: it is input from a client read
/// again at every start, so one that is poisoned (a number beyond its bounds, an unreadable
/// payload) is logged and kept under another kind — out of every worker's, quota's and
/// lookup's way, still there for an operator to inspect — instead of stopping the server.
enum Quarantine {
    static func kind(for kind: String) -> String { "quarantined:" + kind }

    static func setAside(_ registration: StoredRegistration, reason: String, store: any ResourceStore, logger: Logger) async {
        logger.error(
            "a stored registration cannot be served; it is set aside",
            metadata: ["id": "\(registration.id)", "kind": "\(registration.kind)", "reason": "\(reason)"])
        let aside = StoredRegistration(
            id: registration.id, kind: kind(for: registration.kind), subject: registration.subject, payload: registration.payload,
            cursor: registration.cursor, expiresAt: registration.expiresAt, token: registration.token)
        do {
            try await store.saveRegistration(aside)
        } catch {
            logger.error("could not set a registration aside", metadata: ["id": "\(registration.id)", "error": "\(error)"])
        }
    }
}
