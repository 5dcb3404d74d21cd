import EddyCore

/// Whom a stored registration (a webhook, a notification channel) counts against: its
/// subject, or — for an anonymous caller — the address it came from, so that one anonymous
/// client filling its quota does not lock every other anonymous client out. The address is
/// kept as the first member of the registration's payload; features reading the payload
/// ignore it.
enum RegistrationQuota {
    private static let addressMember = "registeredFrom"

    /// `payload` with the caller's address spliced in front when the caller is anonymous.
    static func stamp(_ payload: String, subject: String?, address: String) -> String {
        guard subject == nil, payload.utf8.first == UInt8(ascii: "{") else { return payload }
        let rest = payload.utf8.dropFirst()
        let isEmpty = rest.first == UInt8(ascii: "}")
        return addressPrefix(address) + (isEmpty ? "" : ",") + String(decoding: rest, as: UTF8.self)
    }

    /// Throws 429 when the caller already has `limit` registrations of `kind`, counted by the
    /// store without reading them. Subjects and addresses compare by their bytes.
    static func check(in store: any ResourceStore, kind: String, subject: String?, address: String, limit: Int, what: String) async throws {
        let owner: RegistrationOwner = subject.map { .subject($0) } ?? .anonymous(payloadPrefix: addressPrefix(address))
        let mine = try await store.registrationCount(kind: kind, owner: owner)
        guard mine < limit else {
            throw Problem(
                .tooManyRequests, "too-many-registrations",
                "at most \(limit) \(what) per subject (per address for anonymous callers); delete one first")
        }
    }

    private static func addressPrefix(_ address: String) -> String {
        "{" + JSONValue.quoted(addressMember) + ":" + JSONValue.quoted(address)
    }
}
