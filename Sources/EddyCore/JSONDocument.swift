/// A resource's JSON object as text, exactly as a client sent it once it passed the strict
/// parser: stored and served byte for byte, so a client reads back what it wrote, white space,
/// member order, escapes and number spellings included.
public struct JSONDocument: Sendable {
    public let text: String

    /// Validates a request body: strict RFC 8259, no member named twice (else throws), and a
    /// JSON object (else nil).
    public init?(validatingObject bytes: some Collection<UInt8>) throws(JSONError) {
        let bytes = Array(bytes)
        guard case .object = try JSONParser.parse(bytes) else { return nil }
        // The parser accepted the bytes as UTF-8, so decoding keeps every one of them.
        text = String(decoding: bytes, as: UTF8.self)
    }

    /// Text the server makes from a value (compact, as `JSONValue.text` writes it).
    public init(_ value: JSONValue) {
        text = value.text
    }
}
