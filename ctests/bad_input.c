#include "common.h"
int main(int argc, char **argv) {
    (void)argc; (void)argv;
    CHECK(!"ctests/bad_input.c is not written yet");
    return ct_finish("bad_input");
}
