import EddyCore
import Testing

@Suite struct ISO8601DurationTests {
    static let day = Duration.seconds(86_400)

    @Test(arguments: [
        ("PT10S", Duration.seconds(10)), ("PT0.5S", .milliseconds(500)), ("P1DT2H", .seconds(93_600)), ("P1W", .seconds(604_800)),
        ("PT1M30S", .seconds(90)), ("pt2s", .seconds(2)), ("PT0,25S", .milliseconds(250)), ("PT1.0009S", .milliseconds(1000)),
        ("P0D", .zero), ("PT0000000000000000000005S", .seconds(5)),
    ])
    func readsTheSpellingsClientsUse(text: String, expected: Duration) throws {
        #expect(try ISO8601Duration.parse(text, maximum: .seconds(700_000)) == expected)
    }

    @Test(arguments: [
        "", "P", "PT", "P1", "PT1", "10S", "P1Y", "P1M", "PT1S1M", "PT1H1H", "P1DT", "PTT1S", "PT.5S", "PT1.S", "PT1.5M1S",
        "PT1e5S", "PT-1S", "PT+1S", "PT١S", "PT1.0000000001S", "P1D1W",
    ])
    func refusesWhatIsNotADuration(text: String) {
        #expect(throws: ISO8601Duration.Failure.malformed) { try ISO8601Duration.parse(text, maximum: Self.day) }
    }

    /// The number that once trapped the server's arithmetic, and ones just past the maximum.
    @Test(arguments: ["PT86401S", "P2D", "PT86400.001S", "PT1000000000000000S", "P999999999999999W", "P1DT0.001S", "PT9999999999999999S", "PT99999999999999999999999999999999999999S"])
    func refusesWhatIsLongerThanTheMaximum(text: String) {
        #expect(throws: ISO8601Duration.Failure.beyondMaximum) { try ISO8601Duration.parse(text, maximum: Self.day) }
    }

    @Test func theMaximumItselfIsAllowed() throws {
        #expect(try ISO8601Duration.parse("P1D", maximum: Self.day) == Self.day)
        #expect(try ISO8601Duration.parse("PT24H", maximum: Self.day) == Self.day)
    }

    @Test func formatsCanonically() {
        #expect(ISO8601Duration.format(.seconds(5)) == "PT5S")
        #expect(ISO8601Duration.format(.milliseconds(1500)) == "PT1.5S")
        #expect(ISO8601Duration.format(.milliseconds(20)) == "PT0.02S")
        #expect(ISO8601Duration.milliseconds(.seconds(Int64.max)) == .max)
    }
}
