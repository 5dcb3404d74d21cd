#ifndef CLIBCRYPTO_SHIM_H
#define CLIBCRYPTO_SHIM_H

// OpenSSL 3's libcrypto (Debian: libssl-dev), for secp256k1. Signing with a given nonce needs
// ECDSA_do_sign_ex and an EC_KEY, and a fast recovery EC_GROUP_precompute_mult, which 3.0
// marks deprecated with no EVP replacement (deterministic nonces arrive only in 3.2); keep
// their declarations but drop the deprecation attributes.
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>

#endif
