/// Who this node is among the nodes sharing a store, and how long its leases last.
struct Lease: Sendable {
    let holder: String
    let seconds: Double
}
