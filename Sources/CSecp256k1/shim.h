#ifndef CSECP256K1_SHIM_H
#define CSECP256K1_SHIM_H

// Debian 12: libsecp256k1-dev 0.2.0 ships the recovery module
// (secp256k1_recovery.h) and exports its symbols from libsecp256k1.so.
#include <secp256k1.h>
#include <secp256k1_recovery.h>

#endif
