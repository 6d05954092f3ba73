/* A delta download through the C API (issue 24): a file with a seed and
 * its zsync control file beside the URL; the job transfers, says it went
 * the delta way with most bytes from the seed, and the local file is the
 * expected copy. Also the argument checks of qm_job_set_file_delta and
 * the growable qm_file_delta_status. Runs in-process, or through a qmgrd
 * (QMGR_TEST_ADDRESS): the daemon reads the seed with the owner's rights.
 *
 * Usage: delta SCRATCH_DIR URL SEED EXPECTED_COPY SHA256_HEX */
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "qmgr.h"

int main(int argc, char **argv) {
    qm_manager_t mgr = 0;
    qm_job_t job = 0;
    uint32_t state = 99;
    qm_file_delta_status delta = QM_FILE_DELTA_STATUS_INIT;
    qm_file_progress progress = QM_FILE_PROGRESS_INIT;
    char reason[512];
    size_t needed = 0;
    if (argc < 6) {
        fprintf(stderr, "usage: %s SCRATCH_DIR URL SEED EXPECTED_COPY SHA256_HEX\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    const char *seeds[2];
    seeds[0] = argv[3];
    seeds[1] = "relative/seed";

    CHECK_HR(ct_open_manager(&mgr), QM_S_OK);
    CHECK_HR(qm_job_create(mgr, "delta", &job), QM_S_OK);
    CHECK_HR(qm_job_add_file(job, argv[2], ct_path(dir, "new.img")), QM_S_OK);

    /* No seeds yet: a plain download. */
    CHECK_HR(qm_job_get_file_delta_status(job, 0, &delta), QM_S_OK);
    CHECK_EQ(delta.way, QM_DELTA_WAY_NONE);
    CHECK_EQ(delta.struct_size, sizeof delta);
    CHECK_HR(qm_job_get_file_delta_reason(job, 0, reason, sizeof reason, &needed), QM_S_FALSE);
    CHECK_EQ(needed, 1);

    /* Refused: NULL seeds with a count, a relative path, an index past the end. */
    CHECK_HR(qm_job_set_file_delta(job, 0, NULL, 1, NULL), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_file_delta(job, 0, seeds, 2, NULL), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_file_delta(job, 0, seeds, 1, "ftp://x/y.zsync"), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_file_delta(job, 1, seeds, 1, NULL), QM_E_ITEM_NOT_FOUND);
    delta.struct_size = 4;
    CHECK_HR(qm_job_get_file_delta_status(job, 0, &delta), QM_E_INVALIDARG);
    delta.struct_size = sizeof delta;
    CHECK_HR(qm_job_get_file_delta_status(job, 0, NULL), QM_E_POINTER);

    CHECK_HR(qm_job_set_file_delta(job, 0, seeds, 1, NULL), QM_S_OK);
    CHECK_HR(qm_job_set_file_sha256(job, 0, argv[5]), QM_S_OK);
    CHECK_HR(qm_job_get_file_delta_status(job, 0, &delta), QM_S_OK);
    CHECK_EQ(delta.way, QM_DELTA_WAY_PENDING);

    CHECK_HR(qm_job_resume(job), QM_S_OK);
    CHECK_HR(qm_job_wait(job, 120000, &state), QM_S_OK);
    CHECK_EQ(state, QM_JOB_STATE_TRANSFERRED);
    CHECK_HR(qm_job_get_file_delta_status(job, 0, &delta), QM_S_OK);
    CHECK_HR(qm_job_get_file_progress(job, 0, &progress), QM_S_OK);
    CHECK_EQ(delta.way, QM_DELTA_WAY_DELTA);
    /* Most of it from the seed (a tenth of the blocks changed). */
    CHECK(delta.bytes_from_seeds > progress.bytes_total / 2);
    CHECK(delta.bytes_from_seeds < progress.bytes_total);
    CHECK_HR(qm_job_get_file_delta_reason(job, 0, NULL, 0, &needed), QM_S_FALSE);
    /* Seeds cannot change once the file has transferred. */
    CHECK_HR(qm_job_set_file_delta(job, 0, seeds, 1, NULL), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_complete(job), QM_S_OK);
    CHECK(ct_files_equal(argv[4], ct_path(dir, "new.img")));
    CHECK_HR(qm_job_close(job), QM_S_OK);
    CHECK_HR(qm_manager_close(mgr), QM_S_OK);
    return ct_finish("delta");
}
