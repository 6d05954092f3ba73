/* Concurrency stress: 8 threads call random qm_* functions for about three
 * seconds on shared job handles (some jobs throttled so that transfers are
 * running) and on jobs of their own, while notify callbacks run. Every
 * return code must be one the header documents for that call, states stay
 * in range, progress never goes backwards, nothing deadlocks, a job the
 * chaos never touched still transfers byte-exact afterwards, and closing
 * the manager is prompt and invalidates every handle.
 *
 * common.h's CHECK macros, ct_path and ct_write_pattern_file are not
 * thread-safe (a plain counter, static buffers): the worker threads use
 * fail() instead, and only main uses them (ct_files_equal is safe anywhere). */
#include "common.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NTHREADS 8
#define NSHARED 4
#define MAXOWN 3
#define MAX_CREATED 24     /* jobs a thread creates at most */
#define MAX_SHARED_ADDS 3  /* files a thread adds to shared jobs at most */
#define RUN_MS 3000
#define MAX_ITERS 200000L
#define MIB (1024u * 1024u)

/* ---------------------------------------------------------------- failures */

static pthread_mutex_t g_fail_mtx = PTHREAD_MUTEX_INITIALIZER;
static int g_failures = 0;

static void fail(int line, const char *fmt, ...) {
    va_list ap;
    pthread_mutex_lock(&g_fail_mtx);
    g_failures++;
    if (g_failures <= 60) {
        fprintf(stderr, "threads.c:%d: ", line);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
    } else if (g_failures == 61) {
        fprintf(stderr, "threads.c: (more failures not shown)\n");
    }
    pthread_mutex_unlock(&g_fail_mtx);
}

static const char *hr_text(qm_hresult hr, char *buf, size_t cap) {
    size_t needed = 0;
    if (QM_FAILED(qm_format_hresult(hr, buf, cap, &needed))) snprintf(buf, cap, "0x%08X", (unsigned)hr);
    return buf;
}

/* Fails unless hr is one of the n codes in ok. Returns hr. */
static qm_hresult expect_in(const char *what, qm_hresult hr, const qm_hresult *ok, size_t n, int line) {
    size_t i;
    char t[256];
    for (i = 0; i < n; i++) {
        if (ok[i] == hr) return hr;
    }
    fail(line, "%s returned an undocumented/unexpected code %s", what, hr_text(hr, t, sizeof t));
    return hr;
}

#define EXPECT(what, hr, ...)                                                                       \
    expect_in((what), (hr), (const qm_hresult[]){__VA_ARGS__},                                      \
              sizeof((const qm_hresult[]){__VA_ARGS__}) / sizeof(qm_hresult), __LINE__)

/* ------------------------------------------------------------ notify state */

typedef struct {
    pthread_mutex_t mtx;
    long calls;
    long in_flight;
    long by_event[32];
} notify_ctx;

static notify_ctx g_notify = {PTHREAD_MUTEX_INITIALIZER, 0, 0, {0}};

/* Set (under g_notify.mtx) once qm_manager_close has returned: from then on
 * no callback of that manager may run, and one that does fails at once, for
 * the rest of the program's life (not just within some fixed sleep). */
static int g_manager_closed = 0;

static int single_known_event(uint32_t e) {
    return e == QM_NOTIFY_JOB_TRANSFERRED || e == QM_NOTIFY_JOB_ERROR || e == QM_NOTIFY_JOB_MODIFICATION ||
           e == QM_NOTIFY_FILE_TRANSFERRED;
}

static void on_notify(qm_job_t job, uint32_t event, uint32_t file_index, qm_hresult code, void *context) {
    notify_ctx *c = (notify_ctx *)context;
    uint32_t state = 99;
    qm_hresult hr;
    char t[256];
    if (c != &g_notify) {
        fail(__LINE__, "notify callback got context %p, not the one registered", context);
        return;
    }
    pthread_mutex_lock(&c->mtx);
    c->in_flight++;
    if (g_manager_closed) fail(__LINE__, "a callback ran after qm_manager_close returned (event 0x%x)", event);
    pthread_mutex_unlock(&c->mtx);

    /* The handle may be being closed by its owner right now: QM_E_HANDLE is
     * then a documented answer. */
    hr = qm_job_get_state(job, &state);
    EXPECT("qm_job_get_state (in callback)", hr, QM_S_OK, QM_E_HANDLE);
    if (hr == QM_S_OK && state > QM_JOB_STATE_CANCELLED) fail(__LINE__, "callback: state %u out of range", state);
    if (!single_known_event(event)) fail(__LINE__, "callback: event 0x%x is not one QM_NOTIFY_* event bit", event);
    if (event == QM_NOTIFY_JOB_ERROR) {
        if (!QM_FAILED(code)) fail(__LINE__, "callback: JOB_ERROR with success code %s", hr_text(code, t, sizeof t));
    } else if (code != QM_S_OK) {
        fail(__LINE__, "callback: event 0x%x with code %s (documented QM_S_OK)", event, hr_text(code, t, sizeof t));
    }
    if (event == QM_NOTIFY_FILE_TRANSFERRED && file_index == QM_FILE_INDEX_NONE)
        fail(__LINE__, "callback: FILE_TRANSFERRED without a file index");

    pthread_mutex_lock(&c->mtx);
    c->calls++;
    if (event < 32) c->by_event[event]++;
    c->in_flight--;
    pthread_mutex_unlock(&c->mtx);
}

/* ------------------------------------------------------------ shared setup */

static const char *g_dir;
static qm_manager_t g_mgr;
static qm_job_t g_shared[NSHARED];
/* Set (before the call) when a thread cancels or completes a shared job:
 * its progress may then legitimately drop. Only jobs 0 and 1 may be. */
static int g_shared_final[NSHARED];
static pthread_mutex_t g_shared_mtx = PTHREAD_MUTEX_INITIALIZER;

#define NSRC 6
static char g_src[NSRC][4096];
static uint64_t g_src_size[NSRC];
static char g_small[4096];

static int shared_finalizing(int i) {
    int v;
    pthread_mutex_lock(&g_shared_mtx);
    v = g_shared_final[i];
    pthread_mutex_unlock(&g_shared_mtx);
    return v;
}

static void mark_shared_finalizing(int i) {
    pthread_mutex_lock(&g_shared_mtx);
    g_shared_final[i] = 1;
    pthread_mutex_unlock(&g_shared_mtx);
}

/* ----------------------------------------------------------------- workers */

typedef struct {
    qm_job_t h;
    int finalized;  /* this thread cancelled or completed it */
    int have_last;
    uint64_t last;
    uint32_t nfiles;
    char local[3][4096];
    int src[3];
} own_job;

#define MAX_SEEN 256

typedef struct {
    int id;
    uint32_t rng;
    uint64_t deadline;
    long iters;
    int created;
    int shared_adds;
    int local_seq;
    uint64_t last_shared[NSHARED];
    int have_last_shared[NSHARED];
    own_job own[MAXOWN];
    int nown;
    qm_job_t seen[MAX_SEEN]; /* own handles, checked for QM_E_HANDLE at the end */
    int nseen;
    long ops[20];
    long enum_handles;
    long states[9];      /* get_state reads by state */
    long completed_ok;   /* own jobs completed with QM_S_OK and verified */
} worker;

static uint32_t rnd(worker *w) {
    uint32_t x = w->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    w->rng = x;
    return x;
}

static void check_state_value(const char *what, uint32_t s, qm_job_t h, int line) {
    if (s > QM_JOB_STATE_CANCELLED) fail(line, "%s: state %u out of range 0..8", what, s);
    if (s == QM_JOB_STATE_ERROR || s == QM_JOB_STATE_TRANSIENT_ERROR) {
        char d[1024];
        size_t needed = 0;
        if (QM_FAILED(qm_job_get_error_description(h, d, sizeof d, &needed))) strcpy(d, "?");
        fail(line, "%s: job in state %u (nothing here should fail): %s", what, s, d);
    }
}

/* Monotonicity of SIZE_DONE. tracker = (have, last); skip when the job may
 * legitimately have dropped its progress (cancelled/completed). */
static void track_size(const char *what, int *have, uint64_t *last, uint64_t now, int shared_index,
                       const own_job *oj, int line) {
    if (*have && now < *last) {
        int excused = 0;
        if (shared_index >= 0) excused = shared_finalizing(shared_index);
        if (oj) excused = oj->finalized;
        if (!excused)
            fail(line, "%s: SIZE_DONE went backwards on job %llu: %llu then %llu", what,
                 (unsigned long long)(oj ? oj->h : g_shared[shared_index]), (unsigned long long)*last,
                 (unsigned long long)now);
    }
    *have = 1;
    *last = now;
}

static void remember(worker *w, qm_job_t h) {
    if (w->nseen < MAX_SEEN) w->seen[w->nseen++] = h;
}

static void own_create(worker *w) {
    own_job *oj;
    qm_job_t h = 0;
    char name[64];
    qm_hresult hr;
    uint32_t k, n;
    if (w->nown >= MAXOWN || w->created >= MAX_CREATED) return;
    snprintf(name, sizeof name, "thread %d job %d", w->id, w->created);
    hr = EXPECT("qm_job_create", qm_job_create(g_mgr, name, &h), QM_S_OK);
    if (hr != QM_S_OK) return;
    if (h == 0) {
        fail(__LINE__, "qm_job_create returned handle 0");
        return;
    }
    w->created++;
    remember(w, h);
    oj = &w->own[w->nown++];
    memset(oj, 0, sizeof *oj);
    oj->h = h;
    n = rnd(w) % 3; /* 0..2 files now; more may be added later */
    for (k = 0; k < n; k++) {
        int src = (rnd(w) % 4 == 0) ? (int)(rnd(w) % NSRC) : -1;
        snprintf(oj->local[k], sizeof oj->local[k], "%s/own_t%d_%d.out", g_dir, w->id, w->local_seq++);
        hr = EXPECT("qm_job_add_file (own, new)", qm_job_add_file(h, src < 0 ? g_small : g_src[src], oj->local[k]),
                    QM_S_OK);
        if (hr == QM_S_OK) oj->src[oj->nfiles++] = src;
    }
    switch (rnd(w) % 3) {
    case 0:
        EXPECT("qm_job_set_max_bandwidth", qm_job_set_max_bandwidth(h, 2 * MIB), QM_S_OK);
        break;
    case 1:
        EXPECT("qm_job_set_max_bandwidth", qm_job_set_max_bandwidth(h, 16 * MIB), QM_S_OK);
        break;
    default:
        break;
    }
    if (rnd(w) % 2)
        EXPECT("qm_job_set_notify (own, new)",
               qm_job_set_notify(h, on_notify, &g_notify,
                                 QM_NOTIFY_JOB_TRANSFERRED | QM_NOTIFY_JOB_ERROR | QM_NOTIFY_JOB_MODIFICATION |
                                     QM_NOTIFY_FILE_TRANSFERRED),
               QM_S_OK);
    if (rnd(w) % 4 != 0) {
        hr = EXPECT("qm_job_resume (own, new)", qm_job_resume(h), QM_S_OK, QM_BG_E_EMPTY);
        if (hr == QM_BG_E_EMPTY && oj->nfiles != 0) fail(__LINE__, "resume of a job with files gave QM_BG_E_EMPTY");
        if (hr == QM_S_OK && oj->nfiles == 0) fail(__LINE__, "resume of a job without files gave QM_S_OK");
    }
}

static void own_remove(worker *w, int idx) {
    w->own[idx] = w->own[w->nown - 1];
    w->nown--;
}

/* Checks the destination files of an own job completed with QM_S_OK, then
 * deletes them to save disk. */
static void own_verify_and_clean(own_job *oj, qm_hresult complete_hr) {
    uint32_t k;
    for (k = 0; k < oj->nfiles; k++) {
        const char *src = oj->src[k] < 0 ? g_small : g_src[oj->src[k]];
        if (complete_hr == QM_S_OK && !ct_files_equal(src, oj->local[k]))
            fail(__LINE__, "completed job %llu: %s differs from %s", (unsigned long long)oj->h, oj->local[k], src);
        remove(oj->local[k]);
    }
}

static void op_on_job(worker *w, int op, qm_job_t h, int si, own_job *oj) {
    qm_hresult hr;
    uint64_t v = 0;
    uint32_t s = 99;
    char t[256];
    switch (op) {
    case 0: { /* get_progress PERCENT_DONE */
        hr = EXPECT("qm_job_get_progress(PERCENT_DONE)", qm_job_get_progress(h, QM_PROGRESS_PERCENT_DONE, &v), QM_S_OK);
        if (hr == QM_S_OK && v > 100) fail(__LINE__, "PERCENT_DONE %llu > 100", (unsigned long long)v);
        break;
    }
    case 1: { /* get_progress SIZE_DONE */
        hr = EXPECT("qm_job_get_progress(SIZE_DONE)", qm_job_get_progress(h, QM_PROGRESS_SIZE_DONE, &v), QM_S_OK);
        if (hr == QM_S_OK) {
            if (si >= 0)
                track_size("SIZE_DONE", &w->have_last_shared[si], &w->last_shared[si], v, si, NULL, __LINE__);
            else
                track_size("SIZE_DONE", &oj->have_last, &oj->last, v, -1, oj, __LINE__);
        }
        break;
    }
    case 2: { /* get_progress */
        qm_job_progress p = QM_JOB_PROGRESS_INIT;
        hr = EXPECT("qm_job_get_progress_ex", qm_job_get_progress_ex(h, &p), QM_S_OK);
        if (hr == QM_S_OK) {
            if (si >= 0)
                track_size("qm_job_get_progress_ex", &w->have_last_shared[si], &w->last_shared[si], p.bytes_transferred, si, NULL,
                           __LINE__);
            else
                track_size("qm_job_get_progress_ex", &oj->have_last, &oj->last, p.bytes_transferred, -1, oj, __LINE__);
            if (oj && !oj->finalized && p.files_total != oj->nfiles)
                fail(__LINE__, "qm_job_get_progress_ex files_total %u, job has %u files", p.files_total, oj->nfiles);
        }
        break;
    }
    case 3: { /* get_status */
        uint32_t st = 0, w32 = 0, tr = 0, nr = 0;
        hr = EXPECT("qm_job_get_status", qm_job_get_status(h, &st, (rnd(w) & 1) ? &w32 : NULL, &tr, &nr), QM_S_OK);
        if (hr == QM_S_OK) {
            uint32_t known = QM_STATUS_JOB_COMPLETE | QM_STATUS_JOB_INCOMPLETE | QM_STATUS_JOB_ERROR |
                             QM_STATUS_JOB_FOREGROUND;
            if (st & ~known) fail(__LINE__, "get_status: unknown status bits 0x%x", st);
            if (!(st & QM_STATUS_JOB_COMPLETE) == !(st & QM_STATUS_JOB_INCOMPLETE))
                fail(__LINE__, "get_status: status 0x%x must have exactly one of COMPLETE/INCOMPLETE", st);
            if (st & QM_STATUS_JOB_ERROR) fail(__LINE__, "get_status: ERROR flag set (nothing here should fail)");
        }
        break;
    }
    case 4: { /* get_state */
        hr = EXPECT("qm_job_get_state", qm_job_get_state(h, &s), QM_S_OK);
        if (hr == QM_S_OK) check_state_value("get_state", s, h, __LINE__);
        if (hr == QM_S_OK && s <= QM_JOB_STATE_CANCELLED) w->states[s]++;
        break;
    }
    case 5: { /* get_file_progress */
        qm_file_progress fp = QM_FILE_PROGRESS_INIT;
        uint32_t idx = rnd(w) % 5;
        hr = EXPECT("qm_job_get_file_progress", qm_job_get_file_progress(h, idx, &fp), QM_S_OK, QM_E_ITEM_NOT_FOUND);
        if (hr == QM_S_OK) {
            if (fp.bytes_total != QM_SIZE_UNKNOWN && fp.bytes_transferred > fp.bytes_total)
                fail(__LINE__, "file progress %llu > total %llu", (unsigned long long)fp.bytes_transferred,
                     (unsigned long long)fp.bytes_total);
            if (oj && idx >= oj->nfiles) fail(__LINE__, "file progress of index %u of %u files succeeded", idx, oj->nfiles);
        } else if (hr == QM_E_ITEM_NOT_FOUND && oj && idx < oj->nfiles) {
            fail(__LINE__, "file progress of index %u of %u files: QM_E_ITEM_NOT_FOUND", idx, oj->nfiles);
        }
        break;
    }
    case 7: { /* add_file */
        char local[4096];
        int src = (int)(rnd(w) % NSRC);
        if (si >= 0) {
            if (w->shared_adds >= MAX_SHARED_ADDS) break;
            w->shared_adds++;
            snprintf(local, sizeof local, "%s/shared%d_t%d_%d.out", g_dir, si, w->id, w->local_seq++);
            EXPECT("qm_job_add_file (shared)", qm_job_add_file(h, g_src[src], local), QM_S_OK, QM_BG_E_INVALID_STATE);
        } else {
            if (oj->nfiles >= 3) break;
            if (rnd(w) % 2) src = -1;
            snprintf(oj->local[oj->nfiles], sizeof oj->local[0], "%s/own_t%d_%d.out", g_dir, w->id, w->local_seq++);
            hr = EXPECT("qm_job_add_file (own)", qm_job_add_file(h, src < 0 ? g_small : g_src[src], oj->local[oj->nfiles]),
                        QM_S_OK, QM_BG_E_INVALID_STATE);
            if (hr == QM_S_OK) {
                if (oj->finalized) fail(__LINE__, "add_file on a final job succeeded");
                oj->src[oj->nfiles++] = src;
            } else if (hr == QM_BG_E_INVALID_STATE && !oj->finalized) {
                fail(__LINE__, "add_file on a live job gave QM_BG_E_INVALID_STATE");
            }
        }
        break;
    }
    case 8: { /* resume */
        hr = EXPECT("qm_job_resume", qm_job_resume(h), QM_S_OK, QM_BG_E_EMPTY, QM_BG_E_INVALID_STATE);
        if (oj && hr == QM_S_OK) {
            if (EXPECT("qm_job_get_state", qm_job_get_state(h, &s), QM_S_OK) == QM_S_OK &&
                s != QM_JOB_STATE_QUEUED && s != QM_JOB_STATE_CONNECTING && s != QM_JOB_STATE_TRANSFERRING &&
                s != QM_JOB_STATE_TRANSFERRED)
                fail(__LINE__, "after resume S_OK the job is in state %u", s);
        }
        if (oj && hr == QM_BG_E_INVALID_STATE && !oj->finalized) fail(__LINE__, "resume of a live job: INVALID_STATE");
        break;
    }
    case 9: { /* suspend */
        hr = EXPECT("qm_job_suspend", qm_job_suspend(h), QM_S_OK, QM_BG_E_INVALID_STATE);
        if (oj && hr == QM_S_OK) {
            if (EXPECT("qm_job_get_state", qm_job_get_state(h, &s), QM_S_OK) == QM_S_OK && s != QM_JOB_STATE_SUSPENDED)
                fail(__LINE__, "after suspend S_OK the own job is in state %u", s);
        }
        if (oj && hr == QM_BG_E_INVALID_STATE && !oj->finalized) fail(__LINE__, "suspend of a live job: INVALID_STATE");
        break;
    }
    case 10: { /* cancel */
        int was_final = 0;
        if (si >= 0) {
            if (si != 0 || rnd(w) % 1024 != 0) break; /* only shared job 0, rarely */
            mark_shared_finalizing(si);
        } else {
            if (rnd(w) % 200 != 0) break;
            was_final = oj->finalized;
            oj->finalized = 1; /* before the call: progress may drop from now on */
        }
        hr = EXPECT("qm_job_cancel", qm_job_cancel(h), QM_S_OK, QM_BG_S_UNABLE_TO_DELETE_FILES, QM_BG_E_INVALID_STATE);
        if (QM_SUCCEEDED(hr) &&
            EXPECT("qm_job_get_state", qm_job_get_state(h, &s), QM_S_OK) == QM_S_OK && s != QM_JOB_STATE_CANCELLED)
            fail(__LINE__, "after cancel %s the job is in state %u", hr_text(hr, t, sizeof t), s);
        if (oj && was_final && hr != QM_BG_E_INVALID_STATE)
            fail(__LINE__, "cancel of a final own job: %s", hr_text(hr, t, sizeof t));
        if (oj && !was_final && hr == QM_BG_E_INVALID_STATE) fail(__LINE__, "cancel of a live own job: INVALID_STATE");
        break;
    }
    case 11: { /* complete */
        int was_final = 0;
        if (si >= 0) {
            if (si != 1 || rnd(w) % 1024 != 0) break; /* only shared job 1, rarely */
            mark_shared_finalizing(si);
        } else {
            if (rnd(w) % 200 != 0) break;
            was_final = oj->finalized;
            oj->finalized = 1;
        }
        hr = EXPECT("qm_job_complete", qm_job_complete(h), QM_S_OK, QM_BG_S_PARTIAL_COMPLETE, QM_BG_E_INVALID_STATE);
        if (QM_SUCCEEDED(hr) &&
            EXPECT("qm_job_get_state", qm_job_get_state(h, &s), QM_S_OK) == QM_S_OK && s != QM_JOB_STATE_ACKNOWLEDGED)
            fail(__LINE__, "after complete %s the job is in state %u", hr_text(hr, t, sizeof t), s);
        if (oj) {
            if (was_final && hr != QM_BG_E_INVALID_STATE)
                fail(__LINE__, "complete of a final own job: %s", hr_text(hr, t, sizeof t));
            if (!was_final && hr == QM_BG_E_INVALID_STATE) fail(__LINE__, "complete of a live own job: INVALID_STATE");
            if (QM_SUCCEEDED(hr)) own_verify_and_clean(oj, hr);
            if (hr == QM_S_OK && oj->nfiles > 0) w->completed_ok++;
        }
        break;
    }
    case 14: { /* wait with a short timeout */
        uint32_t st = 1234;
        hr = EXPECT("qm_job_wait", qm_job_wait(h, rnd(w) % 25, &st), QM_S_OK, QM_S_FALSE);
        if (hr == QM_S_OK) {
            check_state_value("wait", st, h, __LINE__);
            if (st != QM_JOB_STATE_TRANSFERRED && st != QM_JOB_STATE_ERROR && st != QM_JOB_STATE_SUSPENDED &&
                st != QM_JOB_STATE_ACKNOWLEDGED && st != QM_JOB_STATE_CANCELLED)
                fail(__LINE__, "wait returned S_OK with non-terminal state %u", st);
        } else if (hr == QM_S_FALSE && st != 1234) {
            fail(__LINE__, "wait timed out but wrote *state = %u", st);
        }
        break;
    }
    case 15: { /* set_priority (a job's own limit applies even to FOREGROUND) */
        uint32_t prio = rnd(w) % 4;
        hr = EXPECT("qm_job_set_priority", qm_job_set_priority(h, prio), QM_S_OK, QM_BG_E_INVALID_STATE);
        if (oj && hr == QM_BG_E_INVALID_STATE && !oj->finalized) fail(__LINE__, "set_priority of a live job: INVALID_STATE");
        if (oj && hr == QM_S_OK) {
            uint32_t got = 99;
            if (EXPECT("qm_job_get_priority", qm_job_get_priority(h, &got), QM_S_OK) == QM_S_OK && got != prio)
                fail(__LINE__, "priority set to %u reads back %u", prio, got);
        }
        break;
    }
    case 16: { /* set_notify */
        uint32_t flags = rnd(w) & (QM_NOTIFY_JOB_TRANSFERRED | QM_NOTIFY_JOB_ERROR | QM_NOTIFY_DISABLE |
                                    QM_NOTIFY_JOB_MODIFICATION | QM_NOTIFY_FILE_TRANSFERRED);
        if (rnd(w) % 3 != 0) flags = (flags | QM_NOTIFY_JOB_MODIFICATION) & ~(uint32_t)QM_NOTIFY_DISABLE;
        hr = EXPECT("qm_job_set_notify", qm_job_set_notify(h, (rnd(w) % 8 == 0) ? NULL : on_notify, &g_notify, flags),
                    QM_S_OK, QM_BG_E_INVALID_STATE);
        if (oj && hr == QM_BG_E_INVALID_STATE && !oj->finalized) fail(__LINE__, "set_notify of a live job: INVALID_STATE");
        break;
    }
    case 17: { /* bad arguments: the documented error codes */
        switch (rnd(w) % 7) {
        case 0:
            EXPECT("qm_job_get_progress(TIME_DONE)", qm_job_get_progress(h, QM_PROGRESS_TIME_DONE, &v), QM_E_NOTIMPL);
            break;
        case 1:
            EXPECT("qm_job_get_progress(flag 7)", qm_job_get_progress(h, 7, &v), QM_E_INVALIDARG);
            break;
        case 2:
            EXPECT("qm_job_get_progress(NULL)", qm_job_get_progress(h, QM_PROGRESS_SIZE_DONE, NULL), QM_E_POINTER);
            break;
        case 3:
            EXPECT("qm_job_get_state(NULL)", qm_job_get_state(h, NULL), QM_E_POINTER);
            break;
        case 4:
            EXPECT("qm_job_set_priority(9)", qm_job_set_priority(h, 9), QM_E_INVALIDARG, QM_BG_E_INVALID_STATE);
            break;
        case 5:
            EXPECT("qm_job_set_notify(bad flags)", qm_job_set_notify(h, on_notify, &g_notify, 0x100),
                   QM_E_INVALIDARG, QM_BG_E_INVALID_STATE);
            break;
        default:
            EXPECT("qm_job_get_state(bogus handle)", qm_job_get_state(h + 0x100000000ull, &s), QM_E_HANDLE);
            break;
        }
        break;
    }
    default:
        break;
    }
}

static void op_enum(worker *w) {
    size_t count = 0, cap, i, j;
    qm_job_t *hs;
    qm_hresult hr;
    int tries;
    /* cap 0 is the documented count query */
    hr = EXPECT("qm_manager_enum_jobs(count)", qm_manager_enum_jobs(g_mgr, NULL, 0, &count), QM_S_OK,
                QM_E_INSUFFICIENT_BUFFER);
    if (QM_FAILED(hr) && hr != QM_E_INSUFFICIENT_BUFFER) return;
    for (tries = 0; tries < 4; tries++) {
        cap = count + 4;
        hs = (qm_job_t *)calloc(cap, sizeof *hs);
        if (!hs) return;
        hr = EXPECT("qm_manager_enum_jobs", qm_manager_enum_jobs(g_mgr, hs, cap, &count), QM_S_OK,
                    QM_E_INSUFFICIENT_BUFFER);
        if (hr == QM_S_OK) {
            if (count > cap) fail(__LINE__, "enum_jobs: S_OK with count %zu > cap %zu", count, cap);
            if (count > cap) count = cap;
            for (i = 0; i < count; i++) {
                uint32_t s = 99;
                uint64_t v;
                if (hs[i] == 0) fail(__LINE__, "enum_jobs returned handle 0");
                for (j = 0; j < i; j++)
                    if (hs[j] == hs[i]) fail(__LINE__, "enum_jobs returned handle %llu twice", (unsigned long long)hs[i]);
                /* read-only use: these may be other threads' jobs or the untouched one */
                if (EXPECT("qm_job_get_state (enum)", qm_job_get_state(hs[i], &s), QM_S_OK) == QM_S_OK &&
                    s > QM_JOB_STATE_CANCELLED)
                    fail(__LINE__, "enum: state %u", s);
                hr = EXPECT("qm_job_get_progress (enum)", qm_job_get_progress(hs[i], QM_PROGRESS_PERCENT_DONE, &v), QM_S_OK);
                if (hr == QM_S_OK && v > 100) fail(__LINE__, "enum: PERCENT_DONE %llu", (unsigned long long)v);
                EXPECT("qm_job_close (enum)", qm_job_close(hs[i]), QM_S_OK);
                EXPECT("qm_job_close (enum, twice)", qm_job_close(hs[i]), QM_E_HANDLE);
                w->enum_handles++;
            }
            free(hs);
            return;
        }
        free(hs);
    }
}

static void *worker_main(void *arg) {
    worker *w = (worker *)arg;
    while (w->iters < MAX_ITERS && ct_now_ms() < w->deadline) {
        int op = (int)(rnd(w) % 18);
        int si = -1;
        own_job *oj = NULL;
        int oi = -1;
        w->iters++;
        w->ops[op]++;
        if (op == 6) {
            own_create(w);
            continue;
        }
        if (op == 13) {
            op_enum(w);
            continue;
        }
        if (op == 12) { /* close an own handle (cancelling the job first, sometimes) */
            if (w->nown == 0 || rnd(w) % 200 != 0) continue;
            oi = (int)(rnd(w) % (uint32_t)w->nown);
            oj = &w->own[oi];
            if (!oj->finalized && rnd(w) % 2) {
                oj->finalized = 1;
                EXPECT("qm_job_cancel (before close)", qm_job_cancel(oj->h), QM_S_OK, QM_BG_S_UNABLE_TO_DELETE_FILES);
            }
            EXPECT("qm_job_close (own)", qm_job_close(oj->h), QM_S_OK);
            own_remove(w, oi);
            continue;
        }
        /* Suspends are rarer than resumes so that transfers keep running, and
         * own jobs are finalized or closed rarely enough to make progress. */
        if (op == 9 && rnd(w) % 3 != 0) continue;
        if (w->nown > 0 && rnd(w) % 2) {
            oi = (int)(rnd(w) % (uint32_t)w->nown);
            oj = &w->own[oi];
            op_on_job(w, op, oj->h, -1, oj);
        } else {
            si = (int)(rnd(w) % NSHARED);
            op_on_job(w, op, g_shared[si], si, NULL);
        }
    }
    /* Own handles are closed here; their jobs go on inside the manager. */
    while (w->nown > 0) {
        EXPECT("qm_job_close (own, at exit)", qm_job_close(w->own[0].h), QM_S_OK);
        own_remove(w, 0);
    }
    return NULL;
}

/* ------------------------------------------------------------------ waiter */

typedef struct {
    qm_job_t job;
    qm_hresult hr;
    uint64_t returned_ms;
    pthread_mutex_t mtx;
    int started; /* under mtx: about to call qm_job_wait */
} waiter;

static void *waiter_main(void *arg) {
    waiter *wt = (waiter *)arg;
    uint32_t st = 0;
    pthread_mutex_lock(&wt->mtx);
    wt->started = 1;
    pthread_mutex_unlock(&wt->mtx);
    wt->hr = qm_job_wait(wt->job, QM_WAIT_INFINITE, &st);
    wt->returned_ms = ct_now_ms();
    return NULL;
}

static int waiter_started(waiter *wt) {
    int v;
    pthread_mutex_lock(&wt->mtx);
    v = wt->started;
    pthread_mutex_unlock(&wt->mtx);
    return v;
}

/* The witness after close: a job of a fresh manager, with its own callback. */
static pthread_mutex_t g_witness_mtx = PTHREAD_MUTEX_INITIALIZER;
static long g_witness_events = 0;
static int g_witness_transferred = 0;

static void on_witness(qm_job_t job, uint32_t event, uint32_t file_index, qm_hresult code, void *context) {
    (void)job, (void)file_index, (void)code, (void)context;
    pthread_mutex_lock(&g_witness_mtx);
    g_witness_events++;
    if (event == QM_NOTIFY_JOB_TRANSFERRED) g_witness_transferred = 1;
    pthread_mutex_unlock(&g_witness_mtx);
}

static int witness_done(void) {
    int v;
    pthread_mutex_lock(&g_witness_mtx);
    v = g_witness_transferred && g_witness_events >= 4;
    pthread_mutex_unlock(&g_witness_mtx);
    return v;
}

/* -------------------------------------------------------------------- main */

int main(int argc, char **argv) {
    static worker workers[NTHREADS];
    pthread_t tids[NTHREADS];
    qm_job_t pristine = 0, slow = 0, witness = 0;
    qm_manager_t witness_mgr = 0;
    char pristine_local[2][4096], pristine_src[2][4096], slow_src[4096], slow_local[4096];
    char url[4200];
    uint64_t t0 = ct_now_ms(), t_close, close_ms;
    int i, k;
    uint32_t st;
    long calls_at_close, iters = 0, created = 0, enum_handles = 0, completed_ok = 0, states[9] = {0};
    waiter wt;
    pthread_t wtid;

    if (argc < 2) {
        fprintf(stderr, "usage: threads <scratch dir>\n");
        return 2;
    }
    g_dir = argv[1];

    /* Source files: a few MiB each for the shared jobs, a small one for the
     * threads' own jobs, two for the untouched job and one for the waiter. */
    for (i = 0; i < NSRC; i++) {
        char name[32];
        snprintf(name, sizeof name, "src%d.bin", i);
        g_src_size[i] = (uint64_t)(2 + i % 3) * MIB + (uint64_t)i * 4099u;
        snprintf(g_src[i], sizeof g_src[i], "%s", ct_path(g_dir, name));
        if (!CHECK(ct_write_pattern_file(g_src[i], g_src_size[i], 100u + (uint32_t)i))) return ct_finish("threads");
    }
    snprintf(g_small, sizeof g_small, "%s", ct_path(g_dir, "small.bin"));
    CHECK(ct_write_pattern_file(g_small, 512u * 1024u + 17u, 7u));
    for (k = 0; k < 2; k++) {
        char name[32];
        snprintf(name, sizeof name, "pristine%d.bin", k);
        snprintf(pristine_src[k], sizeof pristine_src[k], "%s", ct_path(g_dir, name));
        CHECK(ct_write_pattern_file(pristine_src[k], (uint64_t)(3 - k) * MIB + 333u, 900u + (uint32_t)k));
        snprintf(name, sizeof name, "pristine%d.out", k);
        snprintf(pristine_local[k], sizeof pristine_local[k], "%s", ct_path(g_dir, name));
    }
    snprintf(slow_src, sizeof slow_src, "%s", ct_path(g_dir, "slow.bin"));
    snprintf(slow_local, sizeof slow_local, "%s", ct_path(g_dir, "slow.out"));
    CHECK(ct_write_pattern_file(slow_src, 8u * MIB, 4242u));

    if (!CHECK_HR(ct_open_manager(&g_mgr), QM_S_OK)) return ct_finish("threads");
    CHECK_HR(qm_manager_set_max_active_jobs(g_mgr, 8), QM_S_OK);

    /* Shared jobs: 1-3 files each; job 0 unthrottled (it finishes and goes
     * back to QUEUED when files are added), the others throttled. */
    for (i = 0; i < NSHARED; i++) {
        static const uint64_t limits[NSHARED] = {0, 40u * MIB, 20u * MIB, 4u * MIB};
        char name[32];
        int nf = 1 + i % 3;
        snprintf(name, sizeof name, "shared %d", i);
        CHECK_HR(qm_job_create(g_mgr, name, &g_shared[i]), QM_S_OK);
        for (k = 0; k < nf; k++) {
            char local[64];
            snprintf(local, sizeof local, "shared%d_%d.out", i, k);
            if (k == 1) {
                snprintf(url, sizeof url, "file://%s", g_src[(i + k) % NSRC]);
                CHECK_HR(qm_job_add_file(g_shared[i], url, ct_path(g_dir, local)), QM_S_OK);
            } else {
                CHECK_HR(qm_job_add_file(g_shared[i], g_src[(i + k) % NSRC], ct_path(g_dir, local)), QM_S_OK);
            }
        }
        CHECK_HR(qm_job_set_max_bandwidth(g_shared[i], limits[i]), QM_S_OK);
        CHECK_HR(qm_job_set_notify(g_shared[i], on_notify, &g_notify,
                                   QM_NOTIFY_JOB_TRANSFERRED | QM_NOTIFY_JOB_ERROR | QM_NOTIFY_JOB_MODIFICATION |
                                       QM_NOTIFY_FILE_TRANSFERRED),
                 QM_S_OK);
        CHECK_HR(qm_job_resume(g_shared[i]), QM_S_OK);
    }

    /* The job the chaos never touches (enumerated handles only read it). */
    CHECK_HR(qm_job_create(g_mgr, "untouched", &pristine), QM_S_OK);
    CHECK_HR(qm_job_add_file(pristine, pristine_src[0], pristine_local[0]), QM_S_OK);
    snprintf(url, sizeof url, "file://%s", pristine_src[1]);
    CHECK_HR(qm_job_add_file(pristine, url, pristine_local[1]), QM_S_OK);

    for (i = 0; i < NTHREADS; i++) {
        workers[i].id = i;
        workers[i].rng = 0x9E3779B9u ^ (uint32_t)(i * 7919 + 1) ^ (uint32_t)t0;
        if (workers[i].rng == 0) workers[i].rng = 1;
        workers[i].deadline = ct_now_ms() + RUN_MS;
        if (pthread_create(&tids[i], NULL, worker_main, &workers[i]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 2;
        }
    }
    for (i = 0; i < NTHREADS; i++) pthread_join(tids[i], NULL);
    ct_failures += g_failures;
    g_failures = 0;
    pthread_mutex_lock(&g_notify.mtx);
    calls_at_close = g_notify.calls;
    pthread_mutex_unlock(&g_notify.mtx);
    for (i = 0; i < NTHREADS; i++) {
        iters += workers[i].iters;
        created += workers[i].created;
        enum_handles += workers[i].enum_handles;
        completed_ok += workers[i].completed_ok;
        for (k = 0; k < 9; k++) states[k] += workers[i].states[k];
    }
    printf("threads: %ld operations, %ld jobs created, %ld enumerated handles, %ld callbacks, chaos ended after %llu ms\n",
           iters, created, enum_handles, calls_at_close, (unsigned long long)(ct_now_ms() - t0));
    printf("threads: states read: queued %ld, connecting %ld, transferring %ld, suspended %ld, transferred %ld, "
           "acknowledged %ld, cancelled %ld; %ld own jobs completed and verified\n",
           states[0], states[1], states[2], states[3], states[6], states[7], states[8], completed_ok);

    /* Every shared job: suspend (even) or cancel (odd) succeeds, or says
     * INVALID_STATE because the chaos made it final. */
    for (i = 0; i < NSHARED; i++) {
        qm_hresult hr = (i % 2 == 0) ? qm_job_suspend(g_shared[i]) : qm_job_cancel(g_shared[i]);
        st = 99;
        CHECK_HR(qm_job_get_state(g_shared[i], &st), QM_S_OK);
        if (hr == QM_BG_E_INVALID_STATE) {
            CHECK(i < 2); /* only jobs 0 and 1 may have been made final */
            CHECK(st == QM_JOB_STATE_ACKNOWLEDGED || st == QM_JOB_STATE_CANCELLED);
        } else if (i % 2 == 0) {
            CHECK_HR(hr, QM_S_OK);
            CHECK_EQ(st, QM_JOB_STATE_SUSPENDED);
        } else {
            if (hr != QM_BG_S_UNABLE_TO_DELETE_FILES) CHECK_HR(hr, QM_S_OK);
            CHECK_EQ(st, QM_JOB_STATE_CANCELLED);
        }
    }

    /* The untouched job transfers byte-exact. */
    CHECK_HR(qm_manager_set_max_active_jobs(g_mgr, 64), QM_S_OK);
    st = 99;
    CHECK_HR(qm_job_get_state(pristine, &st), QM_S_OK);
    CHECK_EQ(st, QM_JOB_STATE_SUSPENDED);
    CHECK_HR(qm_job_resume(pristine), QM_S_OK);
    st = 99;
    CHECK_HR(qm_job_wait(pristine, 120000, &st), QM_S_OK);
    CHECK_EQ(st, QM_JOB_STATE_TRANSFERRED);
    CHECK_HR(qm_job_complete(pristine), QM_S_OK);
    CHECK(ct_files_equal(pristine_src[0], pristine_local[0]));
    CHECK(ct_files_equal(pristine_src[1], pristine_local[1]));

    /* A slow job (8 MiB at 64 KiB/s: 128 s) with a thread blocked in an
     * infinite wait on it: closing the manager must wake it with QM_E_ABORT. */
    CHECK_HR(qm_job_create(g_mgr, "slow", &slow), QM_S_OK);
    CHECK_HR(qm_job_add_file(slow, slow_src, slow_local), QM_S_OK);
    CHECK_HR(qm_job_set_max_bandwidth(slow, 64u * 1024u), QM_S_OK);
    CHECK_HR(qm_job_resume(slow), QM_S_OK);
    wt.job = slow;
    wt.hr = 12345;
    wt.returned_ms = 0;
    wt.started = 0;
    pthread_mutex_init(&wt.mtx, NULL);
    if (pthread_create(&wtid, NULL, waiter_main, &wt) != 0) {
        fprintf(stderr, "pthread_create failed\n");
        return 2;
    }
    /* The waiter says it is about to wait; the slow job then stays unsettled
     * for a further half second (a wait that must time out), which leaves
     * the waiter ample time to be blocked in its own wait. */
    CT_WAIT_UNTIL(waiter_started(&wt), CT_WAIT_MS, "the waiter thread to start");
    st = 99;
    CHECK_HR(qm_job_wait(slow, 500, &st), QM_S_FALSE);
    CHECK_EQ(st, 99);

    /* Close two shared handles ourselves; the manager closes the others. */
    CHECK_HR(qm_job_close(g_shared[0]), QM_S_OK);
    CHECK_HR(qm_job_close(g_shared[1]), QM_S_OK);

    /* Close is prompt: it stops the transfers instead of waiting for them
     * (the slow job alone would need 128 s; the 30 s bound only catches a
     * hang, speed is for the benchmarks). */
    t_close = ct_now_ms();
    CHECK_HR(qm_manager_close(g_mgr), QM_S_OK);
    close_ms = ct_now_ms() - t_close;
    pthread_mutex_lock(&g_notify.mtx);
    g_manager_closed = 1;
    pthread_mutex_unlock(&g_notify.mtx);
    pthread_join(wtid, NULL);
    pthread_mutex_destroy(&wt.mtx);
    printf("threads: qm_manager_close took %llu ms\n", (unsigned long long)close_ms);
    CHECK(close_ms <= 30000);
    CHECK_HR(wt.hr, QM_E_ABORT);
    CHECK(wt.returned_ms != 0 && wt.returned_ms - t_close <= 30000);

    /* No callback runs after close: none is running now, and on_notify
     * fails by itself if one ever starts again. To give a stray one every
     * chance, the engine does real work first: a job of a fresh manager
     * transfers with progress events, awaited as events, not as a sleep. */
    pthread_mutex_lock(&g_notify.mtx);
    CHECK_EQ(g_notify.in_flight, 0);
    calls_at_close = g_notify.calls;
    pthread_mutex_unlock(&g_notify.mtx);
    if (CHECK_HR(ct_open_manager(&witness_mgr), QM_S_OK) &&
        CHECK_HR(qm_job_create(witness_mgr, "after close", &witness), QM_S_OK)) {
        CHECK_HR(qm_job_add_file(witness, pristine_src[1], ct_path(g_dir, "witness.out")), QM_S_OK);
        CHECK_HR(qm_job_set_max_bandwidth(witness, 4u * MIB), QM_S_OK); /* ~0.5 s */
        CHECK_HR(qm_job_set_min_notification_interval(witness, 0), QM_S_OK);
        CHECK_HR(qm_job_set_notify(witness, on_witness, NULL,
                                   QM_NOTIFY_JOB_TRANSFERRED | QM_NOTIFY_JOB_MODIFICATION),
                 QM_S_OK);
        CHECK_HR(qm_job_resume(witness), QM_S_OK);
        CT_WAIT_UNTIL(witness_done(), CT_WAIT_MS, "the witness job's progress events and JOB_TRANSFERRED");
        CHECK_HR(qm_job_cancel(witness), QM_S_OK);
        CHECK_HR(qm_job_close(witness), QM_S_OK);
    }
    if (witness_mgr) CHECK_HR(qm_manager_close(witness_mgr), QM_S_OK);
    pthread_mutex_lock(&g_notify.mtx);
    CHECK_EQ(g_notify.calls, calls_at_close);
    CHECK_EQ(g_notify.in_flight, 0);
    pthread_mutex_unlock(&g_notify.mtx);
    CHECK(calls_at_close > 0);

    /* Every handle is dead now. */
    for (i = 0; i < NSHARED; i++) {
        st = 99;
        CHECK_HR(qm_job_get_state(g_shared[i], &st), QM_E_HANDLE);
        CHECK_EQ(st, 99);
        CHECK_HR(qm_job_close(g_shared[i]), QM_E_HANDLE);
    }
    CHECK_HR(qm_job_get_state(pristine, &st), QM_E_HANDLE);
    CHECK_HR(qm_job_close(pristine), QM_E_HANDLE);
    CHECK_HR(qm_job_get_state(slow, &st), QM_E_HANDLE);
    CHECK_HR(qm_job_resume(slow), QM_E_HANDLE);
    CHECK_HR(qm_job_close(slow), QM_E_HANDLE);
    for (i = 0; i < NTHREADS; i++) {
        for (k = 0; k < workers[i].nseen; k++) {
            uint64_t v;
            if (!CHECK_HR(qm_job_get_progress(workers[i].seen[k], QM_PROGRESS_SIZE_DONE, &v), QM_E_HANDLE)) break;
            if (!CHECK_HR(qm_job_close(workers[i].seen[k]), QM_E_HANDLE)) break;
        }
    }
    {
        size_t count = 0;
        qm_job_t j = 0;
        CHECK_HR(qm_manager_close(g_mgr), QM_E_HANDLE);
        CHECK_HR(qm_manager_enum_jobs(g_mgr, NULL, 0, &count), QM_E_HANDLE);
        CHECK_HR(qm_job_create(g_mgr, "after close", &j), QM_E_HANDLE);
        CHECK_EQ(j, 0);
    }
    ct_failures += g_failures;
    printf("threads: %ld callbacks in all; total %llu ms\n", calls_at_close, (unsigned long long)(ct_now_ms() - t0));
    return ct_finish("threads");
}
