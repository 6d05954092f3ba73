/* The other process of the state-directory tests (tests/it/persistence.rs):
 * a program that uses a state directory through the C API and is killed.
 *
 *   state_child open-only STATE
 *       opens STATE and prints "child-open-result <HRESULT>" (decimal).
 *   state_child download STATE URL DST CONNECTIONS
 *       opens STATE (restored jobs carry on by themselves); the first run
 *       also creates the job (URL -> DST, CONNECTIONS connections, 16 MiB/s,
 *       retry delay 1 s), resumes it and writes its id to STATE/job-id
 *       (atomically: job-id.tmp, then a rename). Prints "child-ready" and
 *       sleeps until it is killed (at most 60 s). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "qmgr.h"

static int fail(const char *what, qm_hresult hr) {
    fprintf(stderr, "state_child: %s failed: 0x%08x\n", what, (unsigned)hr);
    return 1;
}

static int create_job(qm_manager_t mgr, const char *state, char **argv) {
    qm_job_t job;
    qm_guid id;
    char text[64], tmp[4096], final[4096];
    size_t needed;
    qm_hresult hr;
    FILE *f;
    if (QM_FAILED(hr = qm_job_create(mgr, "crash test", &job))) return fail("qm_job_create", hr);
    if (QM_FAILED(hr = qm_job_add_file(job, argv[3], argv[4]))) return fail("qm_job_add_file", hr);
    if (QM_FAILED(hr = qm_job_set_max_connections(job, (uint32_t)strtoul(argv[5], NULL, 10))))
        return fail("qm_job_set_max_connections", hr);
    if (QM_FAILED(hr = qm_job_set_max_bandwidth(job, 16u << 20))) return fail("qm_job_set_max_bandwidth", hr);
    if (QM_FAILED(hr = qm_job_set_min_retry_delay(job, 1))) return fail("qm_job_set_min_retry_delay", hr);
    if (QM_FAILED(hr = qm_job_resume(job))) return fail("qm_job_resume", hr);
    if (QM_FAILED(hr = qm_job_get_id(job, &id))) return fail("qm_job_get_id", hr);
    if (QM_FAILED(hr = qm_guid_to_string(&id, text, sizeof text, &needed))) return fail("qm_guid_to_string", hr);
    snprintf(tmp, sizeof tmp, "%s/job-id.tmp", state);
    snprintf(final, sizeof final, "%s/job-id", state);
    f = fopen(tmp, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0 || rename(tmp, final) != 0) {
        perror("state_child: writing job-id");
        return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    qm_manager_t mgr;
    qm_hresult hr;
    char path[4096];
    int i;
    if (argc == 3 && strcmp(argv[1], "open-only") == 0) {
        hr = qm_manager_open(argv[2], &mgr);
        printf("child-open-result %d\n", (int)hr);
        if (QM_SUCCEEDED(hr)) qm_manager_close(mgr);
        return 0;
    }
    if (argc != 6 || strcmp(argv[1], "download") != 0) {
        fprintf(stderr, "usage: state_child open-only STATE | download STATE URL DST CONNECTIONS\n");
        return 2;
    }
    if (QM_FAILED(hr = qm_manager_open(argv[2], &mgr))) return fail("qm_manager_open", hr);
    snprintf(path, sizeof path, "%s/job-id", argv[2]);
    if (access(path, F_OK) != 0 && create_job(mgr, argv[2], argv) != 0) return 1;
    printf("child-ready\n");
    fflush(stdout);
    for (i = 0; i < 600; i++) usleep(100 * 1000);
    return 0;
}
