import EddyCore
import Testing

@Suite struct ResumePositionTests {
    let epoch = "e1x"

    @Test func noTokenStartsNow() {
        #expect(ResumePosition.parse(String?.none, epoch: epoch) == .success(.now))
    }

    @Test func aCheckpointOfThisLogResumesAfterIt() {
        let token = Checkpoint(epoch: epoch, sequence: 1234).token
        #expect(ResumePosition.parse(token, epoch: epoch) == .success(.after(1234)))
        #expect(ResumePosition.parse(token, epoch: epoch).map(\.sequence) == .success(1234))
    }

    @Test(arguments: ["other-ya", "e1x", "", "e1x-", "e1x-ZZ", "12"])
    func anythingElseIsAStartOver(token: String) {
        #expect(ResumePosition.parse(token, epoch: epoch) == .failure(StartOver(.notFromThisLog(token: token))))
    }

    /// Epochs compare by bytes: a canonically equivalent spelling is another log.
    @Test func epochsCompareByBytes() {
        let token = "e\u{301}p-1"
        #expect(ResumePosition.parse(token, epoch: "\u{e9}p") == .failure(StartOver(.notFromThisLog(token: token))))
    }

    @Test func aBareSequenceOnlyWhereAllowed() {
        #expect(ResumePosition.parse("12", epoch: epoch, bareSequence: true) == .success(.after(12)))
        #expect(ResumePosition.parse("+12", epoch: epoch, bareSequence: true) == .failure(StartOver(.notFromThisLog(token: "+12"))))
        #expect(ResumePosition.parse("99999999999999999999999", epoch: epoch, bareSequence: true).map(\.sequence) != .success(nil))
        if case .success = ResumePosition.parse("99999999999999999999999", epoch: epoch, bareSequence: true) {
            Issue.record("an out-of-range sequence must not parse")
        }
    }

    @Test func storeRefusalsAreStartOversAndOtherErrorsAreNot() {
        #expect(StartOver(StoreError.historyTruncated(requested: 1, floor: 5)) == StartOver(.historyGone(floor: 5)))
        #expect(StartOver(StoreError.positionFromTheFuture(requested: 9, head: 5)) == StartOver(.aheadOfLog(head: 5)))
        #expect(StartOver(StoreError.closed) == nil)
        #expect(StartOver(StartOver(.historyGone(floor: 2))) == StartOver(.historyGone(floor: 2)))
    }

    @Test func aQuotedTokenIsBounded() {
        let long = String(repeating: "x", count: 10_000)
        #expect(StartOver(.notFromThisLog(token: long)).description.utf8.count < 300)
    }
}
