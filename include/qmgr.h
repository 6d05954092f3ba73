/*
 * qmgr: a portable background transfer service in the spirit of Microsoft
 * BITS ("Queue Manager").
 *
 * This header reads from top to bottom: the rules every function follows,
 * the types, then the functions by section (1 Library, 2 Manager, 3 Jobs,
 * 4 Files, 5 Transfer options, 6 HTTP options, 7 Notifications), and last
 * the constants (8). README.md, section "API conventions", says the same at
 * more length, with what may change between versions.
 *
 * Conventions. Every function returns a qm_hresult (>= 0 is success) unless
 * it is a pure getter of a static value. Handles are uint64_t, 0 is never
 * valid, and a handle is never reused in a process. Out-parameters are
 * written only on success. Strings are UTF-8, copied in, and copied out
 * into caller buffers (buf, cap, needed: see qm_format_hresult); the
 * library never hands out memory for the caller to free. A NULL
 * out-pointer gives QM_E_POINTER, a NULL or non-UTF-8 input string
 * QM_E_INVALIDARG; a failed call leaves a message for
 * qm_get_last_error_message. Every function may be called from any
 * thread, concurrently with any other.
 *
 * Structs that grow. Every struct of this header except qm_guid starts
 * with uint32_t struct_size, and a later version may append fields to it
 * (never move, resize or remove one). The caller sets struct_size to
 * sizeof the struct as this header declares it:
 *     qm_job_progress p = QM_JOB_PROGRESS_INIT;   (every field 0, and the size)
 * or  p.struct_size = sizeof p;
 * The library refuses (QM_E_INVALIDARG, with a message) a struct_size
 * below the struct's size in its first version (the size this header of
 * ABI 1 declares) or above 4096 (a field never set).
 * - A struct the library fills (an out-struct: qm_job_progress,
 *   qm_file_progress, qm_job_error, qm_job_times, the qm_file_range array
 *   of qm_job_get_file_ranges) gets min(struct_size, the library's own
 *   size) bytes, and struct_size is set to that count: a program built
 *   against a newer header, running on an older library, learns from it
 *   which fields were filled (the others keep what the program put there).
 *   Nothing beyond struct_size is ever written, and every byte written is
 *   a field's: these structs have no padding (reserved fields are 0).
 * - A struct the caller fills (an in-struct: qm_file_set_info,
 *   qm_file_range for qm_job_add_file_with_ranges) is read up to
 *   struct_size. Fields an older caller's struct lacks take their default
 *   (0); fields of a newer caller's struct that this library does not know
 *   must be 0, else the call fails with QM_E_INVALIDARG rather than ignore
 *   what was asked. Reserved fields must be 0.
 * - In an array (qm_job_add_files, qm_job_add_file_with_ranges,
 *   qm_job_get_file_ranges), the stride is the first element's
 *   struct_size, and every element must carry the same value.
 *
 * Callbacks. A qm_notify_fn runs on a library thread and must return
 * normally: a C++ exception thrown out of it, or a longjmp out of it,
 * aborts the process (qmgr is written in Rust, and unwinding out through
 * its extern "C" frames is an abort). Catch everything inside the
 * callback. See qm_job_set_notify for the threads, the order and how long
 * its context must live.
 *
 * Events. Each manager queues the events of its jobs in memory, in order,
 * for its one callback thread. The queue has no bound and drops nothing
 * while the manager is open: a callback that blocks holds back every later
 * event of that manager's jobs, and the queue grows meanwhile (by one
 * event per state change, file transferred or property change, and at
 * most one progress event per job per notification interval, see
 * qm_job_set_min_notification_interval). Events still queued when the
 * manager closes, or when a job's callback is removed, are dropped, not
 * delivered. Keep callbacks short: hand long work to a thread of yours.
 *
 * Daemons. qm_manager_connect returns a manager whose jobs live in qmgrd,
 * the service that every process of a user (or of the system) shares: the
 * same qm_* calls work on it, with the same codes, out-parameters and
 * last-error messages, and its jobs outlive the process. Most calls are
 * one round trip over a Unix socket; a job's getters of state, progress,
 * status, error and properties read a copy kept in the process, never
 * older than the job's minimum notification interval. qm_manager_connect
 * says which calls cross the socket, and what losing the daemon does.
 *
 * fork. qmgr is not fork-safe: a manager owns threads, locks and file
 * descriptors that a child created by fork does not get in a usable state.
 * Open managers after fork, in the process that uses them. In a child
 * forked while a manager is open, call no qm_* function and only
 * async-signal-safe functions until it calls exec (qmgr's own notify
 * programs are started that way). The Python package follows the same rule.
 */

#ifndef QMGR_H
#define QMGR_H

/* Generated from include/qmgr.h.in and the qmgr sources (cbindgen). Do not
   edit by hand: run QMGR_UPDATE_HEADER=1 cargo test --test it header:: */

#include <stddef.h>
#include <stdint.h>

/* ===================================================================== *
 * Types                                                                 *
 *                                                                       *
 * Handles, the result type, and the structs (see "Structs that grow"    *
 * above). C declares them before the functions that use them.           *
 * ===================================================================== */

/* The result type of every function: an HRESULT (>= 0 is success). */
typedef int32_t qm_hresult;

/*
 A job reference handle. 0 is never valid; values are never reused in a process.
 */
typedef uint64_t qm_job_t;

/*
 One file to add (`FILESETINFO`), an in-struct: set `struct_size` (see
 "Structs that grow" above) and `reserved` to 0, e.g. with
 `QM_FILE_SET_INFO_INIT`.
 */
typedef struct qm_file_set_info {
  /*
   `sizeof(qm_file_set_info)`, set by the caller.
   */
  uint32_t struct_size;
  /*
   0 (any other value is refused with `QM_E_INVALIDARG`).
   */
  uint32_t reserved;
  /*
   `http://`, `https://` or `file://` URL, or an absolute path (UTF-8, at most 2,200 bytes).
   */
  const char *remote_name;
  /*
   Absolute destination path (UTF-8); its directory must exist and be writable when the file is added.
   */
  const char *local_name;
  /*
   Expected size in bytes, 0 if unknown; advisory.
   */
  uint64_t size_hint;
} qm_file_set_info;

/*
 A stretch of a remote file to download (`BG_FILE_RANGE`): `length`
 bytes from `initial_offset`, or to the end of the file when `length` is
 `QM_LENGTH_TO_EOF`. A length of 0 is not valid. An in-struct for
 `qm_job_add_file_with_ranges` (set `struct_size` and `reserved` to 0,
 e.g. with `QM_FILE_RANGE_INIT`) and an out-struct for
 `qm_job_get_file_ranges` (set `struct_size`; see "Structs that grow").
 */
typedef struct qm_file_range {
  /*
   `sizeof(qm_file_range)`, set by the caller.
   */
  uint32_t struct_size;
  /*
   0 (refused otherwise in what the caller passes; written 0).
   */
  uint32_t reserved;
  /*
   The first byte, counted from 0.
   */
  uint64_t initial_offset;
  /*
   How many bytes, or `QM_LENGTH_TO_EOF`.
   */
  uint64_t length;
} qm_file_range;

/*
 Progress of one file (`BG_FILE_PROGRESS`), an out-struct: set
 `struct_size` (see "Structs that grow"), e.g. with `QM_FILE_PROGRESS_INIT`.
 */
typedef struct qm_file_progress {
  /*
   Set by the caller to `sizeof(qm_file_progress)`; on return, the
   number of bytes the library filled.
   */
  uint32_t struct_size;
  /*
   1 when the whole file is transferred (and verified when a SHA-256
   is set), else 0.
   */
  uint32_t completed;
  /*
   Size in bytes, `QM_SIZE_UNKNOWN` until known.
   */
  uint64_t bytes_total;
  /*
   Bytes transferred so far.
   */
  uint64_t bytes_transferred;
} qm_file_progress;

/*
 How a file's delta download went, an out-struct: set `struct_size` (see
 "Structs that grow"), e.g. with `QM_FILE_DELTA_STATUS_INIT`.
 */
typedef struct qm_file_delta_status {
  /*
   Set by the caller to `sizeof(qm_file_delta_status)`; on return, the
   number of bytes the library filled.
   */
  uint32_t struct_size;
  /*
   Which way: `QM_DELTA_WAY_NONE`, `_PENDING`, `_DELTA` or `_FULL`.
   */
  uint32_t way;
  /*
   Bytes of the file copied from the seeds (0 unless `way` is
   `QM_DELTA_WAY_DELTA`); the rest came from the server.
   */
  uint64_t bytes_from_seeds;
} qm_file_delta_status;

/*
 A job's GUID, 16 bytes in RFC 4122 order. It never grows.
 */
typedef struct qm_guid {
  /*
   The 16 bytes.
   */
  uint8_t bytes[16];
} qm_guid;

/*
 A manager handle. 0 is never valid; values are never reused in a process.
 */
typedef uint64_t qm_manager_t;

/*
 Progress of a job (`BG_JOB_PROGRESS` plus rate and ETA), an out-struct:
 set `struct_size` (see "Structs that grow"), e.g. with
 `QM_JOB_PROGRESS_INIT`.
 */
typedef struct qm_job_progress {
  /*
   Set by the caller to `sizeof(qm_job_progress)`; on return, the
   number of bytes the library filled.
   */
  uint32_t struct_size;
  /*
   0.
   */
  uint32_t reserved;
  /*
   Sum of the file sizes, `QM_SIZE_UNKNOWN` until every size is known.
   */
  uint64_t bytes_total;
  /*
   Bytes transferred over all files.
   */
  uint64_t bytes_transferred;
  /*
   Number of files.
   */
  uint32_t files_total;
  /*
   Number of files completely transferred.
   */
  uint32_t files_transferred;
  /*
   Smoothed rate in bytes per second; 0 when not transferring.
   */
  uint64_t bytes_per_second;
  /*
   Estimated seconds to go, `QM_SIZE_UNKNOWN` (UINT64_MAX) when unknown.
   */
  uint64_t eta_seconds;
} qm_job_progress;

/*
 A job's last error, an out-struct: set `struct_size` (see "Structs that
 grow"), e.g. with `QM_JOB_ERROR_INIT`.
 */
typedef struct qm_job_error {
  /*
   Set by the caller to `sizeof(qm_job_error)`; on return, the number
   of bytes the library filled.
   */
  uint32_t struct_size;
  /*
   The HRESULT of the error.
   */
  qm_hresult code;
  /*
   A `QM_ERROR_CONTEXT_*` value: where it happened.
   */
  uint32_t context;
  /*
   The file concerned, `QM_FILE_INDEX_NONE` for the whole job.
   */
  uint32_t file_index;
  /*
   The HTTP status involved, 0 if none.
   */
  uint32_t http_status;
} qm_job_error;

/*
 A job's times, in Unix epoch milliseconds; 0 means "not yet". An
 out-struct: set `struct_size` (see "Structs that grow"), e.g. with
 `QM_JOB_TIMES_INIT`.
 */
typedef struct qm_job_times {
  /*
   Set by the caller to `sizeof(qm_job_times)`; on return, the number
   of bytes the library filled.
   */
  uint32_t struct_size;
  /*
   0.
   */
  uint32_t reserved;
  /*
   When the job was created.
   */
  int64_t creation_ms;
  /*
   When the job (its state, files or properties) last changed.
   */
  int64_t modification_ms;
  /*
   When the job became TRANSFERRED, 0 before.
   */
  int64_t transfer_completion_ms;
} qm_job_times;

/*
 A notification callback: `event` is one `QM_NOTIFY_*` event bit,
 `file_index` the file (or `QM_FILE_INDEX_NONE`), `code` the error for
 `QM_NOTIFY_JOB_ERROR` (else `QM_S_OK`), `context` the caller's pointer.
 It must return normally: see "Callbacks" at the top.
 */
typedef void (*qm_notify_fn)(qm_job_t job,
                             uint32_t event,
                             uint32_t file_index,
                             qm_hresult code,
                             void *context);

/* Initialisers: every field 0 and struct_size set, e.g.
   qm_job_progress p = QM_JOB_PROGRESS_INIT; (C89 and C++ alike). */
#define QM_FILE_SET_INFO_INIT { (uint32_t)sizeof(qm_file_set_info), 0u, NULL, NULL, 0u }
#define QM_FILE_RANGE_INIT { (uint32_t)sizeof(qm_file_range), 0u, 0u, 0u }
#define QM_FILE_PROGRESS_INIT { (uint32_t)sizeof(qm_file_progress), 0u, 0u, 0u }
#define QM_JOB_PROGRESS_INIT { (uint32_t)sizeof(qm_job_progress), 0u, 0u, 0u, 0u, 0u, 0u, 0u }
#define QM_JOB_ERROR_INIT { (uint32_t)sizeof(qm_job_error), 0, 0u, 0u, 0u }
#define QM_JOB_TIMES_INIT { (uint32_t)sizeof(qm_job_times), 0u, 0, 0, 0 }
#define QM_FILE_DELTA_STATUS_INIT { (uint32_t)sizeof(qm_file_delta_status), 0u, 0u }

#ifdef __cplusplus
extern "C" {
#endif /* __cplusplus */

/* ===================================================================== *
 * 1. Library                                                            *
 *                                                                       *
 * Versions, result codes, the calling thread's last error, GUID text.   *
 * ===================================================================== */

/* The version of this header (the library's is qm_version()). */
#define QM_VERSION_MAJOR 0
#define QM_VERSION_MINOR 3
#define QM_VERSION_PATCH 0
#define QM_VERSION_STRING "0.3.0"

/* The ABI major number of this header: it changes only when a program
   built against an older header could break, and it is the SONAME's
   number (libqmgr.so.1). Compare it with qm_abi_version(). */
#define QM_ABI_VERSION 1

/* True for success codes (S_OK, S_FALSE, QM_BG_S_*). */
#define QM_SUCCEEDED(hr) (((qm_hresult)(hr)) >= 0)
/* True for failure codes. */
#define QM_FAILED(hr) (((qm_hresult)(hr)) < 0)
/* The code for HTTP status n: 0x80190000 | n (e.g. QM_HTTP_ERROR(404) = 0x80190194). */
#define QM_HTTP_ERROR(n) ((qm_hresult)(0x80190000u | ((uint32_t)(n) & 0xFFFFu)))
/* HRESULT_FROM_WIN32(x), as winerror.h defines it. */
#define QM_HRESULT_FROM_WIN32(x) ((qm_hresult)(((int32_t)(x)) <= 0 ? ((uint32_t)(x)) : ((((uint32_t)(x)) & 0x0000FFFFu) | (7u << 16) | 0x80000000u)))

/* The result codes. Their values never change. */

/* the operation succeeded */
#define QM_S_OK ((qm_hresult)0x00000000)

/* the operation succeeded with nothing to report */
#define QM_S_FALSE ((qm_hresult)0x00000001)

/* not implemented */
#define QM_E_NOTIMPL ((qm_hresult)0x80004001)

/* a required pointer argument is NULL */
#define QM_E_POINTER ((qm_hresult)0x80004003)

/* the operation was aborted */
#define QM_E_ABORT ((qm_hresult)0x80004004)

/* unspecified failure */
#define QM_E_FAIL ((qm_hresult)0x80004005)

/* unexpected internal failure */
#define QM_E_UNEXPECTED ((qm_hresult)0x8000FFFF)

/* access is denied */
#define QM_E_ACCESSDENIED ((qm_hresult)0x80070005)

/* the handle is invalid, closed or stale */
#define QM_E_HANDLE ((qm_hresult)0x80070006)

/* not enough memory */
#define QM_E_OUTOFMEMORY ((qm_hresult)0x8007000E)

/* an argument is invalid */
#define QM_E_INVALIDARG ((qm_hresult)0x80070057)

/* the buffer is too small */
#define QM_E_INSUFFICIENT_BUFFER ((qm_hresult)0x8007007A)

/* the state directory is in use by another manager */
#define QM_E_SHARING_VIOLATION ((qm_hresult)0x80070020)

/* the file was not found */
#define QM_E_FILE_NOT_FOUND ((qm_hresult)0x80070002)

/* the directory was not found */
#define QM_E_PATH_NOT_FOUND ((qm_hresult)0x80070003)

/* the disk is full */
#define QM_E_DISK_FULL ((qm_hresult)0x80070070)

/* the network operation timed out */
#define QM_E_WINHTTP_TIMEOUT ((qm_hresult)0x80072EE2)

/* the server name could not be resolved */
#define QM_E_WINHTTP_NAME_NOT_RESOLVED ((qm_hresult)0x80072EE7)

/* the server could not be reached */
#define QM_E_WINHTTP_CANNOT_CONNECT ((qm_hresult)0x80072EFD)

/* the connection with the server was reset or closed */
#define QM_E_WINHTTP_CONNECTION_ERROR ((qm_hresult)0x80072EFE)

/* the server's TLS certificate or handshake failed verification */
#define QM_E_WINHTTP_SECURE_FAILURE ((qm_hresult)0x80072F8F)

/* the server's redirect was refused (redirect policy, HTTPS to HTTP, or not HTTP) */
#define QM_E_WINHTTP_REDIRECT_FAILED ((qm_hresult)0x80072F7C)

/* the requested action is not allowed in the current state */
#define QM_E_INVALID_STATE ((qm_hresult)0x81001001)

/* the service is not available */
#define QM_E_SERVICE_UNAVAILABLE ((qm_hresult)0x81001002)

/* the downloader is not available */
#define QM_E_DOWNLOADER_UNAVAILABLE ((qm_hresult)0x81001003)

/* the item was not found (index out of range) */
#define QM_E_ITEM_NOT_FOUND ((qm_hresult)0x81001004)

/* the requested job was not found */
#define QM_BG_E_NOT_FOUND ((qm_hresult)0x80200001)

/* the requested action is not allowed in the job's current state */
#define QM_BG_E_INVALID_STATE ((qm_hresult)0x80200002)

/* the job has no files to transfer */
#define QM_BG_E_EMPTY ((qm_hresult)0x80200003)

/* the remote file is not available */
#define QM_BG_E_FILE_NOT_AVAILABLE ((qm_hresult)0x80200004)

/* the protocol of the URL is not supported */
#define QM_BG_E_PROTOCOL_NOT_AVAILABLE ((qm_hresult)0x80200005)

/* the job has no error information */
#define QM_BG_E_ERROR_INFORMATION_UNAVAILABLE ((qm_hresult)0x8020000F)

/* the network is disconnected */
#define QM_BG_E_NETWORK_DISCONNECTED ((qm_hresult)0x80200010)

/* the server did not return the file size */
#define QM_BG_E_MISSING_FILE_SIZE ((qm_hresult)0x80200011)

/* the server does not support the required HTTP features */
#define QM_BG_E_INSUFFICIENT_HTTP_SUPPORT ((qm_hresult)0x80200012)

/* the server does not support range requests */
#define QM_BG_E_INSUFFICIENT_RANGE_SUPPORT ((qm_hresult)0x80200013)

/* some files of the job were not transferred and were discarded */
#define QM_BG_S_PARTIAL_COMPLETE ((qm_hresult)0x00200017)

/* some temporary files could not be deleted */
#define QM_BG_S_UNABLE_TO_DELETE_FILES ((qm_hresult)0x0020001A)

/* the server's response was not valid */
#define QM_BG_E_INVALID_SERVER_RESPONSE ((qm_hresult)0x8020001B)

/* too many files */
#define QM_BG_E_TOO_MANY_FILES ((qm_hresult)0x8020001C)

/* a local file changed while the job used it */
#define QM_BG_E_LOCAL_FILE_CHANGED ((qm_hresult)0x8020001D)

/* the file is too large */
#define QM_BG_E_TOO_LARGE ((qm_hresult)0x80200020)

/* the string is too long */
#define QM_BG_E_STRING_TOO_LONG ((qm_hresult)0x80200021)

/* the job made no progress within its no-progress timeout */
#define QM_BG_E_NO_PROGRESS ((qm_hresult)0x80200024)

/* the user name is too long */
#define QM_BG_E_USERNAME_TOO_LARGE ((qm_hresult)0x80200025)

/* the password is too long */
#define QM_BG_E_PASSWORD_TOO_LARGE ((qm_hresult)0x80200026)

/* the requested range is not valid */
#define QM_BG_E_INVALID_RANGE ((qm_hresult)0x8020002B)

/* the list of byte ranges has overlapping or duplicate ranges */
#define QM_BG_E_OVERLAPPING_RANGES ((qm_hresult)0x8020002C)

/* the operation timed out */
#define QM_BG_E_TIMEOUT ((qm_hresult)0x8020003B)

/* the proxy settings are not valid */
#define QM_BG_E_INVALID_PROXY_INFO ((qm_hresult)0x8020003F)

/* the user holds the maximum number of jobs */
#define QM_BG_E_TOO_MANY_JOBS_PER_USER ((qm_hresult)0x80200049)

/* the job holds the maximum number of files */
#define QM_BG_E_TOO_MANY_FILES_IN_JOB ((qm_hresult)0x80200051)

/* the file has more ranges than the per-file limit */
#define QM_BG_E_TOO_MANY_RANGES_IN_FILE ((qm_hresult)0x80200052)

/* the downloaded content failed validation (SHA-256 mismatch) */
#define QM_BG_E_VALIDATION_FAILED ((qm_hresult)0x80200053)

/* the job's maximum download time passed */
#define QM_BG_E_MAXDOWNLOAD_TIMEOUT ((qm_hresult)0x80200054)

/* a file is larger than the job's maximum download size */
#define QM_BG_E_MAX_DOWNLOAD_SIZE_LIMIT_REACHED ((qm_hresult)0x80200064)

/*
 The library's version as a static NUL-terminated string, e.g. "0.3.0".
 Never NULL; the caller must not free it. Any thread.
 */
const char *qm_version(void);

/*
 The ABI major number of the loaded library (`QM_ABI_VERSION` of its
 header). A program built against another major number must not use it.
 Any thread.
 */
uint32_t qm_abi_version(void);

/*
 Describes any code in words, e.g. "QM_BG_E_INVALID_STATE (0x80200002):
 the requested action is not allowed in the job's current state"; unknown
 codes give "0xXXXXXXXX: unknown error" (or "unknown success code").

 String out-parameter convention: `*needed` is set to the size including
 the NUL whenever `needed` is valid (also with `QM_E_INSUFFICIENT_BUFFER`;
 not when the call fails for another reason); `buf = NULL, cap = 0` asks
 for the size.
 Returns `QM_S_OK`, `QM_E_INSUFFICIENT_BUFFER` (buffer too small),
 `QM_E_POINTER` (`needed` NULL, or `buf` NULL with `cap > 0`). Any thread.

 # Safety
 `buf` must be NULL or valid for `cap` bytes; `needed` NULL or writable.
 */
qm_hresult qm_format_hresult(qm_hresult hr, char *buf, size_t cap, size_t *needed);

/*
 Writes the message of the calling thread's last failed qmgr call (the
 engine's words, e.g. "file 0: the local name 'fw.bin' is not an absolute
 file path"). Each failing call on a thread replaces it; successful calls
 leave it alone, and this call never changes it, even when it fails.
 Returns `QM_S_OK`, `QM_S_FALSE` when no call of this thread has failed
 yet (the text is then empty), or the string out-parameter codes of
 `qm_format_hresult`. Any thread; each thread sees its own message.

 # Safety
 `buf` must be NULL or valid for `cap` bytes; `needed` NULL or writable.
 */
qm_hresult qm_get_last_error_message(char *buf, size_t cap, size_t *needed);

/*
 Writes the canonical 36-character lower-case form of a GUID
 ("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", 37 bytes with the NUL).
 Returns `QM_S_OK`, `QM_E_INVALIDARG` (`guid` NULL), or the string
 out-parameter codes of `qm_format_hresult`. Any thread.

 # Safety
 `guid` NULL or valid; `buf` NULL or valid for `cap` bytes; `needed` NULL or writable.
 */
qm_hresult qm_guid_to_string(const struct qm_guid *guid, char *buf, size_t cap, size_t *needed);

/*
 Parses the canonical 36-character form (either case) into `*out`.
 Returns `QM_S_OK`, `QM_E_INVALIDARG` (NULL, non-UTF-8 or malformed
 text), `QM_E_POINTER` (`out` NULL). Any thread.

 # Safety
 `text` NULL or a NUL-terminated string; `out` NULL or writable.
 */
qm_hresult qm_guid_from_string(const char *text, struct qm_guid *out);

/* ===================================================================== *
 * 2. Manager                                                            *
 *                                                                       *
 * A manager holds jobs and the threads that transfer them, in memory or *
 * in a state directory; a connected one is a daemon's (qmgrd).          *
 * ===================================================================== */


/*
 Opens a manager. `state_dir = NULL` gives an in-memory manager (nothing
 outlives the process). With `state_dir` (an absolute path, created with
 mode 0700 if missing) the jobs live in a private SQLite database there:
 every change is durable before the call returns, progress is
 checkpointed (the data is fsynced first), and opening the directory again
 restores every job that is not final; jobs that were queued, transferring
 or retrying carry on by themselves from their last durable byte.
 Callbacks are not persisted: set them again after an open.
 Reads the environment on the calling thread: the proxy variables and
 the notify programs' environment come from that reading until the next
 `qm_job_resume` (see there; never `setenv` on another thread meanwhile).
 Returns `QM_S_OK`, `QM_E_POINTER` (`out` NULL), `QM_E_INVALIDARG`
 (`state_dir` relative or not UTF-8), `QM_E_SHARING_VIOLATION` (the
 directory is open in this or another process), the Win32 error of a
 directory that cannot be created, `QM_E_FAIL` (a database from a newer
 qmgr), `QM_E_OUTOFMEMORY` (no thread). The handle is the caller's until
 `qm_manager_close`. Any thread.

 # Safety
 `state_dir` NULL or a NUL-terminated string; `out` NULL or writable.
 */
qm_hresult qm_manager_open(const char *state_dir, qm_manager_t *out);

/*
 Connects to a qmgr daemon (`qmgrd`) and returns a manager whose every
 `qm_manager_*` and `qm_job_*` call the daemon carries out, with the
 same codes, out-parameters and last-error messages as an in-process
 manager's. Its jobs are the caller's jobs of that daemon: they outlive
 this process (create, add, resume and exit: the daemon carries the job
 on, another process completes it) and every process of the user sees
 them. `address` is a Varlink address, "unix:/path/to/socket" (or an
 absolute path; on Linux, "unix:" and an at sign then a name is an
 abstract socket); NULL
 connects to the caller's default daemon, the first of: the
 environment variable QMGR_ADDRESS if set and not empty; the per-user
 daemon's socket $XDG_RUNTIME_DIR/qmgr/io.qmgr if it exists; the
 system daemon's /run/qmgr/io.qmgr (the environment is read by this
 call, on the calling thread).

 Which calls cross the socket: the job getters of state, progress
 (qm_job_get_progress, _ex), status, error, times, counts and
 properties read a copy of the job kept in this process, which one
 round trip refreshes when it is older than the job's minimum
 notification interval (at least 250 ms) or after this process changed
 the job, and which the daemon's events refresh while a callback is set
 (then progress is read without leaving the process; a local read costs
 tens of nanoseconds, a round trip tens of microseconds). The file
 getters read a copy of the job's files kept the same way: one round
 trip reads them all when the copy is older than that interval or this
 process changed the job. Every other call (the changes, qm_job_wait,
 the manager's settings, qm_manager_enum_jobs) is one round trip.
 Callbacks run on a thread of this manager with the guarantees of
 qm_job_set_notify; while one is set on a job, the daemon does not run
 the job's notify program (as in-process: the program runs only when no
 callback takes the event), and once this manager is closed it does
 again; a process gone without closing it (a crash, an exit without
 qm_manager_close) is taken to have missed the last event: a job then
 TRANSFERRED or in ERROR runs its program at once.
 Losing the daemon fails the call in flight and the next ones with
 QM_E_SERVICE_UNAVAILABLE (never a hang: a reply must begin within 2
 minutes, 10 for qm_job_complete and qm_job_cancel); the call after the
 daemon is back connects again, and the job handles stay good. The
 daemon's environment, not the caller's, is what its transfers and
 notify programs use.
 Returns `QM_S_OK`, `QM_E_POINTER` (`out` NULL), `QM_E_INVALIDARG`
 (`address` not UTF-8 or not a Unix socket's address),
 `QM_E_SERVICE_UNAVAILABLE` (no daemon listens there),
 `QM_E_ACCESSDENIED` (the socket refuses this user), `QM_E_NOTIMPL` (a
 library built without the `service` feature), `QM_E_OUTOFMEMORY` (no
 thread). The handle is the caller's until `qm_manager_close`, which
 disconnects (the daemon's jobs go on). Any thread.

 # Safety
 `address` NULL or a NUL-terminated string; `out` NULL or writable.
 */
qm_hresult qm_manager_connect(const char *address, qm_manager_t *out);

/*
 Closes a manager: stops its transfers (with a state directory their
 partial data is checkpointed and kept for the next open; in memory it is
 deleted), closes the
 handles of all its jobs, and waits for its threads. After it returns no
 callback of its jobs is running or will run (unless called from inside
 a callback, which then finishes normally). A connected manager
 (`qm_manager_connect`) disconnects: its waits end with `QM_E_ABORT`,
 and the daemon's jobs go on.
 Returns `QM_S_OK`, `QM_E_HANDLE` (not an open manager). Any thread.
 */
qm_hresult qm_manager_close(qm_manager_t mgr);

/*
 Sets how many jobs transfer at once (default 4, at least 1). When all
 are taken, a waiting job may take a running one's place: a FOREGROUND
 job any background job's, a background job a lower priority's, and a
 job of the same priority one that has run for two minutes (which goes
 to the end of the queue); only FOREGROUND preempts a job that would
 lose its bytes (a source without ranges, dynamic content).
 Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_INVALIDARG` (0). Any thread.
 */
qm_hresult qm_manager_set_max_active_jobs(qm_manager_t mgr, uint32_t n);

/*
 Gets how many jobs transfer at once.
 Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.

 # Safety
 `out` NULL or writable.
 */
qm_hresult qm_manager_get_max_active_jobs(qm_manager_t mgr, uint32_t *out);

/*
 Caps the sum of all background (non-FOREGROUND) transfers, in bytes per
 second; 0 is unlimited (the default). A job's own limit
 (`qm_job_set_max_bandwidth`) applies on top.
 Returns `QM_S_OK`, `QM_E_HANDLE`. Any thread.
 */
qm_hresult qm_manager_set_max_bandwidth(qm_manager_t mgr, uint64_t bytes_per_sec);

/*
 Gets the background bandwidth limit (0: unlimited).
 Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.

 # Safety
 `out` NULL or writable.
 */
qm_hresult qm_manager_get_max_bandwidth(qm_manager_t mgr, uint64_t *out);

/*
 Caps the connections of all the manager's jobs together (at least 1;
 default 24, the default active jobs times their default connections). A
 running job always keeps one connection; a run takes more only while
 the cap allows. Returns `QM_S_OK`, `QM_E_INVALIDARG` (0), `QM_E_HANDLE`.
 Any thread.
 */
qm_hresult qm_manager_set_max_connections(qm_manager_t mgr, uint32_t n);

/*
 Gets the cap on the connections of all the manager's jobs.
 Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.

 # Safety
 `out` NULL or writable.
 */
qm_hresult qm_manager_get_max_connections(qm_manager_t mgr, uint32_t *out);

/*
 Caps the connections one job opens to one server (scheme, host and
 port; at least 1; default 6, what browsers open to one host). Applies
 to runs that start after the call. Returns `QM_S_OK`, `QM_E_INVALIDARG`
 (0), `QM_E_HANDLE`. Any thread.
 */
qm_hresult qm_manager_set_max_connections_per_server(qm_manager_t mgr, uint32_t n);

/*
 Gets the cap on one job's connections to one server.
 Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.

 # Safety
 `out` NULL or writable.
 */
qm_hresult qm_manager_get_max_connections_per_server(qm_manager_t mgr, uint32_t *out);

/*
 Lists the jobs that are not final, newest first, each as a new job
 reference that the caller closes with `qm_job_close`. `*count` is always
 set to the number of jobs; `cap = 0` (with `out` NULL or not) only
 counts. If `cap` is smaller than the count, nothing is written to `out`,
 no reference is created, and `QM_E_INSUFFICIENT_BUFFER` is returned.
 The caller's own jobs: `qm_manager_enum_jobs_ex` with
 `QM_ENUM_ALL_USERS` lists every user's.
 Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER` (`count` NULL, or `out`
 NULL with `cap > 0`), `QM_E_INSUFFICIENT_BUFFER`. Any thread.

 # Safety
 `out` NULL or valid for `cap` handles; `count` NULL or writable.
 */
qm_hresult qm_manager_enum_jobs(qm_manager_t mgr, qm_job_t *out, size_t cap, size_t *count);

/*
 `qm_manager_enum_jobs` with flags (BITS's `EnumJobs(dwFlags)`): 0 lists
 the caller's jobs; `QM_ENUM_ALL_USERS` every user's. On a connected
 manager (`qm_manager_connect`) that is the daemon's jobs of every user,
 for an administrator (root, or a member of the daemon's admin group;
 `QM_E_ACCESSDENIED` for anyone else); an in-process manager has one
 user, so the flag lists what 0 lists.
 Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_INVALIDARG` (unknown flag
 bits), `QM_E_ACCESSDENIED`, `QM_E_POINTER` (`count` NULL, or `out` NULL
 with `cap > 0`), `QM_E_INSUFFICIENT_BUFFER`. Any thread.

 # Safety
 `out` NULL or valid for `cap` handles; `count` NULL or writable.
 */
qm_hresult qm_manager_enum_jobs_ex(qm_manager_t mgr,
                                   uint32_t flags,
                                   qm_job_t *out,
                                   size_t cap,
                                   size_t *count);

/*
 Finds a job that is not final by its id and returns a new reference to
 it, which the caller closes with `qm_job_close`.
 Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_INVALIDARG` (`id` NULL),
 `QM_E_POINTER` (`out` NULL), `QM_BG_E_NOT_FOUND`. Any thread.

 # Safety
 `id` NULL or valid; `out` NULL or writable.
 */
qm_hresult qm_manager_get_job(qm_manager_t mgr, const struct qm_guid *id, qm_job_t *out);

/*
 Gets how many jobs of the state directory could not be read when the
 manager opened it (0 for an in-memory manager). Those jobs are skipped;
 their rows stay in the directory untouched; every other job opened. A
 job whose stored HTTP options (CA file, redirect policy, proxy, headers,
 credentials) do not read is skipped too: it never runs with defaults.
 Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.

 # Safety
 `out` NULL or writable.
 */
qm_hresult qm_manager_get_skipped_job_count(qm_manager_t mgr, uint32_t *out);

/*
 Describes the skipped jobs, one line each ("job GUID was skipped …:
 why"), separated by newlines (string out-parameter convention of
 `qm_format_hresult`). Returns `QM_S_OK`, `QM_S_FALSE` (none skipped: the
 text is empty), `QM_E_INSUFFICIENT_BUFFER`, `QM_E_HANDLE`, `QM_E_POINTER`.
 Any thread.

 # Safety
 `buf` NULL or valid for `cap` bytes; `needed` NULL or writable.
 */
qm_hresult qm_manager_get_skipped_jobs(qm_manager_t mgr, char *buf, size_t cap, size_t *needed);

/* ===================================================================== *
 * 3. Jobs                                                               *
 *                                                                       *
 * Creating and closing job references; the lifecycle (resume, suspend,  *
 * cancel, complete, wait); what a job reports (state, status, progress, *
 * error, times) and its names.                                          *
 * ===================================================================== */


/*
 Creates a job (SUSPENDED, priority NORMAL, no files) and returns a
 reference to it. The job lives in the manager until it is completed or
 cancelled, whether or not a reference is open.
 Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER` (`out` NULL),
 `QM_E_INVALIDARG` (`display_name` NULL or not UTF-8),
 `QM_BG_E_STRING_TOO_LONG` (over 256 characters). Any thread.

 # Safety
 `display_name` NULL or a NUL-terminated string; `out` NULL or writable.
 */
qm_hresult qm_job_create(qm_manager_t mgr, const char *display_name, qm_job_t *out);

/*
 Creates a job of type `type` (BITS's `CreateJob` with a `BG_JOB_TYPE`):
 `QM_JOB_TYPE_DOWNLOAD` (what `qm_job_create` makes),
 `QM_JOB_TYPE_UPLOAD` or `QM_JOB_TYPE_UPLOAD_REPLY`. SUSPENDED, priority
 NORMAL, no files. An upload job holds exactly one file
 (`qm_job_add_file(job, url, local_path)`: the local file is sent to the
 URL; a second file gives `QM_BG_E_TOO_MANY_FILES`), over tus 1.0 by
 default; an upload-reply job over the resumable-upload draft (see
 `qm_job_set_upload_protocol`). Download-only options (ranges, seeds,
 dynamic content, a maximum download size, a SHA-256) give
 `QM_E_INVALIDARG` on an upload job.
 Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER` (`out` NULL),
 `QM_E_INVALIDARG` (`display_name` NULL or not UTF-8, an unknown type),
 `QM_BG_E_STRING_TOO_LONG`, `QM_E_NOTIMPL` (an upload job in a build
 without the `upload` feature, or on a manager connected to a qmgrd
 without upload jobs). Any thread.

 # Safety
 `display_name` NULL or a NUL-terminated string; `out` NULL or writable.
 */
qm_hresult qm_job_create_ex(qm_manager_t mgr,
                            const char *display_name,
                            uint32_t type,
                            qm_job_t *out);

/*
 Gets the job's type (`GetType`): a `QM_JOB_TYPE_*` value.
 Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.

 # Safety
 `out` NULL or writable.
 */
qm_hresult qm_job_get_type(qm_job_t job, uint32_t *out);

/*
 Releases one job reference. The job itself goes on (it lives in its
 manager until completed or cancelled). A notify callback registered
 through this handle is removed, and when this returns it is not running.
 Returns `QM_S_OK`, `QM_E_HANDLE` (not an open job handle). Any thread.
 */
qm_hresult qm_job_close(qm_job_t job);

/*
 Gets the job's GUID (`get_JobID`).
 Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.

 # Safety
 `out` NULL or writable.
 */
qm_hresult qm_job_get_id(qm_job_t job, struct qm_guid *out);

/*
 Sets the display name (UTF-8, at most 256 characters).
 Returns `QM_S_OK`, `QM_E_INVALIDARG` (NULL or not UTF-8),
 `QM_BG_E_STRING_TOO_LONG`, `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`.
 Any thread.

 # Safety
 `name` NULL or a NUL-terminated string.
 */
qm_hresult qm_job_set_display_name(qm_job_t job, const char *name);

/*
 Gets the display name (string out-parameter convention of `qm_format_hresult`).
 Returns `QM_S_OK`, `QM_E_INSUFFICIENT_BUFFER`, `QM_E_HANDLE`, `QM_E_POINTER`.
 Any thread.

 # Safety
 `buf` NULL or valid for `cap` bytes; `needed` NULL or writable.
 */
qm_hresult qm_job_get_display_name(qm_job_t job, char *buf, size_t cap, size_t *needed);

/*
 Sets the description (UTF-8, at most 1,024 characters).
 Returns `QM_S_OK`, `QM_E_INVALIDARG` (NULL or not UTF-8),
 `QM_BG_E_STRING_TOO_LONG`, `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`.
 Any thread.

 # Safety
 `text` NULL or a NUL-terminated string.
 */
qm_hresult qm_job_set_description(qm_job_t job, const char *text);

/*
 Gets the description (string out-parameter convention of `qm_format_hresult`).
 Returns `QM_S_OK`, `QM_E_INSUFFICIENT_BUFFER`, `QM_E_HANDLE`, `QM_E_POINTER`.
 Any thread.

 # Safety
 `buf` NULL or valid for `cap` bytes; `needed` NULL or writable.
 */
qm_hresult qm_job_get_description(qm_job_t job, char *buf, size_t cap, size_t *needed);

/*
 Queues the job for transfer: SUSPENDED, ERROR and TRANSIENT_ERROR go to
 QUEUED; an active job is left as it is (`QM_S_OK`).
 The environment: this call reads it again, on the calling thread, for
 the whole manager (`qm_manager_open` reads it first). Every later
 transfer of the manager's jobs takes the proxy variables (`http_proxy`,
 `https_proxy`, `all_proxy`, `no_proxy`) from that reading, and every
 notify program its environment, never the environment of the moment
 (qmgr's own threads do not read these), so a variable set after this
 call counts from the next `qm_job_resume` on. Do not call `setenv`, `putenv` or `unsetenv` on another thread
 while this call or `qm_manager_open` runs (glibc's are not safe against
 a concurrent `getenv`).
 Returns `QM_S_OK`, `QM_BG_E_EMPTY` (no files, or every file already
 transferred; the job stays as it was), `QM_BG_E_INVALID_STATE` (final),
 `QM_E_HANDLE`. Any thread.
 */
qm_hresult qm_job_resume(qm_job_t job);

/*
 Suspends the job; the transfer stops (within about 100 ms; the call
 returns once it has) and partial data is kept for a later resume.
 Returns `QM_S_OK`, `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
 */
qm_hresult qm_job_suspend(qm_job_t job);

/*
 Cancels the job: stops it, deletes its temporary files, and leaves it
 CANCELLED (final; no longer listed). An upload job's unfinished upload
 is ended on the server too (a `DELETE` of its upload URL, best effort,
 in the background); one the server has whole stays there, as BITS's
 Cancel-Session has no effect after the last fragment.
 Returns `QM_S_OK`, `QM_BG_S_UNABLE_TO_DELETE_FILES` (cancelled, but some
 temporary file could not be deleted), `QM_BG_E_INVALID_STATE` (already
 final, e.g. a second cancel), `QM_E_HANDLE`. Any thread.
 */
qm_hresult qm_job_cancel(qm_job_t job);

/*
 Completes the job: each transferred file is fsynced and atomically
 renamed to its local name (the directory is then fsynced), partial files
 are deleted, and the job becomes ACKNOWLEDGED (final).
 Returns `QM_S_OK`, `QM_BG_S_PARTIAL_COMPLETE` (some files were not
 transferred and were discarded), `QM_BG_E_INVALID_STATE` (final),
 `QM_E_HANDLE`, or the Win32 error of a failed rename, in which case the
 job stays as it was (files already renamed stay renamed). Any thread.
 */
qm_hresult qm_job_complete(qm_job_t job);

/*
 Makes the job FOREGROUND: it runs first, preempts background jobs when
 every slot is taken, and ignores the manager's bandwidth limit.
 Returns `QM_S_OK`, `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
 */
qm_hresult qm_job_switch_to_foreground(qm_job_t job);

/*
 Makes the calling user the job's owner (BITS's `TakeOwnership`): the
 process's effective user and group on an in-process manager; on a
 connected one, the user the kernel names for the connection (the
 daemon's administrators may take any user's job, others only their
 own, which changes nothing). From then on the job's files are read and
 written with the new owner's rights and its notify program runs as the
 new owner; a running transfer stops and the job goes back to the queue
 in its place, keeping the bytes it has (its temporary files are handed
 over, or fetched again when they cannot be). Returns `QM_S_OK`,
 `QM_E_ACCESSDENIED` (this process cannot act with the owner's rights),
 `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
 */
qm_hresult qm_job_take_ownership(qm_job_t job);

/*
 Blocks (without polling) until the job is TRANSFERRED, ERROR, SUSPENDED,
 ACKNOWLEDGED or CANCELLED, and stores that state. `timeout_ms` is
 `QM_WAIT_INFINITE` for no timeout. TRANSIENT_ERROR does not end the wait:
 the job is retried.
 Returns `QM_S_OK` (`*state` set), `QM_S_FALSE` (timed out; `*state` not
 written), `QM_E_ABORT` (the manager was closed meanwhile), `QM_E_HANDLE`,
 `QM_E_POINTER`. Any thread except a notify callback of the same job,
 which would wait for itself.

 # Safety
 `state` NULL or writable.
 */
qm_hresult qm_job_wait(qm_job_t job, uint32_t timeout_ms, uint32_t *state);

/*
 Gets the state, a `QM_JOB_STATE_*` value. Lock-free.
 Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.

 # Safety
 `out` NULL or writable.
 */
qm_hresult qm_job_get_state(qm_job_t job, uint32_t *out);

/*
 `GetStatus`: `*status` gets `QM_STATUS_JOB_COMPLETE` when every file is
 transferred (else `_INCOMPLETE`), plus `_ERROR` in ERROR or
 TRANSIENT_ERROR and `_FOREGROUND` for a FOREGROUND job. In an error
 state, `*win32_result` is the Win32 code inside the error (0 if it is
 not a Win32 error) and `*transport_result` the HTTP status (0 if none);
 both are 0 otherwise. `*num_retries` counts the retries after transient
 errors. `status` is required; the others may be NULL.
 Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.

 # Safety
 Each pointer NULL or writable.
 */
qm_hresult qm_job_get_status(qm_job_t job,
                             uint32_t *status,
                             uint32_t *win32_result,
                             uint32_t *transport_result,
                             uint32_t *num_retries);

/*
 Gets bytes and files (total and transferred), the smoothed rate and the
 ETA (BITS's `GetProgress` with `BG_JOB_PROGRESS`). `bytes_total` is
 `QM_SIZE_UNKNOWN` until every file's size is known; `eta_seconds` is
 `QM_SIZE_UNKNOWN` when it cannot be estimated. Lock-free.
 `out->struct_size` must be set (see "Structs that grow").
 Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`, `QM_E_INVALIDARG`
 (`struct_size` too small or not set). Any thread.

 # Safety
 `out` NULL or valid for its `struct_size` bytes.
 */
qm_hresult qm_job_get_progress_ex(qm_job_t job, struct qm_job_progress *out);

/*
 One number of the job's progress (the `GetProgress(flags)` of BITS's
 `qmgr.h`): with `QM_PROGRESS_PERCENT_DONE`, the whole percent of the
 job's bytes transferred, floor(100 * transferred / total), 0 while the
 total is unknown or zero, 100 only when every byte is transferred; with
 `QM_PROGRESS_SIZE_DONE`, the bytes transferred over all files (64-bit).
 Lock-free: it reads atomics and never waits for a transfer.
 Returns `QM_S_OK`, `QM_E_NOTIMPL` (`QM_PROGRESS_TIME_DONE`; see
 `qm_job_get_progress_ex`), `QM_E_INVALIDARG` (any other flag),
 `QM_E_POINTER` (`out` NULL), `QM_E_HANDLE`. Any thread.

 # Safety
 `out` NULL or writable.
 */
qm_hresult qm_job_get_progress(qm_job_t job, uint32_t flags, uint64_t *out);

/*
 Gets the last error while the job is in ERROR or TRANSIENT_ERROR.
 `out->struct_size` must be set (see "Structs that grow").
 Returns `QM_S_OK`, `QM_BG_E_ERROR_INFORMATION_UNAVAILABLE` (no error),
 `QM_E_HANDLE`, `QM_E_POINTER`, `QM_E_INVALIDARG` (`struct_size` too
 small or not set). Any thread.

 # Safety
 `out` NULL or valid for its `struct_size` bytes.
 */
qm_hresult qm_job_get_error(qm_job_t job, struct qm_job_error *out);

/*
 Describes the last error in words: the code's name and meaning, then
 what happened with the path, URL or offset (a URL's password written
 `***`: no error text carries a credential). String out-parameter
 convention of `qm_format_hresult`.
 Returns `QM_S_OK`, `QM_BG_E_ERROR_INFORMATION_UNAVAILABLE`,
 `QM_E_INSUFFICIENT_BUFFER`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.

 # Safety
 `buf` NULL or valid for `cap` bytes; `needed` NULL or writable.
 */
qm_hresult qm_job_get_error_description(qm_job_t job, char *buf, size_t cap, size_t *needed);

/*
 Gets creation, last modification and transfer completion times (Unix
 epoch milliseconds; 0 for "not yet"). `out->struct_size` must be set
 (see "Structs that grow").
 Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`, `QM_E_INVALIDARG`
 (`struct_size` too small or not set). Any thread.

 # Safety
 `out` NULL or valid for its `struct_size` bytes.
 */
qm_hresult qm_job_get_times(qm_job_t job, struct qm_job_times *out);

/* ===================================================================== *
 * 4. Files                                                              *
 *                                                                       *
 * Adding files (whole or by ranges), reading them back, checksums,      *
 * remote names and what the server said about each file.                *
 * ===================================================================== */


/*
 Adds `count` files to the job, all or none (`AddFiles`). Each remote
 name is an `http://`, `https://` or `file://` URL or an absolute path;
 each local name an absolute path, unique in the job, whose directory
 exists and is writable (checked now). A TRANSFERRED job goes back to QUEUED.
 `files` is an array of in-structs: `files[0].struct_size` is the
 stride, and every element must carry the same (see "Structs that
 grow"). The strings are copied; the caller keeps ownership of `files`.
 Returns `QM_S_OK`, `QM_E_INVALIDARG` (`count` 0, `files` NULL, a bad
 `struct_size` or a `reserved` field that is not 0, a NULL, non-UTF-8,
 relative, duplicate or unsupported name), `QM_E_PATH_NOT_FOUND` (a local
 name's directory does not exist), `QM_E_ACCESSDENIED` (this process may
 not create files in it), `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`.
 Any thread.

 # Safety
 `files` NULL or valid for `count` elements of `files[0].struct_size`
 bytes whose strings are NULL or NUL-terminated.
 */
qm_hresult qm_job_add_files(qm_job_t job, uint32_t count, const struct qm_file_set_info *files);

/*
 Adds one file; the same as `qm_job_add_files` with one element and no
 size hint. Returns the codes of `qm_job_add_files`. Any thread.

 # Safety
 Both strings NULL or NUL-terminated.
 */
qm_hresult qm_job_add_file(qm_job_t job, const char *remote_name, const char *local_name);

/*
 Adds one file of which only `count` ranges of the remote file are
 wanted (BITS's `IBackgroundCopyJob3::AddFileWithRanges`). The ranges are
 written one after another to the local file in the order given: remote
 bytes 100-199, 900-999 and 400-499 make a 300-byte local file. Each range
 is its own request; at transfer time the job goes to ERROR with
 `QM_BG_E_INVALID_RANGE` (a range outside the remote file),
 `QM_BG_E_INSUFFICIENT_RANGE_SUPPORT` (the server does not do ranges) or
 `QM_BG_E_INVALID_SERVER_RESPONSE` (the server answered other bytes, e.g.
 merged ranges). `ranges` is an array of in-structs:
 `ranges[0].struct_size` is the stride, and every element must carry the
 same (see "Structs that grow"). The ranges are copied.
 Returns `QM_S_OK`, `QM_E_INVALIDARG` (`count` 0, `ranges` NULL, a bad
 `struct_size` or a `reserved` field that is not 0, a bad name as for
 `qm_job_add_files`, or a job with dynamic content),
 `QM_BG_E_INVALID_RANGE` (an offset of `QM_LENGTH_TO_EOF`, a length of 0,
 a range past 2^64), `QM_BG_E_OVERLAPPING_RANGES` (duplicates or
 overlaps), `QM_BG_E_TOO_MANY_RANGES_IN_FILE` (more than 500),
 `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.

 # Safety
 Both strings NULL or NUL-terminated; `ranges` NULL or valid for `count`
 elements of `ranges[0].struct_size` bytes.
 */
qm_hresult qm_job_add_file_with_ranges(qm_job_t job,
                                       const char *remote_name,
                                       const char *local_name,
                                       uint32_t count,
                                       const struct qm_file_range *ranges);

/*
 Gets the number of files (`GetFileCount`).
 Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.

 # Safety
 `out` NULL or writable.
 */
qm_hresult qm_job_get_file_count(qm_job_t job, uint32_t *out);

/*
 Gets file `index`'s remote name: the URL (or path) the caller asked for,
 as added or as `qm_job_set_file_remote_name` and
 `qm_job_replace_remote_prefix` last set it (string out-parameter
 convention of `qm_format_hresult`). Only those calls change it: never a
 redirect, under any policy (where redirects led is
 `qm_job_get_file_final_url`). Every attempt starts at this URL; its
 origin (scheme, host, port) is the only one the job's credentials, the
 URL's user info and its custom headers are sent to, and an `https://`
 name is never fetched over plain HTTP unless the security flags allow
 `QM_HTTP_REDIRECT_POLICY_ALLOW_HTTPS_TO_HTTP`.
 Returns `QM_S_OK`, `QM_E_ITEM_NOT_FOUND` (index past the end),
 `QM_E_INSUFFICIENT_BUFFER`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.

 # Safety
 `buf` NULL or valid for `cap` bytes; `needed` NULL or writable.
 */
qm_hresult qm_job_get_file_remote_name(qm_job_t job,
                                       uint32_t index,
                                       char *buf,
                                       size_t cap,
                                       size_t *needed);

/*
 Gets file `index`'s local name (string out-parameter convention of
 `qm_format_hresult`).
 Returns `QM_S_OK`, `QM_E_ITEM_NOT_FOUND` (index past the end),
 `QM_E_INSUFFICIENT_BUFFER`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.

 # Safety
 `buf` NULL or valid for `cap` bytes; `needed` NULL or writable.
 */
qm_hresult qm_job_get_file_local_name(qm_job_t job,
                                      uint32_t index,
                                      char *buf,
                                      size_t cap,
                                      size_t *needed);

/*
 Gets the size hint file `index` was added with (`qm_file_set_info`'s
 `size_hint`; 0: none).
 Returns `QM_S_OK`, `QM_E_ITEM_NOT_FOUND` (index past the end),
 `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.

 # Safety
 `out` NULL or writable.
 */
qm_hresult qm_job_get_file_size_hint(qm_job_t job, uint32_t index, uint64_t *out);

/*
 Gets the ranges of file `index` as they were added, in their order
 (BITS's `IBackgroundCopyFile2::GetFileRanges`); a whole file has none.
 `*count` is always set to the number of ranges; `cap = 0` (with `out`
 NULL or not) only counts. If `cap` is smaller than the count, nothing is
 written to `out` and `QM_E_INSUFFICIENT_BUFFER` is returned. `out` is
 an array of out-structs: with `cap > 0`, `out[0].struct_size` is the
 stride, and each element written must carry the same (see "Structs
 that grow"); each gets `struct_size` set to what the library filled.
 Returns `QM_S_OK`, `QM_E_ITEM_NOT_FOUND` (index past the end),
 `QM_E_INSUFFICIENT_BUFFER`, `QM_E_HANDLE`, `QM_E_POINTER` (`count`
 NULL, or `out` NULL with `cap > 0`), `QM_E_INVALIDARG` (a bad
 `struct_size`; `*count` is set, nothing else written). Any thread.

 # Safety
 `out` NULL or valid for `cap` elements of `out[0].struct_size` bytes;
 `count` NULL or writable.
 */
qm_hresult qm_job_get_file_ranges(qm_job_t job,
                                  uint32_t index,
                                  struct qm_file_range *out,
                                  uint32_t cap,
                                  uint32_t *count);

/*
 Gets file `index`'s progress (`GetFile` / `BG_FILE_PROGRESS`):
 `bytes_total` is `QM_SIZE_UNKNOWN` until the size is known.
 `out->struct_size` must be set (see "Structs that grow").
 Returns `QM_S_OK`, `QM_E_ITEM_NOT_FOUND` (index past the end),
 `QM_E_HANDLE`, `QM_E_POINTER`, `QM_E_INVALIDARG` (`struct_size` too
 small or not set). Any thread.

 # Safety
 `out` NULL or valid for its `struct_size` bytes.
 */
qm_hresult qm_job_get_file_progress(qm_job_t job, uint32_t index, struct qm_file_progress *out);

/*
 Sets the SHA-256 (64 hex digits, either case) that file `index` must
 have, or clears it with `hex = NULL`. It is checked when the file has
 transferred, before it counts as transferred; a mismatch is fatal
 (ERROR with `QM_BG_E_VALIDATION_FAILED`) and discards the data.
 Returns `QM_S_OK`, `QM_E_INVALIDARG` (not 64 hex digits),
 `QM_E_ITEM_NOT_FOUND`, `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`.
 Any thread.

 # Safety
 `hex` NULL or NUL-terminated.
 */
qm_hresult qm_job_set_file_sha256(qm_job_t job, uint32_t index, const char *hex);

/*
 Gets the SHA-256 file `index` must have, as 64 lower-case hex digits
 (string out-parameter convention of `qm_format_hresult`; 65 bytes with
 the NUL), or "" with `QM_S_FALSE` when none is set.
 Returns `QM_S_OK`, `QM_S_FALSE`, `QM_E_ITEM_NOT_FOUND` (index past the
 end), `QM_E_INSUFFICIENT_BUFFER`, `QM_E_HANDLE`, `QM_E_POINTER`. Any
 thread.

 # Safety
 `buf` NULL or valid for `cap` bytes; `needed` NULL or writable.
 */
qm_hresult qm_job_get_file_sha256(qm_job_t job,
                                  uint32_t index,
                                  char *buf,
                                  size_t cap,
                                  size_t *needed);

/*
 Makes file `index` a delta download (qmgr's own; BITS has none): before
 the file is fetched, its zsync control file (as Debian's `zsyncmake`
 0.6.2 writes it) is read from `control_url`, or with `control_url =
 NULL` from the remote name with `.zsync` appended; the `seed_count`
 seeds (absolute paths of local files that may hold blocks of the new
 file: the image a device runs, the last download) are scanned for its
 blocks, read and never written, with the job owner's rights. Blocks
 found are copied into the temporary file (durable and resumable like
 fetched bytes); the rest is fetched from the remote name as single
 `Range` requests over the job's connections (never from a `URL` line
 of the control file). Each fetched block must match the control
 file's MD4 and the whole file its SHA-1 and length. MD4 and SHA-1 are
 weak hashes that a hostile server can defeat: set the file's SHA-256
 (`qm_job_set_file_sha256`), the real guard. With no control file (an
 HTTP 4xx), a server that does not answer ranges, no block found, a
 control file that does not describe the server's file, or a
 plain-HTTP control file for an HTTPS file (never read: it decides
 which bytes are kept), the file is downloaded whole;
 `qm_job_get_file_delta_status` says which way it went.
 `seeds = NULL, seed_count = 0` makes it a plain download again.
 The strings are copied; the caller keeps ownership.
 Returns `QM_S_OK`, `QM_E_INVALIDARG` (`seeds` NULL with a count, a
 NULL, non-UTF-8 or relative seed, more than 16, a `control_url` that
 is not http(s), a file that is not fetched over http(s) or has byte
 ranges), `QM_E_ITEM_NOT_FOUND`, `QM_BG_E_INVALID_STATE` (final, or the
 file has started transferring), `QM_E_NOTIMPL` (a library built
 without the `delta` feature), `QM_E_HANDLE`. Any thread.

 # Safety
 `seeds` NULL or valid for `seed_count` pointers, each NULL or
 NUL-terminated; `control_url` NULL or NUL-terminated.
 */
qm_hresult qm_job_set_file_delta(qm_job_t job,
                                 uint32_t index,
                                 const char *const *seeds,
                                 uint32_t seed_count,
                                 const char *control_url);

/*
 Gets how file `index`'s delta download went: which way
 (`QM_DELTA_WAY_*`) and how many bytes came from the seeds.
 `out->struct_size` must be set (see "Structs that grow").
 Returns `QM_S_OK`, `QM_E_ITEM_NOT_FOUND` (index past the end),
 `QM_E_HANDLE`, `QM_E_POINTER`, `QM_E_INVALIDARG` (`struct_size` too
 small or not set). Any thread.

 # Safety
 `out` NULL or valid for its `struct_size` bytes.
 */
qm_hresult qm_job_get_file_delta_status(qm_job_t job,
                                        uint32_t index,
                                        struct qm_file_delta_status *out);

/*
 Gets why file `index`'s delta download became a full download (string
 out-parameter convention of `qm_format_hresult`), or "" with
 `QM_S_FALSE` when it did not.
 Returns `QM_S_OK`, `QM_S_FALSE`, `QM_E_ITEM_NOT_FOUND`,
 `QM_E_INSUFFICIENT_BUFFER`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.

 # Safety
 `buf` NULL or valid for `cap` bytes; `needed` NULL or writable.
 */
qm_hresult qm_job_get_file_delta_reason(qm_job_t job,
                                        uint32_t index,
                                        char *buf,
                                        size_t cap,
                                        size_t *needed);

/*
 Gives file `index` a new remote name (BITS's
 `IBackgroundCopyFile2::SetRemoteName`), keeping its bytes as
 `qm_job_replace_remote_prefix` does.
 Returns `QM_S_OK`, `QM_E_INVALIDARG` (NULL or not a valid remote name),
 `QM_E_ITEM_NOT_FOUND` (index past the end), `QM_BG_E_INVALID_STATE`
 (final), `QM_E_HANDLE`. Any thread.

 # Safety
 `remote_name` NULL or a valid C string.
 */
qm_hresult qm_job_set_file_remote_name(qm_job_t job, uint32_t index, const char *remote_name);

/*
 Replaces `old_prefix` at the start of every file's remote name with
 `new_prefix` (BITS's `IBackgroundCopyJob3::ReplaceRemotePrefix`), e.g.
 to switch to another mirror. The bytes already transferred are kept:
 the next request goes to the new name with `If-Range` of the version
 they came from, so the same file resumes and a changed one restarts. A
 running transfer stops and the job goes back to the queue.
 Returns `QM_S_OK`, `QM_S_FALSE` (no remote name started with
 `old_prefix`), `QM_E_INVALIDARG` (NULL or empty `old_prefix`, NULL
 `new_prefix`, or a resulting name that is not a valid remote name:
 nothing is changed then), `QM_BG_E_INVALID_STATE` (final),
 `QM_E_HANDLE`. Any thread.

 # Safety
 `old_prefix` and `new_prefix` NULL or valid C strings.
 */
qm_hresult qm_job_replace_remote_prefix(qm_job_t job,
                                        const char *old_prefix,
                                        const char *new_prefix);

/*
 Gets the URL file `index`'s last response came from: its remote name,
 unless the server redirected; after a refused redirect, the URL it
 pointed to (string out-parameter convention of `qm_format_hresult`).
 Under every redirect policy this is a report of what the network said,
 kept in memory only: qmgr never fetches from it on a later attempt,
 never sends credentials or custom headers to it because of it, and never
 makes it the remote name (BITS's `ALLOW_REPORT` and `DISALLOW` rewrite
 `GetRemoteName`; qmgr reports here instead). It may name a URL that was
 refused, even a `file://` one. A new remote name resets it.
 Returns `QM_S_OK`, `QM_E_ITEM_NOT_FOUND` (index past the end),
 `QM_E_INSUFFICIENT_BUFFER`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.

 # Safety
 `buf` NULL or valid for `cap` bytes; `needed` NULL or writable.
 */
qm_hresult qm_job_get_file_final_url(qm_job_t job,
                                     uint32_t index,
                                     char *buf,
                                     size_t cap,
                                     size_t *needed);

/*
 Gets the full path of the temporary file that holds file `index`'s
 bytes until `qm_job_complete` (BITS's `IBackgroundCopyFile3::
 GetTemporaryName`; a hidden `.NAME.XXXXXXXXXXXX.qmgr-part` beside the
 destination), string out-parameter convention of `qm_format_hresult`.
 Returns `QM_S_OK`; `QM_S_FALSE` with an empty string before the
 transfer created it and once the file is in place or cancelled;
 `QM_E_ITEM_NOT_FOUND` (index past the end), `QM_E_INSUFFICIENT_BUFFER`,
 `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.

 # Safety
 `buf` NULL or valid for `cap` bytes; `needed` NULL or writable.
 */
qm_hresult qm_job_get_file_temporary_name(qm_job_t job,
                                          uint32_t index,
                                          char *buf,
                                          size_t cap,
                                          size_t *needed);

/*
 Gets the header lines of the last HTTP response for file `index`, one
 `name: value\r\n` each with names in lower case (BITS's
 `BITS_FILE_PROPERTY_ID_HTTP_RESPONSE_HEADERS`), for reading e.g. a
 signature header; kept in memory only. String out-parameter
 convention of `qm_format_hresult`. Returns `QM_S_OK`; `QM_S_FALSE` with
 an empty string before any response (and for local files);
 `QM_E_ITEM_NOT_FOUND`, `QM_E_INSUFFICIENT_BUFFER`, `QM_E_HANDLE`,
 `QM_E_POINTER`. Any thread.

 # Safety
 `buf` NULL or valid for `cap` bytes; `needed` NULL or writable.
 */
qm_hresult qm_job_get_file_response_headers(qm_job_t job,
                                            uint32_t index,
                                            char *buf,
                                            size_t cap,
                                            size_t *needed);

/* ===================================================================== *
 * 5. Transfer options                                                   *
 *                                                                       *
 * Priority, retries, and limits on time, size, speed and connections.   *
 * ===================================================================== */


/*
 Sets the priority, a `QM_PRIORITY_*` value (default NORMAL).
 Returns `QM_S_OK`, `QM_E_INVALIDARG` (unknown value),
 `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
 */
qm_hresult qm_job_set_priority(qm_job_t job, uint32_t priority);

/*
 Gets the priority (`QM_PRIORITY_*`).
 Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.

 # Safety
 `out` NULL or writable.
 */
qm_hresult qm_job_get_priority(qm_job_t job, uint32_t *out);

/*
 Sets the minimum delay before a retry after a transient error, in
 seconds (default 600; values below 1 are stored as 1).
 Returns `QM_S_OK`, `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
 */
qm_hresult qm_job_set_min_retry_delay(qm_job_t job, uint32_t seconds);

/*
 Gets the minimum retry delay in seconds.
 Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.

 # Safety
 `out` NULL or writable.
 */
qm_hresult qm_job_get_min_retry_delay(qm_job_t job, uint32_t *out);

/*
 Sets how long transient errors may go on without any progress before the
 job moves to ERROR, in seconds (default 1,209,600 = 14 days; 0: the
 first error is final).
 Returns `QM_S_OK`, `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
 */
qm_hresult qm_job_set_no_progress_timeout(qm_job_t job, uint32_t seconds);

/*
 Gets the no-progress timeout in seconds.
 Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.

 # Safety
 `out` NULL or writable.
 */
qm_hresult qm_job_get_no_progress_timeout(qm_job_t job, uint32_t *out);

/*
 Sets the longest time, in seconds, the job may spend CONNECTING or
 TRANSFERRING (BITS's `IBackgroundCopyJob4::SetMaximumDownloadTime`;
 default 7,776,000 s, 90 days; 0: no limit). Time QUEUED, SUSPENDED or
 in TRANSIENT_ERROR does not count; `qm_job_resume` starts it again.
 When it runs out the job goes to ERROR with
 `QM_BG_E_MAXDOWNLOAD_TIMEOUT` (context GENERAL_QUEUE_MANAGER); a
 resume gives it the full time again. Returns `QM_S_OK`,
 `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
 */
qm_hresult qm_job_set_max_download_time(qm_job_t job, uint32_t seconds);

/*
 Gets the job's maximum download time, in seconds (0: no limit).
 Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.

 # Safety
 `out` NULL or writable.
 */
qm_hresult qm_job_get_max_download_time(qm_job_t job, uint32_t *out);

/*
 Sets the job's own bandwidth limit in bytes per second (0: none). It
 applies on top of the manager's limit, whatever the priority, and to
 every transport, local copies included.
 Returns `QM_S_OK`, `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
 */
qm_hresult qm_job_set_max_bandwidth(qm_job_t job, uint64_t bytes_per_sec);

/*
 Gets the job's own bandwidth limit (0: none).
 Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.

 # Safety
 `out` NULL or writable.
 */
qm_hresult qm_job_get_max_bandwidth(qm_job_t job, uint64_t *out);

/*
 Sets the largest file the job may download, in bytes (0, the default:
 no limit; BITS's `BITS_JOB_PROPERTY_MAX_DOWNLOAD_SIZE`). A file whose
 announced size is larger, or whose body grows past the limit, puts the
 job in ERROR with `QM_BG_E_MAX_DOWNLOAD_SIZE_LIMIT_REACHED` before any
 byte past the limit is written.
 Returns `QM_S_OK`, `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
 */
qm_hresult qm_job_set_max_download_size(qm_job_t job, uint64_t bytes);

/*
 Gets the job's maximum download size in bytes (0: no limit).
 Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.

 # Safety
 `out` NULL or writable.
 */
qm_hresult qm_job_get_max_download_size(qm_job_t job, uint64_t *out);

/*
 Sets a speed floor, as curl's `--speed-limit`/`--speed-time`: a transfer
 that moves fewer than `bytes_per_sec` on average over `seconds` is given
 up as a transient timeout (`QM_E_WINHTTP_TIMEOUT`, TRANSIENT_ERROR, retried
 after the retry delay). Either argument 0 (the default) turns it off.
 As curl's, it counts the time before the body too: each request must
 connect and get its response head within `seconds`.
 Time spent waiting for the job's or the manager's bandwidth limit does not
 count. Returns `QM_S_OK`, `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`.
 Any thread.
 */
qm_hresult qm_job_set_low_speed_limit(qm_job_t job, uint64_t bytes_per_sec, uint32_t seconds);

/*
 Gets the speed floor: `*bytes_per_sec` and `*seconds` (both 0 when off).
 Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER` (either pointer NULL).
 Any thread.

 # Safety
 `bytes_per_sec` and `seconds` NULL or writable.
 */
qm_hresult qm_job_get_low_speed_limit(qm_job_t job, uint64_t *bytes_per_sec, uint32_t *seconds);

/*
 Sets how many connections the job may use at once (at least 1; default
 6, what browsers open to one host). The job transfers that many of its
 files at once, each on its own connection, reusing kept-alive
 connections per server, so a job of many small files does not pay one
 round trip per file; a remote file of 2 MiB or more whose server
 answers ranges (`Accept-Ranges: bytes`, a strong ETag or Last-Modified)
 is split into segments over idle connections, each a range request
 with `If-Range`, so a per-connection rate cap does not bound it. Files
 may then finish in any order (`QM_NOTIFY_FILE_TRANSFERRED` fires as
 each one lands); `qm_job_complete` still places them all at once. 1
 gives the sequential behaviour of qmgr 0.1. The manager's caps apply on
 top (`qm_manager_set_max_connections`, `_per_server`). Applies from the
 job's next run. Returns `QM_S_OK`, `QM_E_INVALIDARG` (0),
 `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
 */
qm_hresult qm_job_set_max_connections(qm_job_t job, uint32_t n);

/*
 Gets how many connections the job may use at once.
 Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.

 # Safety
 `out` NULL or writable.
 */
qm_hresult qm_job_get_max_connections(qm_job_t job, uint32_t *out);

/*
 Marks the job's content as dynamic (BITS's
 `BITS_JOB_PROPERTY_DYNAMIC_CONTENT`): the server may send other bytes on
 every request and has no stable validator, so each file comes in one
 request without a range, is never split into segments, and starts
 again from zero after any interruption (a cut, a suspend, a restart of
 the process). `enabled` is 1 (on) or 0 (off, the default).
 Returns `QM_S_OK`, `QM_E_INVALIDARG` (`enabled` neither 0 nor 1),
 `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
 */
qm_hresult qm_job_set_dynamic_content(qm_job_t job, uint32_t enabled);

/*
 Gets whether the job's content is dynamic: 1 or 0.
 Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.

 # Safety
 `out` NULL or writable.
 */
qm_hresult qm_job_get_dynamic_content(qm_job_t job, uint32_t *out);

/*
 Sets whether the job yields to other traffic. While on, a background
 job (`QM_PRIORITY_HIGH`, `_NORMAL` or `_LOW`; never `_FOREGROUND`) gives
 way to other traffic on the network, so that it uses only idle
 bandwidth: qmgr watches the queuing delay of its HTTP(S) connections
 (receiver-side LEDBAT, RFC 6817 and RFC 9840: a target of 60 ms for
 HIGH, 15 ms for NORMAL and LOW) and the traffic of other programs on
 the host's network interfaces, and slows the job through its reads and
 its receive window. All background connections of one priority yield
 as one flow. Linux only; elsewhere the option is kept but has no
 effect. Off, the job competes like any download, as FOREGROUND jobs
 always do. The job's and the manager's bandwidth limits apply either
 way. It may be changed at any time, also while the job transfers (it
 applies within 20 ms). `enabled` is 1 (on, the default) or 0
 (off). Returns `QM_S_OK`, `QM_E_INVALIDARG` (`enabled` neither 0 nor
 1), `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
 */
qm_hresult qm_job_set_yielding(qm_job_t job, uint32_t enabled);

/*
 Gets whether the job yields to other traffic: 1 or 0.
 Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.

 # Safety
 `out` NULL or writable.
 */
qm_hresult qm_job_get_yielding(qm_job_t job, uint32_t *out);

/*
 Sets an upload job's protocol; how each maps onto BITS's calls:
 - `QM_UPLOAD_PROTOCOL_TUS` (the default of `QM_JOB_TYPE_UPLOAD` jobs):
   tus 1.0.0 (core, creation, termination, checksum with SHA-256,
   expiration). The file's remote name is the server's creation URL
   (`POST`); the upload URL the server names (`Location`, of the remote
   name's origin only, or the job fails) is kept with the job; each
   piece is a `PATCH` whose confirmed `Upload-Offset` is the job's
   progress (`qm_job_get_progress`); after a cut, a restart or a resume
   qmgr asks the server (`HEAD`) and sends only the rest; `qm_job_cancel`
   ends the upload on the server (`DELETE`, best effort). tus has no
   reply, so it is refused on `QM_JOB_TYPE_UPLOAD_REPLY` jobs.
 - `QM_UPLOAD_PROTOCOL_RUFH` (experimental until it is an RFC; the
   protocol of `QM_JOB_TYPE_UPLOAD_REPLY` jobs): the IETF draft
   draft-ietf-httpbis-resumable-upload-12, `Upload-Draft-Interop-Version:
   8`. The remote name receives the upload (`POST` with
   `Upload-Complete`); the 104 interim response names the upload URL
   (same origin rule); offsets are asked with `HEAD` and appended with
   `PATCH`; the final response's body is BITS's reply
   (`qm_job_get_reply_data`, `qm_job_set_reply_file_name`).

 Another protocol is another upload: the next attempt creates it afresh.
 Returns `QM_S_OK`, `QM_E_INVALIDARG` (an unknown value, or tus on an
 upload-reply job), `QM_E_NOTIMPL` (a download job),
 `QM_BG_E_INVALID_STATE` (the upload is running, or the job is final),
 `QM_E_HANDLE`. Any thread.
 */
qm_hresult qm_job_set_upload_protocol(qm_job_t job, uint32_t protocol);

/*
 Gets an upload job's protocol: a `QM_UPLOAD_PROTOCOL_*` value.
 Returns `QM_S_OK`, `QM_E_NOTIMPL` (a download job), `QM_E_HANDLE`,
 `QM_E_POINTER`. Any thread.

 # Safety
 `out` NULL or writable.
 */
qm_hresult qm_job_get_upload_protocol(qm_job_t job, uint32_t *out);

/*
 Sets where an upload-reply job's reply goes (`SetReplyFileName`): an
 absolute path in an existing directory the job's owner may write, or
 NULL (the default) to keep the reply in memory. A reply over 1 MiB
 (`QM_MAX_REPLY_DATA`) does not fit there: as BITS does with a reply it
 was given no file for, it goes to a file beside the local file
 (`NAME.JOB-ID.reply`), which `qm_job_get_reply_file_name` then names,
 and `qm_job_get_reply_data` answers `QM_BG_E_TOO_LARGE`. The file is
 written (a temporary file beside it, fsynced and renamed) when the
 whole reply has arrived; unlike BITS it is in place before
 `qm_job_complete`.
 Returns `QM_S_OK`, `QM_E_INVALIDARG` (not UTF-8, not an absolute
 path), `QM_E_PATH_NOT_FOUND`, `QM_E_ACCESSDENIED` (its directory),
 `QM_E_NOTIMPL` (not an upload-reply job), `QM_BG_E_INVALID_STATE`
 (final), `QM_E_HANDLE`. Any thread.

 # Safety
 `path` NULL or a NUL-terminated string.
 */
qm_hresult qm_job_set_reply_file_name(qm_job_t job, const char *path);

/*
 Gets an upload-reply job's reply file (`GetReplyFileName`; string
 out-parameter convention of `qm_format_hresult`). Returns `QM_S_OK`,
 `QM_S_FALSE` (none set: the reply is kept in memory; the string is
 empty; a reply over 1 MiB that arrived names the file it went to),
 `QM_E_INSUFFICIENT_BUFFER`, `QM_E_NOTIMPL` (not an upload-reply
 job), `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.

 # Safety
 `buf` NULL or valid for `cap` bytes; `needed` NULL or writable.
 */
qm_hresult qm_job_get_reply_file_name(qm_job_t job, char *buf, size_t cap, size_t *needed);

/*
 Gets the reply's progress (`GetReplyProgress`): its size in bytes
 (`QM_SIZE_UNKNOWN` until it has arrived) and the bytes received.
 Returns `QM_S_OK`, `QM_E_NOTIMPL` (not an upload-reply job),
 `QM_E_HANDLE`, `QM_E_POINTER` (either pointer NULL). Any thread.

 # Safety
 `bytes_total` and `bytes_transferred` NULL or writable.
 */
qm_hresult qm_job_get_reply_progress(qm_job_t job,
                                     uint64_t *bytes_total,
                                     uint64_t *bytes_transferred);

/*
 Copies the server's reply out (`GetReplyData`) once the job is
 TRANSFERRED (or completed), from memory or from the reply file:
 `*needed` gets its length in bytes (no NUL is added); `buf = NULL,
 cap = 0` is a size query. Returns `QM_S_OK`, `QM_E_INSUFFICIENT_BUFFER`,
 `QM_BG_E_TOO_LARGE` (over 1 MiB, `QM_MAX_REPLY_DATA`: as BITS's
 `pSize`, `*needed` gets the reply's length and nothing is copied; read
 the reply file), `QM_BG_E_INVALID_STATE` (the reply has not arrived),
 `QM_E_NOTIMPL` (not an upload-reply job), `QM_E_HANDLE`, `QM_E_POINTER`
 (`needed` NULL, or `buf` NULL with `cap` not 0). Any thread.

 # Safety
 `buf` NULL or valid for `cap` bytes; `needed` NULL or writable.
 */
qm_hresult qm_job_get_reply_data(qm_job_t job, uint8_t *buf, size_t cap, size_t *needed);

/* ===================================================================== *
 * 6. HTTP options                                                       *
 *                                                                       *
 * Request headers, credentials, proxy, TLS trust and client             *
 * certificates, the stall timeout, the redirect policy.                 *
 * ===================================================================== */


/*
 Sets extra request headers, "Name: value" lines separated by CRLF (the
 last CRLF optional), or removes them with `headers = NULL`. Range,
 If-Range, Content-Length, Transfer-Encoding and Connection are managed by
 qmgr and refused. Like the credentials, every one of these headers
 (`Authorization`, `Cookie`, `X-Api-Key`, a `Host` or `User-Agent` of
 yours...) is sent only to the origin (scheme, host, port) of the file's
 remote name, never to another origin a redirect leads to; a
 `Proxy-Authorization` goes only to a plain-HTTP proxy.
 Returns `QM_S_OK`, `QM_E_INVALIDARG` (malformed or
 reserved header, not UTF-8), `QM_BG_E_INVALID_STATE` (final),
 `QM_E_HANDLE`. Any thread.

 # Safety
 `headers` NULL or NUL-terminated.
 */
qm_hresult qm_job_set_custom_headers(qm_job_t job, const char *headers);

/*
 Gets the custom headers as set (string out-parameter convention of
 `qm_format_hresult`). Returns `QM_S_OK`, `QM_S_FALSE` (none set: the
 string is empty), `QM_E_INSUFFICIENT_BUFFER`, `QM_E_HANDLE`,
 `QM_E_POINTER`. Any thread.

 # Safety
 `buf` NULL or valid for `cap` bytes; `needed` NULL or writable.
 */
qm_hresult qm_job_get_custom_headers(qm_job_t job, char *buf, size_t cap, size_t *needed);

/*
 Sets HTTP Basic credentials, or removes them with `user = NULL`
 (`password = NULL` is an empty password). They are kept in memory, and
 with a state directory in its private (0600) database.
 Returns `QM_S_OK`, `QM_BG_E_USERNAME_TOO_LARGE` (over 300 characters),
 `QM_BG_E_PASSWORD_TOO_LARGE` (over 65,536), `QM_E_INVALIDARG` (':' in the
 user name, control characters, not UTF-8), `QM_BG_E_INVALID_STATE`
 (final), `QM_E_HANDLE`. Any thread.

 # Safety
 Both strings NULL or NUL-terminated.
 */
qm_hresult qm_job_set_credentials(qm_job_t job, const char *user, const char *password);

/*
 Sets the proxy: NULL takes it from the environment (`http_proxy`,
 `https_proxy`, `no_proxy`; the default) as the last `qm_job_resume` or
 `qm_manager_open` read it (see `qm_job_resume`), "" connects directly, otherwise
 a URL with scheme http, https, socks4, socks4a, socks5 or socks5h.
 An https:// proxy is the network's, not the server's: its certificate is
 checked against the system's trust store (never the job's CA file) and
 it is never offered the job's client certificate.
 A proxy that refuses the credentials (an HTTP 401 or 407, a SOCKS login
 or identd failure) fails the job with `QM_HTTP_ERROR(407)` (ERROR), one
 whose rules refuse the connection with `QM_HTTP_ERROR(403)` (or the
 other 4xx it answered to `CONNECT`), a SOCKS proxy that lacks the
 command or address type with `QM_BG_E_INVALID_PROXY_INFO`; one that is
 busy or cannot reach the server is retried (TRANSIENT_ERROR).
 Returns `QM_S_OK`, `QM_BG_E_INVALID_PROXY_INFO` (malformed URL),
 `QM_E_INVALIDARG` (not UTF-8), `QM_BG_E_INVALID_STATE` (final),
 `QM_E_HANDLE`. Any thread.

 # Safety
 `proxy_url` NULL or NUL-terminated.
 */
qm_hresult qm_job_set_proxy(qm_job_t job, const char *proxy_url);

/*
 Gets the proxy as `qm_job_set_proxy` set it (string out-parameter
 convention of `qm_format_hresult`): the URL, exactly as given (with any
 user name and password in it: the caller set them); "" with `QM_S_OK`
 for a direct connection; "" with `QM_S_FALSE` when the proxy comes from
 the environment (the default).
 Returns `QM_S_OK`, `QM_S_FALSE`, `QM_E_INSUFFICIENT_BUFFER`,
 `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.

 # Safety
 `buf` NULL or valid for `cap` bytes; `needed` NULL or writable.
 */
qm_hresult qm_job_get_proxy(qm_job_t job, char *buf, size_t cap, size_t *needed);

/*
 Trusts the CA certificates in this PEM file instead of the system's
 roots for this job's HTTPS transfers; NULL returns to the system's roots.
 A server must chain to one of its certificates, or present one of them
 itself: a certificate in the file is trusted as itself (pinning; e.g. a
 self-signed one made with `openssl req -x509`, or a leaf without its
 CA), still only for the host names it carries and within its dates.
 Not used for an https:// proxy (see `qm_job_set_proxy`).
 Returns `QM_S_OK`, `QM_E_INVALIDARG` (relative path, not a regular file,
 no PEM certificate in it, not UTF-8), the Win32 error of an unreadable file (e.g.
 `QM_E_FILE_NOT_FOUND`), `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`.
 Any thread.

 # Safety
 `pem_path` NULL or NUL-terminated.
 */
qm_hresult qm_job_set_ca_file(qm_job_t job, const char *pem_path);

/*
 Gets the path of the CA file `qm_job_set_ca_file` set (string
 out-parameter convention of `qm_format_hresult`), or "" with
 `QM_S_FALSE` when the job uses the system's roots.
 Returns `QM_S_OK`, `QM_S_FALSE`, `QM_E_INSUFFICIENT_BUFFER`,
 `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.

 # Safety
 `buf` NULL or valid for `cap` bytes; `needed` NULL or writable.
 */
qm_hresult qm_job_get_ca_file(qm_job_t job, char *buf, size_t cap, size_t *needed);

/*
 Presents this client certificate and private key (PEM files) for mutual
 TLS; both NULL removes them. Returns `QM_S_OK`, `QM_E_INVALIDARG` (only
 one given, relative path, not a regular file, no PEM certificate or no
 usable private key in it, not UTF-8), the Win32
 error of an unreadable file, `QM_BG_E_INVALID_STATE` (final),
 `QM_E_HANDLE`. Any thread.

 # Safety
 Both strings NULL or NUL-terminated.
 */
qm_hresult qm_job_set_client_certificate(qm_job_t job, const char *cert_pem, const char *key_pem);

/*
 Gets the paths of the client certificate and key files
 `qm_job_set_client_certificate` set: the certificate's into `cert`, the
 key's into `key`, each by the string convention of `qm_format_hresult`.
 Only the paths: qmgr reads the files when it connects and never hands
 out what they hold. Both are "" with `QM_S_FALSE` when none is set.
 With either buffer too small nothing is copied, both `needed` are set
 and `QM_E_INSUFFICIENT_BUFFER` is returned.
 Returns `QM_S_OK`, `QM_S_FALSE`, `QM_E_INSUFFICIENT_BUFFER`,
 `QM_E_HANDLE`, `QM_E_POINTER` (a `needed` NULL, or a buffer NULL with
 its cap above 0; nothing is written). Any thread.

 # Safety
 Each buffer NULL or valid for its `cap` bytes; each `needed` NULL or writable.
 */
qm_hresult qm_job_get_client_certificate(qm_job_t job,
                                         char *cert,
                                         size_t cert_cap,
                                         size_t *cert_needed,
                                         char *key,
                                         size_t key_cap,
                                         size_t *key_needed);

/*
 Sets how long a connection may deliver nothing (no single read or write
 completes) before qmgr gives it up and retries the transfer, in seconds
 (default 60; values below 1 are stored as 1). It is a stall timer,
 re-armed by every read, not a limit on the whole download; but a
 response head must arrive whole within it, and opening a connection
 (name lookup, TCP, proxy and TLS handshakes) within 30 s, however
 steadily the bytes drip (`QM_E_WINHTTP_TIMEOUT`, TRANSIENT_ERROR).
 Returns `QM_S_OK`, `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.
 */
qm_hresult qm_job_set_stall_timeout(qm_job_t job, uint32_t seconds);

/*
 Gets the stall timeout in seconds.
 Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.

 # Safety
 `out` NULL or writable.
 */
qm_hresult qm_job_get_stall_timeout(qm_job_t job, uint32_t *out);

/*
 Sets the job's HTTP security flags (`IBackgroundCopyJobHttpOptions::
 SetSecurityFlags`): one redirect policy, `QM_HTTP_REDIRECT_POLICY_ALLOW_SILENT`
 (0, the default: redirects are followed), `_ALLOW_REPORT` (followed, and
 reported by `qm_job_get_file_final_url`) or `_DISALLOW` (a redirect
 puts the job in ERROR with `QM_E_WINHTTP_REDIRECT_FAILED`;
 `qm_job_get_file_final_url` names where it pointed), optionally with
 `QM_HTTP_REDIRECT_POLICY_ALLOW_HTTPS_TO_HTTP`. Without that flag no
 request of a file whose remote name is `https://` goes over plain HTTP:
 such a redirect (or any from HTTPS to HTTP) is refused with
 `QM_E_WINHTTP_REDIRECT_FAILED`.
 The rule under every policy: a redirect is a report, never a new
 remote name. Every attempt (and every `qm_job_resume`) starts at the
 remote name the caller gave; credentials and custom headers go only to
 that name's origin (scheme, host, port); a redirect never leads out of
 `http(s)://` (a `Location: file:///...` is refused). Unlike BITS,
 `_ALLOW_REPORT` and `_DISALLOW` do not rewrite the remote name (which
 would make the next resume fetch from, and trust, a server's choice);
 read the report from `qm_job_get_file_final_url`.
 Returns `QM_S_OK`, `QM_E_NOTIMPL` (a `QM_SSL_*` flag: qmgr always
 verifies certificates; trust a private CA with `qm_job_set_ca_file`),
 `QM_E_INVALIDARG` (unknown bits, or two policies), `QM_BG_E_INVALID_STATE`
 (final), `QM_E_HANDLE`. Any thread.
 */
qm_hresult qm_job_set_security_flags(qm_job_t job, uint32_t flags);

/*
 Gets the job's HTTP security flags.
 Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.

 # Safety
 `out` NULL or writable.
 */
qm_hresult qm_job_get_security_flags(qm_job_t job, uint32_t *out);

/* ===================================================================== *
 * 7. Notifications                                                      *
 *                                                                       *
 * Callbacks, the program run when a job ends, and how often progress is *
 * reported.                                                             *
 * ===================================================================== */


/*
 Sets the notification callback and the `QM_NOTIFY_*` flags (default
 JOB_TRANSFERRED | JOB_ERROR; DISABLE silences all). `function = NULL` removes
 the callback (the flags are stored all the same).

 The callback runs on a library thread (one per manager, events of a job
 in order), never while the library holds a lock, and may call any
 `qm_*` function except `qm_job_wait` on its own job. Its `job` argument
 is the handle used here. Events: JOB_TRANSFERRED, JOB_ERROR (with the
 code), FILE_TRANSFERRED (with the file index), JOB_MODIFICATION (state,
 files, properties, and progress at most 4 times a second). It must
 return normally: a C++ exception or a `longjmp` out of it aborts the
 process. While it runs, later events wait in the manager's queue, which
 has no bound (see "Events" at the top).

 `context` must stay valid until the callback is replaced or removed, this
 handle is closed, the job becomes final, or its manager is closed: when
 any of those calls returns, the old callback is not running and will not
 run again (unless it is the caller). One exception: called from inside a
 callback for a job of another manager, replacing, removing or closing
 does not wait for that job's running callback (two managers' callbacks
 that each closed the other's job would wait for each other forever), so
 do not free its `context` there. Callbacks are per process: they are
 not persisted.
 Returns `QM_S_OK`, `QM_E_INVALIDARG` (unknown flag bits),
 `QM_BG_E_INVALID_STATE` (a final job: a callback cannot be set on it, as
 in BITS; removing one with the flags it has succeeds), `QM_E_HANDLE`. Any
 thread.
 */
qm_hresult qm_job_set_notify(qm_job_t job, qm_notify_fn function, void *context, uint32_t flags);

/*
 Gets the notification flags.
 Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.

 # Safety
 `out` NULL or writable.
 */
qm_hresult qm_job_get_notify_flags(qm_job_t job, uint32_t *out);

/*
 Sets the least time between two progress notifications of the job
 (`QM_NOTIFY_JOB_MODIFICATION` while it transfers), in milliseconds
 (BITS's `BITS_JOB_PROPERTY_MINIMUM_NOTIFICATION_INTERVAL_MS`; default
 500). Progress is measured every 250 ms, so smaller values give that
 pace; state changes and other modifications are always notified; 0
 sends every measurement. Returns `QM_S_OK`, `QM_BG_E_INVALID_STATE`
 (final), `QM_E_HANDLE`. Any thread.
 */
qm_hresult qm_job_set_min_notification_interval(qm_job_t job, uint32_t ms);

/*
 Gets the least time between two progress notifications, in milliseconds.
 Returns `QM_S_OK`, `QM_E_HANDLE`, `QM_E_POINTER`. Any thread.

 # Safety
 `out` NULL or writable.
 */
qm_hresult qm_job_get_min_notification_interval(qm_job_t job, uint32_t *out);

/*
 Sets the program to run when the job is transferred or fails (BITS's
 `IBackgroundCopyJob2::SetNotifyCmdLine`): `program` is an absolute path
 (no search path is used), `parameters` its command line, first the
 program's name (its `argv[0]`), then the arguments, separated by spaces
 (`"..."` keeps spaces in a word, `\"` is a quote; no shell expands
 anything); NULL `parameters` runs the program alone. Both NULL remove
 it. The program runs for the JOB_TRANSFERRED and JOB_ERROR events the
 notify flags ask for, only when no callback is registered (BITS's
 rule), as a child of the process that runs the job, with that process's
 environment as the last `qm_job_resume` or `qm_manager_open` read it
 (see `qm_job_resume`) plus `QMGR_JOB_ID` and `QMGR_JOB_STATE`; an exit status other
 than 0 runs it again after the retry delay while the job stays in that
 state (a status lost because the process ignores SIGCHLD is not a
 failure). Set on a job already TRANSFERRED or in ERROR, it runs at once.
 It is kept in the state directory. Returns `QM_S_OK`, `QM_E_INVALIDARG`
 (NULL `program` with non-NULL `parameters`, a relative path, non-UTF-8),
 `QM_BG_E_STRING_TOO_LONG` (`program` over 260 or `parameters` over 4,000
 characters), `QM_BG_E_INVALID_STATE` (final), `QM_E_HANDLE`. Any thread.

 # Safety
 `program` and `parameters` NULL or valid C strings.
 */
qm_hresult qm_job_set_notify_cmdline(qm_job_t job, const char *program, const char *parameters);

/*
 Gets the notify command line (BITS's `GetNotifyCmdLine`): the program
 into `program` and its parameters into `parameters`, each by the string
 convention of `qm_format_hresult`; both are "" when none is set (and
 `parameters` is "" when the program runs alone). With either buffer too
 small nothing is copied, both `needed` are set and
 `QM_E_INSUFFICIENT_BUFFER` is returned. Returns `QM_S_OK`,
 `QM_E_INSUFFICIENT_BUFFER`, `QM_E_HANDLE`, `QM_E_POINTER` (a `needed`
 NULL, or a buffer NULL with its cap above 0; nothing is written). Any
 thread.

 # Safety
 Each buffer NULL or valid for its `cap` bytes; each `needed` NULL or writable.
 */
qm_hresult qm_job_get_notify_cmdline(qm_job_t job,
                                     char *program,
                                     size_t program_cap,
                                     size_t *program_needed,
                                     char *parameters,
                                     size_t parameters_cap,
                                     size_t *parameters_needed);

#ifdef __cplusplus
}  /* extern "C" */
#endif /* __cplusplus */

/* ===================================================================== *
 * 8. Constants                                                          *
 *                                                                       *
 * Flags, states and special values (BITS's numbers where BITS has       *
 * them). Their values never change.                                     *
 * ===================================================================== */

/*
 `qm_job_get_progress`: whole percent of the job's bytes transferred.
 */
#define QM_PROGRESS_PERCENT_DONE 1

/*
 `qm_job_get_progress`: not supported (`QM_E_NOTIMPL`); see `qm_job_get_progress_ex`.
 */
#define QM_PROGRESS_TIME_DONE 2

/*
 `qm_job_get_progress`: bytes transferred over all files.
 */
#define QM_PROGRESS_SIZE_DONE 3

/*
 BITS's `QM_STATUS_FILE_COMPLETE`, kept for its number (qmgr reports job status only).
 */
#define QM_STATUS_FILE_COMPLETE 1

/*
 BITS's `QM_STATUS_FILE_INCOMPLETE` (qmgr reports jobs only).
 */
#define QM_STATUS_FILE_INCOMPLETE 2

/*
 Every file of the job is transferred.
 */
#define QM_STATUS_JOB_COMPLETE 4

/*
 Some file of the job is not transferred yet.
 */
#define QM_STATUS_JOB_INCOMPLETE 8

/*
 The job is in ERROR or TRANSIENT_ERROR.
 */
#define QM_STATUS_JOB_ERROR 16

/*
 The job's priority is FOREGROUND.
 */
#define QM_STATUS_JOB_FOREGROUND 32

/*
 BITS's group status bits, kept for their numbers (qmgr has no groups).
 */
#define QM_STATUS_GROUP_COMPLETE 64

/*
 See `QM_STATUS_GROUP_COMPLETE`.
 */
#define QM_STATUS_GROUP_INCOMPLETE 128

/*
 See `QM_STATUS_GROUP_COMPLETE`.
 */
#define QM_STATUS_GROUP_SUSPENDED 256

/*
 See `QM_STATUS_GROUP_COMPLETE`.
 */
#define QM_STATUS_GROUP_ERROR 512

/*
 See `QM_STATUS_GROUP_COMPLETE`.
 */
#define QM_STATUS_GROUP_FOREGROUND 1024

/*
 Waiting for a transfer slot.
 */
#define QM_JOB_STATE_QUEUED 0

/*
 Opening its connection.
 */
#define QM_JOB_STATE_CONNECTING 1

/*
 Moving bytes.
 */
#define QM_JOB_STATE_TRANSFERRING 2

/*
 Suspended (new jobs start here); `qm_job_resume` queues it.
 */
#define QM_JOB_STATE_SUSPENDED 3

/*
 A fatal error: `qm_job_get_error` says which; a resume retries.
 */
#define QM_JOB_STATE_ERROR 4

/*
 A transient error: retried after the retry delay.
 */
#define QM_JOB_STATE_TRANSIENT_ERROR 5

/*
 Every file transferred: `qm_job_complete` puts them in place.
 */
#define QM_JOB_STATE_TRANSFERRED 6

/*
 Completed (final).
 */
#define QM_JOB_STATE_ACKNOWLEDGED 7

/*
 Cancelled (final).
 */
#define QM_JOB_STATE_CANCELLED 8

/*
 A download job (`BG_JOB_TYPE_DOWNLOAD`): what `qm_job_create` makes.
 */
#define QM_JOB_TYPE_DOWNLOAD 0

/*
 An upload job (`BG_JOB_TYPE_UPLOAD`): one local file to a remote name.
 */
#define QM_JOB_TYPE_UPLOAD 1

/*
 An upload job whose server replies (`BG_JOB_TYPE_UPLOAD_REPLY`).
 */
#define QM_JOB_TYPE_UPLOAD_REPLY 2

/*
 tus 1.0.0, the default upload protocol (see `qm_job_set_upload_protocol`).
 */
#define QM_UPLOAD_PROTOCOL_TUS 0

/*
 The IETF resumable-upload draft (-12, interop 8), experimental.
 */
#define QM_UPLOAD_PROTOCOL_RUFH 1

/*
 The longest reply kept in memory (`qm_job_get_reply_data`): BITS's 1 MB.
 */
#define QM_MAX_REPLY_DATA 1048576

/*
 Runs first, preempts background jobs, ignores the manager's bandwidth limit.
 */
#define QM_PRIORITY_FOREGROUND 0

/*
 The highest background priority.
 */
#define QM_PRIORITY_HIGH 1

/*
 The default priority.
 */
#define QM_PRIORITY_NORMAL 2

/*
 The lowest priority.
 */
#define QM_PRIORITY_LOW 3

/*
 Event and flag: every file of the job is transferred.
 */
#define QM_NOTIFY_JOB_TRANSFERRED 1

/*
 Event and flag: the job went to ERROR (the callback gets the code).
 */
#define QM_NOTIFY_JOB_ERROR 2

/*
 Flag: no events at all.
 */
#define QM_NOTIFY_DISABLE 4

/*
 Event and flag: state, files, properties or progress changed.
 */
#define QM_NOTIFY_JOB_MODIFICATION 8

/*
 Event and flag: one file is transferred (the callback gets its index).
 */
#define QM_NOTIFY_FILE_TRANSFERRED 16

/*
 `qm_manager_enum_jobs_ex`: every user's jobs, not only the caller's
 (BITS's `BG_JOB_ENUM_ALL_USERS`; administrators of a daemon only).
 */
#define QM_ENUM_ALL_USERS 1

/*
 No error.
 */
#define QM_ERROR_CONTEXT_NONE 0

/*
 Where the error happened is not known.
 */
#define QM_ERROR_CONTEXT_UNKNOWN 1

/*
 In the queue manager (e.g. the maximum download time ran out).
 */
#define QM_ERROR_CONTEXT_GENERAL_QUEUE_MANAGER 2

/*
 While notifying (the notify program).
 */
#define QM_ERROR_CONTEXT_QUEUE_MANAGER_NOTIFICATION 3

/*
 With the local file (its directory, the disk).
 */
#define QM_ERROR_CONTEXT_LOCAL_FILE 4

/*
 With the remote file (the server's answer).
 */
#define QM_ERROR_CONTEXT_REMOTE_FILE 5

/*
 In the transport (the network, TLS, a proxy).
 */
#define QM_ERROR_CONTEXT_GENERAL_TRANSPORT 6

/*
 In the server application.
 */
#define QM_ERROR_CONTEXT_REMOTE_APPLICATION 7

/*
 `qm_job_set_security_flags`: check revocation (`BG_SSL_ENABLE_CRL_CHECK`; refused, `QM_E_NOTIMPL`).
 */
#define QM_SSL_ENABLE_CRL_CHECK 1

/*
 `BG_SSL_IGNORE_CERT_CN_INVALID` (refused, `QM_E_NOTIMPL`).
 */
#define QM_SSL_IGNORE_CERT_CN_INVALID 2

/*
 `BG_SSL_IGNORE_CERT_DATE_INVALID` (refused, `QM_E_NOTIMPL`).
 */
#define QM_SSL_IGNORE_CERT_DATE_INVALID 4

/*
 `BG_SSL_IGNORE_UNKNOWN_CA` (refused, `QM_E_NOTIMPL`; use `qm_job_set_ca_file`).
 */
#define QM_SSL_IGNORE_UNKNOWN_CA 8

/*
 `BG_SSL_IGNORE_CERT_WRONG_USAGE` (refused, `QM_E_NOTIMPL`).
 */
#define QM_SSL_IGNORE_CERT_WRONG_USAGE 16

/*
 The bits of the redirect policy in the security flags.
 */
#define QM_HTTP_REDIRECT_POLICY_MASK 1792

/*
 Redirects are followed (the default).
 */
#define QM_HTTP_REDIRECT_POLICY_ALLOW_SILENT 0

/*
 Redirects are followed and reported by `qm_job_get_file_final_url` (the remote name stays the caller's, unlike BITS).
 */
#define QM_HTTP_REDIRECT_POLICY_ALLOW_REPORT 256

/*
 A redirect is fatal (`QM_E_WINHTTP_REDIRECT_FAILED`); `qm_job_get_file_final_url` names where it pointed, the remote name stays the caller's.
 */
#define QM_HTTP_REDIRECT_POLICY_DISALLOW 512

/*
 A file whose remote name is `https://` may be redirected to plain HTTP, without credentials or custom headers (refused without it).
 */
#define QM_HTTP_REDIRECT_POLICY_ALLOW_HTTPS_TO_HTTP 2048

/*
 A size (or ETA) that is not known yet.
 */
#define QM_SIZE_UNKNOWN UINT64_MAX

/*
 The `length` of a `qm_file_range` that runs to the end of the remote
 file (BITS's `BG_LENGTH_TO_EOF`, `(UINT64)-1`).
 */
#define QM_LENGTH_TO_EOF UINT64_MAX

/*
 `qm_file_delta_status.way`: the file has no seeds, a plain download.
 */
#define QM_DELTA_WAY_NONE 0

/*
 Not decided yet: the control file has not been read.
 */
#define QM_DELTA_WAY_PENDING 1

/*
 Blocks came from the seeds; the rest was fetched as ranges.
 */
#define QM_DELTA_WAY_DELTA 2

/*
 A full download after all; `qm_job_get_file_delta_reason` says why.
 */
#define QM_DELTA_WAY_FULL 3

/*
 `qm_job_wait` timeout that never expires.
 */
#define QM_WAIT_INFINITE UINT32_MAX

/*
 The `file_index` of errors and events that concern the whole job.
 */
#define QM_FILE_INDEX_NONE UINT32_MAX

#endif /* QMGR_H */
