/* Helpers shared by the C test programs: checks that report file, line and
 * the code's text, and file utilities. The programs use only qmgr.h and the
 * C/POSIX libraries, as a user's program would. */
#ifndef QMGR_CTEST_COMMON_H
#define QMGR_CTEST_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include "qmgr.h"

extern int ct_failures;

/* Records a failure unless cond holds. */
#define CHECK(cond) ct_check((cond), #cond, __FILE__, __LINE__)
/* Records a failure unless expr returns exactly the code expected. */
#define CHECK_HR(expr, expected) ct_check_hr((expr), (expected), #expr, __FILE__, __LINE__)
/* Records a failure unless a == b (as unsigned 64-bit values). */
#define CHECK_EQ(a, b) ct_check_eq((uint64_t)(a), (uint64_t)(b), #a, #b, __FILE__, __LINE__)

int ct_check(int cond, const char *text, const char *file, int line);
int ct_check_hr(qm_hresult got, qm_hresult expected, const char *text, const char *file, int line);
int ct_check_eq(uint64_t a, uint64_t b, const char *ta, const char *tb, const char *file, int line);

/* The manager a test works on: an in-process one (qm_manager_open(NULL)),
 * or, in the suite's daemon mode (QMGR_TEST_ADDRESS set to a qmgrd's
 * address), a connected one (qm_manager_connect). The same checks then
 * run against the daemon. */
qm_hresult ct_open_manager(qm_manager_t *out);

/* 1 in the suite's daemon mode. */
int ct_daemon_mode(void);

/* In daemon mode, says that the part `what` of the program does not apply
 * there and why, and returns 1 (the caller skips it); 0 otherwise. */
int ct_skip_in_daemon_mode(const char *what, const char *why);

/* In daemon mode, cancels every job mgr lists: the daemon keeps the jobs
 * of a program's earlier parts and closed managers, which a part that
 * counts jobs must not see. Does nothing in-process. */
void ct_clear_daemon_jobs(qm_manager_t mgr);

/* Prints a summary line and returns the process exit code. */
int ct_finish(const char *program);

/* dir + "/" + name into a static rotating buffer (valid for 8 calls). */
const char *ct_path(const char *dir, const char *name);

/* Writes size bytes of a position-dependent pattern (seeded) to path. */
int ct_write_pattern_file(const char *path, uint64_t size, uint32_t seed);

/* 1 when both files exist and hold the same bytes. Thread-safe. */
int ct_files_equal(const char *a, const char *b);

/* 1 when path exists. */
int ct_exists(const char *path);

/* Number of entries in dir whose name contains needle. */
int ct_count_entries(const char *dir, const char *needle);

/* Milliseconds of a monotonic clock. */
uint64_t ct_now_ms(void);

/* Sleeps for ms milliseconds. */
void ct_sleep_ms(unsigned ms);

/* The bound of a wait for something that must happen (an event, a state, a
 * byte count): generous, so that a slow machine (2 cores, ASan, qemu) never
 * trips it; it only turns a hang into a failure that names what was awaited.
 * Speed is measured by the benchmarks, not asserted here. */
#define CT_WAIT_MS 60000u

/* Polls cond (every 2 ms) until it holds. After limit_ms it records a
 * failure naming file, line, what (a phrase: "the job to transfer 64 KiB")
 * and cond, and goes on. A statement; test cond again where the outcome
 * matters. cond is evaluated on this thread, any number of times. */
#define CT_WAIT_UNTIL(cond, limit_ms, what)                                          \
    do {                                                                             \
        const uint64_t ct_wait_deadline_ = ct_now_ms() + (uint64_t)(limit_ms);       \
        while (!(cond)) {                                                            \
            if (ct_now_ms() > ct_wait_deadline_) {                                   \
                ct_wait_failed((what), #cond, (uint64_t)(limit_ms), __FILE__, __LINE__); \
                break;                                                               \
            }                                                                        \
            ct_sleep_ms(2);                                                          \
        }                                                                            \
    } while (0)

/* Records the failure of a CT_WAIT_UNTIL. */
void ct_wait_failed(const char *what, const char *cond, uint64_t limit_ms, const char *file, int line);

#endif
