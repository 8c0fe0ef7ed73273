#include <stddef.h>
#include <stdint.h>

int lgsp_fuzz_main(int argc, char **argv);
