/* The client side of bench/run.sh's daemon section: the same C calls on a
 * manager in this process (qm_manager_open with a state directory) or on
 * one connected to a qmgrd (qm_manager_connect), so that the two can be
 * timed side by side. Built by bench/run.sh against include/qmgr.h and the
 * release libqmgr.so:
 *
 *   cc -O2 -Iinclude bench/daemon.c -Ltarget/release -lqmgr
 *
 * Usage: daemon-bench CASE MODE WHERE ARGS...
 *   MODE WHERE: "open STATE_DIR" (in-process) or "connect ADDRESS" (qmgrd)
 *   jobs N BASE_URL DIR   N jobs of one file each, BASE_URL/fNNNN.bin to
 *                         DIR/fNNNN.bin: all created, added and resumed,
 *                         then each waited for and completed in turn
 *   transfer URL PATH     one job of one file
 *   progress CALLS CHANGES DIR   call latencies on an idle job (below)
 *
 * It prints "name value" lines: "seconds S" for jobs and transfer (from the
 * first call after the manager is open to the last complete; opening and
 * closing the manager are not counted), and for jobs "submit_seconds S" (the
 * part until the last job is resumed); nanoseconds per call for progress.
 * Any failure ends it with status 1 and the call's code and message. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qmgr.h"

/* Long enough for a 1 GiB transfer on a slow disk; a hang still ends. */
#define WAIT_MS (10u * 60u * 1000u)
/* Calls per timed batch of the cached progress read. */
#define BATCH 1000

static void fail(const char *what, qm_hresult hr) {
    char code[256] = "", message[1024] = "";
    qm_format_hresult(hr, code, sizeof code, NULL);
    qm_get_last_error_message(message, sizeof message, NULL);
    fprintf(stderr, "daemon-bench: %s failed: 0x%08x %s (%s)\n", what, (unsigned)hr, code, message);
    exit(1);
}

/* Ends the program unless the call returned exactly QM_S_OK. */
#define OK(call)                                  \
    do {                                          \
        qm_hresult hr_ = (call);                  \
        if (hr_ != QM_S_OK) fail(#call, hr_);     \
    } while (0)

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n) {
    qsort(v, n, sizeof *v, by_value);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void *must_alloc(size_t n) {
    void *p = calloc(n, 1);
    if (p == NULL) {
        fprintf(stderr, "daemon-bench: out of memory\n");
        exit(1);
    }
    return p;
}

/* Waits for the job to be TRANSFERRED, then completes and closes it. */
static void finish(qm_job_t job) {
    uint32_t state = 0;
    OK(qm_job_wait(job, WAIT_MS, &state));
    if (state != QM_JOB_STATE_TRANSFERRED) {
        char text[1024] = "";
        qm_job_get_error_description(job, text, sizeof text, NULL);
        fprintf(stderr, "daemon-bench: a job ended in state %u, not TRANSFERRED: %s\n", state, text);
        exit(1);
    }
    OK(qm_job_complete(job));
    OK(qm_job_close(job));
}

/* N jobs of one small file each: the per-job cost of the calls (one round
 * trip each through the daemon) on top of the transfers themselves. */
static void run_jobs(qm_manager_t mgr, int n, const char *base, const char *dir) {
    qm_job_t *jobs = must_alloc((size_t)n * sizeof *jobs);
    char name[64], url[4096], path[4096];
    uint64_t t0 = now_ns();
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "bench %d", i);
        snprintf(url, sizeof url, "%s/f%04d.bin", base, i);
        snprintf(path, sizeof path, "%s/f%04d.bin", dir, i);
        OK(qm_job_create(mgr, name, &jobs[i]));
        OK(qm_job_add_file(jobs[i], url, path));
        OK(qm_job_resume(jobs[i]));
    }
    uint64_t t1 = now_ns();
    for (int i = 0; i < n; i++) finish(jobs[i]);
    printf("seconds %.6f\n", (double)(now_ns() - t0) / 1e9);
    printf("submit_seconds %.6f\n", (double)(t1 - t0) / 1e9);
    free(jobs);
}

/* One big file: the bytes move inside the daemon either way, so this
 * should take as long as in-process. */
static void run_transfer(qm_manager_t mgr, const char *url, const char *path) {
    qm_job_t job = 0;
    uint64_t t0 = now_ns();
    OK(qm_job_create(mgr, "bench transfer", &job));
    OK(qm_job_add_file(job, url, path));
    OK(qm_job_resume(job));
    finish(job);
    printf("seconds %.6f\n", (double)(now_ns() - t0) / 1e9);
}

/* Latencies on an idle job (one file added, never resumed), in ns:
 *   progress_cached_ns   qm_job_get_progress(SIZE_DONE), median over
 *                        batches of BATCH calls; through the daemon, the
 *                        proxy's copy of the job (refreshed when older
 *                        than the job's notification interval, 500 ms by
 *                        default: the median leaves those batches out)
 *   progress_stale_ns    the same call right after a change made by this
 *                        process, which the proxy's copy must then fetch
 *                        (one GetJob round trip); median of CHANGES calls
 *   change_ns            that change, qm_job_set_description (SetJob; with
 *                        a state directory, durable before it returns)
 *   round_trip_ns        qm_manager_get_max_active_jobs, which a connected
 *                        manager always asks the daemon (GetSettings): the
 *                        bare round trip
 *   clock_ns             two clock readings with nothing between them,
 *                        which every call-by-call figure above includes */
static void run_progress(qm_manager_t mgr, long calls, long changes, const char *dir) {
    qm_job_t job = 0;
    char path[4096];
    uint64_t done = 0;
    uint32_t active = 0;
    long batches = calls / BATCH > 0 ? calls / BATCH : 1;
    double *v = must_alloc((size_t)(batches > changes ? batches : changes) * sizeof *v);
    double *w = must_alloc((size_t)changes * sizeof *w);

    snprintf(path, sizeof path, "%s/progress.bin", dir);
    OK(qm_job_create(mgr, "bench progress", &job));
    OK(qm_job_add_file(job, "http://127.0.0.1:9/never-fetched.bin", path));
    OK(qm_job_get_progress(job, QM_PROGRESS_SIZE_DONE, &done)); /* a fresh copy */

    for (long b = 0; b < batches; b++) {
        uint64_t t0 = now_ns();
        for (int i = 0; i < BATCH; i++) {
            qm_hresult hr = qm_job_get_progress(job, QM_PROGRESS_SIZE_DONE, &done);
            if (hr != QM_S_OK) fail("qm_job_get_progress", hr);
        }
        v[b] = (double)(now_ns() - t0) / BATCH;
    }
    printf("progress_cached_ns %.2f\n", median(v, (size_t)batches));

    for (long i = 0; i < changes; i++) {
        char text[32];
        uint64_t t0, t1, t2;
        snprintf(text, sizeof text, "change %ld", i);
        t0 = now_ns();
        OK(qm_job_set_description(job, text));
        t1 = now_ns();
        OK(qm_job_get_progress(job, QM_PROGRESS_SIZE_DONE, &done));
        t2 = now_ns();
        w[i] = (double)(t1 - t0);
        v[i] = (double)(t2 - t1);
    }
    printf("progress_stale_ns %.2f\n", median(v, (size_t)changes));
    printf("change_ns %.2f\n", median(w, (size_t)changes));

    for (long i = 0; i < changes; i++) {
        uint64_t t0 = now_ns();
        OK(qm_manager_get_max_active_jobs(mgr, &active));
        v[i] = (double)(now_ns() - t0);
    }
    printf("round_trip_ns %.2f\n", median(v, (size_t)changes));

    for (long i = 0; i < changes; i++) {
        uint64_t t0 = now_ns();
        v[i] = (double)(now_ns() - t0);
    }
    printf("clock_ns %.2f\n", median(v, (size_t)changes));

    OK(qm_job_cancel(job));
    OK(qm_job_close(job));
    free(v);
    free(w);
}

static void usage(void) {
    fprintf(stderr,
            "usage: daemon-bench jobs (open STATE_DIR | connect ADDRESS) N BASE_URL DIR\n"
            "       daemon-bench transfer (open STATE_DIR | connect ADDRESS) URL PATH\n"
            "       daemon-bench progress (open STATE_DIR | connect ADDRESS) CALLS CHANGES DIR\n");
    exit(2);
}

int main(int argc, char **argv) {
    qm_manager_t mgr = 0;
    if (argc < 4) usage();
    const char *what = argv[1], *mode = argv[2], *where = argv[3];
    if (strcmp(mode, "open") == 0) {
        OK(qm_manager_open(where, &mgr));
    } else if (strcmp(mode, "connect") == 0) {
        OK(qm_manager_connect(where, &mgr));
    } else {
        usage();
    }
    if (strcmp(what, "jobs") == 0 && argc == 7) {
        int n = atoi(argv[4]);
        if (n < 1 || n > 10000) usage(); /* file names have four digits */
        run_jobs(mgr, n, argv[5], argv[6]);
    } else if (strcmp(what, "transfer") == 0 && argc == 6) {
        run_transfer(mgr, argv[4], argv[5]);
    } else if (strcmp(what, "progress") == 0 && argc == 7) {
        long calls = atol(argv[4]), changes = atol(argv[5]);
        if (calls < 1 || changes < 1) usage();
        run_progress(mgr, calls, changes, argv[6]);
    } else {
        usage();
    }
    OK(qm_manager_close(mgr));
    return 0;
}
