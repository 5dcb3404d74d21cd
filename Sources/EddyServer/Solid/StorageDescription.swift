import EddyCore

/// `/.well-known/solid`: the storage description listing one subscription service per
/// channel type, in the 0.2.0 shape (`subscription`) and the 0.1.0 shape
/// (`notificationChannel`) at once, as JSON-LD or Turtle.
enum StorageDescription {
    static let path = "/.well-known/solid"
    static let servicePrefix = "/.eddy/solid/subscription/"
    static let channelPrefix = "/.eddy/solid/channel/"
    static let receivePrefix = "/.eddy/solid/receive/"

    static func serviceURL(_ base: String, _ type: SolidVocabulary.ChannelType) -> String {
        base + servicePrefix + type.rawValue
    }

    static func features(_ type: SolidVocabulary.ChannelType) -> [String] {
        SolidVocabulary.features
    }

    static func serviceJSON(_ base: String, _ type: SolidVocabulary.ChannelType) -> String {
        "{\"@context\":[\(JSONValue.quoted(SolidVocabulary.notificationContext))],\"id\":\(JSONValue.quoted(serviceURL(base, type))),"
            + "\"channelType\":\(JSONValue.quoted(type.rawValue)),\"feature\":[\(features(type).map(JSONValue.quoted).joined(separator: ","))]}"
    }

    static func jsonLD(_ base: String) -> String {
        let services = SolidVocabulary.ChannelType.allCases.map { type in
            "{\"id\":\(JSONValue.quoted(serviceURL(base, type))),\"channelType\":\(JSONValue.quoted(type.rawValue)),"
                + "\"feature\":[\(features(type).map(JSONValue.quoted).joined(separator: ","))]}"
        }
        let legacy = SolidVocabulary.ChannelType.allCases.map { type in
            "{\"id\":\(JSONValue.quoted(serviceURL(base, type) + "#channel")),\"type\":\(JSONValue.quoted(type.rawValue)),"
                + "\"subscription\":\(JSONValue.quoted(serviceURL(base, type))),"
                + "\"feature\":[\(features(type).map(JSONValue.quoted).joined(separator: ","))]}"
        }
        return "{\"@context\":[\(JSONValue.quoted(SolidVocabulary.notificationContext))],\"id\":\(JSONValue.quoted(base + path)),"
            + "\"type\":\"http://www.w3.org/ns/pim/space#Storage\",\"subscription\":[\(services.joined(separator: ","))],"
            + "\"notificationChannel\":[\(legacy.joined(separator: ","))]}"
    }

    static func turtle(_ base: String) -> String {
        var out = "@prefix notify: <\(SolidVocabulary.namespace)> .\n@prefix pim: <http://www.w3.org/ns/pim/space#> .\n\n"
        out += "<\(base + path)> a pim:Storage ;\n"
        out += SolidVocabulary.ChannelType.allCases.map { "  notify:subscription <\(serviceURL(base, $0))>" }.joined(separator: " ;\n") + " .\n\n"
        for type in SolidVocabulary.ChannelType.allCases {
            out += "<\(serviceURL(base, type))> notify:channelType notify:\(type.rawValue) ;\n"
            out += "  notify:feature " + features(type).map { "notify:\($0)" }.joined(separator: ", ") + " .\n"
        }
        return out
    }
}
