#include "common.h"
int main(int argc, char **argv) {
    (void)argc; (void)argv;
    CHECK(!"ctests/threads.c is not written yet");
    return ct_finish("threads");
}
