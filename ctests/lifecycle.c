/* The job's life, row by row (DESIGN.md "The job's life"), through the C
 * header only: create, add_files, resume, suspend, cancel, complete, wait,
 * the errors of local transfers, notifications, checksums and scheduling. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

static const char *dir;
static qm_manager_t mgr;

static uint32_t state_of(qm_job_t job) {
    uint32_t s = 99;
    CHECK_HR(qm_job_get_state(job, &s), QM_S_OK);
    return s;
}

static uint64_t progress(qm_job_t job, uint32_t flag) {
    uint64_t v = 12345;
    CHECK_HR(qm_job_get_progress(job, flag, &v), QM_S_OK);
    return v;
}

/* Waits (at most CT_WAIT_MS) for a settled state and returns it; a timeout
 * is reported at the caller's line. */
#define wait_settled(job) wait_settled_at((job), __LINE__)
static uint32_t wait_settled_at(qm_job_t job, int line) {
    uint32_t s = 99;
    ct_check_hr(qm_job_wait(job, CT_WAIT_MS, &s), QM_S_OK, "qm_job_wait(job, CT_WAIT_MS, &s): the job to settle",
                __FILE__, line);
    return s;
}

/* 1 when file index of job has every byte (a local copy: it is transferred). */
static int file_completed(qm_job_t job, uint32_t index) {
    qm_file_progress fp = QM_FILE_PROGRESS_INIT;
    CHECK_HR(qm_job_get_file_progress(job, index, &fp), QM_S_OK);
    return fp.completed;
}

static uint64_t file_bytes(qm_job_t job, uint32_t index) {
    qm_file_progress fp = QM_FILE_PROGRESS_INIT;
    CHECK_HR(qm_job_get_file_progress(job, index, &fp), QM_S_OK);
    return fp.bytes_transferred;
}

static qm_job_t new_job(const char *name) {
    qm_job_t job = 0;
    CHECK_HR(qm_job_create(mgr, name, &job), QM_S_OK);
    CHECK(job != 0);
    return job;
}

/* The acceptance path: two local files, create -> add_files ->
 * resume -> wait -> TRANSFERRED -> complete -> ACKNOWLEDGED, byte-identical. */
static void two_files_end_to_end(void) {
    const char *src1 = ct_path(dir, "e2e-src1.bin"), *src2 = ct_path(dir, "e2e-src2.bin");
    const char *dst1 = ct_path(dir, "e2e-dst1.bin"), *dst2 = ct_path(dir, "e2e-dst2.bin");
    char url[4200];
    qm_file_set_info files[2] = {QM_FILE_SET_INFO_INIT, QM_FILE_SET_INFO_INIT};
    qm_job_t job;
    qm_file_progress fp = QM_FILE_PROGRESS_INIT;
    qm_job_progress jp = QM_JOB_PROGRESS_INIT;
    uint32_t status = 0, count = 0;

    CHECK(ct_write_pattern_file(src1, 3 * 1024 * 1024 + 17, 1));
    CHECK(ct_write_pattern_file(src2, 100000, 2));
    snprintf(url, sizeof url, "file://%s", src2);
    files[0].remote_name = src1; /* an absolute path */
    files[0].local_name = dst1;
    files[0].size_hint = 0;
    files[1].remote_name = url; /* a file:// URL */
    files[1].local_name = dst2;
    files[1].size_hint = 100000;

    job = new_job("two files");
    CHECK_HR(qm_job_add_files(job, 2, files), QM_S_OK);
    CHECK_HR(qm_job_get_file_count(job, &count), QM_S_OK);
    CHECK_EQ(count, 2);
    /* A file's progress starts at {SIZE_UNKNOWN, 0, false}; the job's total is unknown. */
    CHECK_HR(qm_job_get_file_progress(job, 0, &fp), QM_S_OK);
    CHECK_EQ(fp.bytes_total, QM_SIZE_UNKNOWN);
    CHECK_EQ(fp.bytes_transferred, 0);
    CHECK_EQ(fp.completed, 0);
    CHECK_EQ(fp.struct_size, sizeof fp);
    CHECK_HR(qm_job_get_progress_ex(job, &jp), QM_S_OK);
    CHECK_EQ(jp.struct_size, sizeof jp);
    CHECK_EQ(jp.bytes_total, QM_SIZE_UNKNOWN);
    CHECK_EQ(jp.files_total, 2);
    CHECK_EQ(progress(job, QM_PROGRESS_PERCENT_DONE), 0);
    CHECK_EQ(state_of(job), QM_JOB_STATE_SUSPENDED);

    CHECK_HR(qm_job_resume(job), QM_S_OK);
    CHECK_EQ(wait_settled(job), QM_JOB_STATE_TRANSFERRED);
    CHECK_EQ(progress(job, QM_PROGRESS_PERCENT_DONE), 100);
    CHECK_EQ(progress(job, QM_PROGRESS_SIZE_DONE), 3 * 1024 * 1024 + 17 + 100000);
    CHECK_HR(qm_job_get_progress_ex(job, &jp), QM_S_OK);
    CHECK_EQ(jp.bytes_total, 3 * 1024 * 1024 + 17 + 100000);
    CHECK_EQ(jp.files_transferred, 2);
    CHECK_EQ(jp.eta_seconds, 0);
    CHECK_HR(qm_job_get_status(job, &status, NULL, NULL, NULL), QM_S_OK);
    CHECK_EQ(status, QM_STATUS_JOB_COMPLETE);
    CHECK_HR(qm_job_get_file_progress(job, 1, &fp), QM_S_OK);
    CHECK_EQ(fp.completed, 1);
    CHECK_EQ(fp.bytes_total, 100000);
    /* Nobody sees a file at the local names before complete. */
    CHECK(!ct_exists(dst1));
    CHECK(!ct_exists(dst2));
    CHECK_EQ(ct_count_entries(dir, ".qmgr-part"), 2);

    {
        /* Partial data is private; finished files get 0666 minus the umask at
           complete time, as curl or cp would give them. */
        mode_t old_mask = umask(027);
        struct stat st;
        CHECK_HR(qm_job_complete(job), QM_S_OK);
        umask(old_mask);
        if (!ct_skip_in_daemon_mode("the mode of completed files",
                                    "the daemon completes them, with its own umask")) {
            CHECK(stat(dst1, &st) == 0);
            CHECK_EQ(st.st_mode & 0777, 0640);
            CHECK(stat(dst2, &st) == 0);
            CHECK_EQ(st.st_mode & 0777, 0640);
        }
    }
    CHECK_EQ(state_of(job), QM_JOB_STATE_ACKNOWLEDGED);
    CHECK(ct_files_equal(src1, dst1));
    CHECK(ct_files_equal(src2, dst2));
    CHECK_EQ(ct_count_entries(dir, ".qmgr-part"), 0);
    /* A final job stays readable through its reference, and refuses changes. */
    CHECK_EQ(progress(job, QM_PROGRESS_PERCENT_DONE), 100);
    CHECK_HR(qm_job_complete(job), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_close(job), QM_S_OK);
    CHECK_HR(qm_job_close(job), QM_E_HANDLE);
}

/* "create" row and the seed's GetProgress on a new job. */
static void new_job_defaults(void) {
    qm_job_t job = new_job("defaults");
    uint32_t v = 0, status = 0, win32 = 7, transport = 7, retries = 7;
    uint64_t bw = 1;
    qm_job_progress jp = QM_JOB_PROGRESS_INIT;
    qm_job_times times = QM_JOB_TIMES_INIT;
    qm_job_error err = QM_JOB_ERROR_INIT;
    qm_guid id, parsed;
    char text[64];
    size_t needed = 0;

    CHECK_EQ(state_of(job), QM_JOB_STATE_SUSPENDED);
    CHECK_EQ(progress(job, QM_PROGRESS_PERCENT_DONE), 0);
    CHECK_EQ(progress(job, QM_PROGRESS_SIZE_DONE), 0);
    {
        uint64_t out = 77;
        CHECK_HR(qm_job_get_progress(job, QM_PROGRESS_TIME_DONE, &out), QM_E_NOTIMPL);
        CHECK_EQ(out, 77); /* out-parameters are written only on success */
    }
    /* Before any file is added, progress is all zeros. */
    CHECK_HR(qm_job_get_progress_ex(job, &jp), QM_S_OK);
    CHECK_EQ(jp.bytes_total, 0);
    CHECK_EQ(jp.files_total, 0);
    CHECK_HR(qm_job_get_priority(job, &v), QM_S_OK);
    CHECK_EQ(v, QM_PRIORITY_NORMAL);
    CHECK_HR(qm_job_get_notify_flags(job, &v), QM_S_OK);
    CHECK_EQ(v, QM_NOTIFY_JOB_TRANSFERRED | QM_NOTIFY_JOB_ERROR);
    CHECK_HR(qm_job_get_min_retry_delay(job, &v), QM_S_OK);
    CHECK_EQ(v, 600);
    CHECK_HR(qm_job_get_no_progress_timeout(job, &v), QM_S_OK);
    CHECK_EQ(v, 1209600);
    CHECK_HR(qm_job_get_max_bandwidth(job, &bw), QM_S_OK);
    CHECK_EQ(bw, 0);
    CHECK_HR(qm_job_get_status(job, &status, &win32, &transport, &retries), QM_S_OK);
    CHECK_EQ(status, QM_STATUS_JOB_COMPLETE); /* no file is untransferred */
    CHECK_EQ(win32, 0);
    CHECK_EQ(transport, 0);
    CHECK_EQ(retries, 0);
    CHECK_HR(qm_job_get_error(job, &err), QM_BG_E_ERROR_INFORMATION_UNAVAILABLE);
    CHECK_HR(qm_job_get_times(job, &times), QM_S_OK);
    CHECK(times.creation_ms > 1600000000000LL);
    CHECK(times.modification_ms >= times.creation_ms);
    CHECK_EQ(times.transfer_completion_ms, 0);
    CHECK_HR(qm_job_get_display_name(job, text, sizeof text, &needed), QM_S_OK);
    CHECK(strcmp(text, "defaults") == 0);
    CHECK_EQ(needed, 9);

    /* Resume on an empty job: QM_BG_E_EMPTY, and the job stays put. */
    CHECK_HR(qm_job_resume(job), QM_BG_E_EMPTY);
    CHECK_EQ(state_of(job), QM_JOB_STATE_SUSPENDED);

    /* The id round-trips through its text form and finds the job. */
    CHECK_HR(qm_job_get_id(job, &id), QM_S_OK);
    CHECK_HR(qm_guid_to_string(&id, text, sizeof text, &needed), QM_S_OK);
    CHECK_EQ(needed, 37);
    CHECK_HR(qm_guid_from_string(text, &parsed), QM_S_OK);
    CHECK(memcmp(id.bytes, parsed.bytes, 16) == 0);
    {
        qm_job_t again = 0;
        qm_guid other;
        CHECK_HR(qm_manager_get_job(mgr, &parsed, &again), QM_S_OK);
        CHECK(again != 0 && again != job);
        CHECK_EQ(state_of(again), QM_JOB_STATE_SUSPENDED);
        CHECK_HR(qm_job_close(again), QM_S_OK);
        CHECK_HR(qm_guid_from_string("00000000-0000-0000-0000-000000000000", &other), QM_S_OK);
        CHECK_HR(qm_manager_get_job(mgr, &other, &again), QM_BG_E_NOT_FOUND);
    }

    /* Cancel twice: the second gives QM_BG_E_INVALID_STATE. */
    CHECK_HR(qm_job_cancel(job), QM_S_OK);
    CHECK_EQ(state_of(job), QM_JOB_STATE_CANCELLED);
    CHECK_HR(qm_job_cancel(job), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_resume(job), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_suspend(job), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_complete(job), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_add_file(job, "/etc/hostname", ct_path(dir, "never")), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_set_priority(job, QM_PRIORITY_HIGH), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_set_display_name(job, "x"), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_switch_to_foreground(job), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_manager_get_job(mgr, &id, &v == NULL ? NULL : &(qm_job_t){0}), QM_BG_E_NOT_FOUND);
    {
        uint32_t s = 0;
        CHECK_HR(qm_job_wait(job, 0, &s), QM_S_OK);
        CHECK_EQ(s, QM_JOB_STATE_CANCELLED);
    }
    CHECK_HR(qm_job_close(job), QM_S_OK);
}

/* Suspend mid-transfer keeps the partial data; resume continues; resume on
 * an active job changes nothing; wait times out with QM_S_FALSE. */
static void suspend_resume_and_wait(void) {
    const char *src = ct_path(dir, "sr-src.bin"), *dst = ct_path(dir, "sr-dst.bin");
    const char *wsrc = ct_path(dir, "sr-witness-src.bin"), *wdst = ct_path(dir, "sr-witness.bin");
    qm_job_t job = new_job("suspend/resume"), witness;
    uint64_t before, after;
    uint32_t s = 99;
    const uint64_t size = 8 * 1024 * 1024;

    CHECK(ct_write_pattern_file(src, size, 3));
    CHECK(ct_write_pattern_file(wsrc, 1024 * 1024, 33));
    CHECK_HR(qm_job_add_file(job, src, dst), QM_S_OK);
    /* 256 KiB/s: the whole file would take 32 s, so it is still moving at
       every step below however slow the machine (a throttle only slows). */
    CHECK_HR(qm_job_set_max_bandwidth(job, 256 * 1024), QM_S_OK);
    CHECK_HR(qm_job_resume(job), QM_S_OK);
    CHECK_HR(qm_job_wait(job, 300, &s), QM_S_FALSE);
    CHECK_EQ(s, 99);
    CHECK_HR(qm_job_resume(job), QM_S_OK); /* already active: no change */
    s = state_of(job);
    CHECK(s == QM_JOB_STATE_QUEUED || s == QM_JOB_STATE_CONNECTING || s == QM_JOB_STATE_TRANSFERRING);
    CT_WAIT_UNTIL(progress(job, QM_PROGRESS_SIZE_DONE) > 0, CT_WAIT_MS, "the throttled job to move its first bytes");
    CHECK(progress(job, QM_PROGRESS_SIZE_DONE) > 0);

    {
        /* Suspend interrupts the transfer: it returns long before the 32 s
           the file needs (the bound only catches a hang), and the job holds
           part of the file. */
        uint64_t t0 = ct_now_ms();
        CHECK_HR(qm_job_suspend(job), QM_S_OK);
        CHECK(ct_now_ms() - t0 < 20000);
    }
    CHECK_EQ(state_of(job), QM_JOB_STATE_SUSPENDED);
    before = progress(job, QM_PROGRESS_SIZE_DONE);
    CHECK(before > 0 && before < size);
    /* Nothing moves while suspended. The window is measured in the engine's
       own work, not in wall time: a witness job of the same manager at the
       same rate must move 128 KiB (half a second of throttled copying, more
       on a slow machine) while the suspended job moves not one byte. */
    witness = new_job("suspend witness");
    CHECK_HR(qm_job_add_file(witness, wsrc, wdst), QM_S_OK);
    CHECK_HR(qm_job_set_max_bandwidth(witness, 256 * 1024), QM_S_OK);
    CHECK_HR(qm_job_resume(witness), QM_S_OK);
    CT_WAIT_UNTIL(progress(witness, QM_PROGRESS_SIZE_DONE) >= 128 * 1024, CT_WAIT_MS,
                  "the witness job to move 128 KiB");
    after = progress(job, QM_PROGRESS_SIZE_DONE);
    CHECK_EQ(after, before); /* nothing moves while suspended */
    CHECK_EQ(state_of(job), QM_JOB_STATE_SUSPENDED);
    CHECK_HR(qm_job_cancel(witness), QM_S_OK);
    CHECK_HR(qm_job_close(witness), QM_S_OK);
    CHECK_EQ(ct_count_entries(dir, ".sr-dst.bin."), 1); /* partial data kept */
    CHECK_HR(qm_job_wait(job, 0, &s), QM_S_OK);
    CHECK_EQ(s, QM_JOB_STATE_SUSPENDED);

    CHECK_HR(qm_job_set_max_bandwidth(job, 0), QM_S_OK);
    CHECK_HR(qm_job_resume(job), QM_S_OK);
    CHECK_EQ(wait_settled(job), QM_JOB_STATE_TRANSFERRED);
    CHECK_HR(qm_job_complete(job), QM_S_OK);
    CHECK(ct_files_equal(src, dst));
    CHECK_HR(qm_job_close(job), QM_S_OK);
}

/* Cancel mid-transfer deletes every temporary file. */
static void cancel_deletes_temporaries(void) {
    const char *src = ct_path(dir, "cx-src.bin"), *dst = ct_path(dir, "cx-dst.bin");
    const char *small = ct_path(dir, "cx-small.bin"), *dst2 = ct_path(dir, "cx-dst2.bin");
    qm_job_t job = new_job("cancel");
    CHECK(ct_write_pattern_file(small, 1000, 4));
    CHECK(ct_write_pattern_file(src, 4 * 1024 * 1024, 5));
    CHECK_HR(qm_job_add_file(job, small, dst2), QM_S_OK);
    CHECK_HR(qm_job_add_file(job, src, dst), QM_S_OK);
    /* 512 KiB/s: the big file needs 8 s, so it is still partial below. */
    CHECK_HR(qm_job_set_max_bandwidth(job, 512 * 1024), QM_S_OK);
    CHECK_HR(qm_job_resume(job), QM_S_OK);
    /* The files may move in parallel: wait for each one's own state, not
       for a total that the big file alone could reach. */
    CT_WAIT_UNTIL(file_completed(job, 0) && file_bytes(job, 1) >= 65536, CT_WAIT_MS,
                  "the small file to be transferred and the big one to hold 64 KiB");
    CHECK(file_completed(job, 0));
    CHECK(!file_completed(job, 1));
    CHECK_EQ(ct_count_entries(dir, ".cx-dst"), 2); /* one complete, one partial */
    CHECK_HR(qm_job_cancel(job), QM_S_OK);
    CHECK_EQ(ct_count_entries(dir, ".cx-dst"), 0);
    CHECK(!ct_exists(dst) && !ct_exists(dst2));
    CHECK_HR(qm_job_close(job), QM_S_OK);
}

/* complete with some files not transferred: QM_BG_S_PARTIAL_COMPLETE. A
 * rename that fails leaves the job as it was, and a retry succeeds. */
static void partial_and_failed_complete(void) {
    const char *a = ct_path(dir, "pc-a.bin"), *b = ct_path(dir, "pc-b.bin");
    const char *da = ct_path(dir, "pc-da.bin"), *db = ct_path(dir, "pc-db.bin");
    const char *blocker = ct_path(dir, "pc-blocked");
    qm_job_t job = new_job("partial");
    CHECK(ct_write_pattern_file(a, 5000, 6));
    CHECK(ct_write_pattern_file(b, 6 * 1024 * 1024, 7));
    CHECK_HR(qm_job_add_file(job, a, da), QM_S_OK);
    CHECK_HR(qm_job_add_file(job, b, db), QM_S_OK);
    /* 256 KiB/s: the big file needs 24 s, so it is not transferred at complete. */
    CHECK_HR(qm_job_set_max_bandwidth(job, 256 * 1024), QM_S_OK);
    CHECK_HR(qm_job_resume(job), QM_S_OK);
    /* The files may move in parallel: wait for the small one itself. */
    CT_WAIT_UNTIL(file_completed(job, 0), CT_WAIT_MS, "the small file to be transferred");
    CHECK(!file_completed(job, 1));
    CHECK_HR(qm_job_complete(job), QM_BG_S_PARTIAL_COMPLETE);
    CHECK_EQ(state_of(job), QM_JOB_STATE_ACKNOWLEDGED);
    CHECK(ct_files_equal(a, da));
    CHECK(!ct_exists(db));
    CHECK_EQ(ct_count_entries(dir, ".pc-d"), 0);
    CHECK_HR(qm_job_close(job), QM_S_OK);

    /* The local name is a directory: the rename fails and the job stays TRANSFERRED. */
    CHECK(mkdir(blocker, 0700) == 0);
    job = new_job("blocked");
    CHECK_HR(qm_job_add_file(job, a, blocker), QM_S_OK);
    CHECK_HR(qm_job_resume(job), QM_S_OK);
    CHECK_EQ(wait_settled(job), QM_JOB_STATE_TRANSFERRED);
    {
        qm_hresult hr = qm_job_complete(job);
        CHECK(QM_FAILED(hr));
    }
    CHECK_EQ(state_of(job), QM_JOB_STATE_TRANSFERRED);
    CHECK(rmdir(blocker) == 0);
    CHECK_HR(qm_job_complete(job), QM_S_OK);
    CHECK(ct_files_equal(a, blocker));
    CHECK_HR(qm_job_close(job), QM_S_OK);
}

/* add_files on a TRANSFERRED job sends it back to QUEUED, and it carries on. */
static void add_after_transferred(void) {
    const char *a = ct_path(dir, "at-a.bin"), *b = ct_path(dir, "at-b.bin");
    const char *da = ct_path(dir, "at-da.bin"), *db = ct_path(dir, "at-db.bin");
    qm_job_t job = new_job("add later");
    qm_job_times times = QM_JOB_TIMES_INIT;
    CHECK(ct_write_pattern_file(a, 70000, 8));
    CHECK(ct_write_pattern_file(b, 90000, 9));
    CHECK_HR(qm_job_add_file(job, a, da), QM_S_OK);
    CHECK_HR(qm_job_resume(job), QM_S_OK);
    CHECK_EQ(wait_settled(job), QM_JOB_STATE_TRANSFERRED);
    CHECK_HR(qm_job_get_times(job, &times), QM_S_OK);
    CHECK(times.transfer_completion_ms >= times.creation_ms);
    CHECK_HR(qm_job_resume(job), QM_BG_E_EMPTY); /* nothing left to transfer */
    CHECK_HR(qm_job_set_max_bandwidth(job, 16 * 1024), QM_S_OK); /* keep it active while we look */
    CHECK_HR(qm_job_add_file(job, b, db), QM_S_OK);
    {
        uint32_t s = state_of(job);
        CHECK(s == QM_JOB_STATE_QUEUED || s == QM_JOB_STATE_CONNECTING || s == QM_JOB_STATE_TRANSFERRING);
    }
    CHECK_HR(qm_job_set_max_bandwidth(job, 0), QM_S_OK);
    CHECK_EQ(wait_settled(job), QM_JOB_STATE_TRANSFERRED);
    CHECK_EQ(progress(job, QM_PROGRESS_SIZE_DONE), 160000);
    CHECK_HR(qm_job_complete(job), QM_S_OK);
    CHECK(ct_files_equal(a, da) && ct_files_equal(b, db));
    CHECK_HR(qm_job_close(job), QM_S_OK);
}

/* Fatal errors of local transfers, their codes and contexts, and recovery. */
static void errors(void) {
    const char *src = ct_path(dir, "er-src.bin");
    const char *missing_dir_dst = ct_path(dir, "no-such-dir/out.bin");
    qm_job_t job;
    qm_job_error err = QM_JOB_ERROR_INIT;
    uint32_t status = 0, win32 = 0, transport = 9, retries = 9;
    char text[1024];
    size_t needed = 0;

    CHECK(ct_write_pattern_file(src, 12345, 10));

    /* A missing local directory is refused when the file is added, naming it. */
    job = new_job("missing dir");
    CHECK_HR(qm_job_add_file(job, src, missing_dir_dst), QM_E_PATH_NOT_FOUND);
    CHECK_HR(qm_get_last_error_message(text, sizeof text, &needed), QM_S_OK);
    CHECK(strstr(text, "no-such-dir' of the local name") != NULL);
    /* One that goes away after the add: ERROR, Win32 error 2, LOCAL_FILE context. */
    CHECK(mkdir(ct_path(dir, "no-such-dir"), 0700) == 0);
    CHECK_HR(qm_job_add_file(job, src, missing_dir_dst), QM_S_OK);
    CHECK(rmdir(ct_path(dir, "no-such-dir")) == 0);
    CHECK_HR(qm_job_resume(job), QM_S_OK);
    CHECK_EQ(wait_settled(job), QM_JOB_STATE_ERROR);
    CHECK_HR(qm_job_get_error(job, &err), QM_S_OK);
    CHECK_HR(err.code, QM_HRESULT_FROM_WIN32(2));
    CHECK_EQ(err.context, QM_ERROR_CONTEXT_LOCAL_FILE);
    CHECK_EQ(err.file_index, 0);
    CHECK_HR(qm_job_get_status(job, &status, &win32, &transport, &retries), QM_S_OK);
    CHECK_EQ(status, QM_STATUS_JOB_INCOMPLETE | QM_STATUS_JOB_ERROR);
    CHECK_EQ(win32, 2);
    CHECK_EQ(transport, 0);
    CHECK_HR(qm_job_get_error_description(job, text, sizeof text, &needed), QM_S_OK);
    CHECK(strstr(text, "no-such-dir") != NULL);
    CHECK(strstr(text, "0x80070002") != NULL);
    /* Fix the cause and resume: it transfers. */
    CHECK(mkdir(ct_path(dir, "no-such-dir"), 0700) == 0);
    CHECK_HR(qm_job_resume(job), QM_S_OK);
    CHECK_EQ(wait_settled(job), QM_JOB_STATE_TRANSFERRED);
    CHECK_HR(qm_job_get_error(job, &err), QM_BG_E_ERROR_INFORMATION_UNAVAILABLE);
    CHECK_HR(qm_job_complete(job), QM_S_OK);
    CHECK(ct_files_equal(src, missing_dir_dst));
    CHECK_HR(qm_job_close(job), QM_S_OK);

    /* A missing source: ERROR, file not found, REMOTE_FILE context. */
    job = new_job("missing source");
    CHECK_HR(qm_job_add_file(job, ct_path(dir, "does-not-exist"), ct_path(dir, "er-out")), QM_S_OK);
    CHECK_HR(qm_job_resume(job), QM_S_OK);
    CHECK_EQ(wait_settled(job), QM_JOB_STATE_ERROR);
    CHECK_HR(qm_job_get_error(job, &err), QM_S_OK);
    CHECK_HR(err.code, QM_E_FILE_NOT_FOUND);
    CHECK_EQ(err.context, QM_ERROR_CONTEXT_REMOTE_FILE);
    /* Complete on an errored job keeps nothing: PARTIAL_COMPLETE. */
    CHECK_HR(qm_job_complete(job), QM_BG_S_PARTIAL_COMPLETE);
    CHECK(!ct_exists(ct_path(dir, "er-out")));
    CHECK_HR(qm_job_close(job), QM_S_OK);

    /* A server that cannot be reached is a transient error; with a
     * no-progress timeout of 0 the first error is final: ERROR with
     * HRESULT_FROM_WIN32(ERROR_WINHTTP_CANNOT_CONNECT). */
    job = new_job("unreachable");
    CHECK_HR(qm_job_add_file(job, "http://127.0.0.1:9/x", ct_path(dir, "http-out")), QM_S_OK);
    CHECK_HR(qm_job_set_no_progress_timeout(job, 0), QM_S_OK);
    CHECK_HR(qm_job_resume(job), QM_S_OK);
    CHECK_EQ(wait_settled(job), QM_JOB_STATE_ERROR);
    CHECK_HR(qm_job_get_error(job, &err), QM_S_OK);
    CHECK_HR(err.code, QM_HRESULT_FROM_WIN32(12029));
    CHECK_EQ(err.context, QM_ERROR_CONTEXT_GENERAL_TRANSPORT);
    CHECK_HR(qm_job_get_status(job, &status, &win32, &transport, &retries), QM_S_OK);
    CHECK_EQ(win32, 12029);
    CHECK_HR(qm_job_cancel(job), QM_S_OK);
    CHECK_HR(qm_job_close(job), QM_S_OK);
}

/* SHA-256: a match transfers, a mismatch is fatal and discards the data. */
static void checksums(void) {
    const char *src = ct_path(dir, "sha-src.txt"), *dst = ct_path(dir, "sha-dst.txt");
    /* sha256("abc") */
    const char *good = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    qm_job_t job;
    qm_job_error err = QM_JOB_ERROR_INIT;
    FILE *f = fopen(src, "wb");
    CHECK(f && fwrite("abc", 1, 3, f) == 3 && fclose(f) == 0);

    job = new_job("sha ok");
    CHECK_HR(qm_job_add_file(job, src, dst), QM_S_OK);
    CHECK_HR(qm_job_set_file_sha256(job, 0, good), QM_S_OK);
    CHECK_HR(qm_job_resume(job), QM_S_OK);
    CHECK_EQ(wait_settled(job), QM_JOB_STATE_TRANSFERRED);
    CHECK_HR(qm_job_complete(job), QM_S_OK);
    CHECK(ct_files_equal(src, dst));
    CHECK_HR(qm_job_close(job), QM_S_OK);

    job = new_job("sha bad");
    CHECK_HR(qm_job_add_file(job, src, ct_path(dir, "sha-bad.txt")), QM_S_OK);
    CHECK_HR(qm_job_set_file_sha256(job, 0, "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AE"), QM_S_OK);
    CHECK_HR(qm_job_resume(job), QM_S_OK);
    CHECK_EQ(wait_settled(job), QM_JOB_STATE_ERROR);
    CHECK_HR(qm_job_get_error(job, &err), QM_S_OK);
    CHECK_HR(err.code, QM_BG_E_VALIDATION_FAILED);
    CHECK_EQ(err.context, QM_ERROR_CONTEXT_REMOTE_FILE);
    CHECK_EQ(progress(job, QM_PROGRESS_SIZE_DONE), 0);
    CHECK_EQ(ct_count_entries(dir, ".sha-bad.txt."), 0);
    CHECK_HR(qm_job_cancel(job), QM_S_OK);
    CHECK_HR(qm_job_close(job), QM_S_OK);
}

/* Notifications: which events arrive, with which handle, index and context. */
static pthread_mutex_t notify_lock = PTHREAD_MUTEX_INITIALIZER;
static int transferred_events, file_events, error_events, modification_events, wrong_context;
static uint32_t file_index_mask;
static qm_job_t notified_job;

static void on_event(qm_job_t job, uint32_t event, uint32_t file_index, qm_hresult code, void *context) {
    uint32_t s = 0;
    pthread_mutex_lock(&notify_lock);
    if (context != (void *)&notified_job || job != notified_job) wrong_context++;
    if (event == QM_NOTIFY_JOB_TRANSFERRED) transferred_events++;
    if (event == QM_NOTIFY_JOB_ERROR) error_events++;
    if (event == QM_NOTIFY_JOB_MODIFICATION) modification_events++;
    if (event == QM_NOTIFY_FILE_TRANSFERRED && file_index < 32) {
        file_events++;
        file_index_mask |= 1u << file_index;
    }
    if (event != QM_NOTIFY_JOB_ERROR && code != QM_S_OK) wrong_context++;
    pthread_mutex_unlock(&notify_lock);
    /* A callback may call the library. */
    (void)qm_job_get_state(job, &s);
}

/* Counters read under the lock (for CT_WAIT_UNTIL conditions). */
static int notify_count(const int *counter) {
    int v;
    pthread_mutex_lock(&notify_lock);
    v = *counter;
    pthread_mutex_unlock(&notify_lock);
    return v;
}

static void notifications(void) {
    const char *a = ct_path(dir, "nt-a"), *b = ct_path(dir, "nt-b");
    qm_job_t job = new_job("notify");
    int modifications_before;
    notified_job = job;
    CHECK(ct_write_pattern_file(a, 1000, 11));
    CHECK(ct_write_pattern_file(b, 2000, 12));
    CHECK_HR(qm_job_add_file(job, a, ct_path(dir, "nt-da")), QM_S_OK);
    CHECK_HR(qm_job_add_file(job, b, ct_path(dir, "nt-db")), QM_S_OK);
    CHECK_HR(qm_job_set_notify(job, on_event, &notified_job,
                               QM_NOTIFY_JOB_TRANSFERRED | QM_NOTIFY_FILE_TRANSFERRED | QM_NOTIFY_JOB_MODIFICATION),
             QM_S_OK);
    CHECK_HR(qm_job_resume(job), QM_S_OK);
    CHECK_EQ(wait_settled(job), QM_JOB_STATE_TRANSFERRED);
    /* Delivery is asynchronous: wait for the events themselves. */
    CT_WAIT_UNTIL(notify_count(&transferred_events) >= 1 && notify_count(&file_events) >= 2, CT_WAIT_MS,
                  "JOB_TRANSFERRED and two FILE_TRANSFERRED events");
    /* After complete and close return the callback is gone and will not run
       again, so the counts read after them are final: no event came twice. */
    CHECK_HR(qm_job_complete(job), QM_S_OK);
    CHECK_HR(qm_job_close(job), QM_S_OK);
    pthread_mutex_lock(&notify_lock);
    CHECK_EQ(transferred_events, 1);
    CHECK_EQ(file_events, 2);
    CHECK_EQ(file_index_mask, 3); /* both files, in whatever order they landed */
    CHECK(modification_events > 0);
    CHECK_EQ(error_events, 0);
    CHECK_EQ(wrong_context, 0);
    pthread_mutex_unlock(&notify_lock);

    /* JOB_ERROR carries the code; DISABLE silences everything. */
    job = new_job("notify error");
    notified_job = job;
    CHECK_HR(qm_job_add_file(job, ct_path(dir, "nt-missing"), ct_path(dir, "nt-x")), QM_S_OK);
    CHECK_HR(qm_job_set_notify(job, on_event, &notified_job, QM_NOTIFY_JOB_ERROR), QM_S_OK);
    CHECK_HR(qm_job_resume(job), QM_S_OK);
    CHECK_EQ(wait_settled(job), QM_JOB_STATE_ERROR);
    CT_WAIT_UNTIL(notify_count(&error_events) >= 1, CT_WAIT_MS, "the JOB_ERROR event");
    CHECK_EQ(notify_count(&error_events), 1);
    CHECK_HR(qm_job_set_notify(job, on_event, &notified_job, QM_NOTIFY_JOB_ERROR | QM_NOTIFY_DISABLE), QM_S_OK);
    CHECK_HR(qm_job_resume(job), QM_S_OK);
    CHECK_EQ(wait_settled(job), QM_JOB_STATE_ERROR);
    /* DISABLE silenced the second error. A job's events are delivered in
       order, and an event is queued before the state it reports is visible
       to a wait: so once an event caused after that wait has arrived, a
       JOB_ERROR of the second failure would have arrived before it. */
    modifications_before = notify_count(&modification_events);
    CHECK_HR(qm_job_set_notify(job, on_event, &notified_job, QM_NOTIFY_JOB_MODIFICATION), QM_S_OK);
    CHECK_HR(qm_job_set_description(job, "after the silenced error"), QM_S_OK);
    CT_WAIT_UNTIL(notify_count(&modification_events) > modifications_before, CT_WAIT_MS,
                  "the JOB_MODIFICATION event of set_description");
    CHECK_EQ(notify_count(&error_events), 1);
    CHECK_HR(qm_job_cancel(job), QM_S_OK);
    CHECK_HR(qm_job_close(job), QM_S_OK);
}

/* Scheduling: max_active_jobs slots, queue order, FOREGROUND preemption. */
static void scheduling(void) {
    const char *src = ct_path(dir, "sch-src.bin");
    qm_job_t a, b, fg;
    uint32_t status = 0;
    uint64_t a_bytes, a_before_fg;
    CHECK(ct_write_pattern_file(src, 2 * 1024 * 1024, 13));
    CHECK_HR(qm_manager_set_max_active_jobs(mgr, 1), QM_S_OK);
    a = new_job("slow A");
    b = new_job("slow B");
    fg = new_job("foreground");
    CHECK_HR(qm_job_add_file(a, src, ct_path(dir, "sch-a")), QM_S_OK);
    CHECK_HR(qm_job_add_file(b, src, ct_path(dir, "sch-b")), QM_S_OK);
    CHECK_HR(qm_job_add_file(fg, src, ct_path(dir, "sch-fg")), QM_S_OK);
    /* 256 KiB/s: A needs 8 s for its 2 MiB, so it holds the slot below. */
    CHECK_HR(qm_job_set_max_bandwidth(a, 256 * 1024), QM_S_OK);
    CHECK_HR(qm_job_set_max_bandwidth(b, 256 * 1024), QM_S_OK);
    CHECK_HR(qm_job_resume(a), QM_S_OK);
    CT_WAIT_UNTIL(progress(a, QM_PROGRESS_SIZE_DONE) > 0, CT_WAIT_MS, "A to start moving");
    CHECK_HR(qm_job_resume(b), QM_S_OK);
    /* One slot, taken by A: B stays QUEUED while A moves another 64 KiB
       (the scheduler has had that much of the engine's time to get it wrong). */
    a_bytes = progress(a, QM_PROGRESS_SIZE_DONE);
    CT_WAIT_UNTIL(progress(a, QM_PROGRESS_SIZE_DONE) >= a_bytes + 64 * 1024, CT_WAIT_MS,
                  "A to move 64 KiB more while B is queued");
    CHECK_EQ(state_of(b), QM_JOB_STATE_QUEUED); /* one slot, taken by A */
    CHECK_EQ(progress(b, QM_PROGRESS_SIZE_DONE), 0);

    CHECK_HR(qm_job_switch_to_foreground(fg), QM_S_OK);
    CHECK_HR(qm_job_get_status(fg, &status, NULL, NULL, NULL), QM_S_OK);
    CHECK(status & QM_STATUS_JOB_FOREGROUND);
    a_before_fg = progress(a, QM_PROGRESS_SIZE_DONE);
    CHECK_HR(qm_job_resume(fg), QM_S_OK);
    /* The foreground job preempts A and finishes while A and B wait. */
    CHECK_EQ(wait_settled(fg), QM_JOB_STATE_TRANSFERRED);
    a_bytes = progress(a, QM_PROGRESS_SIZE_DONE);
    CHECK(a_bytes < 2 * 1024 * 1024);
    CHECK_EQ(progress(b, QM_PROGRESS_SIZE_DONE), 0);
    /* A kept its place (and its bytes) ahead of B: A moves on from where it
       was, while B still has not moved. */
    CHECK(a_bytes > 0 && a_bytes >= a_before_fg);
    CT_WAIT_UNTIL(progress(a, QM_PROGRESS_SIZE_DONE) >= a_bytes + 64 * 1024, CT_WAIT_MS,
                  "A to take the slot back and move 64 KiB");
    CHECK(progress(a, QM_PROGRESS_SIZE_DONE) > 0);
    CHECK_EQ(progress(b, QM_PROGRESS_SIZE_DONE), 0);
    CHECK_EQ(state_of(b), QM_JOB_STATE_QUEUED);

    CHECK_HR(qm_job_set_max_bandwidth(a, 0), QM_S_OK);
    CHECK_HR(qm_job_set_max_bandwidth(b, 0), QM_S_OK);
    CHECK_EQ(wait_settled(a), QM_JOB_STATE_TRANSFERRED);
    CHECK_EQ(wait_settled(b), QM_JOB_STATE_TRANSFERRED);
    CHECK_HR(qm_job_complete(a), QM_S_OK);
    CHECK_HR(qm_job_complete(b), QM_S_OK);
    CHECK_HR(qm_job_complete(fg), QM_S_OK);
    CHECK(ct_files_equal(src, ct_path(dir, "sch-a")));
    CHECK(ct_files_equal(src, ct_path(dir, "sch-b")));
    CHECK(ct_files_equal(src, ct_path(dir, "sch-fg")));
    CHECK_HR(qm_job_close(a), QM_S_OK);
    CHECK_HR(qm_job_close(b), QM_S_OK);
    CHECK_HR(qm_job_close(fg), QM_S_OK);
    CHECK_HR(qm_manager_set_max_active_jobs(mgr, 4), QM_S_OK);
}

/* enum_jobs lists the jobs that are not final, newest first; closing the
 * manager closes every handle of it. */
static void enumeration_and_close(void) {
    qm_job_t first = new_job("first"), second = new_job("second"), cancelled = new_job("cancelled");
    qm_job_t listed[8];
    qm_guid id_first, id_second, id_listed;
    size_t count = 0;
    qm_hresult hr;
    CHECK_HR(qm_job_cancel(cancelled), QM_S_OK);
    CHECK_HR(qm_manager_enum_jobs(mgr, NULL, 0, &count), QM_S_OK);
    CHECK_EQ(count, 2);
    hr = qm_manager_enum_jobs(mgr, listed, 8, &count);
    CHECK_HR(hr, QM_S_OK);
    if (QM_SUCCEEDED(hr) && count == 2) {
        CHECK_HR(qm_job_get_id(first, &id_first), QM_S_OK);
        CHECK_HR(qm_job_get_id(second, &id_second), QM_S_OK);
        CHECK_HR(qm_job_get_id(listed[0], &id_listed), QM_S_OK);
        CHECK(memcmp(id_listed.bytes, id_second.bytes, 16) == 0);
        CHECK_HR(qm_job_get_id(listed[1], &id_listed), QM_S_OK);
        CHECK(memcmp(id_listed.bytes, id_first.bytes, 16) == 0);
        CHECK_HR(qm_job_close(listed[0]), QM_S_OK);
    }
    CHECK_HR(qm_manager_close(mgr), QM_S_OK);
    CHECK_HR(qm_job_close(first), QM_E_HANDLE);
    CHECK_HR(qm_job_resume(second), QM_E_HANDLE);
    if (count == 2) CHECK_HR(qm_job_close(listed[1]), QM_E_HANDLE);
    CHECK_HR(qm_manager_close(mgr), QM_E_HANDLE);
    CHECK_HR(qm_job_create(mgr, "late", &first), QM_E_HANDLE);
}

/* A callback blocked in qm_job_wait on another job must not keep
 * qm_manager_close from returning: the wait ends with QM_E_ABORT. */
static qm_job_t slow_job;
static volatile qm_hresult callback_wait_result = 1;
static int callback_waiting; /* under notify_lock */

static void wait_on_slow_job(qm_job_t job, uint32_t event, uint32_t file_index, qm_hresult code, void *context) {
    uint32_t s = 0;
    (void)job, (void)event, (void)file_index, (void)code, (void)context;
    pthread_mutex_lock(&notify_lock);
    callback_waiting = 1;
    pthread_mutex_unlock(&notify_lock);
    callback_wait_result = qm_job_wait(slow_job, QM_WAIT_INFINITE, &s);
}

static void close_while_a_callback_waits(void) {
    const char *small = ct_path(dir, "cw-small"), *big = ct_path(dir, "cw-big");
    qm_manager_t m = 0;
    qm_job_t quick = 0;
    uint64_t t0;
    CHECK(ct_write_pattern_file(small, 100, 14));
    CHECK(ct_write_pattern_file(big, 8 * 1024 * 1024, 15));
    CHECK_HR(ct_open_manager(&m), QM_S_OK);
    CHECK_HR(qm_job_create(m, "slow", &slow_job), QM_S_OK);
    CHECK_HR(qm_job_add_file(slow_job, big, ct_path(dir, "cw-big-out")), QM_S_OK);
    CHECK_HR(qm_job_set_max_bandwidth(slow_job, 64 * 1024), QM_S_OK); /* 128 s for 8 MiB */
    CHECK_HR(qm_job_resume(slow_job), QM_S_OK);
    CHECK_HR(qm_job_create(m, "quick", &quick), QM_S_OK);
    CHECK_HR(qm_job_add_file(quick, small, ct_path(dir, "cw-small-out")), QM_S_OK);
    CHECK_HR(qm_job_set_notify(quick, wait_on_slow_job, NULL, QM_NOTIFY_JOB_TRANSFERRED), QM_S_OK);
    CHECK_HR(qm_job_resume(quick), QM_S_OK);
    {
        uint32_t s = 0;
        CHECK_HR(qm_job_wait(quick, 60000, &s), QM_S_OK);
        /* The callback says it is about to wait; the slow job then stays
           unsettled for a further half second (a wait that must time out),
           which leaves the callback ample time to be blocked in its wait. */
        CT_WAIT_UNTIL(notify_count(&callback_waiting), CT_WAIT_MS, "the JOB_TRANSFERRED callback to start its wait");
        s = 99;
        CHECK_HR(qm_job_wait(slow_job, 500, &s), QM_S_FALSE);
        CHECK_EQ(s, 99);
    }
    /* close returns although the callback waits forever; the bound is far
       below the 128 s the slow job would need, and only catches a hang. */
    t0 = ct_now_ms();
    CHECK_HR(qm_manager_close(m), QM_S_OK);
    CHECK(ct_now_ms() - t0 < 30000);
    CHECK_HR(callback_wait_result, QM_E_ABORT);
    if (!ct_skip_in_daemon_mode("partial data removed at close",
                                "the daemon's jobs go on after the manager that made them closes")) {
        CHECK_EQ(ct_count_entries(dir, ".cw-big-out."), 0); /* in memory: partial data removed */
    }
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s SCRATCH_DIR\n", argv[0]);
        return 2;
    }
    dir = argv[1];
    CHECK_HR(ct_open_manager(&mgr), QM_S_OK);
    CHECK(strcmp(qm_version(), QM_VERSION_STRING) == 0);
    CHECK_EQ(qm_abi_version(), QM_ABI_VERSION);

    new_job_defaults();
    two_files_end_to_end();
    suspend_resume_and_wait();
    cancel_deletes_temporaries();
    partial_and_failed_complete();
    add_after_transferred();
    errors();
    checksums();
    notifications();
    scheduling();
    close_while_a_callback_waits();
    ct_clear_daemon_jobs(mgr); /* the daemon keeps the closed manager's jobs */
    enumeration_and_close();
    return ct_finish("lifecycle");
}
