/// An event a connection's state machine cannot take in its current state: a bug in whoever
/// drives it, never something a client can cause. The machine leaves its state as it was (or
/// moves to the documented safe one) and returns this; the handler stops a debug build on it and
/// carries on with its safe action in a release build, so the failure is loud where it can be
/// fixed and harmless where it serves clients. Tests read it from the machine's answer.
struct InvalidTransition: Equatable, Sendable, CustomStringConvertible {
    let event: StaticString
    let state: StaticString

    var description: String { "\(event) is impossible while \(state)" }

    static func == (lhs: InvalidTransition, rhs: InvalidTransition) -> Bool {
        lhs.event.description == rhs.event.description && lhs.state.description == rhs.state.description
    }

    /// What the handlers do with it: stop a debug build here, go on in a release build.
    func report(file: StaticString = #fileID, line: UInt = #line) {
        assertionFailure(description, file: file, line: line)
    }
}
