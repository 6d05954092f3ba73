#include <stdio.h>
#include "common.h"
int main(int argc, char **argv) {
    qm_manager_t mgr = 0;
    (void)argc; (void)argv;
    CHECK_HR(qm_manager_open(NULL, &mgr), QM_S_OK);
    CHECK_HR(qm_manager_close(mgr), QM_S_OK);
    return ct_finish("lifecycle");
}
