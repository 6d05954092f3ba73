/* A C program on a connected manager (qm_manager_connect): a job's whole
 * life carried out by qmgrd, the codes of bad calls, a callback of the
 * daemon's events, and a daemon that is not there.
 *
 * Usage: proxy WORK_DIR ADDRESS (ADDRESS: the daemon's, "unix:/path"). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "common.h"

static volatile uint32_t g_transferred_events;
static volatile uint64_t g_progress_in_callback;

static void on_event(qm_job_t job, uint32_t event, uint32_t file_index, qm_hresult code,
                     void *context) {
    uint64_t done = 0;
    (void)file_index;
    (void)code;
    (void)context;
    if (event == QM_NOTIFY_JOB_TRANSFERRED) {
        /* The copy of the job the callback reads is the event's own. */
        if (QM_SUCCEEDED(qm_job_get_progress(job, QM_PROGRESS_SIZE_DONE, &done))) {
            g_progress_in_callback = done;
        }
        g_transferred_events++;
    }
}

static void lifecycle(qm_manager_t mgr, const char *dir) {
    const uint64_t size = 3u * 1024 * 1024 + 17;
    const char *src = ct_path(dir, "src.bin"), *dst = ct_path(dir, "dst.bin");
    qm_job_t job = 0, again = 0;
    qm_guid id;
    uint32_t state = 99, count = 0;
    uint64_t done = 0;
    qm_job_progress jp = QM_JOB_PROGRESS_INIT;

    CHECK(ct_write_pattern_file(src, size, 7));
    CHECK_HR(qm_job_create(mgr, "from C", &job), QM_S_OK);
    CHECK_HR(qm_job_get_id(job, &id), QM_S_OK);
    CHECK_HR(qm_job_add_file(job, src, dst), QM_S_OK);
    CHECK_HR(qm_job_get_file_count(job, &count), QM_S_OK);
    CHECK_EQ(count, 1);
    CHECK_HR(qm_job_set_notify(job, on_event, NULL, QM_NOTIFY_JOB_TRANSFERRED), QM_S_OK);
    CHECK_HR(qm_job_resume(job), QM_S_OK);
    CHECK_HR(qm_job_wait(job, CT_WAIT_MS, &state), QM_S_OK);
    CHECK_EQ(state, QM_JOB_STATE_TRANSFERRED);
    CT_WAIT_UNTIL(g_transferred_events == 1, CT_WAIT_MS, "the JOB_TRANSFERRED callback");
    CHECK_EQ(g_progress_in_callback, size);
    CHECK_HR(qm_job_get_progress(job, QM_PROGRESS_SIZE_DONE, &done), QM_S_OK);
    CHECK_EQ(done, size);
    CHECK_HR(qm_job_get_progress(job, QM_PROGRESS_PERCENT_DONE, &done), QM_S_OK);
    CHECK_EQ(done, 100);
    CHECK_HR(qm_job_get_progress_ex(job, &jp), QM_S_OK);
    CHECK_EQ(jp.bytes_total, size);
    CHECK_EQ(jp.files_transferred, 1);

    /* Another reference by id: the same job. */
    CHECK_HR(qm_manager_get_job(mgr, &id, &again), QM_S_OK);
    CHECK_HR(qm_job_get_state(again, &state), QM_S_OK);
    CHECK_EQ(state, QM_JOB_STATE_TRANSFERRED);
    CHECK_HR(qm_job_close(again), QM_S_OK);

    /* The caller's own job: taking it changes nothing. */
    CHECK_HR(qm_job_take_ownership(job), QM_S_OK);
    CHECK_HR(qm_job_get_state(job, &state), QM_S_OK);
    CHECK_EQ(state, QM_JOB_STATE_TRANSFERRED);
    CHECK_HR(qm_job_complete(job), QM_S_OK);
    CHECK(ct_files_equal(src, dst));
    CHECK_HR(qm_job_get_state(job, &state), QM_S_OK);
    CHECK_EQ(state, QM_JOB_STATE_ACKNOWLEDGED);
    /* As in-process: a final job refuses changes, and is no longer listed. */
    CHECK_HR(qm_job_resume(job), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_take_ownership(job), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_manager_get_job(mgr, &id, &again), QM_BG_E_NOT_FOUND);
    CHECK_HR(qm_job_close(job), QM_S_OK);
}

static void bad_calls(qm_manager_t mgr, const char *dir) {
    qm_job_t job = 0, list[4];
    qm_guid nobody;
    size_t n = 0;
    char name[16];
    size_t needed = 0;
    qm_hresult hr;

    memset(&nobody, 0x5A, sizeof nobody);
    CHECK_HR(qm_manager_get_job(mgr, &nobody, &job), QM_BG_E_NOT_FOUND);
    CHECK_HR(qm_manager_get_job(mgr, NULL, &job), QM_E_INVALIDARG);
    CHECK_HR(qm_job_create(mgr, "bad calls", &job), QM_S_OK);
    CHECK_HR(qm_job_resume(job), QM_BG_E_EMPTY);
    CHECK_HR(qm_job_add_file(job, "ftp://example.com/x", ct_path(dir, "x")), QM_E_INVALIDARG);
    CHECK_HR(qm_job_add_file(job, "file:///etc/hostname", "relative/path"), QM_E_INVALIDARG);
    CHECK_HR(qm_job_add_file(job, "file:///etc/hostname", ct_path(dir, "missing-dir/x")), QM_E_PATH_NOT_FOUND);
    CHECK_HR(qm_job_set_notify(job, NULL, NULL, 0x100), QM_E_INVALIDARG);
    CHECK_HR(qm_job_get_file_remote_name(job, 0, NULL, 0, &needed), QM_E_ITEM_NOT_FOUND);
    CHECK_HR(qm_job_get_display_name(job, name, sizeof name, &needed), QM_S_OK);
    CHECK(strcmp(name, "bad calls") == 0);
    CHECK_HR(qm_job_get_display_name(job, name, 4, &needed), QM_E_INSUFFICIENT_BUFFER);
    CHECK_EQ(needed, 10);
    CHECK_HR(qm_job_get_state(job, NULL), QM_E_POINTER);
    CHECK_HR(qm_manager_set_max_active_jobs(mgr, 0), QM_E_INVALIDARG);
    CHECK_HR(qm_manager_enum_jobs_ex(mgr, 0x80, list, 4, &n), QM_E_INVALIDARG);
    CHECK_HR(qm_manager_enum_jobs_ex(mgr, 0, list, 4, &n), QM_S_OK);
    CHECK_EQ(n, 1);
    CHECK_HR(qm_job_close(list[0]), QM_S_OK);
    /* Every user's jobs: an administrator's right only. */
    hr = qm_manager_enum_jobs_ex(mgr, QM_ENUM_ALL_USERS, NULL, 0, &n);
    CHECK(hr == QM_S_OK || hr == QM_E_ACCESSDENIED);
    CHECK_HR(qm_job_cancel(job), QM_S_OK);
    CHECK_HR(qm_job_cancel(job), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_close(job), QM_S_OK);
    CHECK_HR(qm_job_close(job), QM_E_HANDLE);
}

static void no_daemon(const char *dir) {
    qm_manager_t mgr = 0;
    char message[512];
    size_t needed = 0;
    char address[400];

    snprintf(address, sizeof address, "unix:%s", ct_path(dir, "no-daemon.sock"));
    CHECK_HR(qm_manager_connect(address, &mgr), QM_E_SERVICE_UNAVAILABLE);
    CHECK_EQ(mgr, 0);
    CHECK_HR(qm_get_last_error_message(message, sizeof message, &needed), QM_S_OK);
    CHECK(strstr(message, "no-daemon.sock") != NULL);
    CHECK_HR(qm_manager_connect("tcp:127.0.0.1:1", &mgr), QM_E_INVALIDARG);
    CHECK_HR(qm_manager_connect("unix:/x", NULL), QM_E_POINTER);
}

int main(int argc, char **argv) {
    qm_manager_t mgr = 0;
    if (argc != 3) {
        fprintf(stderr, "usage: proxy WORK_DIR ADDRESS\n");
        return 2;
    }
    if (!CHECK_HR(qm_manager_connect(argv[2], &mgr), QM_S_OK)) return ct_finish("proxy");
    lifecycle(mgr, argv[1]);
    bad_calls(mgr, argv[1]);
    CHECK_HR(qm_manager_close(mgr), QM_S_OK);
    CHECK_HR(qm_manager_close(mgr), QM_E_HANDLE);
    no_daemon(argv[1]);
    return ct_finish("proxy");
}
