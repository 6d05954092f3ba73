/* The calls 0.2 adds, from C: the redirect policy, the maximum download
 * size, the low-speed limit, connections per job / manager / server, a
 * file's final URL, a directory's skipped jobs, and each thread's last
 * error message. Every return code
 * the header lists is checked, success paths included. */

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"
#include "qmgr.h"

static char g_dir[4096];

static void check_security_flags(qm_job_t job) {
    uint32_t flags = 0xDEADBEEFu;
    CHECK_HR(qm_job_get_security_flags(job, &flags), QM_S_OK);
    CHECK_EQ(flags, QM_HTTP_REDIRECT_POLICY_ALLOW_SILENT);
    CHECK_HR(qm_job_set_security_flags(job, QM_HTTP_REDIRECT_POLICY_ALLOW_REPORT |
                                                QM_HTTP_REDIRECT_POLICY_ALLOW_HTTPS_TO_HTTP),
             QM_S_OK);
    CHECK_HR(qm_job_get_security_flags(job, &flags), QM_S_OK);
    CHECK_EQ(flags & QM_HTTP_REDIRECT_POLICY_MASK, QM_HTTP_REDIRECT_POLICY_ALLOW_REPORT);
    CHECK(flags & QM_HTTP_REDIRECT_POLICY_ALLOW_HTTPS_TO_HTTP);
    CHECK_HR(qm_job_set_security_flags(job, QM_HTTP_REDIRECT_POLICY_DISALLOW), QM_S_OK);
    /* Two policies at once, or bits BITS does not define. */
    CHECK_HR(qm_job_set_security_flags(job, QM_HTTP_REDIRECT_POLICY_ALLOW_REPORT |
                                                QM_HTTP_REDIRECT_POLICY_DISALLOW),
             QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_security_flags(job, 0x1000u), QM_E_INVALIDARG);
    /* Relaxed certificate checks are not offered. */
    CHECK_HR(qm_job_set_security_flags(job, QM_SSL_IGNORE_UNKNOWN_CA), QM_E_NOTIMPL);
    CHECK_HR(qm_job_set_security_flags(job, QM_SSL_ENABLE_CRL_CHECK), QM_E_NOTIMPL);
    CHECK_HR(qm_job_get_security_flags(job, &flags), QM_S_OK);
    CHECK_EQ(flags, QM_HTTP_REDIRECT_POLICY_DISALLOW); /* refused calls changed nothing */
    CHECK_HR(qm_job_get_security_flags(job, NULL), QM_E_POINTER);
    CHECK_HR(qm_job_set_security_flags(job, 0), QM_S_OK);
}

static void check_limits(qm_job_t job) {
    uint64_t size = 7, rate = 7;
    uint32_t seconds = 7;
    CHECK_HR(qm_job_get_max_download_size(job, &size), QM_S_OK);
    CHECK_EQ(size, 0);
    CHECK_HR(qm_job_set_max_download_size(job, 5u << 20), QM_S_OK);
    CHECK_HR(qm_job_get_max_download_size(job, &size), QM_S_OK);
    CHECK_EQ(size, 5u << 20);
    CHECK_HR(qm_job_get_max_download_size(job, NULL), QM_E_POINTER);

    CHECK_HR(qm_job_get_low_speed_limit(job, &rate, &seconds), QM_S_OK);
    CHECK_EQ(rate, 0);
    CHECK_EQ(seconds, 0);
    CHECK_HR(qm_job_set_low_speed_limit(job, 1000, 30), QM_S_OK);
    CHECK_HR(qm_job_get_low_speed_limit(job, &rate, &seconds), QM_S_OK);
    CHECK_EQ(rate, 1000);
    CHECK_EQ(seconds, 30);
    CHECK_HR(qm_job_get_low_speed_limit(job, NULL, &seconds), QM_E_POINTER);
    CHECK_HR(qm_job_get_low_speed_limit(job, &rate, NULL), QM_E_POINTER);
}

static void check_connections(qm_manager_t mgr, qm_job_t job) {
    uint32_t n = 0;
    CHECK_HR(qm_job_get_max_connections(job, &n), QM_S_OK);
    CHECK_EQ(n, 6);
    CHECK_HR(qm_job_set_max_connections(job, 2), QM_S_OK);
    CHECK_HR(qm_job_get_max_connections(job, &n), QM_S_OK);
    CHECK_EQ(n, 2);
    CHECK_HR(qm_job_set_max_connections(job, 0), QM_E_INVALIDARG);
    CHECK_HR(qm_job_get_max_connections(job, NULL), QM_E_POINTER);
    CHECK_HR(qm_job_set_max_connections(0xBADull, 1), QM_E_HANDLE);

    CHECK_HR(qm_manager_get_max_connections(mgr, &n), QM_S_OK);
    CHECK_EQ(n, 24);
    CHECK_HR(qm_manager_set_max_connections(mgr, 8), QM_S_OK);
    CHECK_HR(qm_manager_get_max_connections(mgr, &n), QM_S_OK);
    CHECK_EQ(n, 8);
    CHECK_HR(qm_manager_set_max_connections(mgr, 0), QM_E_INVALIDARG);
    CHECK_HR(qm_manager_get_max_connections(mgr, NULL), QM_E_POINTER);
    CHECK_HR(qm_manager_get_max_connections_per_server(mgr, &n), QM_S_OK);
    CHECK_EQ(n, 6);
    CHECK_HR(qm_manager_set_max_connections_per_server(mgr, 2), QM_S_OK);
    CHECK_HR(qm_manager_get_max_connections_per_server(mgr, &n), QM_S_OK);
    CHECK_EQ(n, 2);
    CHECK_HR(qm_manager_set_max_connections_per_server(mgr, 0), QM_E_INVALIDARG);
    CHECK_HR(qm_manager_get_max_connections_per_server(mgr, NULL), QM_E_POINTER);
    CHECK_HR(qm_manager_set_max_connections(0, 1), QM_E_HANDLE);
    CHECK_HR(qm_manager_set_max_connections_per_server(0, 1), QM_E_HANDLE);
}

/* BITS's IBackgroundCopyJob4::SetMaximumDownloadTime: 90 days by default. */
static void check_max_download_time(qm_job_t job) {
    uint32_t seconds = 0;
    CHECK_HR(qm_job_get_max_download_time(job, &seconds), QM_S_OK);
    CHECK_EQ(seconds, 7776000);
    CHECK_HR(qm_job_set_max_download_time(job, 60), QM_S_OK);
    CHECK_HR(qm_job_get_max_download_time(job, &seconds), QM_S_OK);
    CHECK_EQ(seconds, 60);
    CHECK_HR(qm_job_set_max_download_time(job, 0), QM_S_OK);
    CHECK_HR(qm_job_get_max_download_time(job, &seconds), QM_S_OK);
    CHECK_EQ(seconds, 0);
    CHECK_HR(qm_job_get_max_download_time(job, NULL), QM_E_POINTER);
    CHECK_HR(qm_job_set_max_download_time(0xBADull, 1), QM_E_HANDLE);
    CHECK_HR(qm_job_get_max_download_time(0xBADull, &seconds), QM_E_HANDLE);
    CHECK_EQ(QM_BG_E_MAXDOWNLOAD_TIMEOUT, (qm_hresult)0x80200054);
}

/* BITS_JOB_PROPERTY_DYNAMIC_CONTENT: off by default. */
static void check_dynamic_content(qm_job_t job) {
    uint32_t dynamic = 7;
    CHECK_HR(qm_job_get_dynamic_content(job, &dynamic), QM_S_OK);
    CHECK_EQ(dynamic, 0);
    CHECK_HR(qm_job_set_dynamic_content(job, 1), QM_S_OK);
    CHECK_HR(qm_job_get_dynamic_content(job, &dynamic), QM_S_OK);
    CHECK_EQ(dynamic, 1);
    /* A uint32_t, 0 or 1: a binding that passes 2 (or a byte of garbage)
       gets a refusal, not undefined behaviour; the value stays. */
    CHECK_HR(qm_job_set_dynamic_content(job, 2), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_dynamic_content(job, 0xFFFFFFFFu), QM_E_INVALIDARG);
    CHECK_HR(qm_job_get_dynamic_content(job, &dynamic), QM_S_OK);
    CHECK_EQ(dynamic, 1);
    CHECK_HR(qm_job_set_dynamic_content(job, 0), QM_S_OK);
    CHECK_HR(qm_job_get_dynamic_content(job, NULL), QM_E_POINTER);
    CHECK_HR(qm_job_set_dynamic_content(0xBADull, 1), QM_E_HANDLE);
}

/* Yielding to other traffic: on by default, a uint32_t 0 or 1. */
static void check_yielding(qm_job_t job) {
    uint32_t yielding = 7;
    CHECK_HR(qm_job_get_yielding(job, &yielding), QM_S_OK);
    CHECK_EQ(yielding, 1);
    CHECK_HR(qm_job_set_yielding(job, 0), QM_S_OK);
    CHECK_HR(qm_job_get_yielding(job, &yielding), QM_S_OK);
    CHECK_EQ(yielding, 0);
    CHECK_HR(qm_job_set_yielding(job, 2), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_yielding(job, 0xFFFFFFFFu), QM_E_INVALIDARG);
    CHECK_HR(qm_job_get_yielding(job, &yielding), QM_S_OK);
    CHECK_EQ(yielding, 0);
    CHECK_HR(qm_job_set_yielding(job, 1), QM_S_OK);
    CHECK_HR(qm_job_get_yielding(job, &yielding), QM_S_OK);
    CHECK_EQ(yielding, 1);
    CHECK_HR(qm_job_get_yielding(job, NULL), QM_E_POINTER);
    CHECK_HR(qm_job_set_yielding(0xBADull, 0), QM_E_HANDLE);
    CHECK_HR(qm_job_get_yielding(0xBADull, &yielding), QM_E_HANDLE);
}

/* Job2::SetNotifyCmdLine / GetNotifyCmdLine and the minimum notification
 * interval (BITS_JOB_PROPERTY_MINIMUM_NOTIFICATION_INTERVAL_MS). */
static void check_notify_cmdline(qm_job_t job) {
    char program[300], params[4100], longer[4102];
    size_t program_needed = 0, params_needed = 0;
    uint32_t ms = 0;
    CHECK_HR(qm_job_get_notify_cmdline(job, program, sizeof program, &program_needed, params,
                                       sizeof params, &params_needed),
             QM_S_OK);
    CHECK(program[0] == '\0' && params[0] == '\0'); /* none set: "" as BITS */
    CHECK_EQ(program_needed, 1);
    CHECK_HR(qm_job_set_notify_cmdline(job, "/usr/bin/logger", "logger \"job done\""), QM_S_OK);
    CHECK_HR(qm_job_get_notify_cmdline(job, program, sizeof program, &program_needed, params,
                                       sizeof params, &params_needed),
             QM_S_OK);
    CHECK(strcmp(program, "/usr/bin/logger") == 0);
    CHECK(strcmp(params, "logger \"job done\"") == 0);
    CHECK_EQ(params_needed, strlen(params) + 1);
    CHECK_HR(qm_job_get_notify_cmdline(job, program, 3, &program_needed, params, sizeof params,
                                       &params_needed),
             QM_E_INSUFFICIENT_BUFFER);
    CHECK_EQ(program_needed, strlen("/usr/bin/logger") + 1);
    CHECK_HR(qm_job_get_notify_cmdline(job, program, sizeof program, NULL, params, sizeof params,
                                       &params_needed),
             QM_E_POINTER);
    program[0] = 'x';
    CHECK_HR(qm_job_get_notify_cmdline(job, program, sizeof program, &program_needed, NULL,
                                       sizeof params, &params_needed),
             QM_E_POINTER);
    CHECK(program[0] == 'x'); /* nothing written on failure */
    CHECK_HR(qm_job_get_notify_cmdline(0xBADull, program, sizeof program, &program_needed, params,
                                       sizeof params, &params_needed),
             QM_E_HANDLE);
    CHECK_HR(qm_job_set_notify_cmdline(job, "/usr/bin/logger", NULL), QM_S_OK);
    CHECK_HR(qm_job_set_notify_cmdline(job, NULL, "logger x"), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_notify_cmdline(job, "logger", NULL), QM_E_INVALIDARG); /* relative */
    memset(longer, 'a', sizeof longer - 1);
    longer[0] = '/';
    longer[sizeof longer - 1] = '\0';
    CHECK_HR(qm_job_set_notify_cmdline(job, "/usr/bin/logger", longer), QM_BG_E_STRING_TOO_LONG);
    longer[261] = '\0';
    CHECK_HR(qm_job_set_notify_cmdline(job, longer, NULL), QM_BG_E_STRING_TOO_LONG);
    CHECK_HR(qm_job_set_notify_cmdline(0xBADull, "/usr/bin/logger", NULL), QM_E_HANDLE);
    CHECK_HR(qm_job_set_notify_cmdline(job, NULL, NULL), QM_S_OK); /* removed */
    CHECK_HR(qm_job_get_notify_cmdline(job, program, sizeof program, &program_needed, params,
                                       sizeof params, &params_needed),
             QM_S_OK);
    CHECK(program[0] == '\0');

    CHECK_HR(qm_job_get_min_notification_interval(job, &ms), QM_S_OK);
    CHECK_EQ(ms, 500);
    CHECK_HR(qm_job_set_min_notification_interval(job, 2000), QM_S_OK);
    CHECK_HR(qm_job_get_min_notification_interval(job, &ms), QM_S_OK);
    CHECK_EQ(ms, 2000);
    CHECK_HR(qm_job_get_min_notification_interval(job, NULL), QM_E_POINTER);
    CHECK_HR(qm_job_set_min_notification_interval(0xBADull, 1), QM_E_HANDLE);
    CHECK_HR(qm_job_get_min_notification_interval(0xBADull, &ms), QM_E_HANDLE);
}

static void check_final_url(qm_job_t job) {
    char buf[256];
    size_t needed = 0;
    CHECK_HR(qm_job_get_file_final_url(job, 0, buf, sizeof buf, &needed), QM_S_OK);
    CHECK(strcmp(buf, "http://example.com/firmware.bin") == 0); /* no redirect yet */
    CHECK_EQ(needed, strlen(buf) + 1);
    CHECK_HR(qm_job_get_file_final_url(job, 0, NULL, 0, &needed), QM_S_OK);
    CHECK_HR(qm_job_get_file_final_url(job, 0, buf, 3, &needed), QM_E_INSUFFICIENT_BUFFER);
    CHECK_HR(qm_job_get_file_final_url(job, 1, buf, sizeof buf, &needed), QM_E_ITEM_NOT_FOUND);
    CHECK_HR(qm_job_get_file_final_url(job, 0, buf, sizeof buf, NULL), QM_E_POINTER);
}

/* Job3::ReplaceRemotePrefix and File2::SetRemoteName. */
static void check_remote_names(qm_job_t job) {
    char buf[512];
    size_t needed = 0;
    CHECK_HR(qm_job_replace_remote_prefix(job, "http://example.com/", "http://mirror.example.com/fw/"),
             QM_S_OK);
    CHECK_HR(qm_job_get_file_remote_name(job, 0, buf, sizeof buf, &needed), QM_S_OK);
    CHECK(strcmp(buf, "http://mirror.example.com/fw/firmware.bin") == 0);
    CHECK_HR(qm_job_replace_remote_prefix(job, "http://example.com/", "http://x/"), QM_S_FALSE);
    CHECK_HR(qm_job_replace_remote_prefix(job, "", "http://x/"), QM_E_INVALIDARG);
    CHECK_HR(qm_job_replace_remote_prefix(job, NULL, "http://x/"), QM_E_INVALIDARG);
    CHECK_HR(qm_job_replace_remote_prefix(job, "http://", NULL), QM_E_INVALIDARG);
    /* A name that would not be valid changes nothing. */
    CHECK_HR(qm_job_replace_remote_prefix(job, "http://", "gopher://"), QM_E_INVALIDARG);
    CHECK_HR(qm_job_get_file_remote_name(job, 0, buf, sizeof buf, &needed), QM_S_OK);
    CHECK(strcmp(buf, "http://mirror.example.com/fw/firmware.bin") == 0);
    CHECK_HR(qm_job_replace_remote_prefix(0xBADull, "a", "b"), QM_E_HANDLE);

    CHECK_HR(qm_job_set_file_remote_name(job, 0, "http://example.com/firmware.bin"), QM_S_OK);
    CHECK_HR(qm_job_get_file_remote_name(job, 0, buf, sizeof buf, &needed), QM_S_OK);
    CHECK(strcmp(buf, "http://example.com/firmware.bin") == 0);
    CHECK_HR(qm_job_set_file_remote_name(job, 1, "http://example.com/x"), QM_E_ITEM_NOT_FOUND);
    CHECK_HR(qm_job_set_file_remote_name(job, 0, "not a url"), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_file_remote_name(job, 0, NULL), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_file_remote_name(0xBADull, 0, "http://example.com/x"), QM_E_HANDLE);
}

static uint64_t bytes_transferred(qm_job_t job) {
    qm_job_progress p = QM_JOB_PROGRESS_INIT;
    CHECK_HR(qm_job_get_progress_ex(job, &p), QM_S_OK);
    return p.bytes_transferred;
}

/* File3::GetTemporaryName and the response headers of File5: nothing before
 * the transfer (QM_S_FALSE, ""), the hidden temporary file while it runs,
 * nothing again once cancelled; a local source has no headers. */
static void check_temporary_name(qm_manager_t mgr) {
    const char *src = ct_path(g_dir, "tmpname-src.bin");
    const char *dst = ct_path(g_dir, "tmpname.bin");
    char buf[4096];
    size_t needed = 0;
    qm_job_t job = 0;
    CHECK(ct_write_pattern_file(src, 4u << 20, 3));
    if (!CHECK_HR(qm_job_create(mgr, "temporary name", &job), QM_S_OK)) return;
    CHECK_HR(qm_job_add_file(job, src, dst), QM_S_OK);
    CHECK_HR(qm_job_get_file_temporary_name(job, 0, buf, sizeof buf, &needed), QM_S_FALSE);
    CHECK(buf[0] == '\0');
    CHECK_EQ(needed, 1);
    CHECK_HR(qm_job_get_file_response_headers(job, 0, buf, sizeof buf, &needed), QM_S_FALSE);
    CHECK_HR(qm_job_get_file_temporary_name(job, 1, buf, sizeof buf, &needed), QM_E_ITEM_NOT_FOUND);
    CHECK_HR(qm_job_get_file_response_headers(job, 1, buf, sizeof buf, &needed), QM_E_ITEM_NOT_FOUND);
    CHECK_HR(qm_job_get_file_temporary_name(job, 0, buf, sizeof buf, NULL), QM_E_POINTER);
    CHECK_HR(qm_job_get_file_response_headers(job, 0, buf, sizeof buf, NULL), QM_E_POINTER);
    CHECK_HR(qm_job_get_file_temporary_name(0xBADull, 0, buf, sizeof buf, &needed), QM_E_HANDLE);
    CHECK_HR(qm_job_get_file_response_headers(0xBADull, 0, buf, sizeof buf, &needed), QM_E_HANDLE);
    /* 256 KiB/s: 16 s for the file, so it is still running below. */
    CHECK_HR(qm_job_set_max_bandwidth(job, 256u << 10), QM_S_OK);
    CHECK_HR(qm_job_resume(job), QM_S_OK);
    CT_WAIT_UNTIL(bytes_transferred(job) > 0, CT_WAIT_MS, "the job to move its first bytes");
    {
        uint32_t state = 99;
        CHECK_HR(qm_job_get_state(job, &state), QM_S_OK);
        CHECK_EQ(state, QM_JOB_STATE_TRANSFERRING);
    }
    if (CHECK_HR(qm_job_get_file_temporary_name(job, 0, buf, sizeof buf, &needed), QM_S_OK)) {
        CHECK(ct_exists(buf));
        CHECK(strstr(buf, "/.tmpname.bin.") != NULL);
        CHECK(strstr(buf, ".qmgr-part") != NULL);
        CHECK_EQ(needed, strlen(buf) + 1);
        CHECK_HR(qm_job_get_file_temporary_name(job, 0, buf, 3, &needed), QM_E_INSUFFICIENT_BUFFER);
    }
    CHECK_HR(qm_job_get_file_response_headers(job, 0, buf, sizeof buf, &needed), QM_S_FALSE);
    CHECK_HR(qm_job_cancel(job), QM_S_OK);
    CHECK_HR(qm_job_get_file_temporary_name(job, 0, buf, sizeof buf, &needed), QM_S_FALSE);
    CHECK(buf[0] == '\0');
    qm_job_close(job);
}

/* Job3::AddFileWithRanges and File2::GetFileRanges: the BITS example, over
 * a local source, then every code of both calls. */
static int file_bytes(const char *path, unsigned char *buf, size_t cap, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    *len = fread(buf, 1, cap, f);
    fclose(f);
    return 1;
}

/* A qm_file_range to pass in: struct_size set, reserved 0. */
#define RANGE(offset, length) {(uint32_t)sizeof(qm_file_range), 0u, (offset), (length)}

static void check_ranges(qm_manager_t mgr) {
    const char *src = ct_path(g_dir, "ranges-src.bin");
    const char *dst = ct_path(g_dir, "ranges.bin");
    const qm_file_range ranges[3] = {RANGE(100, 100), RANGE(900, 100), RANGE(400, 100)};
    qm_file_range back[3] = {QM_FILE_RANGE_INIT, QM_FILE_RANGE_INIT, QM_FILE_RANGE_INIT};
    qm_file_range many[501];
    unsigned char whole[1000], got[400];
    size_t whole_len = 0, got_len = 0;
    uint32_t count = 0, state = 0;
    qm_job_t job = 0;
    CHECK(ct_write_pattern_file(src, 1000, 9));
    if (!CHECK_HR(qm_job_create(mgr, "ranges", &job), QM_S_OK)) return;
    CHECK_HR(qm_job_add_file_with_ranges(job, src, dst, 3, ranges), QM_S_OK);
    CHECK_HR(qm_job_get_file_ranges(job, 0, NULL, 0, &count), QM_S_OK);
    CHECK_EQ(count, 3);
    CHECK_HR(qm_job_get_file_ranges(job, 0, back, 2, &count), QM_E_INSUFFICIENT_BUFFER);
    CHECK_EQ(count, 3);
    if (CHECK_HR(qm_job_get_file_ranges(job, 0, back, 3, &count), QM_S_OK)) {
        CHECK(memcmp(back, ranges, sizeof ranges) == 0);
    }
    CHECK_HR(qm_job_get_file_ranges(job, 1, back, 3, &count), QM_E_ITEM_NOT_FOUND);
    CHECK_HR(qm_job_get_file_ranges(job, 0, back, 3, NULL), QM_E_POINTER);
    CHECK_HR(qm_job_get_file_ranges(job, 0, NULL, 3, &count), QM_E_POINTER);
    CHECK_HR(qm_job_get_file_ranges(0xBADull, 0, back, 3, &count), QM_E_HANDLE);
    CHECK_HR(qm_job_get_file_count(job, &count), QM_S_OK);
    CHECK_EQ(count, 1);
    CHECK_HR(qm_job_resume(job), QM_S_OK);
    CHECK_HR(qm_job_wait(job, 30000, &state), QM_S_OK);
    CHECK_EQ(state, QM_JOB_STATE_TRANSFERRED);
    CHECK_HR(qm_job_complete(job), QM_S_OK);
    /* The ranges one after another: 300 bytes. */
    if (CHECK(file_bytes(src, whole, sizeof whole, &whole_len)) &&
        CHECK(file_bytes(dst, got, sizeof got, &got_len))) {
        CHECK_EQ(got_len, 300);
        CHECK(memcmp(got, whole + 100, 100) == 0);
        CHECK(memcmp(got + 100, whole + 900, 100) == 0);
        CHECK(memcmp(got + 200, whole + 400, 100) == 0);
    }
    qm_job_close(job);

    if (!CHECK_HR(qm_job_create(mgr, "bad ranges", &job), QM_S_OK)) return;
    {
        const qm_file_range eof_offset[1] = {RANGE(QM_LENGTH_TO_EOF, 10)};
        const qm_file_range empty[1] = {RANGE(10, 0)};
        const qm_file_range twice[2] = {RANGE(10, 5), RANGE(10, 5)};
        const qm_file_range open_end[2] = {RANGE(10, QM_LENGTH_TO_EOF), RANGE(500, 5)};
        const char *bad = ct_path(g_dir, "bad-ranges.bin");
        for (int i = 0; i < 501; i++) {
            many[i].struct_size = sizeof many[i];
            many[i].reserved = 0;
            many[i].initial_offset = (uint64_t)i * 10;
            many[i].length = 5;
        }
        CHECK_HR(qm_job_add_file_with_ranges(job, src, bad, 0, ranges), QM_E_INVALIDARG);
        CHECK_HR(qm_job_add_file_with_ranges(job, src, bad, 1, NULL), QM_E_INVALIDARG);
        CHECK_HR(qm_job_add_file_with_ranges(job, NULL, bad, 1, ranges), QM_E_INVALIDARG);
        CHECK_HR(qm_job_add_file_with_ranges(job, src, "relative", 1, ranges), QM_E_INVALIDARG);
        CHECK_HR(qm_job_add_file_with_ranges(job, src, bad, 1, eof_offset), QM_BG_E_INVALID_RANGE);
        CHECK_HR(qm_job_add_file_with_ranges(job, src, bad, 1, empty), QM_BG_E_INVALID_RANGE);
        CHECK_HR(qm_job_add_file_with_ranges(job, src, bad, 2, twice), QM_BG_E_OVERLAPPING_RANGES);
        CHECK_HR(qm_job_add_file_with_ranges(job, src, bad, 2, open_end), QM_BG_E_OVERLAPPING_RANGES);
        CHECK_HR(qm_job_add_file_with_ranges(job, src, bad, 501, many), QM_BG_E_TOO_MANY_RANGES_IN_FILE);
        CHECK_HR(qm_job_add_file_with_ranges(job, src, bad, 500, many), QM_S_OK);
        CHECK_HR(qm_job_add_file_with_ranges(0xBADull, src, bad, 1, ranges), QM_E_HANDLE);
        /* Dynamic content makes no range requests. */
        CHECK_HR(qm_job_set_dynamic_content(job, 1), QM_E_INVALIDARG);
        CHECK_HR(qm_job_cancel(job), QM_S_OK);
        CHECK_HR(qm_job_add_file_with_ranges(job, src, ct_path(g_dir, "late.bin"), 1, ranges),
                 QM_BG_E_INVALID_STATE);
    }
    qm_job_close(job);
    if (!CHECK_HR(qm_job_create(mgr, "dynamic ranges", &job), QM_S_OK)) return;
    CHECK_HR(qm_job_set_dynamic_content(job, 1), QM_S_OK);
    CHECK_HR(qm_job_add_file_with_ranges(job, src, ct_path(g_dir, "dyn.bin"), 1, ranges),
             QM_E_INVALIDARG);
    CHECK_HR(qm_job_cancel(job), QM_S_OK);
    qm_job_close(job);
    CHECK_EQ(QM_BG_E_OVERLAPPING_RANGES, (qm_hresult)0x8020002C);
    CHECK_EQ(QM_BG_E_TOO_MANY_RANGES_IN_FILE, (qm_hresult)0x80200052);
    CHECK_EQ(QM_LENGTH_TO_EOF, UINT64_MAX);
}

static void check_bad_handles(void) {
    const qm_job_t bad = 0xBADull;
    uint32_t u32 = 0;
    uint64_t a = 0;
    char buf[16];
    size_t needed = 0;
    CHECK_HR(qm_job_set_security_flags(bad, 0), QM_E_HANDLE);
    CHECK_HR(qm_job_get_security_flags(bad, &u32), QM_E_HANDLE);
    CHECK_HR(qm_job_set_max_download_size(bad, 1), QM_E_HANDLE);
    CHECK_HR(qm_job_get_max_download_size(bad, &a), QM_E_HANDLE);
    CHECK_HR(qm_job_set_low_speed_limit(bad, 1, 1), QM_E_HANDLE);
    CHECK_HR(qm_job_get_low_speed_limit(bad, &a, &u32), QM_E_HANDLE);
    CHECK_HR(qm_job_get_file_final_url(bad, 0, buf, sizeof buf, &needed), QM_E_HANDLE);
    CHECK_HR(qm_manager_get_skipped_job_count(0, &u32), QM_E_HANDLE);
    CHECK_HR(qm_manager_get_skipped_jobs(0, buf, sizeof buf, &needed), QM_E_HANDLE);
}

static void check_skipped_jobs(qm_manager_t mgr) {
    uint32_t count = 99;
    char buf[64];
    size_t needed = 0;
    CHECK_HR(qm_manager_get_skipped_job_count(mgr, &count), QM_S_OK);
    CHECK_EQ(count, 0);
    CHECK_HR(qm_manager_get_skipped_job_count(mgr, NULL), QM_E_POINTER);
    CHECK_HR(qm_manager_get_skipped_jobs(mgr, buf, sizeof buf, &needed), QM_S_FALSE);
    CHECK_EQ(needed, 1);
    CHECK(buf[0] == '\0');
}

static void check_final_job_refuses_setters(qm_manager_t mgr) {
    qm_job_t job = 0;
    if (!CHECK_HR(qm_job_create(mgr, "final", &job), QM_S_OK)) return;
    CHECK_HR(qm_job_cancel(job), QM_S_OK);
    CHECK_HR(qm_job_set_security_flags(job, 0), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_set_max_download_size(job, 1), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_set_low_speed_limit(job, 1, 1), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_set_max_download_time(job, 1), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_replace_remote_prefix(job, "http://", "https://"), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_set_dynamic_content(job, 1), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_set_yielding(job, 0), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_set_notify_cmdline(job, "/usr/bin/logger", NULL), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_set_min_notification_interval(job, 1), QM_BG_E_INVALID_STATE);
    qm_job_close(job);
}

/* ---- the last error message ------------------------------------------- */

static void last_message(char *buf, size_t cap) {
    size_t needed = 0;
    buf[0] = '\0';
    qm_get_last_error_message(buf, cap, &needed);
}

static void *other_thread(void *arg) {
    char buf[512];
    size_t needed = 0;
    (void)arg;
    /* This thread has not failed yet: it does not see the main thread's message. */
    CHECK_HR(qm_get_last_error_message(buf, sizeof buf, &needed), QM_S_FALSE);
    CHECK_EQ(needed, 1);
    CHECK_HR(qm_job_resume(0xBADull), QM_E_HANDLE);
    last_message(buf, sizeof buf);
    CHECK(strstr(buf, "handle") != NULL);
    return NULL;
}

static void check_last_error(qm_job_t job) {
    char buf[512];
    size_t needed = 0;
    pthread_t thread;

    /* The engine's words reach C: which argument, which value. */
    CHECK_HR(qm_job_add_file(job, "http://example.com/x", "relative/name.bin"), QM_E_INVALIDARG);
    last_message(buf, sizeof buf);
    CHECK(strstr(buf, "relative/name.bin") != NULL);
    CHECK(strstr(buf, "absolute") != NULL);

    /* Success leaves it; this call itself never replaces it, even failing. */
    CHECK_HR(qm_job_set_description(job, "ok"), QM_S_OK);
    CHECK_HR(qm_get_last_error_message(buf, 4, &needed), QM_E_INSUFFICIENT_BUFFER);
    CHECK(needed > 4);
    CHECK_HR(qm_get_last_error_message(NULL, 0, NULL), QM_E_POINTER);
    last_message(buf, sizeof buf);
    CHECK(strstr(buf, "relative/name.bin") != NULL);
    CHECK_HR(qm_get_last_error_message(NULL, 0, &needed), QM_S_OK);
    CHECK_EQ(needed, strlen(buf) + 1);

    /* The next failure replaces it. */
    CHECK_HR(qm_job_set_security_flags(job, QM_SSL_IGNORE_CERT_DATE_INVALID), QM_E_NOTIMPL);
    last_message(buf, sizeof buf);
    CHECK(strstr(buf, "certificate") != NULL);

    /* Each thread has its own. */
    if (CHECK(pthread_create(&thread, NULL, other_thread, NULL) == 0)) pthread_join(thread, NULL);
    last_message(buf, sizeof buf);
    CHECK(strstr(buf, "certificate") != NULL);
}

static void check_name_max(qm_job_t job) {
    char local[600];
    int n = snprintf(local, sizeof local, "%s/", g_dir);
    memset(local + n, 'a', 300);
    local[n + 300] = '\0';
    /* A 300-byte file name could never be renamed into place. */
    CHECK_HR(qm_job_add_file(job, "http://example.com/long", local), QM_E_INVALIDARG);
}

int main(int argc, char **argv) {
    qm_manager_t mgr = 0;
    qm_job_t job = 0;
    if (argc < 2) {
        fprintf(stderr, "usage: %s SCRATCH_DIR\n", argv[0]);
        return 2;
    }
    snprintf(g_dir, sizeof g_dir, "%s/hardening", argv[1]);
    if (mkdir(g_dir, 0755) != 0 && !ct_exists(g_dir)) {
        fprintf(stderr, "cannot create %s\n", g_dir);
        return 2;
    }
    check_bad_handles();
    if (!CHECK_HR(ct_open_manager(&mgr), QM_S_OK)) return ct_finish("hardening");
    if (CHECK_HR(qm_job_create(mgr, "hardening", &job), QM_S_OK)) {
        CHECK_HR(qm_job_add_file(job, "http://example.com/firmware.bin",
                                 ct_path(g_dir, "firmware.bin")),
                 QM_S_OK);
        check_security_flags(job);
        check_limits(job);
        check_connections(mgr, job);
        check_max_download_time(job);
        check_remote_names(job);
        check_dynamic_content(job);
        check_yielding(job);
        check_notify_cmdline(job);
        check_final_url(job);
        check_last_error(job);
        check_name_max(job);
        CHECK_HR(qm_job_cancel(job), QM_S_OK);
        qm_job_close(job);
    }
    check_skipped_jobs(mgr);
    check_temporary_name(mgr);
    check_ranges(mgr);
    check_final_job_refuses_setters(mgr);
    qm_manager_close(mgr);
    return ct_finish("hardening");
}
