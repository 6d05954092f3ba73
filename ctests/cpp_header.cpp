// qmgr.h used from C++11 as a C++ program would: RAII owners of the
// manager and job handles, std::string out-parameters through the size
// query, std::vector with qm_manager_enum_jobs, an extern "C" notify
// callback, the code macros as constant expressions (static_assert, case
// labels), and a real transfer of two local files checked byte for byte.
// Built with -std=c++11 -Wall -Wextra -Werror -pedantic, without common.c.
#include "qmgr.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

int g_checks = 0;
int g_failures = 0;

std::string describe(qm_hresult hr);

bool check(bool ok, const char *text, int line) {
    ++g_checks;
    if (!ok) {
        ++g_failures;
        std::fprintf(stderr, "cpp_header.cpp:%d: CHECK failed: %s\n", line, text);
    }
    return ok;
}

bool check_hr(qm_hresult got, qm_hresult expected, const char *text, int line) {
    ++g_checks;
    if (got != expected) {
        ++g_failures;
        std::fprintf(stderr, "cpp_header.cpp:%d: %s\n    returned %s\n    expected %s\n", line, text,
                     describe(got).c_str(), describe(expected).c_str());
        return false;
    }
    return true;
}

#define CHECK(cond) check(static_cast<bool>(cond), #cond, __LINE__)
#define CHECK_HR(expr, expected) check_hr((expr), (expected), #expr, __LINE__)

// Polls until pred() holds; after limit_ms it records a failure naming what
// was awaited. The bound is generous: it turns a hang into a failure, it does
// not measure speed.
template <typename Pred>
bool wait_until(Pred pred, int limit_ms, const char *what, int line) {
    ++g_checks;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(limit_ms);
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline) {
            ++g_failures;
            std::fprintf(stderr, "cpp_header.cpp:%d: timed out after %d ms waiting for %s\n", line, limit_ms, what);
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
}

#define WAIT_UNTIL(pred, limit_ms, what) wait_until((pred), (limit_ms), (what), __LINE__)
const int kWaitMs = 60000;

// ------------------------------------------------- strings via size query

std::string describe(qm_hresult hr) {
    size_t needed = 0;
    if (qm_format_hresult(hr, NULL, 0, &needed) != QM_S_OK || needed == 0) return "?";
    std::string s(needed, '\0');
    if (qm_format_hresult(hr, &s[0], s.size(), &needed) != QM_S_OK) return "?";
    s.resize(needed - 1);  // drop the NUL
    return s;
}

typedef qm_hresult (*job_string_fn)(qm_job_t, char *, size_t, size_t *);
typedef qm_hresult (*file_string_fn)(qm_job_t, uint32_t, char *, size_t, size_t *);

// Reads a job string property; hr gets the code of the final call.
std::string job_string(qm_job_t job, job_string_fn fn, qm_hresult &hr) {
    size_t needed = 0;
    hr = fn(job, NULL, 0, &needed);
    if (QM_FAILED(hr) || needed == 0) return std::string();
    std::string s(needed, '\0');
    hr = fn(job, &s[0], s.size(), &needed);
    if (QM_FAILED(hr)) return std::string();
    s.resize(needed - 1);
    return s;
}

std::string file_string(qm_job_t job, uint32_t index, file_string_fn fn, qm_hresult &hr) {
    size_t needed = 0;
    hr = fn(job, index, NULL, 0, &needed);
    if (QM_FAILED(hr) || needed == 0) return std::string();
    std::string s(needed, '\0');
    hr = fn(job, index, &s[0], s.size(), &needed);
    if (QM_FAILED(hr)) return std::string();
    s.resize(needed - 1);
    return s;
}

std::string guid_string(const qm_guid &g) {
    size_t needed = 0;
    if (qm_guid_to_string(&g, NULL, 0, &needed) != QM_S_OK || needed == 0) return std::string();
    std::string s(needed, '\0');
    if (qm_guid_to_string(&g, &s[0], s.size(), &needed) != QM_S_OK) return std::string();
    s.resize(needed - 1);
    return s;
}

// ------------------------------------------------------------------ RAII

// In-process, or the daemon's in the suite's daemon mode (QMGR_TEST_ADDRESS).
qm_hresult open_manager(qm_manager_t *out) {
    const char *address = std::getenv("QMGR_TEST_ADDRESS");
    if (address != NULL && address[0] != '\0') return qm_manager_connect(address, out);
    return qm_manager_open(NULL, out);
}

class Manager {
public:
    Manager() : handle_(0), open_hr_(open_manager(&handle_)) {}
    ~Manager() { close(); }
    Manager(Manager &&other) noexcept : handle_(other.handle_), open_hr_(other.open_hr_) { other.handle_ = 0; }
    Manager &operator=(Manager &&other) {
        if (this != &other) {
            close();
            std::swap(handle_, other.handle_);
            open_hr_ = other.open_hr_;
        }
        return *this;
    }
    Manager(const Manager &) = delete;
    Manager &operator=(const Manager &) = delete;

    qm_manager_t get() const { return handle_; }
    qm_hresult open_result() const { return open_hr_; }
    explicit operator bool() const { return handle_ != 0; }

    // Closes now (the destructor then has nothing to do).
    qm_hresult close() {
        if (handle_ == 0) return QM_S_FALSE;
        qm_hresult hr = qm_manager_close(handle_);
        handle_ = 0;
        return hr;
    }

private:
    qm_manager_t handle_;
    qm_hresult open_hr_;
};

class Job {
public:
    Job() : handle_(0) {}
    explicit Job(qm_job_t h) : handle_(h) {}
    ~Job() { reset(); }
    Job(Job &&other) noexcept : handle_(other.handle_) { other.handle_ = 0; }
    Job &operator=(Job &&other) {
        if (this != &other) {
            reset();
            std::swap(handle_, other.handle_);
        }
        return *this;
    }
    Job(const Job &) = delete;
    Job &operator=(const Job &) = delete;

    static Job create(const Manager &mgr, const char *name, qm_hresult &hr) {
        qm_job_t h = 0;
        hr = qm_job_create(mgr.get(), name, &h);
        return Job(QM_SUCCEEDED(hr) ? h : 0);
    }

    qm_job_t get() const { return handle_; }
    explicit operator bool() const { return handle_ != 0; }

    qm_job_t release() {
        qm_job_t h = handle_;
        handle_ = 0;
        return h;
    }

    // Closes the reference now; QM_S_FALSE when there was none.
    qm_hresult reset() {
        if (handle_ == 0) return QM_S_FALSE;
        qm_hresult hr = qm_job_close(handle_);
        handle_ = 0;
        return hr;
    }

    uint32_t state() const {
        uint32_t s = 0xFFFFFFFFu;
        if (QM_FAILED(qm_job_get_state(handle_, &s))) return 0xFFFFFFFFu;
        return s;
    }

private:
    qm_job_t handle_;
};

// ------------------------------------------------------- notify callback

struct NotifyCounts {
    std::atomic<unsigned> calls;
    std::atomic<unsigned> job_transferred;
    std::atomic<unsigned> file_transferred;
    std::atomic<unsigned> bad;
    std::atomic<qm_job_t> last_job;
};

}  // namespace

extern "C" void cpp_on_notify(qm_job_t job, uint32_t event, uint32_t file_index, qm_hresult code, void *context) {
    NotifyCounts *counts = static_cast<NotifyCounts *>(context);
    uint32_t state = 0;
    if (qm_job_get_state(job, &state) != QM_S_OK || state > QM_JOB_STATE_CANCELLED) counts->bad++;
    if (event == QM_NOTIFY_JOB_TRANSFERRED) counts->job_transferred++;
    if (event == QM_NOTIFY_FILE_TRANSFERRED) {
        counts->file_transferred++;
        if (file_index > 1) counts->bad++;
    }
    if (event != QM_NOTIFY_JOB_ERROR && code != QM_S_OK) counts->bad++;
    counts->last_job.store(job);
    counts->calls++;
}

namespace {

// ------------------------------------------- the macros as constant expressions

static_assert(QM_SUCCEEDED(QM_S_OK), "S_OK succeeds");
static_assert(QM_SUCCEEDED(QM_S_FALSE), "S_FALSE succeeds");
static_assert(QM_SUCCEEDED(QM_BG_S_PARTIAL_COMPLETE), "BG_S_ codes succeed");
static_assert(QM_FAILED(QM_E_HANDLE), "E_HANDLE fails");
static_assert(!QM_FAILED(QM_S_FALSE), "S_FALSE is not a failure");
static_assert(QM_FAILED(QM_HTTP_ERROR(404)), "HTTP errors fail");
static_assert(QM_HTTP_ERROR(404) == static_cast<qm_hresult>(0x80190194u), "QM_HTTP_ERROR(404)");
static_assert(QM_HTTP_ERROR(503) == static_cast<qm_hresult>(0x801901F7u), "QM_HTTP_ERROR(503)");
static_assert(QM_HRESULT_FROM_WIN32(2) == QM_E_FILE_NOT_FOUND, "HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND)");
static_assert(QM_HRESULT_FROM_WIN32(0) == QM_S_OK, "HRESULT_FROM_WIN32(0)");
static_assert(QM_HRESULT_FROM_WIN32(12002) == QM_E_WINHTTP_TIMEOUT, "HRESULT_FROM_WIN32(ERROR_WINHTTP_TIMEOUT)");
static_assert(QM_SIZE_UNKNOWN == UINT64_MAX, "QM_SIZE_UNKNOWN");
static_assert(QM_WAIT_INFINITE == UINT32_MAX, "QM_WAIT_INFINITE");
static_assert(QM_JOB_STATE_CANCELLED == 8, "BG_JOB_STATE order");
static_assert(sizeof(qm_guid) == 16, "qm_guid is 16 bytes");

constexpr qm_hresult kNotFound = QM_HTTP_ERROR(404);
constexpr bool kNotFoundFails = QM_FAILED(kNotFound);

// A switch on codes: the macros must be integral constant expressions.
const char *classify(qm_hresult hr) {
    switch (hr) {
    case QM_S_OK:
        return "ok";
    case QM_S_FALSE:
        return "false";
    case QM_E_HANDLE:
        return "handle";
    case QM_E_INVALIDARG:
        return "invalidarg";
    case QM_BG_E_INVALID_STATE:
        return "invalid-state";
    case QM_HTTP_ERROR(404):
        return "http-404";
    case QM_HRESULT_FROM_WIN32(5):  // == QM_E_ACCESSDENIED
        return "access-denied";
    default:
        return QM_SUCCEEDED(hr) ? "other-success" : "other-failure";
    }
}

// ------------------------------------------------------------------ files

bool write_file(const std::string &path, size_t size, unsigned seed) {
    std::ofstream out(path.c_str(), std::ios::binary | std::ios::trunc);
    if (!out) return false;
    std::vector<char> buf(size);
    uint32_t x = seed * 2654435761u + 1u;
    for (size_t i = 0; i < size; ++i) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = static_cast<char>(x & 0xFF);
    }
    out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
    return static_cast<bool>(out);
}

bool read_file(const std::string &path, std::string &data) {
    std::ifstream in(path.c_str(), std::ios::binary);
    if (!in) return false;
    data.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return true;
}

bool same_contents(const std::string &a, const std::string &b) {
    std::string da, db;
    return read_file(a, da) && read_file(b, db) && da == db && !da.empty();
}

}  // namespace

int main(int argc, char **argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: cpp_header <scratch dir>\n");
        return 2;
    }
    const std::string dir = argv[1];

    // Library identity.
    CHECK(std::strcmp(qm_version(), QM_VERSION_STRING) == 0);
    CHECK(qm_abi_version() == QM_ABI_VERSION);

    // Macros at run time, and in a switch.
    CHECK(kNotFoundFails);
    CHECK(QM_SUCCEEDED(QM_S_FALSE) && !QM_FAILED(QM_S_FALSE));
    CHECK(QM_FAILED(QM_E_UNEXPECTED) && !QM_SUCCEEDED(QM_E_UNEXPECTED));
    CHECK(std::string(classify(QM_S_OK)) == "ok");
    CHECK(std::string(classify(QM_S_FALSE)) == "false");
    CHECK(std::string(classify(QM_E_HANDLE)) == "handle");
    CHECK(std::string(classify(kNotFound)) == "http-404");
    CHECK(std::string(classify(QM_E_ACCESSDENIED)) == "access-denied");
    CHECK(std::string(classify(QM_HTTP_ERROR(500))) == "other-failure");
    CHECK(std::string(classify(QM_BG_S_PARTIAL_COMPLETE)) == "other-success");

    // Code descriptions through std::string.
    CHECK(describe(QM_BG_E_INVALID_STATE).find("QM_BG_E_INVALID_STATE") != std::string::npos);
    CHECK(describe(QM_BG_E_INVALID_STATE).find("0x80200002") != std::string::npos);
    CHECK(describe(QM_HTTP_ERROR(404)).find("80190194") != std::string::npos);
    {
        char tiny[4];
        size_t needed = 0;
        CHECK_HR(qm_format_hresult(QM_E_HANDLE, tiny, sizeof tiny, &needed), QM_E_INSUFFICIENT_BUFFER);
        CHECK(needed == describe(QM_E_HANDLE).size() + 1);
    }

    // Source files.
    const std::string src[2] = {dir + "/cpp_src_a.bin", dir + "/cpp_src_b.bin"};
    const std::string dst[2] = {dir + "/cpp_dst_a.bin", dir + "/cpp_dst_b.bin"};
    CHECK(write_file(src[0], 1536 * 1024 + 7, 1));
    CHECK(write_file(src[1], 300 * 1000 + 3, 2));
    const std::string url_b = "file://" + src[1];

    NotifyCounts counts;
    counts.calls = 0;
    counts.job_transferred = 0;
    counts.file_transferred = 0;
    counts.bad = 0;
    counts.last_job = 0;

    qm_job_t raw_job = 0;
    qm_job_t raw_enum = 0;
    qm_manager_t raw_mgr = 0;
    {
        Manager mgr;
        CHECK_HR(mgr.open_result(), QM_S_OK);
        if (!CHECK(static_cast<bool>(mgr))) {
            std::printf("cpp_header: %d of %d check(s) failed\n", g_failures, g_checks);
            return 1;
        }
        raw_mgr = mgr.get();

        qm_hresult hr = QM_E_FAIL;
        const char *name = "C++ job \xC3\xA9t\xC3\xA9";  // UTF-8 "C++ job été"
        Job job = Job::create(mgr, name, hr);
        CHECK_HR(hr, QM_S_OK);
        CHECK(static_cast<bool>(job));
        raw_job = job.get();
        CHECK(job.state() == QM_JOB_STATE_SUSPENDED);
        CHECK(job_string(job.get(), qm_job_get_display_name, hr) == name);
        CHECK_HR(hr, QM_S_OK);

        // Move semantics keep exactly one owner.
        Job moved(std::move(job));
        CHECK(!job && moved.get() == raw_job);
        job = std::move(moved);
        CHECK(!moved && job.get() == raw_job);

        CHECK_HR(qm_job_set_notify(job.get(), cpp_on_notify, &counts,
                                   QM_NOTIFY_JOB_TRANSFERRED | QM_NOTIFY_JOB_ERROR | QM_NOTIFY_FILE_TRANSFERRED |
                                       QM_NOTIFY_JOB_MODIFICATION),
                 QM_S_OK);

        const qm_file_set_info blank = QM_FILE_SET_INFO_INIT;
        std::vector<qm_file_set_info> files(2, blank);
        files[0].remote_name = src[0].c_str();
        files[0].local_name = dst[0].c_str();
        files[0].size_hint = 0;
        files[1].remote_name = url_b.c_str();
        files[1].local_name = dst[1].c_str();
        files[1].size_hint = 300 * 1000 + 3;
        CHECK_HR(qm_job_add_files(job.get(), static_cast<uint32_t>(files.size()), files.data()), QM_S_OK);

        uint32_t count = 0;
        CHECK_HR(qm_job_get_file_count(job.get(), &count), QM_S_OK);
        CHECK(count == 2);
        CHECK(file_string(job.get(), 0, qm_job_get_file_local_name, hr) == dst[0]);
        CHECK_HR(hr, QM_S_OK);
        CHECK(file_string(job.get(), 1, qm_job_get_file_remote_name, hr) == url_b);
        CHECK_HR(hr, QM_S_OK);
        file_string(job.get(), 2, qm_job_get_file_local_name, hr);
        CHECK_HR(hr, QM_E_ITEM_NOT_FOUND);

        // Enumeration into a std::vector, each reference owned by a Job.
        {
            Job other = Job::create(mgr, "second", hr);
            CHECK_HR(hr, QM_S_OK);
            size_t n = 0;
            CHECK_HR(qm_manager_enum_jobs(mgr.get(), NULL, 0, &n), QM_S_OK);
            CHECK(n == 2);
            std::vector<qm_job_t> raw(n);
            CHECK_HR(qm_manager_enum_jobs(mgr.get(), raw.data(), raw.size(), &n), QM_S_OK);
            raw.resize(n);
            std::vector<Job> listed;
            for (size_t i = 0; i < raw.size(); ++i) listed.push_back(Job(raw[i]));
            CHECK(listed.size() == 2);

            qm_guid mine, theirs;
            CHECK_HR(qm_job_get_id(job.get(), &mine), QM_S_OK);
            int matches = 0;
            for (size_t i = 0; i < listed.size(); ++i) {
                CHECK(listed[i].get() != job.get());  // a new reference, not the same handle
                if (QM_SUCCEEDED(qm_job_get_id(listed[i].get(), &theirs)) &&
                    std::memcmp(mine.bytes, theirs.bytes, sizeof mine.bytes) == 0) {
                    ++matches;
                    CHECK(job_string(listed[i].get(), qm_job_get_display_name, hr) == name);
                }
            }
            CHECK(matches == 1);
            const std::string id = guid_string(mine);
            CHECK(id.size() == 36);
            qm_guid parsed;
            CHECK_HR(qm_guid_from_string(id.c_str(), &parsed), QM_S_OK);
            CHECK(std::memcmp(parsed.bytes, mine.bytes, sizeof mine.bytes) == 0);

            raw_enum = listed[0].get();
            CHECK_HR(listed[0].reset(), QM_S_OK);  // closed now...
            CHECK_HR(qm_job_close(raw_enum), QM_E_HANDLE);  // ...and only once
            CHECK_HR(qm_job_cancel(other.get()), QM_S_OK);
        }  // the other listed reference and "other" are closed here

        // The transfer.
        CHECK_HR(qm_job_resume(job.get()), QM_S_OK);
        uint32_t state = 0xFFFFFFFFu;
        CHECK_HR(qm_job_wait(job.get(), kWaitMs, &state), QM_S_OK);
        CHECK(state == QM_JOB_STATE_TRANSFERRED);

        qm_job_progress p = QM_JOB_PROGRESS_INIT;
        CHECK_HR(qm_job_get_progress_ex(job.get(), &p), QM_S_OK);
        CHECK(p.struct_size == sizeof p);
        CHECK(p.files_total == 2 && p.files_transferred == 2);
        CHECK(p.bytes_total == 1536u * 1024u + 7u + 300u * 1000u + 3u);
        CHECK(p.bytes_transferred == p.bytes_total);
        uint64_t percent = 0;
        CHECK_HR(qm_job_get_progress(job.get(), QM_PROGRESS_PERCENT_DONE, &percent), QM_S_OK);
        CHECK(percent == 100);

        // Notifications are delivered asynchronously: wait for the events.
        WAIT_UNTIL([&counts] { return counts.job_transferred.load() >= 1 && counts.file_transferred.load() >= 2; },
                   kWaitMs, "JOB_TRANSFERRED and two FILE_TRANSFERRED events");
        CHECK(counts.job_transferred.load() == 1);
        CHECK(counts.file_transferred.load() == 2);
        CHECK(counts.bad.load() == 0);
        CHECK(counts.last_job.load() == raw_job);

        CHECK_HR(qm_job_complete(job.get()), QM_S_OK);
        CHECK(job.state() == QM_JOB_STATE_ACKNOWLEDGED);
        // Once complete returns the job is final and its callback will not run
        // again: the counts are final now, and no event came twice.
        CHECK(counts.job_transferred.load() == 1);
        CHECK(counts.file_transferred.load() == 2);
        CHECK(counts.bad.load() == 0);
        CHECK(same_contents(src[0], dst[0]));
        CHECK(same_contents(src[1], dst[1]));

        // The job is final now but its reference still reads.
        CHECK_HR(qm_job_complete(job.get()), QM_BG_E_INVALID_STATE);
        CHECK(std::string(classify(qm_job_resume(job.get()))) == "invalid-state");
    }  // ~Job closes the job reference, then ~Manager closes the manager

    // Both destructors ran: the handles are gone.
    uint32_t state = 0;
    CHECK_HR(qm_job_get_state(raw_job, &state), QM_E_HANDLE);
    CHECK_HR(qm_job_close(raw_job), QM_E_HANDLE);
    CHECK_HR(qm_manager_close(raw_mgr), QM_E_HANDLE);
    CHECK(std::string(classify(qm_job_close(raw_enum))) == "handle");

    if (g_failures) {
        std::printf("cpp_header: %d of %d check(s) failed\n", g_failures, g_checks);
        return 1;
    }
    std::printf("cpp_header: all %d checks passed\n", g_checks);
    return 0;
}
