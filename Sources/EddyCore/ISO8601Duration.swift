/// ISO 8601 durations as clients send them (`PT10S`, `P1DT2H`, `PT0.5S`, `P1W`), read into a
/// `Duration` with checked arithmetic and a caller's maximum, so no spelling of a number —
/// however long — can overflow what is computed from it later.
///
/// Accepted: `P`, then weeks or days, then optionally `T` with hours, minutes and seconds, each
/// at most once and in that order; ASCII digits only; a fraction (up to nine digits, kept to the
/// millisecond) only on the last component. Years and months are refused: their length in
/// seconds depends on a calendar.
public enum ISO8601Duration {
    public enum Failure: Error, Equatable, Sendable {
        case malformed
        case beyondMaximum
    }

    /// Digits in one component: enough for any duration below the maximum, few enough that the
    /// value cannot overflow before the maximum is checked.
    static let maximumDigits = 15

    public static func parse(_ text: some StringProtocol, maximum: Duration) throws(Failure) -> Duration {
        let limit = milliseconds(maximum)
        var bytes = Array(text.utf8)[...]
        guard bytes.popFirst().map(uppercased) == UInt8(ascii: "P"), !bytes.isEmpty else { throw .malformed }

        // Designators in the order they may appear; each is used at most once.
        let dateUnits: [(UInt8, Int64)] = [(UInt8(ascii: "W"), 604_800_000), (UInt8(ascii: "D"), 86_400_000)]
        let timeUnits: [(UInt8, Int64)] = [(UInt8(ascii: "H"), 3_600_000), (UInt8(ascii: "M"), 60_000), (UInt8(ascii: "S"), 1_000)]
        var units = dateUnits[...]
        var inTime = false
        var total: Int64 = 0
        var sawComponent = false
        var sawFraction = false

        while let first = bytes.first {
            if uppercased(first) == UInt8(ascii: "T") {
                guard !inTime else { throw .malformed }
                inTime = true
                units = timeUnits[...]
                bytes = bytes.dropFirst()
                guard !bytes.isEmpty else { throw .malformed }
                continue
            }
            // A fraction must be on the last component.
            guard !sawFraction else { throw .malformed }
            let whole = bytes.prefix(while: isDigit)
            bytes = bytes.dropFirst(whole.count)
            var fraction: ArraySlice<UInt8> = []
            if let separator = bytes.first, separator == UInt8(ascii: ".") || separator == UInt8(ascii: ",") {
                fraction = bytes.dropFirst().prefix(while: isDigit)
                guard !fraction.isEmpty, fraction.count <= 9 else { throw .malformed }
                bytes = bytes.dropFirst(1 + fraction.count)
                sawFraction = true
            }
            guard !whole.isEmpty, let designator = bytes.popFirst().map(uppercased),
                let index = units.firstIndex(where: { $0.0 == designator })
            else { throw .malformed }
            let significant = whole.drop(while: { $0 == UInt8(ascii: "0") })
            guard significant.count <= maximumDigits else { throw .beyondMaximum }
            let unit = units[index].1
            units = units[(index + 1)...]

            let value = try scaled(significant, fraction, unit: unit)
            let (sum, overflow) = total.addingReportingOverflow(value)
            guard !overflow, sum <= limit else { throw .beyondMaximum }
            total = sum
            sawComponent = true
        }
        guard sawComponent else { throw .malformed }
        return .milliseconds(total)
    }

    /// `whole.fraction` units, in milliseconds, rounded down.
    private static func scaled(_ whole: ArraySlice<UInt8>, _ fraction: ArraySlice<UInt8>, unit: Int64) throws(Failure) -> Int64 {
        var integer: Int64 = 0
        for digit in whole { integer = integer * 10 + Int64(digit - UInt8(ascii: "0")) }
        let (product, overflow) = integer.multipliedReportingOverflow(by: unit)
        guard !overflow else { throw .beyondMaximum }
        // The fraction times the unit, over 10^digits: at most 10^9 × 604,800,000 < Int64.max.
        var numerator: Int64 = 0
        var denominator: Int64 = 1
        for digit in fraction {
            numerator = numerator * 10 + Int64(digit - UInt8(ascii: "0"))
            denominator *= 10
        }
        let (sum, sumOverflow) = product.addingReportingOverflow(numerator * unit / denominator)
        guard !sumOverflow else { throw .beyondMaximum }
        return sum
    }

    /// The canonical spelling: `PT<seconds>[.<milliseconds>]S`.
    public static func format(_ duration: Duration) -> String {
        let total = milliseconds(duration)
        let seconds = total / 1000
        let rest = total % 1000
        guard rest != 0 else { return "PT\(seconds)S" }
        var digits = String(rest)
        digits = String(repeating: "0", count: 3 - digits.count) + digits
        while digits.last == "0" { digits.removeLast() }
        return "PT\(seconds).\(digits)S"
    }

    /// Whole milliseconds in a duration, saturating instead of trapping.
    public static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        guard !overflow else { return seconds < 0 ? .min : .max }
        let (sum, sumOverflow) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000_000_000)
        return sumOverflow ? .max : sum
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
    private static func uppercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") ? byte - 32 : byte
    }
}
