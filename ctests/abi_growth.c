/* A program built against today's header, run on two libraries (see
 * tests/it/abi.rs): today's, and one whose qm_job_progress gained a field
 * (the test-only abi-growth-test build). It is both callers at once:
 *   - an older caller: today's qm_job_progress, struct_size = sizeof it;
 *     on the grown library it must get today's fields and nothing past its
 *     struct (a canary after it stays);
 *   - a newer caller: the struct as a newer header would declare it, with
 *     the field appended; on today's library struct_size comes back as
 *     today's size and the new field is left as it was, on the grown
 *     library it is filled.
 * Usage: abi_growth DIR [today|grown] (today's library when not said, as
 * cross/run.sh runs every program of ctests/ with DIR alone). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "common.h"

/* The appended field's value in the abi-growth-test library. */
#define GROWTH_TEST_VALUE 0x0123456789ABCDEFull
#define CANARY 0xC0FFEE00C0FFEE00ull

/* qm_job_progress as a newer header declares it. */
typedef struct newer_job_progress {
    qm_job_progress today;
    uint64_t growth_test;
} newer_job_progress;

int main(int argc, char **argv) {
    const char *dir, *src, *dst;
    int grown;
    qm_manager_t mgr = 0;
    qm_job_t job = 0;
    uint32_t state = 0;
    struct {
        qm_job_progress p;
        uint64_t canary;
    } older;
    struct {
        newer_job_progress p;
        uint64_t canary;
    } newer;

    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR [today|grown]\n", argv[0]);
        return 2;
    }
    dir = argv[1];
    grown = argc > 2 && strcmp(argv[2], "grown") == 0;
    CHECK_EQ(qm_abi_version(), QM_ABI_VERSION);
    src = ct_path(dir, "growth-src.bin");
    dst = ct_path(dir, "growth-dst.bin");
    CHECK(ct_write_pattern_file(src, 70000, 3));
    if (!CHECK_HR(qm_manager_open(NULL, &mgr), QM_S_OK)) return ct_finish("abi_growth");
    CHECK_HR(qm_job_create(mgr, "growth", &job), QM_S_OK);
    CHECK_HR(qm_job_add_file(job, src, dst), QM_S_OK);
    CHECK_HR(qm_job_resume(job), QM_S_OK);
    CHECK_HR(qm_job_wait(job, CT_WAIT_MS, &state), QM_S_OK);
    CHECK_EQ(state, QM_JOB_STATE_TRANSFERRED);

    /* The older caller. */
    memset(&older, 0xEE, sizeof older);
    older.p.struct_size = sizeof older.p;
    older.canary = CANARY;
    CHECK_HR(qm_job_get_progress_ex(job, &older.p), QM_S_OK);
    CHECK_EQ(older.p.struct_size, sizeof(qm_job_progress));
    CHECK_EQ(older.p.reserved, 0);
    CHECK_EQ(older.p.bytes_total, 70000);
    CHECK_EQ(older.p.bytes_transferred, 70000);
    CHECK_EQ(older.p.files_total, 1);
    CHECK_EQ(older.p.files_transferred, 1);
    CHECK_EQ(older.p.eta_seconds, 0);
    CHECK_EQ(older.canary, CANARY);

    /* The newer caller. */
    memset(&newer, 0xEE, sizeof newer);
    newer.p.today.struct_size = sizeof newer.p;
    newer.p.growth_test = 42;
    newer.canary = CANARY;
    CHECK_HR(qm_job_get_progress_ex(job, &newer.p.today), QM_S_OK);
    CHECK_EQ(newer.p.today.bytes_total, 70000);
    CHECK_EQ(newer.p.today.files_transferred, 1);
    if (grown) {
        CHECK_EQ(newer.p.today.struct_size, sizeof(newer_job_progress));
        CHECK_EQ(newer.p.growth_test, GROWTH_TEST_VALUE);
    } else {
        /* struct_size says which fields were filled: not the new one. */
        CHECK_EQ(newer.p.today.struct_size, sizeof(qm_job_progress));
        CHECK_EQ(newer.p.growth_test, 42);
    }
    CHECK_EQ(newer.canary, CANARY);
    printf("%s library: an older caller got %u bytes, a newer caller %u\n", grown ? "grown" : "today's",
           (unsigned)older.p.struct_size, (unsigned)newer.p.today.struct_size);

    CHECK_HR(qm_job_complete(job), QM_S_OK);
    CHECK(ct_files_equal(src, dst));
    CHECK_HR(qm_job_close(job), QM_S_OK);
    CHECK_HR(qm_manager_close(mgr), QM_S_OK);
    return ct_finish("abi_growth");
}
