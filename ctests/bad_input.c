/* Bad input for every exported qm_* function: NULL out-pointers, NULL and
 * non-UTF-8 strings, invalid/closed/stale/wrong-kind handles, unknown flag
 * and enum values, too-long strings, the string out-parameter convention,
 * and the header's macros and code values. Nothing may crash, and each call
 * must return the code that include/qmgr.h documents; out-parameters are
 * written only on success. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"

#define NOT_UTF8 "\xff\xfe"
#define NEVER_ISSUED ((uint64_t)0xFFFFFFFFFFFFull)
#define SENTINEL 0x5A
/* Fills a growable struct with SENTINEL bytes but for its struct_size. */
#define SENTINEL_STRUCT(s) (memset(&(s), SENTINEL, sizeof(s)), (s).struct_size = (uint32_t)sizeof(s))
/* 1 when a struct filled by SENTINEL_STRUCT was not written. */
#define STRUCT_UNTOUCHED(s) \
    ((s).struct_size == sizeof(s) && all_bytes((const char *)&(s) + 4, SENTINEL, sizeof(s) - 4))

static char g_dir[4096];

/* ---------------------------------------------------------------- helpers */

/* Reports which call a helper was checking when it recorded failures. */
static void context_note(int before, const char *what) {
    if (ct_failures != before) fprintf(stderr, "    (while checking %s)\n", what);
}

/* A heap string of n copies of unit (so ASan sees its exact end). */
static char *repeat(const char *unit, size_t n) {
    size_t len = strlen(unit), i;
    char *s = malloc(len * n + 1);
    if (!s) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    for (i = 0; i < n; i++) memcpy(s + i * len, unit, len);
    s[len * n] = '\0';
    return s;
}

/* A heap string: prefix followed by 'a' up to total bytes. */
static char *padded(const char *prefix, size_t total) {
    size_t plen = strlen(prefix);
    char *s = malloc(total + 1);
    if (!s) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    memcpy(s, prefix, plen);
    memset(s + plen, 'a', total - plen);
    s[total] = '\0';
    return s;
}

static int all_bytes(const void *p, int value, size_t n) {
    const unsigned char *b = p;
    size_t i;
    for (i = 0; i < n; i++) {
        if (b[i] != (unsigned char)value) return 0;
    }
    return 1;
}

static int starts_with_nocase(const char *s, const char *prefix) {
    for (; *prefix; s++, prefix++) {
        char a = *s, b = *prefix;
        if (a >= 'a' && a <= 'z') a = (char)(a - 'a' + 'A');
        if (b >= 'a' && b <= 'z') b = (char)(b - 'a' + 'A');
        if (a != b) return 0;
    }
    return 1;
}

static uint32_t file_count(qm_job_t job) {
    uint32_t n = 0xDEADBEEFu;
    CHECK_HR(qm_job_get_file_count(job, &n), QM_S_OK);
    return n;
}

static size_t job_count(qm_manager_t mgr) {
    size_t n = (size_t)-1;
    CHECK_HR(qm_manager_enum_jobs(mgr, NULL, 0, &n), QM_S_OK);
    return n;
}

/* A string getter in the (buf, cap, needed) convention, behind one shape. */
typedef qm_hresult (*str_getter)(const void *ctx, char *buf, size_t cap, size_t *needed);

struct job_ctx {
    qm_job_t job;
    uint32_t index;
};

static qm_hresult get_format(const void *ctx, char *buf, size_t cap, size_t *needed) {
    return qm_format_hresult(*(const qm_hresult *)ctx, buf, cap, needed);
}
static qm_hresult get_guid_text(const void *ctx, char *buf, size_t cap, size_t *needed) {
    return qm_guid_to_string((const qm_guid *)ctx, buf, cap, needed);
}
static qm_hresult get_display(const void *ctx, char *buf, size_t cap, size_t *needed) {
    return qm_job_get_display_name(((const struct job_ctx *)ctx)->job, buf, cap, needed);
}
static qm_hresult get_descr(const void *ctx, char *buf, size_t cap, size_t *needed) {
    return qm_job_get_description(((const struct job_ctx *)ctx)->job, buf, cap, needed);
}
static qm_hresult get_remote(const void *ctx, char *buf, size_t cap, size_t *needed) {
    const struct job_ctx *c = ctx;
    return qm_job_get_file_remote_name(c->job, c->index, buf, cap, needed);
}
static qm_hresult get_local(const void *ctx, char *buf, size_t cap, size_t *needed) {
    const struct job_ctx *c = ctx;
    return qm_job_get_file_local_name(c->job, c->index, buf, cap, needed);
}
static qm_hresult get_headers(const void *ctx, char *buf, size_t cap, size_t *needed) {
    return qm_job_get_custom_headers(((const struct job_ctx *)ctx)->job, buf, cap, needed);
}
static qm_hresult get_error_text(const void *ctx, char *buf, size_t cap, size_t *needed) {
    return qm_job_get_error_description(((const struct job_ctx *)ctx)->job, buf, cap, needed);
}

/* Checks the string out-parameter convention of one getter whose success
 * code is ok. expected (if not NULL) is the exact text; the text is copied
 * into out (if not NULL, of out_cap bytes). */
static void check_string_out(const char *what, str_getter fn, const void *ctx, qm_hresult ok,
                             const char *expected, char *out, size_t out_cap) {
    int before = ct_failures;
    size_t needed = 12345, n, again;
    char *buf;

    /* Size query. */
    if (!CHECK_HR(fn(ctx, NULL, 0, &needed), ok)) goto done;
    n = needed;
    if (!CHECK(n >= 1 && n < 1000000)) goto done;
    if (expected) CHECK_EQ(n, strlen(expected) + 1);

    /* cap 0 with a buffer is a size query too: nothing written. */
    buf = malloc(n + 16);
    if (!buf) exit(2);
    memset(buf, SENTINEL, n + 16);
    needed = 0;
    CHECK_HR(fn(ctx, buf, 0, &needed), ok);
    CHECK_EQ(needed, n);
    CHECK(all_bytes(buf, SENTINEL, n + 16));
    free(buf);

    /* One byte too small: QM_E_INSUFFICIENT_BUFFER, needed set, buffer untouched. */
    if (n > 1) {
        buf = malloc(n - 1);
        if (!buf) exit(2);
        memset(buf, SENTINEL, n - 1);
        needed = 0;
        CHECK_HR(fn(ctx, buf, n - 1, &needed), QM_E_INSUFFICIENT_BUFFER);
        CHECK_EQ(needed, n);
        CHECK(all_bytes(buf, SENTINEL, n - 1));
        free(buf);
    }
    /* One byte: too small unless the string is empty. */
    {
        char one = (char)SENTINEL;
        needed = 0;
        CHECK_HR(fn(ctx, &one, 1, &needed), n == 1 ? ok : QM_E_INSUFFICIENT_BUFFER);
        CHECK_EQ(needed, n);
        CHECK(n == 1 ? one == '\0' : one == (char)SENTINEL);
    }

    /* Exact capacity (a heap block of exactly n bytes, so ASan sees overruns). */
    buf = malloc(n);
    if (!buf) exit(2);
    memset(buf, SENTINEL, n);
    needed = 0;
    CHECK_HR(fn(ctx, buf, n, &needed), ok);
    CHECK_EQ(needed, n);
    CHECK_EQ(buf[n - 1], '\0');
    CHECK_EQ(strlen(buf), n - 1);
    if (expected) CHECK(strcmp(buf, expected) == 0);
    if (out && out_cap >= n) memcpy(out, buf, n);
    free(buf);

    /* A larger buffer: the same text, nothing past the NUL. */
    buf = malloc(n + 16);
    if (!buf) exit(2);
    memset(buf, SENTINEL, n + 16);
    CHECK_HR(fn(ctx, buf, n + 16, &again), ok);
    CHECK_EQ(again, n);
    CHECK_EQ(strlen(buf), n - 1);
    CHECK(all_bytes(buf + n, SENTINEL, 16));

    /* needed NULL: QM_E_POINTER, nothing written. */
    memset(buf, SENTINEL, n + 16);
    CHECK_HR(fn(ctx, buf, n + 16, NULL), QM_E_POINTER);
    CHECK(all_bytes(buf, SENTINEL, n + 16));
    CHECK_HR(fn(ctx, NULL, 0, NULL), QM_E_POINTER);
    free(buf);

    /* buf NULL with cap > 0: QM_E_POINTER. */
    CHECK_HR(fn(ctx, NULL, 1, &needed), QM_E_POINTER);
    CHECK_HR(fn(ctx, NULL, n, &needed), QM_E_POINTER);
    CHECK_HR(fn(ctx, NULL, (size_t)-1, &needed), QM_E_POINTER);

done:
    context_note(before, what);
}

static void display_name_is(qm_job_t job, const char *expected) {
    char buf[2048];
    size_t needed = 0;
    if (CHECK_HR(qm_job_get_display_name(job, buf, sizeof buf, &needed), QM_S_OK)) {
        if (!CHECK(strcmp(buf, expected) == 0))
            fprintf(stderr, "    display name is \"%.60s\", expected \"%.60s\"\n", buf, expected);
    }
}

static void description_is(qm_job_t job, const char *expected) {
    char buf[4096];
    size_t needed = 0;
    if (CHECK_HR(qm_job_get_description(job, buf, sizeof buf, &needed), QM_S_OK))
        CHECK(strcmp(buf, expected) == 0);
}

static void headers_are(qm_job_t job, qm_hresult code, const char *expected) {
    char buf[1024];
    size_t needed = 0;
    if (CHECK_HR(qm_job_get_custom_headers(job, buf, sizeof buf, &needed), code)) {
        if (!CHECK(strcmp(buf, expected) == 0))
            fprintf(stderr, "    headers are \"%s\", expected \"%s\"\n", buf, expected);
    }
}

static void on_notify(qm_job_t job, uint32_t event, uint32_t file_index, qm_hresult code,
                      void *context) {
    (void)job;
    (void)event;
    (void)file_index;
    (void)code;
    (void)context;
}

/* ------------------------------------------------- constants and macros */

struct code_row {
    const char *name;
    qm_hresult code;
    uint32_t hex;
};

static const struct code_row CODES[] = {
    {"QM_S_OK", QM_S_OK, 0x00000000u},
    {"QM_S_FALSE", QM_S_FALSE, 0x00000001u},
    {"QM_E_NOTIMPL", QM_E_NOTIMPL, 0x80004001u},
    {"QM_E_POINTER", QM_E_POINTER, 0x80004003u},
    {"QM_E_ABORT", QM_E_ABORT, 0x80004004u},
    {"QM_E_FAIL", QM_E_FAIL, 0x80004005u},
    {"QM_E_UNEXPECTED", QM_E_UNEXPECTED, 0x8000FFFFu},
    {"QM_E_ACCESSDENIED", QM_E_ACCESSDENIED, 0x80070005u},
    {"QM_E_HANDLE", QM_E_HANDLE, 0x80070006u},
    {"QM_E_OUTOFMEMORY", QM_E_OUTOFMEMORY, 0x8007000Eu},
    {"QM_E_INVALIDARG", QM_E_INVALIDARG, 0x80070057u},
    {"QM_E_INSUFFICIENT_BUFFER", QM_E_INSUFFICIENT_BUFFER, 0x8007007Au},
    {"QM_E_SHARING_VIOLATION", QM_E_SHARING_VIOLATION, 0x80070020u},
    {"QM_E_FILE_NOT_FOUND", QM_E_FILE_NOT_FOUND, 0x80070002u},
    {"QM_E_PATH_NOT_FOUND", QM_E_PATH_NOT_FOUND, 0x80070003u},
    {"QM_E_DISK_FULL", QM_E_DISK_FULL, 0x80070070u},
    {"QM_E_WINHTTP_TIMEOUT", QM_E_WINHTTP_TIMEOUT, 0x80072EE2u},
    {"QM_E_WINHTTP_NAME_NOT_RESOLVED", QM_E_WINHTTP_NAME_NOT_RESOLVED, 0x80072EE7u},
    {"QM_E_WINHTTP_CANNOT_CONNECT", QM_E_WINHTTP_CANNOT_CONNECT, 0x80072EFDu},
    {"QM_E_WINHTTP_CONNECTION_ERROR", QM_E_WINHTTP_CONNECTION_ERROR, 0x80072EFEu},
    {"QM_E_WINHTTP_SECURE_FAILURE", QM_E_WINHTTP_SECURE_FAILURE, 0x80072F8Fu},
    {"QM_E_INVALID_STATE", QM_E_INVALID_STATE, 0x81001001u},
    {"QM_E_SERVICE_UNAVAILABLE", QM_E_SERVICE_UNAVAILABLE, 0x81001002u},
    {"QM_E_DOWNLOADER_UNAVAILABLE", QM_E_DOWNLOADER_UNAVAILABLE, 0x81001003u},
    {"QM_E_ITEM_NOT_FOUND", QM_E_ITEM_NOT_FOUND, 0x81001004u},
    {"QM_BG_E_NOT_FOUND", QM_BG_E_NOT_FOUND, 0x80200001u},
    {"QM_BG_E_INVALID_STATE", QM_BG_E_INVALID_STATE, 0x80200002u},
    {"QM_BG_E_EMPTY", QM_BG_E_EMPTY, 0x80200003u},
    {"QM_BG_E_FILE_NOT_AVAILABLE", QM_BG_E_FILE_NOT_AVAILABLE, 0x80200004u},
    {"QM_BG_E_PROTOCOL_NOT_AVAILABLE", QM_BG_E_PROTOCOL_NOT_AVAILABLE, 0x80200005u},
    {"QM_BG_E_ERROR_INFORMATION_UNAVAILABLE", QM_BG_E_ERROR_INFORMATION_UNAVAILABLE,
     0x8020000Fu},
    {"QM_BG_E_NETWORK_DISCONNECTED", QM_BG_E_NETWORK_DISCONNECTED, 0x80200010u},
    {"QM_BG_E_MISSING_FILE_SIZE", QM_BG_E_MISSING_FILE_SIZE, 0x80200011u},
    {"QM_BG_E_INSUFFICIENT_HTTP_SUPPORT", QM_BG_E_INSUFFICIENT_HTTP_SUPPORT, 0x80200012u},
    {"QM_BG_E_INSUFFICIENT_RANGE_SUPPORT", QM_BG_E_INSUFFICIENT_RANGE_SUPPORT, 0x80200013u},
    {"QM_BG_S_PARTIAL_COMPLETE", QM_BG_S_PARTIAL_COMPLETE, 0x00200017u},
    {"QM_BG_S_UNABLE_TO_DELETE_FILES", QM_BG_S_UNABLE_TO_DELETE_FILES, 0x0020001Au},
    {"QM_BG_E_INVALID_SERVER_RESPONSE", QM_BG_E_INVALID_SERVER_RESPONSE, 0x8020001Bu},
    {"QM_BG_E_TOO_MANY_FILES", QM_BG_E_TOO_MANY_FILES, 0x8020001Cu},
    {"QM_BG_E_LOCAL_FILE_CHANGED", QM_BG_E_LOCAL_FILE_CHANGED, 0x8020001Du},
    {"QM_BG_E_TOO_LARGE", QM_BG_E_TOO_LARGE, 0x80200020u},
    {"QM_BG_E_STRING_TOO_LONG", QM_BG_E_STRING_TOO_LONG, 0x80200021u},
    {"QM_BG_E_NO_PROGRESS", QM_BG_E_NO_PROGRESS, 0x80200024u},
    {"QM_BG_E_USERNAME_TOO_LARGE", QM_BG_E_USERNAME_TOO_LARGE, 0x80200025u},
    {"QM_BG_E_PASSWORD_TOO_LARGE", QM_BG_E_PASSWORD_TOO_LARGE, 0x80200026u},
    {"QM_BG_E_INVALID_RANGE", QM_BG_E_INVALID_RANGE, 0x8020002Bu},
    {"QM_BG_E_TIMEOUT", QM_BG_E_TIMEOUT, 0x8020003Bu},
    {"QM_BG_E_INVALID_PROXY_INFO", QM_BG_E_INVALID_PROXY_INFO, 0x8020003Fu},
    {"QM_BG_E_TOO_MANY_FILES_IN_JOB", QM_BG_E_TOO_MANY_FILES_IN_JOB, 0x80200051u},
    {"QM_BG_E_VALIDATION_FAILED", QM_BG_E_VALIDATION_FAILED, 0x80200053u},
};

static void check_constants(void) {
    size_t i;

    /* Every code has its reference value (reference/BITS.md). */
    for (i = 0; i < sizeof CODES / sizeof CODES[0]; i++) {
        if (!CHECK_EQ((uint32_t)CODES[i].code, CODES[i].hex))
            fprintf(stderr, "    (%s)\n", CODES[i].name);
    }
    CHECK_EQ(sizeof(qm_hresult), 4);
    CHECK_EQ((uint32_t)QM_E_INVALIDARG, 0x80070057u);

    /* Macros. */
    CHECK(QM_HTTP_ERROR(404) == (qm_hresult)0x80190194u);
    CHECK(QM_HTTP_ERROR(503) == (qm_hresult)0x801901F7u);
    CHECK(QM_HTTP_ERROR(0x1FFFF) == (qm_hresult)0x8019FFFFu);
    CHECK(QM_HRESULT_FROM_WIN32(2) == QM_E_FILE_NOT_FOUND);
    CHECK(QM_HRESULT_FROM_WIN32(3) == QM_E_PATH_NOT_FOUND);
    CHECK(QM_HRESULT_FROM_WIN32(5) == QM_E_ACCESSDENIED);
    CHECK(QM_HRESULT_FROM_WIN32(6) == QM_E_HANDLE);
    CHECK(QM_HRESULT_FROM_WIN32(14) == QM_E_OUTOFMEMORY);
    CHECK(QM_HRESULT_FROM_WIN32(32) == QM_E_SHARING_VIOLATION);
    CHECK(QM_HRESULT_FROM_WIN32(87) == QM_E_INVALIDARG);
    CHECK(QM_HRESULT_FROM_WIN32(112) == QM_E_DISK_FULL);
    CHECK(QM_HRESULT_FROM_WIN32(122) == QM_E_INSUFFICIENT_BUFFER);
    CHECK(QM_HRESULT_FROM_WIN32(12002) == QM_E_WINHTTP_TIMEOUT);
    CHECK(QM_HRESULT_FROM_WIN32(12007) == QM_E_WINHTTP_NAME_NOT_RESOLVED);
    CHECK(QM_HRESULT_FROM_WIN32(12029) == (qm_hresult)0x80072EFDu);
    CHECK(QM_HRESULT_FROM_WIN32(12029) == QM_E_WINHTTP_CANNOT_CONNECT);
    CHECK(QM_HRESULT_FROM_WIN32(12030) == QM_E_WINHTTP_CONNECTION_ERROR);
    CHECK(QM_HRESULT_FROM_WIN32(12175) == QM_E_WINHTTP_SECURE_FAILURE);
    CHECK(QM_HRESULT_FROM_WIN32(0) == QM_S_OK);
    CHECK(QM_HRESULT_FROM_WIN32(QM_E_FAIL) == QM_E_FAIL);
    CHECK(QM_SUCCEEDED(QM_S_OK));
    CHECK(QM_SUCCEEDED(QM_S_FALSE));
    CHECK(QM_SUCCEEDED(QM_BG_S_PARTIAL_COMPLETE));
    CHECK(QM_SUCCEEDED(QM_BG_S_UNABLE_TO_DELETE_FILES));
    CHECK(!QM_FAILED(QM_S_OK));
    CHECK(!QM_FAILED(QM_BG_S_PARTIAL_COMPLETE));
    CHECK(QM_FAILED(QM_E_FAIL));
    CHECK(QM_FAILED(QM_HTTP_ERROR(404)));
    CHECK(QM_FAILED(QM_BG_E_INVALID_STATE));
    CHECK(!QM_SUCCEEDED(QM_E_INVALIDARG));
    CHECK(QM_SUCCEEDED(0x7FFFFFFF));
    CHECK(QM_FAILED(0x80000000u));

    /* Other constants. */
    CHECK_EQ(QM_PROGRESS_PERCENT_DONE, 1);
    CHECK_EQ(QM_PROGRESS_TIME_DONE, 2);
    CHECK_EQ(QM_PROGRESS_SIZE_DONE, 3);
    CHECK_EQ(QM_STATUS_FILE_COMPLETE, 0x1);
    CHECK_EQ(QM_STATUS_FILE_INCOMPLETE, 0x2);
    CHECK_EQ(QM_STATUS_JOB_COMPLETE, 0x4);
    CHECK_EQ(QM_STATUS_JOB_INCOMPLETE, 0x8);
    CHECK_EQ(QM_STATUS_JOB_ERROR, 0x10);
    CHECK_EQ(QM_STATUS_JOB_FOREGROUND, 0x20);
    CHECK_EQ(QM_STATUS_GROUP_COMPLETE, 0x40);
    CHECK_EQ(QM_STATUS_GROUP_INCOMPLETE, 0x80);
    CHECK_EQ(QM_STATUS_GROUP_SUSPENDED, 0x100);
    CHECK_EQ(QM_STATUS_GROUP_ERROR, 0x200);
    CHECK_EQ(QM_STATUS_GROUP_FOREGROUND, 0x400);
    CHECK_EQ(QM_JOB_STATE_QUEUED, 0);
    CHECK_EQ(QM_JOB_STATE_CONNECTING, 1);
    CHECK_EQ(QM_JOB_STATE_TRANSFERRING, 2);
    CHECK_EQ(QM_JOB_STATE_SUSPENDED, 3);
    CHECK_EQ(QM_JOB_STATE_ERROR, 4);
    CHECK_EQ(QM_JOB_STATE_TRANSIENT_ERROR, 5);
    CHECK_EQ(QM_JOB_STATE_TRANSFERRED, 6);
    CHECK_EQ(QM_JOB_STATE_ACKNOWLEDGED, 7);
    CHECK_EQ(QM_JOB_STATE_CANCELLED, 8);
    CHECK_EQ(QM_PRIORITY_FOREGROUND, 0);
    CHECK_EQ(QM_PRIORITY_HIGH, 1);
    CHECK_EQ(QM_PRIORITY_NORMAL, 2);
    CHECK_EQ(QM_PRIORITY_LOW, 3);
    CHECK_EQ(QM_NOTIFY_JOB_TRANSFERRED, 0x1);
    CHECK_EQ(QM_NOTIFY_JOB_ERROR, 0x2);
    CHECK_EQ(QM_NOTIFY_DISABLE, 0x4);
    CHECK_EQ(QM_NOTIFY_JOB_MODIFICATION, 0x8);
    CHECK_EQ(QM_NOTIFY_FILE_TRANSFERRED, 0x10);
    CHECK_EQ(QM_ERROR_CONTEXT_NONE, 0);
    CHECK_EQ(QM_ERROR_CONTEXT_UNKNOWN, 1);
    CHECK_EQ(QM_ERROR_CONTEXT_GENERAL_QUEUE_MANAGER, 2);
    CHECK_EQ(QM_ERROR_CONTEXT_QUEUE_MANAGER_NOTIFICATION, 3);
    CHECK_EQ(QM_ERROR_CONTEXT_LOCAL_FILE, 4);
    CHECK_EQ(QM_ERROR_CONTEXT_REMOTE_FILE, 5);
    CHECK_EQ(QM_ERROR_CONTEXT_GENERAL_TRANSPORT, 6);
    CHECK_EQ(QM_ERROR_CONTEXT_REMOTE_APPLICATION, 7);
    CHECK_EQ(QM_SIZE_UNKNOWN, UINT64_MAX);
    CHECK_EQ(QM_WAIT_INFINITE, UINT32_MAX);
    CHECK_EQ(QM_FILE_INDEX_NONE, UINT32_MAX);
    CHECK_EQ(sizeof(qm_guid), 16);
    CHECK_EQ(sizeof(qm_job_t), 8);
    CHECK_EQ(sizeof(qm_manager_t), 8);
}

/* qm_version and qm_abi_version take no input; they must match the header. */
static void check_version(void) {
    const char *v = qm_version();
    if (CHECK(v != NULL)) CHECK(strcmp(v, QM_VERSION_STRING) == 0);
    CHECK_EQ(qm_abi_version(), QM_ABI_VERSION);
}

/* ---------------------------------------------------- qm_format_hresult */

static void format_starts(qm_hresult hr, const char *prefix) {
    char buf[512];
    size_t needed = 0;
    if (!CHECK_HR(qm_format_hresult(hr, buf, sizeof buf, &needed), QM_S_OK)) return;
    CHECK_EQ(needed, strlen(buf) + 1);
    if (!CHECK(starts_with_nocase(buf, prefix)))
        fprintf(stderr, "    formatted \"%s\", expected it to start with \"%s\"\n", buf, prefix);
}

static void check_format_hresult(void) {
    size_t i;
    char buf[512], prefix[128];
    size_t needed = 0;
    qm_hresult codes[5];

    /* Every known code: "NAME (0xXXXXXXXX): text". */
    for (i = 0; i < sizeof CODES / sizeof CODES[0]; i++) {
        snprintf(prefix, sizeof prefix, "%s (0x%08X): ", CODES[i].name, (unsigned)CODES[i].hex);
        format_starts(CODES[i].code, prefix);
        if (CHECK_HR(qm_format_hresult(CODES[i].code, buf, sizeof buf, &needed), QM_S_OK))
            CHECK(strlen(buf) > strlen(prefix));
    }
    CHECK_HR(qm_format_hresult(QM_BG_E_INVALID_STATE, buf, sizeof buf, &needed), QM_S_OK);
    CHECK(strcmp(buf, "QM_BG_E_INVALID_STATE (0x80200002): the requested action is not "
                      "allowed in the job's current state") == 0);
    format_starts(QM_HTTP_ERROR(404), "QM_HTTP_ERROR(404) (0x80190194)");
    format_starts(QM_HTTP_ERROR(503), "QM_HTTP_ERROR(503) (0x801901F7)");
    format_starts((qm_hresult)0x81234567u, "0x81234567");
    CHECK_HR(qm_format_hresult((qm_hresult)0x81234567u, buf, sizeof buf, &needed), QM_S_OK);
    CHECK(strcmp(buf, "0x81234567: unknown error") == 0);
    format_starts((qm_hresult)0xFFFFFFFFu, "0xFFFFFFFF");
    format_starts((qm_hresult)0x80000000u, "0x80000000");
    format_starts((qm_hresult)0x7FFFFFFF, "0x7FFFFFFF");

    /* The string out-parameter convention. */
    codes[0] = QM_E_INVALIDARG;
    codes[1] = QM_HTTP_ERROR(404);
    codes[2] = (qm_hresult)0x81234567u;
    codes[3] = QM_S_OK;
    codes[4] = QM_BG_E_ERROR_INFORMATION_UNAVAILABLE;
    for (i = 0; i < 5; i++) check_string_out("qm_format_hresult", get_format, &codes[i], QM_S_OK,
                                             NULL, NULL, 0);
    check_string_out("qm_format_hresult", get_format, &codes[2], QM_S_OK,
                     "0x81234567: unknown error", NULL, 0);
}

/* ------------------------------------------------------------ GUIDs */

static void check_guid(void) {
    qm_guid g, out;
    char text[64];
    size_t needed = 0;
    static const char *const malformed[] = {
        "",
        "not a guid",
        "00112233-4455-6677-8899-aabbccddeef",    /* 35 chars */
        "00112233-4455-6677-8899-aabbccddeeff0",  /* 37 chars */
        "00112233445566778899aabbccddeeff",       /* no dashes */
        "0011223-34455-6677-8899-aabbccddeeff",   /* dash misplaced */
        "00112233-4455-6677-8899_aabbccddeeff",   /* wrong separator */
        "00112233-4455-6677-8899-aabbccddeegg",   /* not hex */
        "{00112233-4455-6677-8899-aabbccddeeff}", /* braces */
        " 00112233-4455-6677-8899-aabbccddeeff",  /* leading space */
        "00112233-4455-6677-8899-aabbccddeeff ",  /* trailing space */
        "+0112233-4455-6677-8899-aabbccddeeff",   /* sign */
        "00112233-4455-6677-8899-aabbccddee\xc3\xa9", /* non-hex UTF-8 */
        "00112233-4455-6677-8899-aabbccddee" NOT_UTF8,
        NOT_UTF8,
    };
    size_t i;

    for (i = 0; i < 16; i++) g.bytes[i] = (uint8_t)(i * 0x11);

    /* qm_guid_to_string */
    memset(text, SENTINEL, sizeof text);
    CHECK_HR(qm_guid_to_string(NULL, text, sizeof text, &needed), QM_E_INVALIDARG);
    CHECK(all_bytes(text, SENTINEL, sizeof text));
    CHECK_HR(qm_guid_to_string(NULL, NULL, 0, &needed), QM_E_INVALIDARG);
    check_string_out("qm_guid_to_string", get_guid_text, &g, QM_S_OK,
                     "00112233-4455-6677-8899-aabbccddeeff", NULL, 0);

    /* qm_guid_from_string */
    memset(&out, SENTINEL, sizeof out);
    CHECK_HR(qm_guid_from_string(NULL, &out), QM_E_INVALIDARG);
    CHECK(all_bytes(&out, SENTINEL, sizeof out));
    for (i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        if (!CHECK_HR(qm_guid_from_string(malformed[i], &out), QM_E_INVALIDARG))
            fprintf(stderr, "    (text #%u)\n", (unsigned)i);
        CHECK(all_bytes(&out, SENTINEL, sizeof out));
    }
    CHECK_HR(qm_guid_from_string("00112233-4455-6677-8899-aabbccddeeff", NULL), QM_E_POINTER);
    CHECK_HR(qm_guid_from_string("00112233-4455-6677-8899-AABBCCDDEEFF", &out), QM_S_OK);
    CHECK(memcmp(&out, &g, sizeof g) == 0);
    memset(&out, 0, sizeof out);
    CHECK_HR(qm_guid_from_string("00112233-4455-6677-8899-aabbccddeeff", &out), QM_S_OK);
    CHECK(memcmp(&out, &g, sizeof g) == 0);
}

/* ------------------------------------------------------------ managers */

static void check_manager_open(void) {
    qm_manager_t mgr = 0xABCDu;
    qm_hresult hr;
    const char *state = ct_path(g_dir, "state");

    CHECK_HR(qm_manager_open(NULL, NULL), QM_E_POINTER);
    CHECK_HR(qm_manager_open(state, NULL), QM_E_POINTER);
    CHECK_HR(qm_manager_open(NOT_UTF8, &mgr), QM_E_INVALIDARG);
    CHECK_EQ(mgr, 0xABCDu);
    CHECK_HR(qm_manager_open("/tmp/" NOT_UTF8, &mgr), QM_E_INVALIDARG);
    CHECK_EQ(mgr, 0xABCDu);

    /* A state directory is not implemented yet (QM_E_NOTIMPL); accept OK too. */
    hr = qm_manager_open(state, &mgr);
    if (hr == QM_S_OK) {
        CHECK(mgr != 0 && mgr != 0xABCDu);
        CHECK_HR(qm_manager_close(mgr), QM_S_OK);
    } else {
        CHECK_HR(hr, QM_E_NOTIMPL);
        CHECK_EQ(mgr, 0xABCDu);
    }
}

/* Every manager function with one bad manager handle: QM_E_HANDLE, nothing written. */
static void manager_calls_fail(qm_manager_t bad, const char *what) {
    int before = ct_failures;
    uint32_t u32 = 0xDEADBEEFu;
    uint64_t u64 = 0xDEADBEEFu;
    size_t count = 777;
    qm_job_t jobs[4] = {1, 2, 3, 4};
    qm_job_t job = 0xABCDu;
    qm_guid id;

    memset(&id, 0, sizeof id);
    CHECK_HR(qm_manager_set_max_active_jobs(bad, 2), QM_E_HANDLE);
    CHECK_HR(qm_manager_get_max_active_jobs(bad, &u32), QM_E_HANDLE);
    CHECK_EQ(u32, 0xDEADBEEFu);
    CHECK_HR(qm_manager_set_max_bandwidth(bad, 1000), QM_E_HANDLE);
    CHECK_HR(qm_manager_get_max_bandwidth(bad, &u64), QM_E_HANDLE);
    CHECK_EQ(u64, 0xDEADBEEFu);
    CHECK_HR(qm_manager_enum_jobs(bad, jobs, 4, &count), QM_E_HANDLE);
    CHECK_EQ(jobs[0], 1);
    CHECK_EQ(jobs[3], 4);
    CHECK_HR(qm_manager_enum_jobs(bad, NULL, 0, &count), QM_E_HANDLE);
    CHECK_HR(qm_manager_get_job(bad, &id, &job), QM_E_HANDLE);
    CHECK_EQ(job, 0xABCDu);
    CHECK_HR(qm_job_create(bad, "x", &job), QM_E_HANDLE);
    CHECK_EQ(job, 0xABCDu);
    CHECK_HR(qm_manager_close(bad), QM_E_HANDLE);
    context_note(before, what);
}

static void check_manager_args(void) {
    qm_manager_t mgr = 0, dead = 0;
    qm_job_t a = 0, b = 0, c = 0, out[4], got = 0xABCDu;
    size_t count = 777;
    uint32_t u32 = 0;
    uint64_t u64 = 0;
    qm_guid id, unknown;
    int i;

    if (!CHECK_HR(ct_open_manager(&mgr), QM_S_OK)) return;
    CHECK(mgr != 0);
    ct_clear_daemon_jobs(mgr);

    /* Bad manager handles. */
    manager_calls_fail(0, "manager handle 0");
    manager_calls_fail(NEVER_ISSUED, "never-issued manager handle");
    if (CHECK_HR(ct_open_manager(&dead), QM_S_OK)) {
        CHECK_HR(qm_manager_close(dead), QM_S_OK);
        manager_calls_fail(dead, "closed manager handle");
    }
    if (CHECK_HR(qm_job_create(mgr, "a", &a), QM_S_OK)) {
        manager_calls_fail(a, "job handle as a manager handle");
        /* The job handle must still be open after qm_manager_close(job). */
        CHECK_HR(qm_job_get_state(a, &u32), QM_S_OK);
    }
    CHECK_HR(qm_manager_get_max_active_jobs(mgr, &u32), QM_S_OK);

    /* max active jobs: 0 is refused and changes nothing. */
    CHECK_HR(qm_manager_get_max_active_jobs(mgr, &u32), QM_S_OK);
    CHECK_EQ(u32, 4);
    CHECK_HR(qm_manager_set_max_active_jobs(mgr, 0), QM_E_INVALIDARG);
    CHECK_HR(qm_manager_get_max_active_jobs(mgr, &u32), QM_S_OK);
    CHECK_EQ(u32, 4);
    CHECK_HR(qm_manager_get_max_active_jobs(mgr, NULL), QM_E_POINTER);
    CHECK_HR(qm_manager_set_max_active_jobs(mgr, 0xFFFFFFFFu), QM_S_OK);
    CHECK_HR(qm_manager_set_max_active_jobs(mgr, 1), QM_S_OK);
    CHECK_HR(qm_manager_get_max_active_jobs(mgr, &u32), QM_S_OK);
    CHECK_EQ(u32, 1);

    /* bandwidth limit */
    CHECK_HR(qm_manager_get_max_bandwidth(mgr, NULL), QM_E_POINTER);
    CHECK_HR(qm_manager_set_max_bandwidth(mgr, UINT64_MAX), QM_S_OK);
    CHECK_HR(qm_manager_get_max_bandwidth(mgr, &u64), QM_S_OK);
    CHECK_EQ(u64, UINT64_MAX);
    CHECK_HR(qm_manager_set_max_bandwidth(mgr, 0), QM_S_OK);
    CHECK_HR(qm_manager_get_max_bandwidth(mgr, &u64), QM_S_OK);
    CHECK_EQ(u64, 0);

    /* qm_job_create */
    got = 0xABCDu;
    CHECK_HR(qm_job_create(mgr, "x", NULL), QM_E_POINTER);
    CHECK_HR(qm_job_create(mgr, NULL, &got), QM_E_INVALIDARG);
    CHECK_EQ(got, 0xABCDu);
    CHECK_HR(qm_job_create(mgr, NOT_UTF8, &got), QM_E_INVALIDARG);
    CHECK_EQ(got, 0xABCDu);
    CHECK(QM_FAILED(qm_job_create(mgr, NULL, NULL)));
    {
        char *long_name = repeat("a", 257);
        char *ok_name = repeat("b", 256);
        CHECK_HR(qm_job_create(mgr, long_name, &got), QM_BG_E_STRING_TOO_LONG);
        CHECK_EQ(got, 0xABCDu);
        if (CHECK_HR(qm_job_create(mgr, ok_name, &b), QM_S_OK)) display_name_is(b, ok_name);
        free(long_name);
        free(ok_name);
    }
    /* None of the failed creations made a job: a and b only. */
    CHECK_EQ(job_count(mgr), 2);
    if (!CHECK_HR(qm_job_create(mgr, "c", &c), QM_S_OK)) goto out;

    /* qm_manager_enum_jobs (three jobs). */
    CHECK_HR(qm_manager_enum_jobs(mgr, NULL, 0, NULL), QM_E_POINTER);
    for (i = 0; i < 4; i++) out[i] = 0xABCDu;
    CHECK_HR(qm_manager_enum_jobs(mgr, out, 4, NULL), QM_E_POINTER);
    for (i = 0; i < 4; i++) CHECK_EQ(out[i], 0xABCDu);
    CHECK_HR(qm_manager_enum_jobs(mgr, NULL, 1, &count), QM_E_POINTER);
    CHECK_HR(qm_manager_enum_jobs(mgr, NULL, 4, &count), QM_E_POINTER);
    count = 777;
    CHECK_HR(qm_manager_enum_jobs(mgr, NULL, 0, &count), QM_S_OK);
    CHECK_EQ(count, 3);
    count = 777;
    CHECK_HR(qm_manager_enum_jobs(mgr, out, 0, &count), QM_S_OK);
    CHECK_EQ(count, 3);
    for (i = 0; i < 4; i++) CHECK_EQ(out[i], 0xABCDu);
    count = 777;
    CHECK_HR(qm_manager_enum_jobs(mgr, out, 2, &count), QM_E_INSUFFICIENT_BUFFER);
    CHECK_EQ(count, 3);
    for (i = 0; i < 4; i++) CHECK_EQ(out[i], 0xABCDu);
    count = 777;
    CHECK_HR(qm_manager_enum_jobs(mgr, out, 1, &count), QM_E_INSUFFICIENT_BUFFER);
    CHECK_EQ(count, 3);
    for (i = 0; i < 4; i++) CHECK_EQ(out[i], 0xABCDu);
    {
        /* Exactly three slots on the heap: ASan catches a write past them. */
        qm_job_t *exact = malloc(3 * sizeof *exact);
        if (!exact) exit(2);
        count = 0;
        if (CHECK_HR(qm_manager_enum_jobs(mgr, exact, 3, &count), QM_S_OK)) {
            CHECK_EQ(count, 3);
            for (i = 0; i < 3; i++) {
                CHECK(exact[i] != 0 && exact[i] != a && exact[i] != b && exact[i] != c);
                CHECK_HR(qm_job_get_state(exact[i], &u32), QM_S_OK);
                CHECK_HR(qm_job_close(exact[i]), QM_S_OK);
                CHECK_HR(qm_job_close(exact[i]), QM_E_HANDLE);
            }
        }
        free(exact);
    }

    /* qm_manager_get_job */
    if (CHECK_HR(qm_job_get_id(c, &id), QM_S_OK)) {
        got = 0xABCDu;
        CHECK_HR(qm_manager_get_job(mgr, NULL, &got), QM_E_INVALIDARG);
        CHECK_EQ(got, 0xABCDu);
        CHECK_HR(qm_manager_get_job(mgr, &id, NULL), QM_E_POINTER);
        memset(&unknown, 0, sizeof unknown);
        CHECK_HR(qm_manager_get_job(mgr, &unknown, &got), QM_BG_E_NOT_FOUND);
        CHECK_EQ(got, 0xABCDu);
        memset(&unknown, 0xFF, sizeof unknown);
        CHECK_HR(qm_manager_get_job(mgr, &unknown, &got), QM_BG_E_NOT_FOUND);
        CHECK_EQ(got, 0xABCDu);
        if (CHECK_HR(qm_manager_get_job(mgr, &id, &got), QM_S_OK)) {
            CHECK(got != c && got != 0);
            display_name_is(got, "c");
            CHECK_HR(qm_job_close(got), QM_S_OK);
        }
        /* A job of another manager is not found here. */
        if (!ct_skip_in_daemon_mode("a job of another manager is not found",
                                    "every manager connected to the daemon has the user's jobs") &&
            CHECK_HR(ct_open_manager(&dead), QM_S_OK)) {
            got = 0xABCDu;
            CHECK_HR(qm_manager_get_job(dead, &id, &got), QM_BG_E_NOT_FOUND);
            CHECK_EQ(got, 0xABCDu);
            CHECK_HR(qm_manager_close(dead), QM_S_OK);
        }
        /* A cancelled (final) job is not found and not listed. */
        got = 0xABCDu;
        CHECK_HR(qm_job_cancel(c), QM_S_OK);
        CHECK_HR(qm_manager_get_job(mgr, &id, &got), QM_BG_E_NOT_FOUND);
        CHECK_EQ(got, 0xABCDu);
        CHECK_EQ(job_count(mgr), 2);
    }

out:
    CHECK_HR(qm_manager_close(mgr), QM_S_OK);
    CHECK_HR(qm_manager_close(mgr), QM_E_HANDLE);
    /* Closing the manager closed its job handles. */
    if (a) CHECK_HR(qm_job_close(a), QM_E_HANDLE);
    if (b) CHECK_HR(qm_job_get_state(b, &u32), QM_E_HANDLE);
}

/* ---------------------------------------------------------- bad job handles */

/* Every job function with one bad job handle: QM_E_HANDLE, nothing written. */
static void job_calls_fail(qm_job_t bad, const char *what) {
    int before = ct_failures;
    char buf[64];
    size_t needed = 777;
    uint32_t u32 = 0xDEADBEEFu, st2 = 0xDEADBEEFu, st3 = 0xDEADBEEFu, st4 = 0xDEADBEEFu;
    uint64_t u64 = 0xDEADBEEFu;
    qm_file_set_info files[1] = {QM_FILE_SET_INFO_INIT};
    qm_file_progress fp;
    qm_job_progress jp;
    qm_job_error je;
    qm_job_times jt;
    qm_guid id;
    const char *local = ct_path(g_dir, "bad-handle.bin");

    files[0].remote_name = "http://example.com/x";
    files[0].local_name = local;
    files[0].size_hint = 0;
    memset(buf, SENTINEL, sizeof buf);
    SENTINEL_STRUCT(fp);
    SENTINEL_STRUCT(jp);
    SENTINEL_STRUCT(je);
    SENTINEL_STRUCT(jt);
    memset(&id, SENTINEL, sizeof id);

    CHECK_HR(qm_job_add_files(bad, 1, files), QM_E_HANDLE);
    CHECK_HR(qm_job_add_file(bad, "http://example.com/x", local), QM_E_HANDLE);
    CHECK_HR(qm_job_get_file_count(bad, &u32), QM_E_HANDLE);
    CHECK_HR(qm_job_get_file_remote_name(bad, 0, buf, sizeof buf, &needed), QM_E_HANDLE);
    CHECK_HR(qm_job_get_file_local_name(bad, 0, buf, sizeof buf, &needed), QM_E_HANDLE);
    CHECK_HR(qm_job_get_file_progress(bad, 0, &fp), QM_E_HANDLE);
    CHECK_HR(qm_job_set_file_sha256(bad, 0, NULL), QM_E_HANDLE);
    CHECK_HR(qm_job_set_custom_headers(bad, "X-A: 1"), QM_E_HANDLE);
    CHECK_HR(qm_job_set_custom_headers(bad, NULL), QM_E_HANDLE);
    CHECK_HR(qm_job_get_custom_headers(bad, buf, sizeof buf, &needed), QM_E_HANDLE);
    CHECK_HR(qm_job_set_credentials(bad, "user", "pw"), QM_E_HANDLE);
    CHECK_HR(qm_job_set_credentials(bad, NULL, NULL), QM_E_HANDLE);
    CHECK_HR(qm_job_set_proxy(bad, ""), QM_E_HANDLE);
    CHECK_HR(qm_job_set_proxy(bad, NULL), QM_E_HANDLE);
    CHECK_HR(qm_job_set_ca_file(bad, NULL), QM_E_HANDLE);
    CHECK_HR(qm_job_set_client_certificate(bad, NULL, NULL), QM_E_HANDLE);
    CHECK_HR(qm_job_get_id(bad, &id), QM_E_HANDLE);
    CHECK_HR(qm_job_get_progress(bad, QM_PROGRESS_SIZE_DONE, &u64), QM_E_HANDLE);
    CHECK_HR(qm_job_get_progress(bad, QM_PROGRESS_PERCENT_DONE, &u64), QM_E_HANDLE);
    CHECK_HR(qm_job_get_progress_ex(bad, &jp), QM_E_HANDLE);
    CHECK_HR(qm_job_get_status(bad, &u32, &st2, &st3, &st4), QM_E_HANDLE);
    CHECK_HR(qm_job_get_state(bad, &u32), QM_E_HANDLE);
    CHECK_HR(qm_job_get_error(bad, &je), QM_E_HANDLE);
    CHECK_HR(qm_job_get_error_description(bad, buf, sizeof buf, &needed), QM_E_HANDLE);
    CHECK_HR(qm_job_get_times(bad, &jt), QM_E_HANDLE);
    CHECK_HR(qm_job_resume(bad), QM_E_HANDLE);
    CHECK_HR(qm_job_suspend(bad), QM_E_HANDLE);
    CHECK_HR(qm_job_switch_to_foreground(bad), QM_E_HANDLE);
    CHECK_HR(qm_job_wait(bad, 0, &u32), QM_E_HANDLE);
    CHECK_HR(qm_job_wait(bad, 10, &u32), QM_E_HANDLE);
    CHECK_HR(qm_job_set_priority(bad, QM_PRIORITY_HIGH), QM_E_HANDLE);
    CHECK_HR(qm_job_get_priority(bad, &u32), QM_E_HANDLE);
    CHECK_HR(qm_job_set_display_name(bad, "renamed"), QM_E_HANDLE);
    CHECK_HR(qm_job_get_display_name(bad, buf, sizeof buf, &needed), QM_E_HANDLE);
    CHECK_HR(qm_job_set_description(bad, "described"), QM_E_HANDLE);
    CHECK_HR(qm_job_get_description(bad, buf, sizeof buf, &needed), QM_E_HANDLE);
    CHECK_HR(qm_job_set_min_retry_delay(bad, 5), QM_E_HANDLE);
    CHECK_HR(qm_job_get_min_retry_delay(bad, &u32), QM_E_HANDLE);
    CHECK_HR(qm_job_set_no_progress_timeout(bad, 5), QM_E_HANDLE);
    CHECK_HR(qm_job_get_no_progress_timeout(bad, &u32), QM_E_HANDLE);
    CHECK_HR(qm_job_set_notify(bad, on_notify, NULL, QM_NOTIFY_JOB_TRANSFERRED), QM_E_HANDLE);
    CHECK_HR(qm_job_set_notify(bad, NULL, NULL, QM_NOTIFY_DISABLE), QM_E_HANDLE);
    CHECK_HR(qm_job_get_notify_flags(bad, &u32), QM_E_HANDLE);
    CHECK_HR(qm_job_set_max_bandwidth(bad, 1000), QM_E_HANDLE);
    CHECK_HR(qm_job_get_max_bandwidth(bad, &u64), QM_E_HANDLE);
    CHECK_HR(qm_job_complete(bad), QM_E_HANDLE);
    CHECK_HR(qm_job_cancel(bad), QM_E_HANDLE);
    CHECK_HR(qm_job_close(bad), QM_E_HANDLE);

    CHECK_EQ(u32, 0xDEADBEEFu);
    CHECK_EQ(st2, 0xDEADBEEFu);
    CHECK_EQ(st3, 0xDEADBEEFu);
    CHECK_EQ(st4, 0xDEADBEEFu);
    CHECK_EQ(u64, 0xDEADBEEFu);
    CHECK(all_bytes(buf, SENTINEL, sizeof buf));
    CHECK(STRUCT_UNTOUCHED(fp));
    CHECK(STRUCT_UNTOUCHED(jp));
    CHECK(STRUCT_UNTOUCHED(je));
    CHECK(STRUCT_UNTOUCHED(jt));
    CHECK(all_bytes(&id, SENTINEL, sizeof id));
    context_note(before, what);
}

static void check_bad_job_handles(void) {
    qm_manager_t mgr = 0, other = 0;
    qm_job_t live = 0, closed = 0, orphan = 0;
    qm_guid id;
    uint32_t u32 = 0;

    if (!CHECK_HR(ct_open_manager(&mgr), QM_S_OK)) return;
    ct_clear_daemon_jobs(mgr);
    if (!CHECK_HR(qm_job_create(mgr, "live", &live), QM_S_OK)) goto out;

    job_calls_fail(0, "job handle 0");
    job_calls_fail(NEVER_ISSUED, "never-issued job handle");
    job_calls_fail(UINT64_MAX, "job handle UINT64_MAX");

    /* A closed job handle: the job itself goes on, untouched. */
    if (CHECK_HR(qm_job_create(mgr, "closed", &closed), QM_S_OK) &&
        CHECK_HR(qm_job_get_id(closed, &id), QM_S_OK)) {
        CHECK_HR(qm_job_close(closed), QM_S_OK);
        job_calls_fail(closed, "closed job handle");
        closed = 0;
        if (CHECK_HR(qm_manager_get_job(mgr, &id, &closed), QM_S_OK)) {
            display_name_is(closed, "closed");
            CHECK_HR(qm_job_get_state(closed, &u32), QM_S_OK);
            CHECK_EQ(u32, QM_JOB_STATE_SUSPENDED);
            CHECK_EQ(file_count(closed), 0);
            CHECK_HR(qm_job_close(closed), QM_S_OK);
        }
    }

    /* A job handle of a closed manager. */
    if (CHECK_HR(ct_open_manager(&other), QM_S_OK)) {
        if (CHECK_HR(qm_job_create(other, "orphan", &orphan), QM_S_OK)) {
            CHECK_HR(qm_manager_close(other), QM_S_OK);
            job_calls_fail(orphan, "job handle of a closed manager");
        } else {
            CHECK_HR(qm_manager_close(other), QM_S_OK);
        }
    }

    /* A manager handle as a job handle: refused, and the manager stays open. */
    job_calls_fail(mgr, "manager handle as a job handle");
    CHECK_HR(qm_manager_get_max_active_jobs(mgr, &u32), QM_S_OK);
    CHECK_HR(qm_job_get_state(live, &u32), QM_S_OK);
    CHECK_EQ(u32, QM_JOB_STATE_SUSPENDED);
    display_name_is(live, "live");
    /* live and closed; in a daemon the orphan too (its manager's close
       leaves the daemon's job as it is). */
    CHECK_EQ(job_count(mgr), ct_daemon_mode() ? 3 : 2);

out:
    CHECK_HR(qm_manager_close(mgr), QM_S_OK);
}

/* --------------------------------------------------- NULL out-pointers */

static void check_null_out_pointers(void) {
    qm_manager_t mgr = 0;
    qm_job_t job = 0;
    uint32_t a = 0xDEADBEEFu, b = 0xDEADBEEFu, c = 0xDEADBEEFu, status = 0;

    if (!CHECK_HR(ct_open_manager(&mgr), QM_S_OK)) return;
    if (!CHECK_HR(qm_job_create(mgr, "nulls", &job), QM_S_OK)) goto out;
    CHECK_HR(qm_job_add_file(job, "http://example.com/a", ct_path(g_dir, "nulls-a.bin")),
             QM_S_OK);

    CHECK_HR(qm_job_get_file_count(job, NULL), QM_E_POINTER);
    CHECK_HR(qm_job_get_file_progress(job, 0, NULL), QM_E_POINTER);
    CHECK_HR(qm_job_get_id(job, NULL), QM_E_POINTER);
    CHECK_HR(qm_job_get_progress(job, QM_PROGRESS_PERCENT_DONE, NULL), QM_E_POINTER);
    CHECK_HR(qm_job_get_progress(job, QM_PROGRESS_SIZE_DONE, NULL), QM_E_POINTER);
    CHECK_HR(qm_job_get_progress_ex(job, NULL), QM_E_POINTER);
    CHECK_HR(qm_job_get_state(job, NULL), QM_E_POINTER);
    CHECK_HR(qm_job_get_times(job, NULL), QM_E_POINTER);
    CHECK_HR(qm_job_get_priority(job, NULL), QM_E_POINTER);
    CHECK_HR(qm_job_get_min_retry_delay(job, NULL), QM_E_POINTER);
    CHECK_HR(qm_job_get_no_progress_timeout(job, NULL), QM_E_POINTER);
    CHECK_HR(qm_job_get_notify_flags(job, NULL), QM_E_POINTER);
    CHECK_HR(qm_job_get_max_bandwidth(job, NULL), QM_E_POINTER);
    CHECK_HR(qm_job_wait(job, 0, NULL), QM_E_POINTER);
    CHECK_HR(qm_manager_get_max_active_jobs(mgr, NULL), QM_E_POINTER);
    CHECK_HR(qm_manager_get_max_bandwidth(mgr, NULL), QM_E_POINTER);

    /* qm_job_get_status: status is required, nothing else is written without it. */
    CHECK_HR(qm_job_get_status(job, NULL, &a, &b, &c), QM_E_POINTER);
    CHECK_EQ(a, 0xDEADBEEFu);
    CHECK_EQ(b, 0xDEADBEEFu);
    CHECK_EQ(c, 0xDEADBEEFu);
    CHECK_HR(qm_job_get_status(job, NULL, NULL, NULL, NULL), QM_E_POINTER);
    CHECK_HR(qm_job_get_status(job, &status, NULL, NULL, NULL), QM_S_OK);
    CHECK_EQ(status, QM_STATUS_JOB_INCOMPLETE);
    CHECK_HR(qm_job_get_status(job, &status, &a, NULL, &c), QM_S_OK);
    CHECK_EQ(a, 0);
    CHECK_EQ(c, 0);

    /* A wait that times out leaves *state alone; a SUSPENDED job ends it at once. */
    a = 0xDEADBEEFu;
    CHECK_HR(qm_job_wait(job, 0, &a), QM_S_OK);
    CHECK_EQ(a, QM_JOB_STATE_SUSPENDED);

out:
    CHECK_HR(qm_manager_close(mgr), QM_S_OK);
}

/* ------------------------------------------------------------- add_files */

static void check_add_files(void) {
    qm_manager_t mgr = 0;
    qm_job_t job = 0;
    qm_file_set_info f[3] = {QM_FILE_SET_INFO_INIT, QM_FILE_SET_INFO_INIT, QM_FILE_SET_INFO_INIT};
    const char *l1 = ct_path(g_dir, "add-1.bin");
    const char *l2 = ct_path(g_dir, "add-2.bin");
    const char *l3 = ct_path(g_dir, "add-3.bin");
    char *long_remote, *max_remote;
    char lbuf[4096];
    char name[4096];
    qm_file_progress fp;
    struct job_ctx ctx;
    uint32_t n;
    size_t needed = 0;

    if (!CHECK_HR(ct_open_manager(&mgr), QM_S_OK)) return;
    if (!CHECK_HR(qm_job_create(mgr, "files", &job), QM_S_OK)) goto out;

    f[0].remote_name = "http://example.com/1";
    f[0].local_name = l1;
    f[0].size_hint = 10;
    f[1].remote_name = "https://example.com/2";
    f[1].local_name = l2;
    f[1].size_hint = 0;
    f[2].remote_name = "file:///etc/hostname";
    f[2].local_name = l3;
    f[2].size_hint = 0;

    /* count 0 and files NULL. */
    CHECK_HR(qm_job_add_files(job, 0, f), QM_E_INVALIDARG);
    CHECK_HR(qm_job_add_files(job, 0, NULL), QM_E_INVALIDARG);
    CHECK_HR(qm_job_add_files(job, 1, NULL), QM_E_INVALIDARG);
    CHECK_HR(qm_job_add_files(job, 3, NULL), QM_E_INVALIDARG);
    CHECK_EQ(file_count(job), 0);

    /* One bad element spoils the whole call (all or none). */
    f[1].remote_name = NULL;
    CHECK_HR(qm_job_add_files(job, 3, f), QM_E_INVALIDARG);
    f[1].remote_name = "https://example.com/2";
    f[1].local_name = NULL;
    CHECK_HR(qm_job_add_files(job, 3, f), QM_E_INVALIDARG);
    f[1].local_name = "relative/add-2.bin";
    CHECK_HR(qm_job_add_files(job, 3, f), QM_E_INVALIDARG);
    f[1].local_name = "add-2.bin";
    CHECK_HR(qm_job_add_files(job, 3, f), QM_E_INVALIDARG);
    f[1].local_name = "";
    CHECK_HR(qm_job_add_files(job, 3, f), QM_E_INVALIDARG);
    f[1].local_name = NOT_UTF8;
    CHECK_HR(qm_job_add_files(job, 3, f), QM_E_INVALIDARG);
    /* The result is checked, so no compiler warns of a truncation
       (aarch64/armv7 gcc 12 do with -Wformat-truncation otherwise). */
    CHECK(snprintf(name, sizeof name, "%s/" NOT_UTF8, g_dir) < (int)sizeof name);
    f[1].local_name = name;
    CHECK_HR(qm_job_add_files(job, 3, f), QM_E_INVALIDARG);
    f[1].local_name = l2;
    f[1].remote_name = "ftp://x/y";
    CHECK_HR(qm_job_add_files(job, 3, f), QM_E_INVALIDARG);
    f[1].remote_name = "http://";
    CHECK_HR(qm_job_add_files(job, 3, f), QM_E_INVALIDARG);
    f[1].remote_name = "http:///no-host";
    CHECK_HR(qm_job_add_files(job, 3, f), QM_E_INVALIDARG);
    f[1].remote_name = "file://relative";
    CHECK_HR(qm_job_add_files(job, 3, f), QM_E_INVALIDARG);
    f[1].remote_name = "http://example.com/x\n";
    CHECK_HR(qm_job_add_files(job, 3, f), QM_E_INVALIDARG);
    f[1].remote_name = "relative/remote.bin";
    CHECK_HR(qm_job_add_files(job, 3, f), QM_E_INVALIDARG);
    f[1].remote_name = "";
    CHECK_HR(qm_job_add_files(job, 3, f), QM_E_INVALIDARG);
    f[1].remote_name = NOT_UTF8;
    CHECK_HR(qm_job_add_files(job, 3, f), QM_E_INVALIDARG);
    f[1].remote_name = "http://example.com/" NOT_UTF8;
    CHECK_HR(qm_job_add_files(job, 3, f), QM_E_INVALIDARG);
    long_remote = padded("http://example.com/", 2201);
    max_remote = padded("http://example.com/", 2200);
    CHECK_EQ(strlen(long_remote), 2201);
    f[1].remote_name = long_remote;
    CHECK_HR(qm_job_add_files(job, 3, f), QM_E_INVALIDARG);
    f[1].remote_name = "https://example.com/2";
    /* Duplicate local names within one call. */
    f[2].local_name = l1;
    CHECK_HR(qm_job_add_files(job, 3, f), QM_E_INVALIDARG);
    {
        qm_file_set_info same[2];
        same[0] = f[0];
        same[1] = f[0];
        same[1].remote_name = "http://example.com/elsewhere";
        CHECK_HR(qm_job_add_files(job, 2, same), QM_E_INVALIDARG);
    }
    CHECK_EQ(file_count(job), 0);
    f[2].local_name = l3;

    /* qm_job_add_file: the same rules. */
    CHECK_HR(qm_job_add_file(job, NULL, l1), QM_E_INVALIDARG);
    CHECK_HR(qm_job_add_file(job, "http://example.com/1", NULL), QM_E_INVALIDARG);
    CHECK_HR(qm_job_add_file(job, NULL, NULL), QM_E_INVALIDARG);
    CHECK_HR(qm_job_add_file(job, NOT_UTF8, l1), QM_E_INVALIDARG);
    CHECK_HR(qm_job_add_file(job, "http://example.com/1", NOT_UTF8), QM_E_INVALIDARG);
    CHECK_HR(qm_job_add_file(job, "ftp://x/y", l1), QM_E_INVALIDARG);
    CHECK_HR(qm_job_add_file(job, "http://example.com/1", "rel.bin"), QM_E_INVALIDARG);
    CHECK_HR(qm_job_add_file(job, long_remote, l1), QM_E_INVALIDARG);
    CHECK_EQ(file_count(job), 0);

    /* Valid: three files, then a duplicate across calls. */
    if (CHECK_HR(qm_job_add_files(job, 3, f), QM_S_OK)) {
        CHECK_EQ(file_count(job), 3);
        CHECK_HR(qm_job_add_file(job, "http://example.com/other", l2), QM_E_INVALIDARG);
        f[0].local_name = ct_path(g_dir, "add-4.bin");
        f[1].local_name = l3; /* taken by the first call */
        CHECK_HR(qm_job_add_files(job, 2, f), QM_E_INVALIDARG);
        CHECK_EQ(file_count(job), 3);
    }
    /* A remote of exactly 2,200 bytes and an absolute-path remote are fine. */
    CHECK_HR(qm_job_add_file(job, max_remote, ct_path(g_dir, "add-5.bin")), QM_S_OK);
    CHECK_HR(qm_job_add_file(job, "/etc/hostname", ct_path(g_dir, "add-6.bin")), QM_S_OK);
    /* URL schemes are case-insensitive. */
    CHECK_HR(qm_job_add_file(job, "HTTP://EXAMPLE.COM/7", ct_path(g_dir, "add-7.bin")), QM_S_OK);
    n = file_count(job);
    CHECK_EQ(n, 6);

    /* File getters: index past the end. */
    memset(lbuf, SENTINEL, sizeof lbuf);
    SENTINEL_STRUCT(fp);
    CHECK_HR(qm_job_get_file_remote_name(job, n, lbuf, sizeof lbuf, &needed),
             QM_E_ITEM_NOT_FOUND);
    CHECK_HR(qm_job_get_file_remote_name(job, UINT32_MAX, lbuf, sizeof lbuf, &needed),
             QM_E_ITEM_NOT_FOUND);
    CHECK_HR(qm_job_get_file_remote_name(job, n, NULL, 0, &needed), QM_E_ITEM_NOT_FOUND);
    CHECK_HR(qm_job_get_file_local_name(job, n, lbuf, sizeof lbuf, &needed),
             QM_E_ITEM_NOT_FOUND);
    CHECK_HR(qm_job_get_file_local_name(job, UINT32_MAX, NULL, 0, &needed),
             QM_E_ITEM_NOT_FOUND);
    CHECK_HR(qm_job_get_file_progress(job, n, &fp), QM_E_ITEM_NOT_FOUND);
    CHECK_HR(qm_job_get_file_progress(job, UINT32_MAX, &fp), QM_E_ITEM_NOT_FOUND);
    CHECK(all_bytes(lbuf, SENTINEL, sizeof lbuf));
    CHECK(STRUCT_UNTOUCHED(fp));
    if (CHECK_HR(qm_job_get_file_progress(job, 0, &fp), QM_S_OK)) {
        CHECK_EQ(fp.bytes_total, QM_SIZE_UNKNOWN);
        CHECK_EQ(fp.bytes_transferred, 0);
        CHECK_EQ(fp.completed, 0);
    }

    /* The string convention for the file names. */
    ctx.job = job;
    ctx.index = 0;
    check_string_out("qm_job_get_file_remote_name", get_remote, &ctx, QM_S_OK,
                     "http://example.com/1", NULL, 0);
    check_string_out("qm_job_get_file_local_name", get_local, &ctx, QM_S_OK, l1, NULL, 0);
    ctx.index = 3;
    check_string_out("qm_job_get_file_remote_name (2,200 bytes)", get_remote, &ctx, QM_S_OK,
                     max_remote, NULL, 0);

    /* qm_job_set_file_sha256 */
    {
        const char *good = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        const char *upper = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
        char *short_hex = repeat("a", 63), *long_hex = repeat("a", 65);
        char bad[80];

        CHECK_HR(qm_job_set_file_sha256(job, n, good), QM_E_ITEM_NOT_FOUND);
        CHECK_HR(qm_job_set_file_sha256(job, UINT32_MAX, good), QM_E_ITEM_NOT_FOUND);
        CHECK_HR(qm_job_set_file_sha256(job, n, NULL), QM_E_ITEM_NOT_FOUND);
        CHECK_HR(qm_job_set_file_sha256(job, 0, ""), QM_E_INVALIDARG);
        CHECK_HR(qm_job_set_file_sha256(job, 0, short_hex), QM_E_INVALIDARG);
        CHECK_HR(qm_job_set_file_sha256(job, 0, long_hex), QM_E_INVALIDARG);
        CHECK_HR(qm_job_set_file_sha256(job, 0, NOT_UTF8), QM_E_INVALIDARG);
        strcpy(bad, good);
        bad[10] = 'g';
        CHECK_HR(qm_job_set_file_sha256(job, 0, bad), QM_E_INVALIDARG);
        strcpy(bad, good);
        bad[0] = ' ';
        CHECK_HR(qm_job_set_file_sha256(job, 0, bad), QM_E_INVALIDARG);
        strcpy(bad, good);
        bad[63] = '\xff';
        CHECK_HR(qm_job_set_file_sha256(job, 0, bad), QM_E_INVALIDARG);
        snprintf(bad, sizeof bad, "0x%s", good);
        bad[66] = '\0';
        CHECK_HR(qm_job_set_file_sha256(job, 0, bad), QM_E_INVALIDARG);
        snprintf(bad, sizeof bad, "%s\n", good);
        CHECK_HR(qm_job_set_file_sha256(job, 0, bad), QM_E_INVALIDARG);
        CHECK_HR(qm_job_set_file_sha256(job, 0, good), QM_S_OK);
        CHECK_HR(qm_job_set_file_sha256(job, 1, upper), QM_S_OK);
        CHECK_HR(qm_job_set_file_sha256(job, 1, NULL), QM_S_OK);
        free(short_hex);
        free(long_hex);
    }

    free(long_remote);
    free(max_remote);
out:
    CHECK_HR(qm_manager_close(mgr), QM_S_OK);
}

/* ---------------------------------------------------- property setters */

static void check_names(qm_job_t job) {
    struct job_ctx ctx;
    char *s256 = repeat("n", 256), *s257 = repeat("n", 257);
    char *wide256 = repeat("\xc3\xa9", 256), *wide257 = repeat("\xc3\xa9", 257);
    char *d1024 = repeat("d", 1024), *d1025 = repeat("d", 1025);
    char *wide1024 = repeat("\xe2\x82\xac", 1024);

    ctx.job = job;
    ctx.index = 0;

    /* Display name. */
    CHECK_HR(qm_job_set_display_name(job, "props"), QM_S_OK);
    CHECK_HR(qm_job_set_display_name(job, NULL), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_display_name(job, NOT_UTF8), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_display_name(job, "ok" NOT_UTF8), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_display_name(job, s257), QM_BG_E_STRING_TOO_LONG);
    CHECK_HR(qm_job_set_display_name(job, wide257), QM_BG_E_STRING_TOO_LONG);
    display_name_is(job, "props");
    check_string_out("qm_job_get_display_name", get_display, &ctx, QM_S_OK, "props", NULL, 0);
    if (CHECK_HR(qm_job_set_display_name(job, s256), QM_S_OK)) display_name_is(job, s256);
    /* 256 characters of two bytes each: the limit counts characters. */
    if (CHECK_HR(qm_job_set_display_name(job, wide256), QM_S_OK)) {
        display_name_is(job, wide256);
        check_string_out("qm_job_get_display_name (512 bytes)", get_display, &ctx, QM_S_OK,
                         wide256, NULL, 0);
    }
    CHECK_HR(qm_job_set_display_name(job, ""), QM_S_OK);
    check_string_out("qm_job_get_display_name (empty)", get_display, &ctx, QM_S_OK, "", NULL, 0);
    CHECK_HR(qm_job_set_display_name(job, "props"), QM_S_OK);

    /* Description. */
    check_string_out("qm_job_get_description (empty)", get_descr, &ctx, QM_S_OK, "", NULL, 0);
    CHECK_HR(qm_job_set_description(job, "about"), QM_S_OK);
    CHECK_HR(qm_job_set_description(job, NULL), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_description(job, NOT_UTF8), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_description(job, d1025), QM_BG_E_STRING_TOO_LONG);
    description_is(job, "about");
    check_string_out("qm_job_get_description", get_descr, &ctx, QM_S_OK, "about", NULL, 0);
    if (CHECK_HR(qm_job_set_description(job, d1024), QM_S_OK)) description_is(job, d1024);
    if (CHECK_HR(qm_job_set_description(job, wide1024), QM_S_OK)) description_is(job, wide1024);

    free(s256);
    free(s257);
    free(wide256);
    free(wide257);
    free(d1024);
    free(d1025);
    free(wide1024);
}

static void check_enums(qm_job_t job) {
    uint32_t u32;
    uint64_t u64 = 0xDEADBEEFu;

    /* qm_job_get_progress flags. */
    CHECK_HR(qm_job_get_progress(job, 0, &u64), QM_E_INVALIDARG);
    CHECK_HR(qm_job_get_progress(job, 4, &u64), QM_E_INVALIDARG);
    CHECK_HR(qm_job_get_progress(job, 0xFFFFFFFFu, &u64), QM_E_INVALIDARG);
    CHECK_HR(qm_job_get_progress(job, 0x100 | QM_PROGRESS_PERCENT_DONE, &u64), QM_E_INVALIDARG);
    CHECK_HR(qm_job_get_progress(job, 0x80000000u | QM_PROGRESS_SIZE_DONE, &u64),
             QM_E_INVALIDARG);
    CHECK_HR(qm_job_get_progress(job, QM_PROGRESS_TIME_DONE, &u64), QM_E_NOTIMPL);
    CHECK_EQ(u64, 0xDEADBEEFu);
    CHECK_HR(qm_job_get_progress(job, QM_PROGRESS_PERCENT_DONE, &u64), QM_S_OK);
    CHECK_EQ(u64, 0);
    u64 = 0xDEADBEEFu;
    CHECK_HR(qm_job_get_progress(job, QM_PROGRESS_SIZE_DONE, &u64), QM_S_OK);
    CHECK_EQ(u64, 0);

    /* Priority. */
    CHECK_HR(qm_job_set_priority(job, 4), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_priority(job, 0xFFFFFFFFu), QM_E_INVALIDARG);
    CHECK_HR(qm_job_get_priority(job, &u32), QM_S_OK);
    CHECK_EQ(u32, QM_PRIORITY_NORMAL);
    CHECK_HR(qm_job_set_priority(job, QM_PRIORITY_LOW), QM_S_OK);
    CHECK_HR(qm_job_get_priority(job, &u32), QM_S_OK);
    CHECK_EQ(u32, QM_PRIORITY_LOW);

    /* Notify flags. */
    CHECK_HR(qm_job_set_notify(job, NULL, NULL, 0x20), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_notify(job, on_notify, NULL, 0x20), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_notify(job, on_notify, NULL, 0x1F | 0x20), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_notify(job, on_notify, NULL, 0xFFFFFFFFu), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_notify(job, on_notify, NULL, 0x80000000u), QM_E_INVALIDARG);
    CHECK_HR(qm_job_get_notify_flags(job, &u32), QM_S_OK);
    CHECK_EQ(u32, QM_NOTIFY_JOB_TRANSFERRED | QM_NOTIFY_JOB_ERROR);
    CHECK_HR(qm_job_set_notify(job, on_notify, NULL, 0x1F), QM_S_OK);
    CHECK_HR(qm_job_get_notify_flags(job, &u32), QM_S_OK);
    CHECK_EQ(u32, 0x1F);
    CHECK_HR(qm_job_set_notify(job, NULL, NULL, QM_NOTIFY_JOB_ERROR), QM_S_OK);
    CHECK_HR(qm_job_get_notify_flags(job, &u32), QM_S_OK);
    CHECK_EQ(u32, QM_NOTIFY_JOB_ERROR);

    /* Numbers without invalid values: extremes are accepted. */
    CHECK_HR(qm_job_set_min_retry_delay(job, 0), QM_S_OK);
    CHECK_HR(qm_job_get_min_retry_delay(job, &u32), QM_S_OK);
    CHECK_EQ(u32, 1);
    CHECK_HR(qm_job_set_min_retry_delay(job, UINT32_MAX), QM_S_OK);
    CHECK_HR(qm_job_set_no_progress_timeout(job, UINT32_MAX), QM_S_OK);
    CHECK_HR(qm_job_get_no_progress_timeout(job, &u32), QM_S_OK);
    CHECK_EQ(u32, UINT32_MAX);
    CHECK_HR(qm_job_set_max_bandwidth(job, UINT64_MAX), QM_S_OK);
    CHECK_HR(qm_job_get_max_bandwidth(job, &u64), QM_S_OK);
    CHECK_EQ(u64, UINT64_MAX);
}

static void check_http_options(qm_job_t job) {
    struct job_ctx ctx;
    char *user300 = repeat("u", 300), *user301 = repeat("u", 301);
    char *pw65536 = repeat("p", 65536), *pw65537 = repeat("p", 65537);
    const char *pem = ct_path(g_dir, "cert.pem");
    const char *missing = ct_path(g_dir, "no-such-file.pem");
    char *headers;
    FILE *f;

    ctx.job = job;
    ctx.index = 0;

    /* Custom headers: none set is S_FALSE with an empty string. */
    headers_are(job, QM_S_FALSE, "");
    check_string_out("qm_job_get_custom_headers (none)", get_headers, &ctx, QM_S_FALSE, "", NULL,
                     0);
    CHECK_HR(qm_job_set_custom_headers(job, "X-A: 1\r\nX-B: 2"), QM_S_OK);
    CHECK_HR(qm_job_set_custom_headers(job, "Bad Header"), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_custom_headers(job, "Range: bytes=0-"), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_custom_headers(job, "range: bytes=0-"), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_custom_headers(job, "X-A: 1\r\nRange: bytes=0-"), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_custom_headers(job, "If-Range: \"x\""), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_custom_headers(job, "Content-Length: 5"), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_custom_headers(job, "Transfer-Encoding: chunked"), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_custom_headers(job, "Connection: close"), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_custom_headers(job, "X-A: 1\r\nBad Header\r\n"), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_custom_headers(job, ": no name"), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_custom_headers(job, "X-A: 1\r\n\r\nX-B: 2"), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_custom_headers(job, "X-A: " NOT_UTF8), QM_E_INVALIDARG);
    /* Lines are CRLF-separated: a bare CR or LF, or a control character, is malformed. */
    CHECK_HR(qm_job_set_custom_headers(job, "X-A: 1\nX-B: 2"), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_custom_headers(job, "X-A: 1\rX-B: 2"), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_custom_headers(job, "X-A: a\x01z"), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_custom_headers(job, "X A: 1"), QM_E_INVALIDARG);
    headers_are(job, QM_S_OK, "X-A: 1\r\nX-B: 2");
    check_string_out("qm_job_get_custom_headers", get_headers, &ctx, QM_S_OK, "X-A: 1\r\nX-B: 2",
                     NULL, 0);
    CHECK_HR(qm_job_set_custom_headers(job, NULL), QM_S_OK);
    headers_are(job, QM_S_FALSE, "");
    headers = repeat("X-Long: 0123456789\r\n", 40);
    CHECK_HR(qm_job_set_custom_headers(job, headers), QM_S_OK);
    free(headers);
    CHECK_HR(qm_job_set_custom_headers(job, NULL), QM_S_OK);

    /* Credentials. */
    CHECK_HR(qm_job_set_credentials(job, user301, "pw"), QM_BG_E_USERNAME_TOO_LARGE);
    CHECK_HR(qm_job_set_credentials(job, user300, "pw"), QM_S_OK);
    CHECK_HR(qm_job_set_credentials(job, "user", pw65537), QM_BG_E_PASSWORD_TOO_LARGE);
    CHECK_HR(qm_job_set_credentials(job, "user", pw65536), QM_S_OK);
    CHECK_HR(qm_job_set_credentials(job, "us:er", "pw"), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_credentials(job, "us\x01" "er", "pw"), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_credentials(job, "user", "p\nw"), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_credentials(job, NOT_UTF8, "pw"), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_credentials(job, "user", NOT_UTF8), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_credentials(job, "user", NULL), QM_S_OK);
    CHECK_HR(qm_job_set_credentials(job, NULL, "ignored"), QM_S_OK);
    CHECK_HR(qm_job_set_credentials(job, NULL, NULL), QM_S_OK);

    /* Proxy. */
    CHECK_HR(qm_job_set_proxy(job, "not a url"), QM_BG_E_INVALID_PROXY_INFO);
    CHECK_HR(qm_job_set_proxy(job, "http://"), QM_BG_E_INVALID_PROXY_INFO);
    CHECK(QM_FAILED(qm_job_set_proxy(job, "ftp://proxy.example:21")));
    CHECK_HR(qm_job_set_proxy(job, NOT_UTF8), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_proxy(job, "http://proxy.example/" NOT_UTF8), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_proxy(job, "http://proxy.example:8080"), QM_S_OK);
    CHECK_HR(qm_job_set_proxy(job, "socks5h://proxy.example:1080"), QM_S_OK);
    CHECK_HR(qm_job_set_proxy(job, ""), QM_S_OK);
    CHECK_HR(qm_job_set_proxy(job, NULL), QM_S_OK);

    /* CA file and client certificate. */
    f = fopen(pem, "w");
    if (CHECK(f != NULL)) {
        fputs("not really a certificate\n", f);
        fclose(f);
    }
    CHECK_HR(qm_job_set_ca_file(job, missing), QM_HRESULT_FROM_WIN32(2));
    CHECK_HR(qm_job_set_ca_file(job, "relative.pem"), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_ca_file(job, g_dir), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_ca_file(job, NOT_UTF8), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_ca_file(job, NULL), QM_S_OK);

    CHECK_HR(qm_job_set_client_certificate(job, pem, NULL), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_client_certificate(job, NULL, pem), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_client_certificate(job, "cert.pem", "key.pem"), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_client_certificate(job, pem, "key.pem"), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_client_certificate(job, g_dir, pem), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_client_certificate(job, NOT_UTF8, pem), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_client_certificate(job, pem, NOT_UTF8), QM_E_INVALIDARG);
    CHECK_HR(qm_job_set_client_certificate(job, missing, pem), QM_HRESULT_FROM_WIN32(2));
    CHECK_HR(qm_job_set_client_certificate(job, pem, missing), QM_HRESULT_FROM_WIN32(2));
    CHECK_HR(qm_job_set_client_certificate(job, NULL, NULL), QM_S_OK);

    free(user300);
    free(user301);
    free(pw65536);
    free(pw65537);
}

static void check_setters(void) {
    qm_manager_t mgr = 0;
    qm_job_t job = 0;

    if (!CHECK_HR(ct_open_manager(&mgr), QM_S_OK)) return;
    if (CHECK_HR(qm_job_create(mgr, "props", &job), QM_S_OK)) {
        check_names(job);
        check_enums(job);
        check_http_options(job);
        CHECK_HR(qm_job_close(job), QM_S_OK);
    }
    CHECK_HR(qm_manager_close(mgr), QM_S_OK);
}

/* ------------------------------------------------------------ job errors */

static void check_job_errors(void) {
    qm_manager_t mgr = 0;
    qm_job_t job = 0;
    qm_job_error je;
    struct job_ctx ctx;
    char buf[64], text[4096];
    size_t needed = 777;
    uint32_t state = 0xDEADBEEFu;

    if (!CHECK_HR(ct_open_manager(&mgr), QM_S_OK)) return;
    if (!CHECK_HR(qm_job_create(mgr, "errors", &job), QM_S_OK)) goto out;
    ctx.job = job;
    ctx.index = 0;

    /* No error yet. */
    SENTINEL_STRUCT(je);
    CHECK_HR(qm_job_get_error(job, &je), QM_BG_E_ERROR_INFORMATION_UNAVAILABLE);
    CHECK(STRUCT_UNTOUCHED(je));
    memset(buf, SENTINEL, sizeof buf);
    CHECK_HR(qm_job_get_error_description(job, NULL, 0, &needed),
             QM_BG_E_ERROR_INFORMATION_UNAVAILABLE);
    CHECK_HR(qm_job_get_error_description(job, buf, sizeof buf, &needed),
             QM_BG_E_ERROR_INFORMATION_UNAVAILABLE);
    CHECK(all_bytes(buf, SENTINEL, sizeof buf));
    CHECK(QM_FAILED(qm_job_get_error_description(job, buf, sizeof buf, NULL)));
    CHECK(QM_FAILED(qm_job_get_error_description(job, NULL, 8, &needed)));
    CHECK(all_bytes(buf, SENTINEL, sizeof buf));

    /* An empty job cannot be resumed. */
    CHECK_HR(qm_job_resume(job), QM_BG_E_EMPTY);
    CHECK_HR(qm_job_get_state(job, &state), QM_S_OK);
    CHECK_EQ(state, QM_JOB_STATE_SUSPENDED);

    /* A local copy of a missing file: the first error is final (timeout 0). */
    CHECK_HR(qm_job_set_no_progress_timeout(job, 0), QM_S_OK);
    CHECK_HR(qm_job_add_file(job, ct_path(g_dir, "missing-source.bin"),
                             ct_path(g_dir, "missing-dest.bin")),
             QM_S_OK);
    CHECK_HR(qm_job_resume(job), QM_S_OK);
    state = 0xDEADBEEFu;
    CHECK_HR(qm_job_wait(job, 20000, &state), QM_S_OK);
    if (CHECK_EQ(state, QM_JOB_STATE_ERROR)) {
        SENTINEL_STRUCT(je);
        CHECK_HR(qm_job_get_error(job, NULL), QM_E_POINTER);
        CHECK(STRUCT_UNTOUCHED(je));
        if (CHECK_HR(qm_job_get_error(job, &je), QM_S_OK)) {
            CHECK(QM_FAILED(je.code));
            CHECK(je.context <= QM_ERROR_CONTEXT_REMOTE_APPLICATION);
        }
        text[0] = '\0';
        check_string_out("qm_job_get_error_description", get_error_text, &ctx, QM_S_OK, NULL,
                         text, sizeof text);
        CHECK(strlen(text) > 0);
    }
    /* A second cancel is refused; the handle stays open. */
    CHECK_HR(qm_job_cancel(job), QM_S_OK);
    CHECK_HR(qm_job_cancel(job), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_get_state(job, &state), QM_S_OK);
    CHECK_EQ(state, QM_JOB_STATE_CANCELLED);
    CHECK_HR(qm_job_close(job), QM_S_OK);
    CHECK_HR(qm_job_close(job), QM_E_HANDLE);

out:
    CHECK_HR(qm_manager_close(mgr), QM_S_OK);
}

/* Setters and actions on a final (CANCELLED) job: QM_BG_E_INVALID_STATE. */
static void check_final_job(void) {
    qm_manager_t mgr = 0;
    qm_job_t job = 0;
    uint32_t u32 = 0;
    const char *local = ct_path(g_dir, "final.bin");

    if (!CHECK_HR(ct_open_manager(&mgr), QM_S_OK)) return;
    if (!CHECK_HR(qm_job_create(mgr, "final", &job), QM_S_OK)) goto out;
    CHECK_HR(qm_job_add_file(job, "http://example.com/final", local), QM_S_OK);
    CHECK_HR(qm_job_cancel(job), QM_S_OK);

    CHECK_HR(qm_job_add_file(job, "http://example.com/final2", ct_path(g_dir, "final2.bin")),
             QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_set_file_sha256(job, 0, NULL), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_set_custom_headers(job, "X-A: 1"), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_set_credentials(job, "u", "p"), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_set_proxy(job, ""), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_set_ca_file(job, NULL), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_set_client_certificate(job, NULL, NULL), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_resume(job), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_suspend(job), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_complete(job), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_cancel(job), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_switch_to_foreground(job), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_set_priority(job, QM_PRIORITY_HIGH), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_set_display_name(job, "x"), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_set_description(job, "x"), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_set_min_retry_delay(job, 5), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_set_no_progress_timeout(job, 5), QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_set_notify(job, on_notify, NULL, QM_NOTIFY_JOB_ERROR),
             QM_BG_E_INVALID_STATE);
    CHECK_HR(qm_job_set_max_bandwidth(job, 5), QM_BG_E_INVALID_STATE);
    /* Getters still work, and a wait returns at once. */
    CHECK_EQ(file_count(job), 1);
    display_name_is(job, "final");
    u32 = 0xDEADBEEFu;
    CHECK_HR(qm_job_wait(job, 0, &u32), QM_S_OK);
    CHECK_EQ(u32, QM_JOB_STATE_CANCELLED);
    CHECK_HR(qm_job_close(job), QM_S_OK);
out:
    CHECK_HR(qm_manager_close(mgr), QM_S_OK);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s SCRATCH_DIR\n", argv[0]);
        return 2;
    }
    snprintf(g_dir, sizeof g_dir, "%s/bad_input", argv[1]);
    if (mkdir(g_dir, 0755) != 0 && !ct_exists(g_dir)) {
        fprintf(stderr, "cannot create %s\n", g_dir);
        return 2;
    }

    check_constants();
    check_version();
    check_format_hresult();
    check_guid();
    check_manager_open();
    check_manager_args();
    check_bad_job_handles();
    check_null_out_pointers();
    check_add_files();
    check_setters();
    check_job_errors();
    check_final_job();
    return ct_finish("bad_input");
}
