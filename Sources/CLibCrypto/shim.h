#ifndef CLIBCRYPTO_SHIM_H
#define CLIBCRYPTO_SHIM_H

// OpenSSL 3's libcrypto (Debian: libssl-dev), for secp256k1. Signing with a given nonce needs
// ECDSA_do_sign_ex and an EC_KEY, which 3.0 marks deprecated with no EVP replacement until
// 3.2's deterministic nonces; keep their declarations but drop the deprecation attributes.
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>

#endif
