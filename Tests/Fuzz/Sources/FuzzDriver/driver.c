// SwiftPM links an executable with `main` defined as `<module>_main` (so that tests can import
// executables), which leaves libFuzzer's own `main` out. This is that `main`: it hands the
// command line to libFuzzer's driver with the Swift target's entry point.
#include "FuzzDriver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

int lgsp_fuzz_main(int argc, char **argv) {
    return LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput);
}
