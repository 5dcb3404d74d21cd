/// A parsed JSON document. Resources are JSON objects; values inside them are anything JSON allows.
///
/// Nothing a client wrote is changed by parsing and writing it again, other than white space
/// and string escapes: objects keep their member order, member names are compared by bytes,
/// and a number keeps its spelling (`1.0`, `1e3`, integers beyond 64 bits).
public enum JSONValue: Hashable, Sendable {
    case null
    case bool(Bool)
    /// An integer spelled as `String(Int64)` spells it.
    case int(Int64)
    /// A number spelled as `text` writes it back.
    case double(Double)
    /// Any other number, as written: `.int` or `.double` would change its spelling.
    case number(String)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// An object from a dictionary, its members in the byte order of their names.
    public static func object(_ members: [String: JSONValue]) -> JSONValue {
        .object(JSONObject(members))
    }

    /// Parses UTF-8 JSON text, refusing anything that is not exactly one JSON value.
    public init(parsing bytes: some Collection<UInt8>) throws(JSONError) {
        self = try JSONParser.parse(Array(bytes))
    }

    public init(parsing text: String) throws(JSONError) {
        try self.init(parsing: Array(text.utf8))
    }

    /// Compact JSON text, members in their order, numbers as they were written.
    public var text: String {
        var out = ""
        write(to: &out)
        return out
    }

    public var objectValue: JSONObject? {
        if case .object(let members) = self { return members }
        return nil
    }

    /// The member named by exactly these bytes, if this is an object.
    public subscript(key: String) -> JSONValue? {
        objectValue?[key]
    }

    /// The number as a `Double`, whichever way it is spelled.
    public var doubleValue: Double? {
        switch self {
        case .int(let number): Double(number)
        case .double(let number): number
        case .number(let text): Double(text)
        default: nil
        }
    }

    /// Applies an RFC 7396 JSON Merge Patch to `self`, keeping the order of the members and
    /// appending new ones (see `JSONObject.merging`).
    public func merging(patch: JSONValue) -> JSONValue {
        guard case .object(let patchMembers) = patch else { return patch }
        return .object((objectValue ?? JSONObject()).merging(patch: patchMembers))
    }

    func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let flag): out += flag ? "true" : "false"
        case .int(let number): out += String(number)
        case .double(let number):
            if number.isFinite, number == number.rounded(), abs(number) < 1e15 {
                out += String(Int64(number))
            } else {
                out += "\(number)"
            }
        case .number(let text): out += text
        case .string(let string): Self.writeString(string, to: &out)
        case .array(let items):
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += "," }
                item.write(to: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (index, member) in members.members.enumerated() {
                if index > 0 { out += "," }
                Self.writeString(member.name, to: &out)
                out += ":"
                member.value.write(to: &out)
            }
            out += "}"
        }
    }

    static func writeString(_ string: String, to out: inout String) {
        out += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x2028 || scalar.value == 0x2029:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }

    /// JSON text of a string, with quotes and escapes.
    public static func quoted(_ string: String) -> String {
        var out = ""
        writeString(string, to: &out)
        return out
    }
}

/// Through `Codable` an object's members come and go as a `Dictionary`: decoding loses their
/// order and keeps one of two canonically equivalent names. Parse text with `init(parsing:)`.
extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let flag = try? container.decode(Bool.self) {
            self = .bool(flag)
        } else if let number = try? container.decode(Int64.self) {
            self = .int(number)
        } else if let number = try? container.decode(Double.self) {
            self = .double(number)
        } else if let string = try? container.decode(String.self) {
            self = .string(string)
        } else if let items = try? container.decode([JSONValue].self) {
            self = .array(items)
        } else {
            self = .object(JSONObject(try container.decode([String: JSONValue].self)))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let flag): try container.encode(flag)
        case .int(let number): try container.encode(number)
        case .double(let number): try container.encode(number)
        case .number(let text):
            guard let number = Double(text) else { throw EncodingError.invalidValue(text, .init(codingPath: [], debugDescription: "not a number")) }
            try container.encode(number)
        case .string(let string): try container.encode(string)
        case .array(let items): try container.encode(items)
        case .object(let members): try container.encode(EncodedObject(members: members))
        }
    }

    /// An object's members in their order, through a keyed container.
    private struct EncodedObject: Encodable {
        let members: JSONObject

        func encode(to encoder: any Encoder) throws {
            var keyed = encoder.container(keyedBy: MemberName.self)
            for member in members { try keyed.encode(member.value, forKey: MemberName(stringValue: member.name)) }
        }
    }

    private struct MemberName: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }

        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}

public enum JSONError: Error, Equatable, Sendable, CustomStringConvertible {
    case malformed(String)
    /// An object names a member twice (by its bytes): parsers disagree on which one counts, so
    /// I-JSON (RFC 7493 §2.3) refuses it.
    case duplicateName(String)

    public var description: String {
        switch self {
        case .malformed(let detail): "malformed JSON: \(detail)"
        case .duplicateName(let detail): "malformed JSON: \(detail)"
        }
    }
}
