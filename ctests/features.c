/* A build without the `tls`, `state` and `delta` features, through the
 * same header: a state directory is refused with QM_E_NOTIMPL, an https://
 * URL with QM_BG_E_PROTOCOL_NOT_AVAILABLE when it is added (and a CA file
 * and seeds with QM_E_NOTIMPL), each with a message that names the missing feature; a
 * plain-HTTP download still arrives byte-exact.
 *
 * Usage: features SCRATCH_DIR HTTP_URL EXPECTED_COPY */
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "qmgr.h"

static int message_mentions(const char *word) {
    char text[1024];
    size_t needed = 0;
    if (qm_get_last_error_message(text, sizeof text, &needed) != QM_S_OK) return 0;
    return strstr(text, word) != NULL;
}

int main(int argc, char **argv) {
    qm_manager_t mgr = 0;
    qm_job_t job = 0;
    uint32_t state = 99;
    if (argc < 4) {
        fprintf(stderr, "usage: %s SCRATCH_DIR HTTP_URL EXPECTED_COPY\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];

    /* No SQLite: a state directory cannot be opened, and says why. */
    CHECK_HR(qm_manager_open(ct_path(dir, "state"), &mgr), QM_E_NOTIMPL);
    CHECK(message_mentions("`state` feature"));
    CHECK(mgr == 0);

    /* In memory it works. */
    CHECK_HR(qm_manager_open(NULL, &mgr), QM_S_OK);
    CHECK_HR(qm_job_create(mgr, "no tls", &job), QM_S_OK);

    /* No TLS: https:// is refused when added, not when it would run. */
    CHECK_HR(qm_job_add_file(job, "https://127.0.0.1:1/fw.bin", ct_path(dir, "fw.bin")),
             QM_BG_E_PROTOCOL_NOT_AVAILABLE);
    CHECK(message_mentions("`tls` feature"));
    CHECK_HR(qm_job_set_ca_file(job, "/etc/ssl/certs/ca-certificates.crt"), QM_E_NOTIMPL);

    /* Plain HTTP arrives byte-exact; seeds need the `delta` feature. */
    CHECK_HR(qm_job_add_file(job, argv[2], ct_path(dir, "http.bin")), QM_S_OK);
    {
        const char *seeds[1] = {"/etc/hostname"};
        qm_file_delta_status delta = QM_FILE_DELTA_STATUS_INIT;
        CHECK_HR(qm_job_set_file_delta(job, 0, seeds, 1, NULL), QM_E_NOTIMPL);
        CHECK(message_mentions("`delta` feature"));
        CHECK_HR(qm_job_get_file_delta_status(job, 0, &delta), QM_S_OK);
        CHECK_EQ(delta.way, QM_DELTA_WAY_NONE);
    }
    CHECK_HR(qm_job_resume(job), QM_S_OK);
    CHECK_HR(qm_job_wait(job, 60000, &state), QM_S_OK);
    CHECK_EQ(state, QM_JOB_STATE_TRANSFERRED);
    CHECK_HR(qm_job_complete(job), QM_S_OK);
    CHECK(ct_files_equal(argv[3], ct_path(dir, "http.bin")));
    CHECK_HR(qm_job_close(job), QM_S_OK);
    CHECK_HR(qm_manager_close(mgr), QM_S_OK);
    return ct_finish("features");
}
