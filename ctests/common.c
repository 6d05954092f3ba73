/* Helpers of common.h. This file is a second translation unit that
 * includes qmgr.h in every test program, so a definition in the header
 * (instead of a declaration) would fail to link. */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int ct_failures = 0;

int ct_check(int cond, const char *text, const char *file, int line) {
    if (!cond) {
        ct_failures++;
        fprintf(stderr, "%s:%d: CHECK failed: %s\n", file, line, text);
    }
    return cond;
}

int ct_check_hr(qm_hresult got, qm_hresult expected, const char *text, const char *file, int line) {
    if (got != expected) {
        char g[256], e[256];
        size_t needed = 0;
        if (QM_FAILED(qm_format_hresult(got, g, sizeof g, &needed))) strcpy(g, "?");
        if (QM_FAILED(qm_format_hresult(expected, e, sizeof e, &needed))) strcpy(e, "?");
        ct_failures++;
        fprintf(stderr, "%s:%d: %s\n    returned %s\n    expected %s\n", file, line, text, g, e);
        return 0;
    }
    return 1;
}

int ct_check_eq(uint64_t a, uint64_t b, const char *ta, const char *tb, const char *file, int line) {
    if (a != b) {
        ct_failures++;
        fprintf(stderr, "%s:%d: %s == %s failed: %llu != %llu\n", file, line, ta, tb,
                (unsigned long long)a, (unsigned long long)b);
        return 0;
    }
    return 1;
}

void ct_wait_failed(const char *what, const char *cond, uint64_t limit_ms, const char *file, int line) {
    ct_failures++;
    fprintf(stderr, "%s:%d: timed out after %llu ms waiting for %s (%s)\n", file, line,
            (unsigned long long)limit_ms, what, cond);
}

qm_hresult ct_open_manager(qm_manager_t *out) {
    const char *address = getenv("QMGR_TEST_ADDRESS");
    if (address != NULL && address[0] != '\0') return qm_manager_connect(address, out);
    return qm_manager_open(NULL, out);
}

int ct_daemon_mode(void) {
    const char *address = getenv("QMGR_TEST_ADDRESS");
    return address != NULL && address[0] != '\0';
}

int ct_skip_in_daemon_mode(const char *what, const char *why) {
    if (!ct_daemon_mode()) return 0;
    printf("skipped in daemon mode: %s (%s)\n", what, why);
    return 1;
}

void ct_clear_daemon_jobs(qm_manager_t mgr) {
    qm_job_t jobs[64];
    size_t count = 0, i;
    if (!ct_daemon_mode()) return;
    if (!CHECK_HR(qm_manager_enum_jobs(mgr, jobs, 64, &count), QM_S_OK)) return;
    for (i = 0; i < count; i++) {
        CHECK_HR(qm_job_cancel(jobs[i]), QM_S_OK);
        CHECK_HR(qm_job_close(jobs[i]), QM_S_OK);
    }
}

int ct_finish(const char *program) {
    if (ct_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", program, ct_failures);
        return 1;
    }
    printf("%s: all checks passed\n", program);
    return 0;
}

const char *ct_path(const char *dir, const char *name) {
    static char bufs[8][4096];
    static int next = 0;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", dir, name);
    return b;
}

int ct_write_pattern_file(const char *path, uint64_t size, uint32_t seed) {
    FILE *f = fopen(path, "wb");
    static unsigned char buf[1 << 16];
    uint64_t at = 0;
    if (!f) return 0;
    while (at < size) {
        size_t i, n = (size - at) < sizeof buf ? (size_t)(size - at) : sizeof buf;
        for (i = 0; i < n; i++) {
            uint64_t x = (at + i) * 2654435761u + seed;
            buf[i] = (unsigned char)(x ^ (x >> 13) ^ (x >> 29));
        }
        if (fwrite(buf, 1, n, f) != n) {
            fclose(f);
            return 0;
        }
        at += n;
    }
    return fclose(f) == 0;
}

int ct_files_equal(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    unsigned char ba[8192], bb[8192]; /* on the stack: safe from any thread */
    int same = fa && fb;
    while (same) {
        size_t na = fread(ba, 1, sizeof ba, fa), nb = fread(bb, 1, sizeof bb, fb);
        if (na != nb || memcmp(ba, bb, na) != 0) same = 0;
        if (na == 0) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

int ct_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int ct_count_entries(const char *dir, const char *needle) {
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d) return -1;
    while ((e = readdir(d)) != NULL) {
        if (strstr(e->d_name, needle)) n++;
    }
    closedir(d);
    return n;
}

uint64_t ct_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void ct_sleep_ms(unsigned ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}
