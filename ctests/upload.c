/* Upload jobs through the C API (issue 25): a job of QM_JOB_TYPE_UPLOAD
 * sends one file over tus and reports the bytes the server confirmed; a
 * second file is QM_BG_E_TOO_MANY_FILES; a QM_JOB_TYPE_UPLOAD_REPLY job
 * over the resumable-upload draft gets the server's reply in its reply
 * file and through qm_job_get_reply_data, with its progress. In-process.
 *
 * Usage: upload all TUS_URL RUFH_URL FILE SCRATCH_DIR
 *        upload child STATE_DIR TUS_URL FILE
 * `child` starts an upload job in STATE_DIR and waits until it is killed
 * (the SIGKILL test of tests/it/upload_jobs.rs). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "qmgr.h"

static uint64_t file_size(const char *path) {
    FILE *f = fopen(path, "rb");
    long size = -1;
    if (f != NULL && fseek(f, 0, SEEK_END) == 0) {
        size = ftell(f);
    }
    if (f != NULL) {
        fclose(f);
    }
    return size < 0 ? 0 : (uint64_t)size;
}

static int child(const char *state_dir, const char *url, const char *file) {
    qm_manager_t mgr = 0;
    qm_job_t job = 0;
    uint32_t state = 99;
    if (qm_manager_open(state_dir, &mgr) != QM_S_OK ||
        qm_job_create_ex(mgr, "core dump", QM_JOB_TYPE_UPLOAD, &job) != QM_S_OK ||
        qm_job_add_file(job, url, file) != QM_S_OK || qm_job_set_min_retry_delay(job, 1) != QM_S_OK ||
        qm_job_resume(job) != QM_S_OK) {
        return 2;
    }
    for (;;) { /* until the test kills this process */
        if (qm_job_wait(job, 60000, &state) == QM_S_OK && state != QM_JOB_STATE_TRANSIENT_ERROR) {
            fprintf(stderr, "child: the upload settled in state %u before the kill\n", state);
            return 3;
        }
    }
}

int main(int argc, char **argv) {
    qm_manager_t mgr = 0;
    qm_job_t job = 0, reply = 0;
    uint32_t type = 99, protocol = 99, state = 99;
    uint64_t done = 0, total = 0, got = 0;
    size_t needed = 0;
    unsigned char buf[512];
    char reply_file[4096];
    if (argc == 5 && strcmp(argv[1], "child") == 0) {
        return child(argv[2], argv[3], argv[4]);
    }
    if (argc < 7 || strcmp(argv[1], "all") != 0) {
        fprintf(stderr, "usage: %s all TUS_URL RUFH_URL FILE SCRATCH_DIR BIG_REPLY_URL\n",
                argv[0]);
        return 2;
    }
    const char *tus = argv[2], *rufh = argv[3], *file = argv[4], *dir = argv[5];
    const char *big = argv[6];
    const uint64_t size = file_size(file);
    CHECK(size > 0);
    CHECK_HR(ct_open_manager(&mgr), QM_S_OK);

    /* An upload job: one file, tus by default, progress = confirmed bytes. */
    CHECK_HR(qm_job_create_ex(mgr, "up", 7, &job), QM_E_INVALIDARG);
    CHECK_HR(qm_job_create_ex(mgr, "up", QM_JOB_TYPE_UPLOAD, NULL), QM_E_POINTER);
    CHECK_HR(qm_job_create_ex(mgr, NULL, QM_JOB_TYPE_UPLOAD, &job), QM_E_INVALIDARG);
    CHECK_HR(qm_job_create_ex(mgr, "up", QM_JOB_TYPE_UPLOAD, &job), QM_S_OK);
    CHECK_HR(qm_job_get_type(job, NULL), QM_E_POINTER);
    CHECK_HR(qm_job_get_type(job, &type), QM_S_OK);
    CHECK_EQ(type, QM_JOB_TYPE_UPLOAD);
    CHECK_HR(qm_job_get_upload_protocol(job, &protocol), QM_S_OK);
    CHECK_EQ(protocol, QM_UPLOAD_PROTOCOL_TUS);
    CHECK_HR(qm_job_set_upload_protocol(job, 9), QM_E_INVALIDARG);
    CHECK_HR(qm_job_add_file(job, tus, file), QM_S_OK);
    CHECK_HR(qm_job_add_file(job, tus, file), QM_BG_E_TOO_MANY_FILES);
    CHECK_HR(qm_job_set_dynamic_content(job, 1), QM_E_INVALIDARG);
    CHECK_HR(qm_job_get_reply_data(job, NULL, 0, &needed), QM_E_NOTIMPL);
    CHECK_HR(qm_job_set_reply_file_name(job, ct_path(dir, "no")), QM_E_NOTIMPL);
    CHECK_HR(qm_job_resume(job), QM_S_OK);
    CHECK_HR(qm_job_wait(job, 60000, &state), QM_S_OK);
    CHECK_EQ(state, QM_JOB_STATE_TRANSFERRED);
    CHECK_HR(qm_job_get_progress(job, QM_PROGRESS_SIZE_DONE, &done), QM_S_OK);
    CHECK_EQ(done, size);
    CHECK_HR(qm_job_get_progress(job, QM_PROGRESS_PERCENT_DONE, &done), QM_S_OK);
    CHECK_EQ(done, 100);
    CHECK_HR(qm_job_complete(job), QM_S_OK);
    CHECK_HR(qm_job_close(job), QM_S_OK);

    /* A download job has the type of qm_job_create and no upload calls. */
    CHECK_HR(qm_job_create(mgr, "down", &job), QM_S_OK);
    CHECK_HR(qm_job_get_type(job, &type), QM_S_OK);
    CHECK_EQ(type, QM_JOB_TYPE_DOWNLOAD);
    CHECK_HR(qm_job_get_upload_protocol(job, &protocol), QM_E_NOTIMPL);
    CHECK_HR(qm_job_cancel(job), QM_S_OK);
    CHECK_HR(qm_job_close(job), QM_S_OK);

    /* An upload-reply job: the draft's final response is the reply. */
    CHECK_HR(qm_job_create_ex(mgr, "reply", QM_JOB_TYPE_UPLOAD_REPLY, &reply), QM_S_OK);
    CHECK_HR(qm_job_get_upload_protocol(reply, &protocol), QM_S_OK);
    CHECK_EQ(protocol, QM_UPLOAD_PROTOCOL_RUFH);
    CHECK_HR(qm_job_set_upload_protocol(reply, QM_UPLOAD_PROTOCOL_TUS), QM_E_INVALIDARG);
    CHECK_HR(qm_job_get_reply_file_name(reply, NULL, 0, &needed), QM_S_FALSE);
    CHECK_EQ(needed, 1);
    CHECK_HR(qm_job_set_reply_file_name(reply, "relative/reply"), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_reply_file_name(reply, ct_path(dir, "reply.json")), QM_S_OK);
    CHECK_HR(qm_job_get_reply_file_name(reply, NULL, 0, &needed), QM_S_OK);
    CHECK_EQ(needed, strlen(ct_path(dir, "reply.json")) + 1);
    CHECK_HR(qm_job_add_file(reply, rufh, file), QM_S_OK);
    CHECK_HR(qm_job_get_reply_progress(reply, &total, NULL), QM_E_POINTER);
    CHECK_HR(qm_job_get_reply_progress(reply, &total, &got), QM_S_OK);
    CHECK_EQ(total, QM_SIZE_UNKNOWN);
    CHECK_EQ(got, 0);
    CHECK_HR(qm_job_get_reply_data(reply, NULL, 0, &needed), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_get_reply_data(reply, NULL, 0, NULL), QM_E_POINTER);
    CHECK_HR(qm_job_resume(reply), QM_S_OK);
    CHECK_HR(qm_job_wait(reply, 60000, &state), QM_S_OK);
    CHECK_EQ(state, QM_JOB_STATE_TRANSFERRED);
    CHECK_HR(qm_job_get_reply_data(reply, NULL, 0, &needed), QM_S_OK);
    CHECK(needed > 0 && needed < sizeof buf);
    CHECK_HR(qm_job_get_reply_data(reply, buf, 1, &needed), QM_E_INSUFFICIENT_BUFFER);
    CHECK_HR(qm_job_get_reply_data(reply, NULL, 5, &needed), QM_E_POINTER);
    CHECK_HR(qm_job_get_reply_data(reply, buf, sizeof buf - 1, &needed), QM_S_OK);
    if (needed < sizeof buf) {
        char expected[64];
        buf[needed] = 0;
        snprintf(expected, sizeof expected, "\"size\":%llu", (unsigned long long)size);
        CHECK(strstr((const char *)buf, expected) != NULL);
    }
    CHECK_HR(qm_job_get_reply_progress(reply, &total, &got), QM_S_OK);
    CHECK_EQ(total, needed);
    CHECK_EQ(got, needed);
    CHECK(ct_exists(ct_path(dir, "reply.json")));
    CHECK_HR(qm_job_complete(reply), QM_S_OK);
    CHECK_HR(qm_job_close(reply), QM_S_OK);

    /* A reply over QM_MAX_REPLY_DATA with no reply file named: as BITS,
     * GetReplyData answers BG_E_TOO_LARGE with the reply's size, and the
     * reply is in a reply file named beside the local file. */
    CHECK_HR(qm_job_create_ex(mgr, "big", QM_JOB_TYPE_UPLOAD_REPLY, &reply), QM_S_OK);
    CHECK_HR(qm_job_add_file(reply, big, file), QM_S_OK);
    CHECK_HR(qm_job_resume(reply), QM_S_OK);
    CHECK_HR(qm_job_wait(reply, 60000, &state), QM_S_OK);
    CHECK_EQ(state, QM_JOB_STATE_TRANSFERRED);
    CHECK_HR(qm_job_get_reply_progress(reply, &total, &got), QM_S_OK);
    CHECK(total > QM_MAX_REPLY_DATA);
    needed = 0;
    CHECK_HR(qm_job_get_reply_data(reply, buf, sizeof buf, &needed), QM_BG_E_TOO_LARGE);
    CHECK_EQ(needed, total);
    CHECK_HR(qm_job_get_reply_file_name(reply, reply_file, sizeof reply_file, &needed), QM_S_OK);
    CHECK(ct_exists(reply_file));
    CHECK_EQ(file_size(reply_file), total);
    CHECK_HR(qm_job_complete(reply), QM_S_OK);
    CHECK_HR(qm_job_close(reply), QM_S_OK);
    CHECK_HR(qm_manager_close(mgr), QM_S_OK);
    return ct_finish("upload");
}
