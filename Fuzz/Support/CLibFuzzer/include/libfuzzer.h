#ifndef EDDY_LIBFUZZER_H
#define EDDY_LIBFUZZER_H

#include <stddef.h>
#include <stdint.h>

// libFuzzer's entry for programs with a main() of their own (compiler-rt FuzzerDriver.cpp),
// linked in by -sanitize=fuzzer.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
