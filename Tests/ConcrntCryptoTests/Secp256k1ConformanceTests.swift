@testable import ConcrntCrypto
import Testing

/// The OpenSSL-based secp256k1 must sign and recover exactly as libsecp256k1 does, which Eddy
/// used before and Concrnt's clients (go-ethereum's ecrecover) match.
///
/// Vectors made with Debian 12's libsecp256k1 0.2.0: key i = SHA-256("eddy-key-i"), digest i =
/// SHA-256("eddy-message-i"), `secp256k1_ecdsa_sign_recoverable` with its default (RFC 6979)
/// nonce, the key from `secp256k1_ec_pubkey_create`; the edge cases are
/// `secp256k1_ecdsa_recover` of r = 1…6, s = 7, every recovery id, over SHA-256("eddy-edge").
@Suite("secp256k1 agrees with libsecp256k1")
struct Secp256k1ConformanceTests {
    /// (secret key, digest, compressed public key, r‖s‖v).
    static let signatures: [(String, String, String, String)] = [
        ("79d22bf7f5140f4f5ddca4eae7e934cc0d68290bbf88739467f32b35fed9fafc", "dc012707644056fcfd388f9cea142429af7663945d5b0910c879a66a1c3965eb",
         "02b52cd54d3eb126a36a688fb621913fde41333d508202f6d4f3e3679a0351bad3", "e6b7afdab8bc9e4aecb9028e11db00b3c820170a2dddb40b096626f1ca1a76e97012cf020d593a9b2875d3864e52db6917291dfc4c5f2b5fde124d7dd9735c1301"),
        ("66ffadaa2d487276099c4c6c998427e755d495cc151304facbb7830c408c39f7", "5606390aaaa6088d8e6af154b79039e88f26b7c342cfcc3e48dcc1df3f090c12",
         "0346e8ef2b939a0136d2cb7de586009bd70871f3bed8dafa7633120c5d7cba6be8", "bb0ec9c2c02902c861a1b11432ec882e4882125a0cd3edb01566831129e683d5032c2e0a7600d6ea29cce1ae8ab5f481484d9107198744135ffcf46ba0da467d01"),
        ("8c95edddae99bf727a489423c3ac3039125a2de302d867c35dfd5e1d6f161931", "6ebf262538688ae52f8a641e2ca07ebfd9f20cb650fd931fd5ea332c4be30167",
         "02548fae6c90982c3d8d92b826f4228810c146986b3eee25fbd7e01af5a034799d", "a2aaa28f0393846fb323744960014f495fb6c984d6f7de4789c216d9a5c5e3e020945e288c6c3e76d6bcf5380b5ed66f8bc02184f29dd9ca6807c8d8ec46c30b00"),
        ("918d92a604c4ffcf682ebc5c74fdaa25fd9c1a05d8d4c24ff961045c698a2991", "eb4544df77a1217c34cdbed5c2a2564be006cc1ecdf5325e40434c0e3f23d529",
         "02d199c2dcd5c4a49144b5a1b841775edc3aebd5f305c9781a21bba5896f0d47cb", "3aa95bc1efd86bfeb00a7247100da1121e01b49f2abad654938436412e2071495393e6f4b7987c86a7235dce5c719159e1d293f7f5a64c4ac88a6c3dbdb6e16e01"),
        ("df3d2a9ccf3c493d94eb187750df05a10a1136249f8b0244a8816a7b276b1a91", "2c320adf2ef6957781c7c8d6e9fd41a801fef74d0db3a952854948db09216abb",
         "03f11da3b50fa168d80c1dc25975b5ecf839b3f1b92a391d00881161ebe346f029", "d87ffee139b95d2df8c07f5a7b809b6f2592cb289ef22bda4033f6abe246961c5ebc9e8b0ad4ba064dab38dde1a0873f0bae4a151a8caaa144e9dfbdef1b43d201"),
        ("57db9831839600cc2eaa6a6a99deec9c31cf1c9e8fd5317284b0681dd248366d", "383443bb6f3fcb673fdc0d81b60e6c068d4e742ebc4d2f325351fd332734c44c",
         "02f28e6c52bf3b1ed12e83edd52542bd427f6c59f507c673b49710628c78d70534", "eb82da5b491cef560c9f5223c7b6d73712a12b14ab84d6a508763d25d4f72e4f3ceeee8b5b7cb3be45a8a7e0765d367a950b82b97b7c2b5d5dcb1df9927dfb3401"),
        ("c61c0176ffc71983e1306356cd46f6df57ff7191e974dcbbb77525f22360bb96", "fbe0869b255ed7b0e5f8605e8c703c50e0d446364bd44c880a7d172aa698fcf2",
         "02595c40bad8dbfa13bd5ae20dadfd69fa32c8a4120eeb891b5c6f0e059f392d58", "a284285f3cd80280e97c9afed05cb2c99f44756984cc66a311c0da80866a508e71e055bd6315e55737f27e54ae5a133e55d8d892c1970b07c8cd93bae255873000"),
        ("1a6f7a45f6b56ee6fb6d7028bbd39b03d779fc7056db10685769e3befc7697f3", "e92a9eba65fa9ae59f34a128bc955c53ba2ebea50c899f24eb20b3240c55c33b",
         "020043cf7bbe51bb54d480b9e32e33d437ba9e7a5eb66d57016a335ba16d57271b", "cd08fbd3b8933bee661d1a57eaddedd3c3e0a2e21a0c75f5fefce7550886ee884a066d3a6685c335085b39fa8f5b6767f45bb6eb478b05dc0cdb2b5af509089601"),
        ("bf65eebd0dc9350b062a57481a0ab5955aa85ab73271cd8e51af1003b88b3943", "5954eb0c8794aef92e7d721d8d7ed24b2497cbe1c8da664d915393bb337e9d59",
         "03da3aca62034aa66f1ce699dc0441a2f22cb96e7c90aa0cb4a03ac9fe139d6451", "5137346484cf61eb11e3ed41319cace22174986e10360315636f24a79ef5988d3227e4a034a4dee856a8d4768f5a5ef926e3e29e583828e97419d802991f20c501"),
        ("4b8a762565a9b09912eaadbf1ad2fa97fa9a68f6540aa9cb666b21ba33251e23", "e89cb6c020969d7d69e5c69073a36046e6cbdcffe2771b7e6a834293b52ecb7a",
         "02f705c27ec63149f5eccdcb10a77aaefa1389222472eebff8c4c284045d5b2d0e", "a2ff2e0e4b56930250773988b29cb70b47260830d13ebfc12ae77016e03f2ada3433f568bd346af032cdf924405ee79ded11799578bfab20c6071c5adea6115b01"),
        ("e94d4d4b4a7cbaa0052427b6e54a2cd2fdb5e4a1886471afda9cd442bec2ddf6", "5a80401f00b2cf841ae936ba84dfb4a5cc5abb83d5aaf092788523bdcdeec521",
         "03c74d6746e6e62cd0e07fd53d58540c4eb8621031e703aa80ae7e4834af2e7dfc", "3ffbfa10691b9601a12b96058adde1035f066e7a792733dfaad67bed4bc85cda7e3d7d84dd68792e11dfdbe7cbb3423d058378a32d97246be46c0be5802c9c8f01"),
        ("39bc00224e6681956d541c8f8611b5491e7dcee871e6f5dd1107257c61f29349", "266e037d58d4fcc8d7411a0eeaa1c5986c0ef094761004cf8032228afe1ef74b",
         "0389fd4a6fd2bf234400b3983c7a7af9f3bc60a6576ce58e64e9a37447b00ae2b7", "f6ccab8d7213dfd497133f604d47f245bd8d61f60235b1eea82f665ca7c2ac626b7ebf8164e7b532e497191882988e779b5a163274f3a4bc68a42d4ab046d43e01"),
        ("43e9c692d5d658c3424f64ef32f1434a98b7517f1f9cbb87d0b3819a0e5848cd", "46943d5dc238e14e31500ba6203dac1453e59cb988b99fb7a74fabf91bb69a72",
         "02fde9082be0bd6cab08c5e60a5cb08f0218c5f8493cb2a83c41ae643927379e52", "e2fb318a9dd723c43f1160ebce323772e04b2e3dc3b274e24a9e4e0bdfb6df796587f753e2a06770e82ddaf9e098db9f33e8624099d32170812959386efa9db000"),
        ("c432262f85fab1bdeb1bf7a842104363fc79c2242aa701b5a4f2dabf6dc47f63", "390584a910eea8a105cef26b0f13b72fea763365014d936ba8899e35f73b3acd",
         "031724097531e5cdb323f4b41fd5289e3faeb1a3ca5853cf53033fd275e6c342b7", "af90ea81a759abcbbec778fbf41900270c469db473c8e97ea5c9cf45587102467e007a1d9db560d232b1d984b6eced0d9fba2640c85fa9df9688a8a241fb77c401"),
        ("adb9afc7d70a66a07af0106616a76a52b624275252d31fc905bf3fb3ccf50733", "f47345d1053b8a5803f716b61eda0454ed1ef12b69ff1118ff90f6c52a3f197b",
         "022545929d1be0601f7a3a46e90c42c1e723c9c1e0ae140b82dca8f9e1087f02fa", "a575f84ffad8398b81d3e0fe73b121dc6d032071e86df2dd9370a9fdea9ff03d029a6ed81cab0fb621ce62f74dfdd5584f451e0db559d111005c5bad5c2a639a01"),
        ("33b85fb75524f81a06e8308731ba0cf3756074f0b94e955bbbb3b9a8875ea1ea", "2a19623b23d3796576362c01631e31a87965f27221f944b1760466d2e84b905b",
         "02ccf943507fb85ade716d652675c7c8d08ce5ce665352560c4380edaffbe67b80", "eaed70233d97620478fec87f2bc746c588b1761f38e4ba96d50ed0d0d204919478f837ea172ba4a412baef3cfbe5ec6a844489ecf55138825440ab6472e8526500"),
    ]

    static let edgeDigest = "f16839b2ea747e4fcb37a1cc8009ade71dc0ce12ea12f449d72f21d2b2662d12"
    /// (r, recovery id, the key libsecp256k1 recovers or nil when it fails); s is 7.
    static let edgeRecoveries: [(UInt8, Int32, String?)] = [
        (1, 0, "02a5e513fa46020b02e1aea6d5491e1f6bcafa4ee13554235d32e6f4555e6de7a0"),
        (1, 1, "037cb9e324719ea85ad7f49652d26179f5d8ad9be13068a2476dafa7dc0fff4655"),
        (1, 2, nil),
        (1, 3, nil),
        (2, 0, "02bee2ef5812b6e6293805b0df99d5bbf1c8de14632d0feed6962da3dfc09369cd"),
        (2, 1, "031fb276643f289f9b09387335eb7fb46953f8862717771a2040761c7396182e17"),
        (2, 2, "023f02003401e79a11ee4f9eab853083a2328b9387cd6500321830cc1f1e2d376e"),
        (2, 3, "0213cf7af113aa32fd3079897ad789fb945ee2d52bfa4441cc2b7a5d86c0cd73b1"),
        (3, 0, "021499760ce377d45ec2099fba0af54b9326debf1d6b7c2a91467f3df09a1aae56"),
        (3, 1, "0363206403e05c7d890ff4d13328182ec62febb35722f80ba30b24fce23d27b748"),
        (3, 2, nil),
        (3, 3, nil),
        (4, 0, "0235172f18e15955e9bbe8d380202210ee1c44a09f4b4491b239cf735d393005c1"),
        (4, 1, "026fc94a384f26a48d0956d4e2d9823a0dfd275ffa8cd77e1ac73508e59b38c89b"),
        (4, 2, "02beecc73410113db5afb037e74c65fafe4001b32cb75d6b7591c8ebfe6ad2af0f"),
        (4, 3, "0394f19a64ae3bad48404f11dbe9bfaebadb2fb240ba9fe1dc08104f20f36b5c48"),
        (5, 0, nil),
        (5, 1, nil),
        (5, 2, nil),
        (5, 3, nil),
        (6, 0, "0383a4edc46d5417890c2e8371715c5c17019c46db14899e0686a3840ac4cd056a"),
        (6, 1, "038a79d3b982d58631b62d0008f2bdb5f0dd5bb9f736c0470054d4ad17349d0719"),
        (6, 2, "0242e41f23918c943b16f12db63db589b4d3fa9df3928d69cafa9994e8e1b97743"),
        (6, 3, "022d2172f08088401e26e3d9ec3006c021d5c4f4e01a23bef464cd03218f0da5f4"),
    ]

    /// n, the group order.
    static let order = bytes(hex: "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141")

    @Test("same public keys and byte-identical signatures")
    func signatures() throws {
        for (secret, digest, publicKey, signature) in Self.signatures {
            let key = try SigningKey(hex: secret)
            #expect(Hex.encode(key.compressedPublicKey) == publicKey)
            let signed = try #require(Secp256k1Context.shared.signRecoverable(digest: bytes(hex: digest), secretKey: key.rawRepresentation))
            #expect(Hex.encode(signed.compact + [UInt8(signed.recoveryID)]) == signature)
        }
    }

    @Test("their signatures recover their keys, also with s negated (high-s)")
    func recovery() {
        for (_, digest, publicKey, signature) in Self.signatures {
            let raw = bytes(hex: signature)
            let compact = Array(raw[0..<64])
            let recoveryID = Int32(raw[64])
            let context = Secp256k1Context.shared
            #expect(context.recoverCompressedPublicKey(compact: compact, recoveryID: recoveryID, digest: bytes(hex: digest))
                == .recovered(bytes(hex: publicKey)))
            // (r, n − s) with the other parity is the same signature, as ecrecover accepts it.
            let highS = Array(raw[0..<32]) + subtract(Array(raw[32..<64]), from: Self.order)
            #expect(context.recoverCompressedPublicKey(compact: highS, recoveryID: recoveryID ^ 1, digest: bytes(hex: digest))
                == .recovered(bytes(hex: publicKey)))
            // The other parity alone names another key; bit 1 (R.x = r + n) names no point here.
            #expect(context.recoverCompressedPublicKey(compact: compact, recoveryID: recoveryID ^ 1, digest: bytes(hex: digest))
                != .recovered(bytes(hex: publicKey)))
            #expect(context.recoverCompressedPublicKey(compact: compact, recoveryID: recoveryID | 2, digest: bytes(hex: digest))
                == .failed)
        }
    }

    @Test("edge cases: small r, every recovery id, x with no point, r + n")
    func edgeRecoveries() {
        for (r, recoveryID, expected) in Self.edgeRecoveries {
            var compact = [UInt8](repeating: 0, count: 64)
            compact[31] = r
            compact[63] = 7
            let result = Secp256k1Context.shared.recoverCompressedPublicKey(
                compact: compact, recoveryID: recoveryID, digest: bytes(hex: Self.edgeDigest)
            )
            #expect(result == (expected.map { .recovered(bytes(hex: $0)) } ?? .failed), "r = \(r), recovery id \(recoveryID)")
        }
    }

    @Test("r or s of zero fails; r or s of n or more is unparsable")
    func outOfRange() {
        let digest = bytes(hex: Self.edgeDigest)
        let one = [UInt8](repeating: 0, count: 31) + [1]
        let zero = [UInt8](repeating: 0, count: 32)
        let context = Secp256k1Context.shared
        #expect(context.recoverCompressedPublicKey(compact: zero + one, recoveryID: 0, digest: digest) == .failed)
        #expect(context.recoverCompressedPublicKey(compact: one + zero, recoveryID: 0, digest: digest) == .failed)
        #expect(context.recoverCompressedPublicKey(compact: Self.order + one, recoveryID: 0, digest: digest) == .unparsable)
        #expect(context.recoverCompressedPublicKey(compact: one + Self.order, recoveryID: 0, digest: digest) == .unparsable)
        #expect(context.recoverCompressedPublicKey(compact: one + one, recoveryID: 4, digest: digest) == .unparsable)
    }

    /// a − b for 32-byte big-endian numbers with b ≤ a.
    private func subtract(_ b: [UInt8], from a: [UInt8]) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: 32)
        var borrow = 0
        for index in (0..<32).reversed() {
            var digit = Int(a[index]) - Int(b[index]) - borrow
            borrow = digit < 0 ? 1 : 0
            if digit < 0 { digit += 256 }
            result[index] = UInt8(digit)
        }
        return result
    }
}
