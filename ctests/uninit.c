/* Reads every struct the library fills into memory that was never
 * initialised (malloc'd; only struct_size set) and prints each byte the
 * library says it filled. Run under valgrind (tests/it/abi.rs): memcheck
 * reports any byte that reaches printf uninitialised, so a padding byte or
 * a field the library forgot would fail the run. Usage: uninit DIR, or
 * uninit DIR --self-check, which prints a byte it never set (the test
 * checks that valgrind does fail on that). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* A fresh heap block of n bytes, uninitialised but for struct_size. */
static void *fresh(size_t n) {
    void *p = malloc(n);
    uint32_t size = (uint32_t)n;
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    memcpy(p, &size, sizeof size);
    return p;
}

/* Prints the bytes the library filled, as its struct_size says. */
static void dump(const char *what, const void *p, size_t cap) {
    const unsigned char *b = (const unsigned char *)p;
    uint32_t filled;
    size_t i;
    memcpy(&filled, p, sizeof filled);
    CHECK(filled <= cap);
    printf("%s (%u bytes):", what, (unsigned)filled);
    for (i = 0; i < filled && i < cap; i++) printf(" %02x", b[i]);
    printf("\n");
}

int main(int argc, char **argv) {
    const char *dir;
    qm_manager_t mgr = 0;
    qm_job_t job = 0, bad = 0;
    uint32_t state = 0, count = 0;
    qm_file_range ranges[2] = {QM_FILE_RANGE_INIT, QM_FILE_RANGE_INIT};
    qm_job_progress *jp;
    qm_file_progress *fp;
    qm_job_times *jt;
    qm_job_error *je;
    qm_file_range *out;
    qm_guid *id;

    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    dir = argv[1];
    if (argc > 2 && strcmp(argv[2], "--self-check") == 0) {
        unsigned char *never = (unsigned char *)fresh(8);
        printf("never set: %02x\n", never[5]);
        free(never);
        return 0;
    }
    CHECK(ct_write_pattern_file(ct_path(dir, "u-src.bin"), 5000, 1));
    if (!CHECK_HR(qm_manager_open(NULL, &mgr), QM_S_OK)) return ct_finish("uninit");

    /* A transferred job with a whole file and a ranged one. */
    CHECK_HR(qm_job_create(mgr, "uninit", &job), QM_S_OK);
    CHECK_HR(qm_job_add_file(job, ct_path(dir, "u-src.bin"), ct_path(dir, "u-dst.bin")), QM_S_OK);
    ranges[0].initial_offset = 10;
    ranges[0].length = 20;
    ranges[1].initial_offset = 100;
    ranges[1].length = QM_LENGTH_TO_EOF;
    CHECK_HR(qm_job_add_file_with_ranges(job, ct_path(dir, "u-src.bin"), ct_path(dir, "u-ranges.bin"), 2, ranges),
             QM_S_OK);
    CHECK_HR(qm_job_resume(job), QM_S_OK);
    CHECK_HR(qm_job_wait(job, CT_WAIT_MS, &state), QM_S_OK);
    CHECK_EQ(state, QM_JOB_STATE_TRANSFERRED);

    jp = (qm_job_progress *)fresh(sizeof *jp);
    CHECK_HR(qm_job_get_progress_ex(job, jp), QM_S_OK);
    dump("qm_job_progress", jp, sizeof *jp);
    fp = (qm_file_progress *)fresh(sizeof *fp);
    CHECK_HR(qm_job_get_file_progress(job, 1, fp), QM_S_OK);
    dump("qm_file_progress", fp, sizeof *fp);
    jt = (qm_job_times *)fresh(sizeof *jt);
    CHECK_HR(qm_job_get_times(job, jt), QM_S_OK);
    dump("qm_job_times", jt, sizeof *jt);
    out = (qm_file_range *)malloc(2 * sizeof *out);
    if (!out) return 2;
    out[0].struct_size = out[1].struct_size = sizeof *out;
    CHECK_HR(qm_job_get_file_ranges(job, 1, out, 2, &count), QM_S_OK);
    CHECK_EQ(count, 2);
    dump("qm_file_range[0]", &out[0], sizeof *out);
    dump("qm_file_range[1]", &out[1], sizeof *out);
    id = (qm_guid *)malloc(sizeof *id);
    if (!id) return 2;
    CHECK_HR(qm_job_get_id(job, id), QM_S_OK);
    {
        size_t i;
        printf("qm_guid:");
        for (i = 0; i < sizeof id->bytes; i++) printf(" %02x", id->bytes[i]);
        printf("\n");
    }

    /* A job in ERROR: its error struct. */
    CHECK_HR(qm_job_create(mgr, "fails", &bad), QM_S_OK);
    CHECK_HR(qm_job_set_no_progress_timeout(bad, 0), QM_S_OK);
    CHECK_HR(qm_job_add_file(bad, ct_path(dir, "u-missing.bin"), ct_path(dir, "u-never.bin")), QM_S_OK);
    CHECK_HR(qm_job_resume(bad), QM_S_OK);
    CHECK_HR(qm_job_wait(bad, CT_WAIT_MS, &state), QM_S_OK);
    CHECK_EQ(state, QM_JOB_STATE_ERROR);
    je = (qm_job_error *)fresh(sizeof *je);
    CHECK_HR(qm_job_get_error(bad, je), QM_S_OK);
    dump("qm_job_error", je, sizeof *je);

    free(jp);
    free(fp);
    free(jt);
    free(out);
    free(id);
    free(je);
    CHECK_HR(qm_job_cancel(bad), QM_S_OK);
    CHECK_HR(qm_job_close(bad), QM_S_OK);
    CHECK_HR(qm_job_complete(job), QM_S_OK);
    CHECK_HR(qm_job_close(job), QM_S_OK);
    CHECK_HR(qm_manager_close(mgr), QM_S_OK);
    return ct_finish("uninit");
}
