import ConcrntCrypto
import Testing

@Suite("Keccak-256 (legacy padding)")
struct Keccak256Tests {
    @Test("empty input")
    func empty() {
        #expect(Hex.encode(Keccak256.hash([UInt8]())) == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
    }

    @Test("\"abc\"")
    func abc() {
        #expect(Hex.encode(Keccak256.hash("abc".utf8)) == "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45")
    }

    // The remaining vectors were computed with pycryptodome's Crypto.Hash.keccak (digest_bits=256).

    @Test("200 bytes (two blocks), bytes 0,1,2,… mod 256")
    func multiBlock() {
        let input = (0..<200).map { UInt8($0 % 256) }
        #expect(Hex.encode(Keccak256.hash(input)) == "bfb0aa97863e797943cf7c33bb7e880bb4543f3d2703c0923c6901c2af57b890")
    }

    @Test("200 × \"a\"")
    func multiBlockRepeated() {
        let input = [UInt8](repeating: UInt8(ascii: "a"), count: 200)
        #expect(Hex.encode(Keccak256.hash(input)) == "96ea54061def936c4be90b518992fdc6f12f535068a256229aca54267b4d084d")
    }

    @Test("exactly one rate (136 bytes): padding goes into a second block")
    func exactRate() {
        let input = (0..<136).map { UInt8($0) }
        #expect(Hex.encode(Keccak256.hash(input)) == "7ce759f1ab7f9ce437719970c26b0a66ff11fe3e38e17df89cf5d29c7d7f807e")
    }

    @Test("rate minus one (135 bytes): 0x01 and 0x80 share the last byte")
    func rateMinusOne() {
        let input = (0..<135).map { UInt8($0) }
        #expect(Hex.encode(Keccak256.hash(input)) == "cbdfd9dee5faad3818d6b06f95a219fd290b0e1706f6a82e5a595b9ce9faca62")
    }

    @Test("is not SHA3-256")
    func notSHA3() {
        // SHA3-256("") = a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a
        #expect(Hex.encode(Keccak256.hash([UInt8]())) != "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a")
    }

    @Test("accepts any UInt8 collection")
    func collections() {
        let array = Array("hello world".utf8)
        #expect(Keccak256.hash(array) == Keccak256.hash("hello world".utf8))
        #expect(Keccak256.hash(array[...]) == Keccak256.hash(array))
    }
}
