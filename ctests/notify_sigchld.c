/* The notify program of a host that ignores SIGCHLD (daemons do): the
 * kernel reaps the program, so its exit status is lost, and a lost status
 * is not a failure: the program runs once, not again after every retry
 * delay (issue 19, item 6). SIG_IGN for SIGCHLD is process-wide, hence a
 * program of its own.
 *
 * "Not again" is shown against a witness, not a fixed sleep: a second job
 * that fails (a refused port) with the same 1 s retry delay is started
 * after the program's first run, and only once it has been retried twice
 * (2 s later, where a wrong re-run comes 1 s after the first) is the
 * program's log read. */

#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"
#include "qmgr.h"

/* Lines in the file at path (0 when it does not exist). */
static int count_lines(const char *path) {
    FILE *f = fopen(path, "r");
    int lines = 0, c;
    if (!f) {
        return 0;
    }
    while ((c = fgetc(f)) != EOF) {
        lines += c == '\n';
    }
    fclose(f);
    return lines;
}

/* A port of 127.0.0.1 that refuses connections while *fd stays open:
 * bound, never listening. */
static unsigned refused_port(int *fd) {
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *fd = socket(AF_INET, SOCK_STREAM, 0);
    if (*fd < 0 || bind(*fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        getsockname(*fd, (struct sockaddr *)&addr, &len) != 0) {
        return 0;
    }
    return ntohs(addr.sin_port);
}

static uint32_t retries_of(qm_job_t job) {
    uint32_t status = 0, retries = 0;
    if (qm_job_get_status(job, &status, NULL, NULL, &retries) != QM_S_OK) {
        return 0;
    }
    return retries;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : ".";
    char params[4096], url[64];
    const char *log = ct_path(dir, "notify.log");
    qm_manager_t mgr = 0;
    qm_job_t job = 0, witness = 0;
    uint32_t state = 0;
    int fd = -1;
    unsigned port;

    signal(SIGCHLD, SIG_IGN);
    CHECK_HR(qm_manager_open(NULL, &mgr), QM_S_OK);

    /* A job over a local file whose notify program appends a line and exits 0. */
    CHECK(ct_write_pattern_file(ct_path(dir, "src"), 4096, 1));
    CHECK_HR(qm_job_create(mgr, "notified", &job), QM_S_OK);
    CHECK_HR(qm_job_add_file(job, ct_path(dir, "src"), ct_path(dir, "dst")), QM_S_OK);
    CHECK_HR(qm_job_set_min_retry_delay(job, 1), QM_S_OK);
    snprintf(params, sizeof params, "sh -c \"echo ran >> '%s'\"", log);
    CHECK_HR(qm_job_set_notify_cmdline(job, "/bin/sh", params), QM_S_OK);
    CHECK_HR(qm_job_resume(job), QM_S_OK);
    CHECK_HR(qm_job_wait(job, CT_WAIT_MS, &state), QM_S_OK);
    CHECK_EQ(state, QM_JOB_STATE_TRANSFERRED);
    CT_WAIT_UNTIL(count_lines(log) >= 1, CT_WAIT_MS, "the notify program to run once");

    /* The witness: retried twice after the program's first run. */
    port = refused_port(&fd);
    CHECK(port != 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/x", port);
    CHECK_HR(qm_job_create(mgr, "witness", &witness), QM_S_OK);
    CHECK_HR(qm_job_add_file(witness, url, ct_path(dir, "witness")), QM_S_OK);
    CHECK_HR(qm_job_set_min_retry_delay(witness, 1), QM_S_OK);
    CHECK_HR(qm_job_resume(witness), QM_S_OK);
    CT_WAIT_UNTIL(retries_of(witness) >= 2, CT_WAIT_MS, "the witness job to be retried twice");

    CHECK_EQ(count_lines(log), 1);
    if (count_lines(log) != 1) {
        fprintf(stderr, "the notify program ran %d times\n", count_lines(log));
    }
    CHECK_HR(qm_job_cancel(witness), QM_S_OK);
    CHECK_HR(qm_job_complete(job), QM_S_OK);
    CHECK_HR(qm_job_close(witness), QM_S_OK);
    CHECK_HR(qm_job_close(job), QM_S_OK);
    CHECK_HR(qm_manager_close(mgr), QM_S_OK);
    if (fd >= 0) {
        close(fd);
    }
    return ct_finish("notify_sigchld");
}
