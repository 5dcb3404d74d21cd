// The declaration of libFuzzer's driver is all this module holds; see include/libfuzzer.h.
