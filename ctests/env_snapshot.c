/* The environment is read on the caller's thread only: at qm_manager_open
 * and at each qm_job_resume, never by qmgr's own threads, which would race
 * a host's setenv (glibc's getenv and setenv are not safe against each
 * other; issue 19, item 8). So a variable set after a resume counts from
 * the next resume on, for the proxy variables and for the notify
 * program's environment alike.
 *
 * Usage: env_snapshot DIR ORIGIN_URL_A PROXY_URL URL_B
 *
 * Made deterministic without a sleep: one job may transfer at a time, and
 * a first job (H) holds the slot on a connection to a socket of this
 * program, which answers it only after the setenv. Job A, resumed before
 * the setenv, can only start after it. A must go directly to its origin
 * (the test's server checks that the proxy never saw it) and its notify
 * program must see QMGR_PROBE as it was at the resume; job B, resumed after
 * the setenv, goes through the proxy (its host only the proxy knows) and
 * its notify program sees the new value. */

#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"
#include "qmgr.h"

/* A listening socket on 127.0.0.1; its port in *port. */
static int listen_loopback(unsigned *port) {
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 4) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
        return -1;
    }
    *port = ntohs(addr.sin_port);
    return fd;
}

/* Accepts one connection within CT_WAIT_MS (-1 if none came). */
static int accept_within(int listener) {
    struct pollfd p;
    p.fd = listener;
    p.events = POLLIN;
    p.revents = 0;
    if (poll(&p, 1, (int)CT_WAIT_MS) != 1) {
        return -1;
    }
    return accept(listener, NULL, NULL);
}

/* Reads a request head (up to an empty line) from fd; 1 when whole. */
static int read_head(int fd) {
    char window[4] = {0, 0, 0, 0};
    char c;
    struct pollfd p;
    p.fd = fd;
    p.events = POLLIN;
    for (;;) {
        p.revents = 0;
        if (poll(&p, 1, (int)CT_WAIT_MS) != 1 || read(fd, &c, 1) != 1) {
            return 0;
        }
        memmove(window, window + 1, 3);
        window[3] = c;
        if (memcmp(window, "\r\n\r\n", 4) == 0) {
            return 1;
        }
    }
}

/* The first line of the file at path, without its newline ("" if none). */
static const char *first_line(const char *path) {
    static char line[256];
    FILE *f = fopen(path, "r");
    line[0] = '\0';
    if (f) {
        if (!fgets(line, sizeof line, f)) {
            line[0] = '\0';
        }
        fclose(f);
    }
    line[strcspn(line, "\n")] = '\0';
    return line;
}

/* A job of one file, whose notify program writes $QMGR_PROBE to log (if
 * log is not NULL). */
static qm_job_t job_of(qm_manager_t mgr, const char *url, const char *dst, const char *log) {
    char params[4096];
    qm_job_t job = 0;
    CHECK_HR(qm_job_create(mgr, "env", &job), QM_S_OK);
    CHECK_HR(qm_job_add_file(job, url, dst), QM_S_OK);
    CHECK_HR(qm_job_set_max_connections(job, 1), QM_S_OK);
    if (log) {
        snprintf(params, sizeof params, "sh -c \"echo $QMGR_PROBE >> '%s'\"", log);
        CHECK_HR(qm_job_set_notify_cmdline(job, "/bin/sh", params), QM_S_OK);
    }
    return job;
}

int main(int argc, char **argv) {
    const char *dir, *url_a, *proxy, *url_b;
    const char *log_a, *log_b;
    static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
    char url_h[64];
    qm_manager_t mgr = 0;
    qm_job_t h, a, b;
    uint32_t state = 0;
    unsigned port = 0;
    int listener, held;

    if (argc != 5) {
        fprintf(stderr, "usage: env_snapshot DIR ORIGIN_URL_A PROXY_URL URL_B\n");
        return 2;
    }
    dir = argv[1];
    url_a = argv[2];
    proxy = argv[3];
    url_b = argv[4];
    log_a = ct_path(dir, "a.log");
    log_b = ct_path(dir, "b.log");

    CHECK(getenv("http_proxy") == NULL);
    CHECK(setenv("QMGR_PROBE", "at-resume", 1) == 0);
    CHECK_HR(qm_manager_open(NULL, &mgr), QM_S_OK);
    CHECK_HR(qm_manager_set_max_active_jobs(mgr, 1), QM_S_OK);

    /* H takes the one slot, and keeps it until this program answers. */
    listener = listen_loopback(&port);
    CHECK(listener >= 0);
    snprintf(url_h, sizeof url_h, "http://127.0.0.1:%u/hold", port);
    h = job_of(mgr, url_h, ct_path(dir, "h"), NULL);
    CHECK_HR(qm_job_resume(h), QM_S_OK);
    held = accept_within(listener);
    CHECK(held >= 0);

    /* A is resumed with no proxy in the environment; it waits for H. */
    a = job_of(mgr, url_a, ct_path(dir, "a"), log_a);
    CHECK_HR(qm_job_resume(a), QM_S_OK);
    CHECK_HR(qm_job_get_state(a, &state), QM_S_OK);
    CHECK_EQ(state, QM_JOB_STATE_QUEUED);

    /* After A's resume: a proxy, and another probe value. */
    CHECK(setenv("http_proxy", proxy, 1) == 0);
    CHECK(setenv("QMGR_PROBE", "after-resume", 1) == 0);

    /* H ends; only now can A start, on a thread of qmgr's. */
    CHECK(read_head(held));
    CHECK(write(held, answer, sizeof answer - 1) == (ssize_t)(sizeof answer - 1));
    close(held);
    close(listener);
    CHECK_HR(qm_job_wait(h, CT_WAIT_MS, &state), QM_S_OK);
    CHECK_EQ(state, QM_JOB_STATE_TRANSFERRED);

    CHECK_HR(qm_job_wait(a, CT_WAIT_MS, &state), QM_S_OK);
    CHECK_EQ(state, QM_JOB_STATE_TRANSFERRED);
    CT_WAIT_UNTIL(first_line(log_a)[0] != '\0', CT_WAIT_MS, "job A's notify program to run");
    printf("A's notify program saw QMGR_PROBE=%s\n", first_line(log_a));
    CHECK(strcmp(first_line(log_a), "at-resume") == 0);

    /* B is resumed after the setenv: the proxy and the new value hold. */
    b = job_of(mgr, url_b, ct_path(dir, "b"), log_b);
    CHECK_HR(qm_job_resume(b), QM_S_OK);
    CHECK_HR(qm_job_wait(b, CT_WAIT_MS, &state), QM_S_OK);
    CHECK_EQ(state, QM_JOB_STATE_TRANSFERRED);
    CT_WAIT_UNTIL(first_line(log_b)[0] != '\0', CT_WAIT_MS, "job B's notify program to run");
    printf("B's notify program saw QMGR_PROBE=%s\n", first_line(log_b));
    CHECK(strcmp(first_line(log_b), "after-resume") == 0);

    CHECK_HR(qm_job_complete(h), QM_S_OK);
    CHECK_HR(qm_job_complete(a), QM_S_OK);
    CHECK_HR(qm_job_complete(b), QM_S_OK);
    CHECK_HR(qm_job_close(h), QM_S_OK);
    CHECK_HR(qm_job_close(a), QM_S_OK);
    CHECK_HR(qm_job_close(b), QM_S_OK);
    CHECK_HR(qm_manager_close(mgr), QM_S_OK);
    return ct_finish("env_snapshot");
}
