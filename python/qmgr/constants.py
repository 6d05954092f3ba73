"""Every ``QM_*`` constant of ``include/qmgr.h``, with the header's values.

Result codes (HRESULTs) are given as the header writes them, as unsigned
32-bit numbers: ``QM_BG_E_EMPTY == 0x80200003``. The C type ``qm_hresult``
is signed, so C sees the same bits as a negative number; every code this
package hands out (``QmgrError.code``, ``JobError.code``, the return value of
``Job.complete()``...) is normalised to the unsigned form, so it compares
equal to these constants. ``succeeded()`` / ``failed()`` accept either form.

The enumerations (``JobState``, ``Priority``, ``Notify``, ``ErrorContext``,
``Status``) are ``IntEnum`` / ``IntFlag`` views of the same numbers.
"""

from __future__ import annotations

import enum
from typing import Dict

# --- version of the header this package was written against -----------------

QM_VERSION_MAJOR = 0
QM_VERSION_MINOR = 3
QM_VERSION_PATCH = 0
QM_VERSION_STRING = "0.3.0"
QM_ABI_VERSION = 1  #: the ABI major number (the SONAME's number)

# --- result codes -------------------------------------------------------------

QM_S_OK = 0x00000000  #: the operation succeeded
QM_S_FALSE = 0x00000001  #: the operation succeeded with nothing to report
QM_E_NOTIMPL = 0x80004001  #: not implemented
QM_E_POINTER = 0x80004003  #: a required pointer argument is NULL
QM_E_ABORT = 0x80004004  #: the operation was aborted
QM_E_FAIL = 0x80004005  #: unspecified failure
QM_E_UNEXPECTED = 0x8000FFFF  #: unexpected internal failure
QM_E_ACCESSDENIED = 0x80070005  #: access is denied
QM_E_HANDLE = 0x80070006  #: the handle is invalid, closed or stale
QM_E_OUTOFMEMORY = 0x8007000E  #: not enough memory
QM_E_INVALIDARG = 0x80070057  #: an argument is invalid
QM_E_INSUFFICIENT_BUFFER = 0x8007007A  #: the buffer is too small
QM_E_SHARING_VIOLATION = 0x80070020  #: the state directory is in use by another manager
QM_E_FILE_NOT_FOUND = 0x80070002  #: the file was not found
QM_E_PATH_NOT_FOUND = 0x80070003  #: the directory was not found
QM_E_DISK_FULL = 0x80070070  #: the disk is full
QM_E_WINHTTP_TIMEOUT = 0x80072EE2  #: the network operation timed out
QM_E_WINHTTP_NAME_NOT_RESOLVED = 0x80072EE7  #: the server name could not be resolved
QM_E_WINHTTP_CANNOT_CONNECT = 0x80072EFD  #: the server could not be reached
QM_E_WINHTTP_CONNECTION_ERROR = 0x80072EFE  #: the connection with the server was reset or closed
QM_E_WINHTTP_SECURE_FAILURE = 0x80072F8F  #: the server's TLS certificate or handshake failed verification
QM_E_WINHTTP_REDIRECT_FAILED = 0x80072F7C  #: the server's redirect was refused (redirect policy, HTTPS to HTTP, or not HTTP)
QM_E_INVALID_STATE = 0x81001001  #: the requested action is not allowed in the current state
QM_E_SERVICE_UNAVAILABLE = 0x81001002  #: the service is not available
QM_E_DOWNLOADER_UNAVAILABLE = 0x81001003  #: the downloader is not available
QM_E_ITEM_NOT_FOUND = 0x81001004  #: the item was not found (index out of range)
QM_BG_E_NOT_FOUND = 0x80200001  #: the requested job was not found
QM_BG_E_INVALID_STATE = 0x80200002  #: the requested action is not allowed in the job's current state
QM_BG_E_EMPTY = 0x80200003  #: the job has no files to transfer
QM_BG_E_FILE_NOT_AVAILABLE = 0x80200004  #: the remote file is not available
QM_BG_E_PROTOCOL_NOT_AVAILABLE = 0x80200005  #: the protocol of the URL is not supported
QM_BG_E_ERROR_INFORMATION_UNAVAILABLE = 0x8020000F  #: the job has no error information
QM_BG_E_NETWORK_DISCONNECTED = 0x80200010  #: the network is disconnected
QM_BG_E_MISSING_FILE_SIZE = 0x80200011  #: the server did not return the file size
QM_BG_E_INSUFFICIENT_HTTP_SUPPORT = 0x80200012  #: the server does not support the required HTTP features
QM_BG_E_INSUFFICIENT_RANGE_SUPPORT = 0x80200013  #: the server does not support range requests
QM_BG_S_PARTIAL_COMPLETE = 0x00200017  #: some files of the job were not transferred and were discarded
QM_BG_S_UNABLE_TO_DELETE_FILES = 0x0020001A  #: some temporary files could not be deleted
QM_BG_E_INVALID_SERVER_RESPONSE = 0x8020001B  #: the server's response was not valid
QM_BG_E_TOO_MANY_FILES = 0x8020001C  #: too many files
QM_BG_E_LOCAL_FILE_CHANGED = 0x8020001D  #: a local file changed while the job used it
QM_BG_E_TOO_LARGE = 0x80200020  #: the file is too large
QM_BG_E_STRING_TOO_LONG = 0x80200021  #: the string is too long
QM_BG_E_NO_PROGRESS = 0x80200024  #: the job made no progress within its no-progress timeout
QM_BG_E_USERNAME_TOO_LARGE = 0x80200025  #: the user name is too long
QM_BG_E_PASSWORD_TOO_LARGE = 0x80200026  #: the password is too long
QM_BG_E_INVALID_RANGE = 0x8020002B  #: the requested range is not valid
QM_BG_E_OVERLAPPING_RANGES = 0x8020002C  #: the list of byte ranges has overlapping or duplicate ranges
QM_BG_E_TIMEOUT = 0x8020003B  #: the operation timed out
QM_BG_E_INVALID_PROXY_INFO = 0x8020003F  #: the proxy settings are not valid
QM_BG_E_TOO_MANY_JOBS_PER_USER = 0x80200049  #: the user holds the maximum number of jobs
QM_BG_E_TOO_MANY_FILES_IN_JOB = 0x80200051  #: the job holds the maximum number of files
QM_BG_E_TOO_MANY_RANGES_IN_FILE = 0x80200052  #: the file has more ranges than the per-file limit
QM_BG_E_VALIDATION_FAILED = 0x80200053  #: the downloaded content failed validation (SHA-256 mismatch)
QM_BG_E_MAXDOWNLOAD_TIMEOUT = 0x80200054  #: the job's maximum download time passed
QM_BG_E_MAX_DOWNLOAD_SIZE_LIMIT_REACHED = 0x80200064  #: a file is larger than the job's maximum download size

#: Every result code above, by value -> name.
CODE_NAMES: Dict[int, str] = {
    QM_S_OK: "QM_S_OK",
    QM_S_FALSE: "QM_S_FALSE",
    QM_E_NOTIMPL: "QM_E_NOTIMPL",
    QM_E_POINTER: "QM_E_POINTER",
    QM_E_ABORT: "QM_E_ABORT",
    QM_E_FAIL: "QM_E_FAIL",
    QM_E_UNEXPECTED: "QM_E_UNEXPECTED",
    QM_E_ACCESSDENIED: "QM_E_ACCESSDENIED",
    QM_E_HANDLE: "QM_E_HANDLE",
    QM_E_OUTOFMEMORY: "QM_E_OUTOFMEMORY",
    QM_E_INVALIDARG: "QM_E_INVALIDARG",
    QM_E_INSUFFICIENT_BUFFER: "QM_E_INSUFFICIENT_BUFFER",
    QM_E_SHARING_VIOLATION: "QM_E_SHARING_VIOLATION",
    QM_E_FILE_NOT_FOUND: "QM_E_FILE_NOT_FOUND",
    QM_E_PATH_NOT_FOUND: "QM_E_PATH_NOT_FOUND",
    QM_E_DISK_FULL: "QM_E_DISK_FULL",
    QM_E_WINHTTP_TIMEOUT: "QM_E_WINHTTP_TIMEOUT",
    QM_E_WINHTTP_NAME_NOT_RESOLVED: "QM_E_WINHTTP_NAME_NOT_RESOLVED",
    QM_E_WINHTTP_CANNOT_CONNECT: "QM_E_WINHTTP_CANNOT_CONNECT",
    QM_E_WINHTTP_CONNECTION_ERROR: "QM_E_WINHTTP_CONNECTION_ERROR",
    QM_E_WINHTTP_SECURE_FAILURE: "QM_E_WINHTTP_SECURE_FAILURE",
    QM_E_WINHTTP_REDIRECT_FAILED: "QM_E_WINHTTP_REDIRECT_FAILED",
    QM_E_INVALID_STATE: "QM_E_INVALID_STATE",
    QM_E_SERVICE_UNAVAILABLE: "QM_E_SERVICE_UNAVAILABLE",
    QM_E_DOWNLOADER_UNAVAILABLE: "QM_E_DOWNLOADER_UNAVAILABLE",
    QM_E_ITEM_NOT_FOUND: "QM_E_ITEM_NOT_FOUND",
    QM_BG_E_NOT_FOUND: "QM_BG_E_NOT_FOUND",
    QM_BG_E_INVALID_STATE: "QM_BG_E_INVALID_STATE",
    QM_BG_E_EMPTY: "QM_BG_E_EMPTY",
    QM_BG_E_FILE_NOT_AVAILABLE: "QM_BG_E_FILE_NOT_AVAILABLE",
    QM_BG_E_PROTOCOL_NOT_AVAILABLE: "QM_BG_E_PROTOCOL_NOT_AVAILABLE",
    QM_BG_E_ERROR_INFORMATION_UNAVAILABLE: "QM_BG_E_ERROR_INFORMATION_UNAVAILABLE",
    QM_BG_E_NETWORK_DISCONNECTED: "QM_BG_E_NETWORK_DISCONNECTED",
    QM_BG_E_MISSING_FILE_SIZE: "QM_BG_E_MISSING_FILE_SIZE",
    QM_BG_E_INSUFFICIENT_HTTP_SUPPORT: "QM_BG_E_INSUFFICIENT_HTTP_SUPPORT",
    QM_BG_E_INSUFFICIENT_RANGE_SUPPORT: "QM_BG_E_INSUFFICIENT_RANGE_SUPPORT",
    QM_BG_S_PARTIAL_COMPLETE: "QM_BG_S_PARTIAL_COMPLETE",
    QM_BG_S_UNABLE_TO_DELETE_FILES: "QM_BG_S_UNABLE_TO_DELETE_FILES",
    QM_BG_E_INVALID_SERVER_RESPONSE: "QM_BG_E_INVALID_SERVER_RESPONSE",
    QM_BG_E_TOO_MANY_FILES: "QM_BG_E_TOO_MANY_FILES",
    QM_BG_E_LOCAL_FILE_CHANGED: "QM_BG_E_LOCAL_FILE_CHANGED",
    QM_BG_E_TOO_LARGE: "QM_BG_E_TOO_LARGE",
    QM_BG_E_STRING_TOO_LONG: "QM_BG_E_STRING_TOO_LONG",
    QM_BG_E_NO_PROGRESS: "QM_BG_E_NO_PROGRESS",
    QM_BG_E_USERNAME_TOO_LARGE: "QM_BG_E_USERNAME_TOO_LARGE",
    QM_BG_E_PASSWORD_TOO_LARGE: "QM_BG_E_PASSWORD_TOO_LARGE",
    QM_BG_E_INVALID_RANGE: "QM_BG_E_INVALID_RANGE",
    QM_BG_E_OVERLAPPING_RANGES: "QM_BG_E_OVERLAPPING_RANGES",
    QM_BG_E_TIMEOUT: "QM_BG_E_TIMEOUT",
    QM_BG_E_INVALID_PROXY_INFO: "QM_BG_E_INVALID_PROXY_INFO",
    QM_BG_E_TOO_MANY_JOBS_PER_USER: "QM_BG_E_TOO_MANY_JOBS_PER_USER",
    QM_BG_E_TOO_MANY_FILES_IN_JOB: "QM_BG_E_TOO_MANY_FILES_IN_JOB",
    QM_BG_E_TOO_MANY_RANGES_IN_FILE: "QM_BG_E_TOO_MANY_RANGES_IN_FILE",
    QM_BG_E_VALIDATION_FAILED: "QM_BG_E_VALIDATION_FAILED",
    QM_BG_E_MAXDOWNLOAD_TIMEOUT: "QM_BG_E_MAXDOWNLOAD_TIMEOUT",
    QM_BG_E_MAX_DOWNLOAD_SIZE_LIMIT_REACHED: "QM_BG_E_MAX_DOWNLOAD_SIZE_LIMIT_REACHED",
}

# --- qm_job_get_progress flags -------------------------------------------

QM_PROGRESS_PERCENT_DONE = 1  #: whole percent of the job's bytes transferred
QM_PROGRESS_TIME_DONE = 2  #: not supported (QM_E_NOTIMPL); see Job.progress
QM_PROGRESS_SIZE_DONE = 3  #: bytes transferred over all files

# --- qm_job_get_status flags -----------------------------------------------------

QM_STATUS_FILE_COMPLETE = 1
QM_STATUS_FILE_INCOMPLETE = 2
QM_STATUS_JOB_COMPLETE = 4  #: every file of the job is transferred
QM_STATUS_JOB_INCOMPLETE = 8  #: some file of the job is not transferred yet
QM_STATUS_JOB_ERROR = 16  #: the job is in ERROR or TRANSIENT_ERROR
QM_STATUS_JOB_FOREGROUND = 32  #: the job's priority is FOREGROUND
QM_STATUS_GROUP_COMPLETE = 64
QM_STATUS_GROUP_INCOMPLETE = 128
QM_STATUS_GROUP_SUSPENDED = 256
QM_STATUS_GROUP_ERROR = 512
QM_STATUS_GROUP_FOREGROUND = 1024

# --- job states ------------------------------------------------------------------

QM_JOB_STATE_QUEUED = 0
QM_JOB_STATE_CONNECTING = 1
QM_JOB_STATE_TRANSFERRING = 2
QM_JOB_STATE_SUSPENDED = 3
QM_JOB_STATE_ERROR = 4
QM_JOB_STATE_TRANSIENT_ERROR = 5
QM_JOB_STATE_TRANSFERRED = 6
QM_JOB_STATE_ACKNOWLEDGED = 7
QM_JOB_STATE_CANCELLED = 8

# --- job types and upload protocols ----------------------------------------------

QM_JOB_TYPE_DOWNLOAD = 0  #: BG_JOB_TYPE_DOWNLOAD (what create_job makes)
QM_JOB_TYPE_UPLOAD = 1  #: BG_JOB_TYPE_UPLOAD: one local file to a URL
QM_JOB_TYPE_UPLOAD_REPLY = 2  #: BG_JOB_TYPE_UPLOAD_REPLY: an upload whose server replies
QM_UPLOAD_PROTOCOL_TUS = 0  #: tus 1.0.0, the default
QM_UPLOAD_PROTOCOL_RUFH = 1  #: the IETF resumable-upload draft (-12, interop 8), experimental
QM_MAX_REPLY_DATA = 1048576  #: the longest reply kept in memory (BITS's GetReplyData: 1 MB)

# --- priorities ------------------------------------------------------------------

QM_PRIORITY_FOREGROUND = 0
QM_PRIORITY_HIGH = 1
QM_PRIORITY_NORMAL = 2
QM_PRIORITY_LOW = 3

# --- notifications ---------------------------------------------------------------

QM_NOTIFY_JOB_TRANSFERRED = 1
QM_NOTIFY_JOB_ERROR = 2
QM_NOTIFY_DISABLE = 4
QM_NOTIFY_JOB_MODIFICATION = 8
QM_NOTIFY_FILE_TRANSFERRED = 16

# --- qm_manager_enum_jobs_ex ------------------------------------------------------

QM_ENUM_ALL_USERS = 0x0001  #: every user's jobs (BG_JOB_ENUM_ALL_USERS; a daemon's administrators only)

# --- error contexts --------------------------------------------------------------

QM_ERROR_CONTEXT_NONE = 0
QM_ERROR_CONTEXT_UNKNOWN = 1
QM_ERROR_CONTEXT_GENERAL_QUEUE_MANAGER = 2
QM_ERROR_CONTEXT_QUEUE_MANAGER_NOTIFICATION = 3
QM_ERROR_CONTEXT_LOCAL_FILE = 4
QM_ERROR_CONTEXT_REMOTE_FILE = 5
QM_ERROR_CONTEXT_GENERAL_TRANSPORT = 6
QM_ERROR_CONTEXT_REMOTE_APPLICATION = 7

# --- qm_job_set_security_flags ----------------------------------------------------

QM_SSL_ENABLE_CRL_CHECK = 0x0001  #: refused (QM_E_NOTIMPL)
QM_SSL_IGNORE_CERT_CN_INVALID = 0x0002  #: refused (QM_E_NOTIMPL)
QM_SSL_IGNORE_CERT_DATE_INVALID = 0x0004  #: refused (QM_E_NOTIMPL)
QM_SSL_IGNORE_UNKNOWN_CA = 0x0008  #: refused (QM_E_NOTIMPL); use Job.ca_file
QM_SSL_IGNORE_CERT_WRONG_USAGE = 0x0010  #: refused (QM_E_NOTIMPL)
QM_HTTP_REDIRECT_POLICY_MASK = 0x0700  #: the bits of the redirect policy
QM_HTTP_REDIRECT_POLICY_ALLOW_SILENT = 0x0000  #: redirects are followed (the default)
QM_HTTP_REDIRECT_POLICY_ALLOW_REPORT = 0x0100  #: followed; reported by the final URL (the remote name stays)
QM_HTTP_REDIRECT_POLICY_DISALLOW = 0x0200  #: a redirect is fatal (reported by the final URL)
QM_HTTP_REDIRECT_POLICY_ALLOW_HTTPS_TO_HTTP = 0x0800  #: HTTPS may be redirected to plain HTTP

# --- special values --------------------------------------------------------------

QM_SIZE_UNKNOWN = 0xFFFFFFFFFFFFFFFF  #: a size (or ETA) that is not known yet (UINT64_MAX)
QM_LENGTH_TO_EOF = 0xFFFFFFFFFFFFFFFF  #: a qm_file_range length that runs to the end of the file (BG_LENGTH_TO_EOF)
QM_DELTA_WAY_NONE = 0  #: qm_file_delta_status.way: no seeds, a plain download
QM_DELTA_WAY_PENDING = 1  #: the control file has not been read yet
QM_DELTA_WAY_DELTA = 2  #: blocks came from the seeds, the rest as ranges
QM_DELTA_WAY_FULL = 3  #: a full download after all (qm_job_get_file_delta_reason says why)
QM_WAIT_INFINITE = 0xFFFFFFFF  #: qm_job_wait timeout that never expires (UINT32_MAX)
QM_FILE_INDEX_NONE = 0xFFFFFFFF  #: file_index of errors and events of the whole job (UINT32_MAX)


# --- the header's function-like macros -------------------------------------------


def QM_SUCCEEDED(hr: int) -> bool:
    """True for success codes (``S_OK``, ``S_FALSE``, ``QM_BG_S_*``), signed or unsigned."""
    return (int(hr) & 0x80000000) == 0


def QM_FAILED(hr: int) -> bool:
    """True for failure codes, signed or unsigned."""
    return not QM_SUCCEEDED(hr)


def QM_HTTP_ERROR(n: int) -> int:
    """The code for HTTP status ``n``: ``0x80190000 | n`` (404 -> ``0x80190194``)."""
    return 0x80190000 | (int(n) & 0xFFFF)


def QM_HRESULT_FROM_WIN32(x: int) -> int:
    """``HRESULT_FROM_WIN32(x)`` as winerror.h defines it (unsigned form)."""
    x = int(x) & 0xFFFFFFFF
    signed = x - (1 << 32) if x & 0x80000000 else x
    if signed <= 0:
        return x
    return (x & 0x0000FFFF) | (7 << 16) | 0x80000000


# --- enumerations ------------------------------------------------------------------


class JobState(enum.IntEnum):
    """A job's state (``QM_JOB_STATE_*``, the BG_JOB_STATE order)."""

    QUEUED = QM_JOB_STATE_QUEUED
    CONNECTING = QM_JOB_STATE_CONNECTING
    TRANSFERRING = QM_JOB_STATE_TRANSFERRING
    SUSPENDED = QM_JOB_STATE_SUSPENDED
    ERROR = QM_JOB_STATE_ERROR
    TRANSIENT_ERROR = QM_JOB_STATE_TRANSIENT_ERROR
    TRANSFERRED = QM_JOB_STATE_TRANSFERRED
    ACKNOWLEDGED = QM_JOB_STATE_ACKNOWLEDGED
    CANCELLED = QM_JOB_STATE_CANCELLED

    @property
    def is_final(self) -> bool:
        """ACKNOWLEDGED or CANCELLED: the job can no longer change."""
        return self in (JobState.ACKNOWLEDGED, JobState.CANCELLED)

    @property
    def is_active(self) -> bool:
        """QUEUED, CONNECTING, TRANSFERRING or TRANSIENT_ERROR."""
        return self in (
            JobState.QUEUED,
            JobState.CONNECTING,
            JobState.TRANSFERRING,
            JobState.TRANSIENT_ERROR,
        )


class JobType(enum.IntEnum):
    """A job's type (``QM_JOB_TYPE_*``, BITS's BG_JOB_TYPE)."""

    DOWNLOAD = QM_JOB_TYPE_DOWNLOAD
    UPLOAD = QM_JOB_TYPE_UPLOAD
    UPLOAD_REPLY = QM_JOB_TYPE_UPLOAD_REPLY


class UploadProtocol(enum.IntEnum):
    """An upload job's protocol (``QM_UPLOAD_PROTOCOL_*``)."""

    TUS = QM_UPLOAD_PROTOCOL_TUS
    RUFH = QM_UPLOAD_PROTOCOL_RUFH


class Priority(enum.IntEnum):
    """A job's priority (``QM_PRIORITY_*``); lower numbers run first."""

    FOREGROUND = QM_PRIORITY_FOREGROUND
    HIGH = QM_PRIORITY_HIGH
    NORMAL = QM_PRIORITY_NORMAL
    LOW = QM_PRIORITY_LOW


class Notify(enum.IntFlag):
    """Notification flags and events (``QM_NOTIFY_*``)."""

    JOB_TRANSFERRED = QM_NOTIFY_JOB_TRANSFERRED
    JOB_ERROR = QM_NOTIFY_JOB_ERROR
    DISABLE = QM_NOTIFY_DISABLE
    JOB_MODIFICATION = QM_NOTIFY_JOB_MODIFICATION
    FILE_TRANSFERRED = QM_NOTIFY_FILE_TRANSFERRED


class ErrorContext(enum.IntEnum):
    """Where an error happened (``QM_ERROR_CONTEXT_*``)."""

    NONE = QM_ERROR_CONTEXT_NONE
    UNKNOWN = QM_ERROR_CONTEXT_UNKNOWN
    GENERAL_QUEUE_MANAGER = QM_ERROR_CONTEXT_GENERAL_QUEUE_MANAGER
    QUEUE_MANAGER_NOTIFICATION = QM_ERROR_CONTEXT_QUEUE_MANAGER_NOTIFICATION
    LOCAL_FILE = QM_ERROR_CONTEXT_LOCAL_FILE
    REMOTE_FILE = QM_ERROR_CONTEXT_REMOTE_FILE
    GENERAL_TRANSPORT = QM_ERROR_CONTEXT_GENERAL_TRANSPORT
    REMOTE_APPLICATION = QM_ERROR_CONTEXT_REMOTE_APPLICATION


class Status(enum.IntFlag):
    """The flags of ``qm_job_get_status`` (``QM_STATUS_*``)."""

    FILE_COMPLETE = QM_STATUS_FILE_COMPLETE
    FILE_INCOMPLETE = QM_STATUS_FILE_INCOMPLETE
    JOB_COMPLETE = QM_STATUS_JOB_COMPLETE
    JOB_INCOMPLETE = QM_STATUS_JOB_INCOMPLETE
    JOB_ERROR = QM_STATUS_JOB_ERROR
    JOB_FOREGROUND = QM_STATUS_JOB_FOREGROUND
    GROUP_COMPLETE = QM_STATUS_GROUP_COMPLETE
    GROUP_INCOMPLETE = QM_STATUS_GROUP_INCOMPLETE
    GROUP_SUSPENDED = QM_STATUS_GROUP_SUSPENDED
    GROUP_ERROR = QM_STATUS_GROUP_ERROR
    GROUP_FOREGROUND = QM_STATUS_GROUP_FOREGROUND
