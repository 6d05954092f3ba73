/* Callbacks of two managers that close each other's jobs at the same time
 * (found by an attack on the per-job callback gate): job A's callback, on
 * manager 1's delivery thread, closes the handle through which job B's
 * callback was registered, while B's callback, on manager 2's thread,
 * closes A's. Each close waited for the other job's running callback: a
 * deadlock, after which neither manager delivered another event. Both
 * closes must return, and both managers must still deliver events. */
#include "common.h"

#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

static atomic_int g_inside, g_done_a, g_done_b, g_later;
static atomic_int g_hr_a = -1, g_hr_b = -1;
static qm_job_t g_close_from_a, g_close_from_b;

static void on_event(qm_job_t job, uint32_t event, uint32_t file, qm_hresult code, void *context) {
    (void)job, (void)event, (void)file, (void)code;
    int is_a = context == (void *)1;
    atomic_int *done = is_a ? &g_done_a : &g_done_b;
    if (atomic_exchange(done, 1)) return;
    /* Both callbacks running at once (bounded: 5 s). */
    atomic_fetch_add(&g_inside, 1);
    for (int i = 0; i < 5000 && atomic_load(&g_inside) < 2; i++) usleep(1000);
    qm_hresult hr = qm_job_close(is_a ? g_close_from_a : g_close_from_b);
    atomic_store(is_a ? &g_hr_a : &g_hr_b, hr);
}

static void on_later(qm_job_t job, uint32_t event, uint32_t file, qm_hresult code, void *context) {
    (void)job, (void)event, (void)file, (void)code, (void)context;
    atomic_fetch_add(&g_later, 1);
}

/* Waits up to 10 s for *flag to reach at least want. */
static int wait_for(atomic_int *flag, int want) {
    for (int i = 0; i < 1000; i++) {
        if (atomic_load(flag) >= want) return 1;
        usleep(10000);
    }
    return 0;
}

int main(void) {
    qm_manager_t m1, m2;
    qm_job_t a, b, a2, b2, a3, b3;
    qm_guid ga, gb;
    if (!CHECK_HR(ct_open_manager(&m1), QM_S_OK)) return ct_finish("callbacks_cross");
    if (!CHECK_HR(ct_open_manager(&m2), QM_S_OK)) return ct_finish("callbacks_cross");
    CHECK_HR(qm_job_create(m1, "A", &a), QM_S_OK);
    CHECK_HR(qm_job_create(m2, "B", &b), QM_S_OK);
    CHECK_HR(qm_job_get_id(a, &ga), QM_S_OK);
    CHECK_HR(qm_job_get_id(b, &gb), QM_S_OK);
    CHECK_HR(qm_manager_get_job(m1, &ga, &a2), QM_S_OK);
    CHECK_HR(qm_manager_get_job(m2, &gb, &b2), QM_S_OK);
    g_close_from_a = b2;
    g_close_from_b = a2;
    CHECK_HR(qm_job_set_notify(a2, on_event, (void *)1, QM_NOTIFY_JOB_MODIFICATION), QM_S_OK);
    CHECK_HR(qm_job_set_notify(b2, on_event, (void *)2, QM_NOTIFY_JOB_MODIFICATION), QM_S_OK);
    CHECK_HR(qm_job_set_description(a, "go"), QM_S_OK);
    CHECK_HR(qm_job_set_description(b, "go"), QM_S_OK);

    int returned = CHECK(wait_for(&g_hr_a, 0) && wait_for(&g_hr_b, 0));
    if (!returned) {
        /* Deadlocked: closing the managers would hang too. */
        fprintf(stderr, "callbacks_cross: the callbacks' closes did not return within 10 s\n");
        _exit(1);
    }
    CHECK_HR(atomic_load(&g_hr_a), QM_S_OK);
    CHECK_HR(atomic_load(&g_hr_b), QM_S_OK);

    /* Both managers still deliver events. */
    CHECK_HR(qm_manager_get_job(m1, &ga, &a3), QM_S_OK);
    CHECK_HR(qm_manager_get_job(m2, &gb, &b3), QM_S_OK);
    CHECK_HR(qm_job_set_notify(a3, on_later, NULL, QM_NOTIFY_JOB_MODIFICATION), QM_S_OK);
    CHECK_HR(qm_job_set_notify(b3, on_later, NULL, QM_NOTIFY_JOB_MODIFICATION), QM_S_OK);
    CHECK_HR(qm_job_set_description(a, "again"), QM_S_OK);
    CHECK_HR(qm_job_set_description(b, "again"), QM_S_OK);
    CHECK(wait_for(&g_later, 2));

    CHECK_HR(qm_manager_close(m1), QM_S_OK);
    CHECK_HR(qm_manager_close(m2), QM_S_OK);
    return ct_finish("callbacks_cross");
}
