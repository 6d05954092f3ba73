"""``Manager`` and ``Job``: the Pythonic face of ``qm_manager_t`` / ``qm_job_t``."""

from __future__ import annotations

import atexit
import ctypes
import datetime as _dt
import math
import operator
import os
import threading
import uuid
import weakref
from ctypes import byref, c_char_p, c_size_t, c_uint32, c_uint64
from dataclasses import dataclass
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
    Union,
)

from . import constants as C
from ._lib import (
    has,
    lib,
    qm_file_delta_status,
    qm_file_progress,
    qm_file_range,
    qm_file_set_info,
    qm_guid,
    qm_job_error,
    qm_job_progress,
    qm_job_t,
    qm_job_times,
    qm_notify_fn,
    sized,
)
from .constants import ErrorContext, JobState, JobType, Notify, Priority, Status, UploadProtocol
from .errors import (
    HRESULT,
    FeatureNotImplemented,
    InvalidArgument,
    check,
    error_from_code,
    hresult_name,
)

__all__ = [
    "Manager",
    "Job",
    "FileSpec",
    "Progress",
    "FileProgress",
    "FileInfo",
    "DeltaStatus",
    "JobError",
    "JobTimes",
    "JobStatus",
    "NotifyCallback",
    "version",
    "abi_version",
]

StrPath = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

#: ``callback(job, event, file_index, code)``: ``event`` is a ``Notify``
#: member, ``file_index`` an ``int`` or None (the whole job), ``code`` an
#: ``HRESULT`` (the error for ``Notify.JOB_ERROR``, else 0).
NotifyCallback = Callable[["Job", Notify, Optional[int], HRESULT], Any]


def version() -> str:
    """The loaded library's version (``qm_version()``), e.g. ``"0.3.0"``."""
    raw: bytes = lib.qm_version()
    return raw.decode("ascii", "replace")


def abi_version() -> int:
    """The loaded library's ABI major number (``qm_abi_version()``)."""
    return int(lib.qm_abi_version())


# --- argument helpers ----------------------------------------------------------


def _invalid(what: str, why: str) -> InvalidArgument:
    return InvalidArgument(
        C.QM_E_INVALIDARG,
        message=f"{what}: QM_E_INVALIDARG (0x{C.QM_E_INVALIDARG:08X}): {why}",
    )


def _cstr(value: Optional[StrPath], what: str, allow_none: bool = False) -> Optional[bytes]:
    """Encodes a string or path argument as NUL-terminated UTF-8 (None stays
    None where the C function documents NULL as meaning something)."""
    if value is None:
        if allow_none:
            return None
        raise TypeError(f"{what}: expected a str, bytes or path, not None")
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, str):
        try:
            data = value.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError as e:
            raise _invalid(what, f"not encodable as UTF-8 ({e.reason})") from None
    elif isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
    else:
        raise TypeError(f"{what}: expected a str, bytes or path, not {type(value).__name__}")
    if b"\0" in data:
        raise _invalid(what, "the string contains a NUL character")
    return data


def _uint(value: Any, bits: int, what: str) -> int:
    """An unsigned integer argument of ``bits`` bits (checked: ctypes would
    silently wrap)."""
    try:
        n = operator.index(value)
    except TypeError:
        raise TypeError(f"{what}: expected an int, not {type(value).__name__}") from None
    if n < 0 or n >= (1 << bits):
        raise _invalid(what, f"{n} is out of range (0 to {(1 << bits) - 1})")
    return n


def _uint32_property(name: str, doc: str, optional: bool = False) -> Any:
    """A ``Job`` property backed by ``qm_job_get_<name>`` / ``qm_job_set_<name>``
    (a ``uint32_t``); ``optional`` functions may be missing from an older
    library (``FeatureNotImplemented`` then)."""
    what = f"Job.{name}"

    def get(self: "Job") -> int:
        if optional:
            _require(f"qm_job_get_{name}", what)
        out = c_uint32(0)
        check(getattr(lib, f"qm_job_get_{name}")(self._handle, byref(out)), what)
        return int(out.value)

    def set_(self: "Job", value: int) -> None:
        if optional:
            _require(f"qm_job_set_{name}", what)
        check(getattr(lib, f"qm_job_set_{name}")(self._handle, _uint(value, 32, what)), what)

    return property(get, set_, doc=doc)


def _read_string(fn: Any, args: Tuple[Any, ...], what: str, allow: Tuple[int, ...] = ()) -> Tuple[HRESULT, Optional[str]]:
    """Calls a ``(…, char *buf, size_t cap, size_t *needed)`` getter, growing
    the buffer as needed. Returns ``(code, text)``; ``text`` is None when the
    code is one of ``allow`` (expected non-success outcomes)."""
    needed = c_size_t(0)
    size = 256
    for _ in range(16):
        buf = ctypes.create_string_buffer(size)
        hr = HRESULT(fn(*args, buf, size, byref(needed)))
        if hr == C.QM_E_INSUFFICIENT_BUFFER:
            size = max(int(needed.value), size * 2)
            continue
        if hr in allow:
            return hr, None
        check(hr, what)
        return hr, buf.value.decode("utf-8", "replace")
    raise error_from_code(C.QM_E_INSUFFICIENT_BUFFER, what)


def _require(function: str, what: str) -> None:
    """Raises ``FeatureNotImplemented`` if the loaded library lacks an
    optional function."""
    if not has(function):
        raise FeatureNotImplemented(
            C.QM_E_NOTIMPL,
            message=f"{what}: QM_E_NOTIMPL (0x{C.QM_E_NOTIMPL:08X}): this libqmgr has no {function}()",
        )


def _unknown_to_none(value: int) -> Optional[int]:
    return None if value == C.QM_SIZE_UNKNOWN else int(value)


def _ms_to_datetime(ms: int) -> Optional[_dt.datetime]:
    if ms == 0:
        return None
    return _dt.datetime.fromtimestamp(ms / 1000.0, tz=_dt.timezone.utc)


def _to_state(value: int) -> JobState:
    try:
        return JobState(value)
    except ValueError:  # a state newer than this package
        return value  # type: ignore[return-value]


def _to_guid(job_id: Union[uuid.UUID, str, bytes]) -> qm_guid:
    if isinstance(job_id, uuid.UUID):
        u = job_id
    elif isinstance(job_id, str):
        try:
            u = uuid.UUID(job_id)
        except ValueError:
            raise _invalid("job id", f"{job_id!r} is not a GUID") from None
    elif isinstance(job_id, (bytes, bytearray)) and len(job_id) == 16:
        u = uuid.UUID(bytes=bytes(job_id))
    else:
        raise TypeError(f"job id: expected a uuid.UUID or str, not {type(job_id).__name__}")
    return qm_guid.from_buffer_copy(u.bytes)


# --- records ----------------------------------------------------------------------


_C = TypeVar("_C", bound="_Closable")


class _Closable:
    """Context-manager protocol shared by ``Manager`` and ``Job``: ``with``
    closes on exit, and garbage collection closes what was left open."""

    _closed: bool

    def close(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if not self._closed:
                self.close()
        except Exception:
            pass


class FileSpec(NamedTuple):
    """One file to add: ``(remote, local[, size_hint])``."""

    remote: StrPath
    local: StrPath
    size_hint: int = 0


@dataclass(frozen=True)
class Progress:
    """A snapshot of a job's progress (``qm_job_get_progress_ex``)."""

    #: Sum of the file sizes; None until every size is known.
    bytes_total: Optional[int]
    #: Bytes transferred over all files.
    bytes_transferred: int
    #: Number of files.
    files_total: int
    #: Number of files completely transferred.
    files_transferred: int
    #: Smoothed rate in bytes per second; 0 when not transferring.
    bytes_per_second: int
    #: Estimated seconds to go; None when unknown.
    eta_seconds: Optional[int]

    @property
    def percent(self) -> int:
        """Whole percent of the bytes transferred, computed from this very
        snapshot as ``QM_PROGRESS_PERCENT_DONE`` defines it:
        ``floor(100 * transferred / total)``, 0 while the total is unknown
        or zero, 100 only when every byte is transferred."""
        if not self.bytes_total:
            return 0
        return min(100, (100 * self.bytes_transferred) // self.bytes_total)

    @property
    def done(self) -> bool:
        """Every file is transferred."""
        return self.files_transferred == self.files_total


@dataclass(frozen=True)
class FileProgress:
    """Progress of one file (``qm_file_progress``)."""

    #: Size in bytes; None until known.
    bytes_total: Optional[int]
    bytes_transferred: int
    #: The whole file is transferred (and verified when a SHA-256 is set).
    completed: bool


@dataclass(frozen=True)
class DeltaStatus:
    """How a file's delta download went (``qm_file_delta_status``)."""

    #: "none" (no seeds), "pending", "delta" or "full".
    way: str
    #: Bytes copied from the seeds (the rest came from the server).
    bytes_from_seeds: int
    #: Why it became a full download ("" otherwise).
    reason: str


@dataclass(frozen=True)
class FileInfo:
    """One file of a job."""

    index: int
    remote: str
    local: str
    #: The size hint it was added with (0: none).
    size_hint: int
    progress: FileProgress


@dataclass(frozen=True)
class JobError:
    """A job's last error (``qm_job_get_error`` + ``qm_job_get_error_description``)."""

    #: The HRESULT (unsigned form, e.g. ``0x80200005``).
    code: HRESULT
    #: Its name, e.g. ``"QM_BG_E_PROTOCOL_NOT_AVAILABLE"``.
    name: str
    #: Where it happened.
    context: ErrorContext
    #: The file concerned; None for the whole job.
    file_index: Optional[int]
    #: The HTTP status involved; None if none.
    http_status: Optional[int]
    #: What happened, in words, with the path or URL.
    description: str

    def __str__(self) -> str:
        return self.description


@dataclass(frozen=True)
class JobTimes:
    """A job's times (UTC datetimes; None for "not yet")."""

    created: Optional[_dt.datetime]
    modified: Optional[_dt.datetime]
    transfer_completed: Optional[_dt.datetime]


class JobStatus(NamedTuple):
    """``qm_job_get_status`` (``GetStatus``)."""

    #: ``Status`` flags: JOB_COMPLETE or JOB_INCOMPLETE, JOB_ERROR, JOB_FOREGROUND.
    flags: Status
    #: The Win32 code inside the last error (0 if none or not Win32).
    win32_result: int
    #: The last HTTP status (0 if none).
    transport_result: int
    #: Retries after transient errors.
    num_retries: int


# --- Manager ----------------------------------------------------------------------

_open_managers: "weakref.WeakSet[Manager]" = weakref.WeakSet()
# RLock: a garbage collection inside the locked section may finalise a
# Manager, whose close() takes this lock again on the same thread.
_open_managers_lock = threading.RLock()


class Manager(_Closable):
    """A manager: a set of jobs and the threads that transfer them.

    ``Manager()`` is in memory (nothing outlives the process);
    ``Manager(state_dir)`` keeps its jobs in a directory (not implemented by
    this release of the library: ``FeatureNotImplemented``);
    ``Manager.connect()`` is a daemon's (``qmgrd``), whose jobs every process
    of the user shares and which outlive this one.

    Use it as a context manager, or call ``close()``; closing stops the
    transfers, closes every ``Job`` of this manager and is harmless twice.
    """

    def __init__(self, state_dir: Optional[StrPath] = None) -> None:
        self._prepare(None if state_dir is None else os.fsdecode(state_dir), None)
        out = c_uint64(0)
        check(lib.qm_manager_open(_cstr(state_dir, "Manager(state_dir)", True), byref(out)), "Manager()")
        self._opened(int(out.value))

    @classmethod
    def connect(cls, address: Optional[str] = None) -> "Manager":
        """Connects to a qmgr daemon (``qm_manager_connect``): every call of
        the manager and its jobs is carried out by the daemon, with the same
        results and exceptions as in-process. ``address`` is a Varlink
        address, ``"unix:/path/to/socket"`` (or an absolute path); None
        connects to the caller's default daemon: ``$QMGR_ADDRESS``, else
        ``$XDG_RUNTIME_DIR/qmgr/io.qmgr`` if it exists, else
        ``/run/qmgr/io.qmgr``. ``ServiceUnavailable`` when no daemon
        listens there. Closing the manager disconnects; the daemon's jobs
        go on."""
        self = cls.__new__(cls)
        self._prepare(None, address)
        out = c_uint64(0)
        check(lib.qm_manager_connect(_cstr(address, "Manager.connect(address)", True), byref(out)), "Manager.connect()")
        self.connected = True
        self._opened(int(out.value))
        return self

    def _prepare(self, state_dir: Optional[str], address: Optional[str]) -> None:
        self._handle = 0
        self._closed = True
        self._lock = threading.Lock()
        self._jobs: "weakref.WeakSet[Job]" = weakref.WeakSet()
        #: The state directory given, or None.
        self.state_dir: Optional[str] = state_dir
        #: The daemon's address given to ``connect``, or None.
        self.address: Optional[str] = address
        #: True for a manager made by ``connect`` (a daemon's).
        self.connected: bool = False

    def _opened(self, handle: int) -> None:
        self._handle = handle
        self._closed = False
        with _open_managers_lock:
            _open_managers.add(self)

    # -- lifetime

    @property
    def handle(self) -> int:
        """The ``qm_manager_t`` value."""
        return self._handle

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called."""
        return self._closed

    def close(self) -> None:
        """Stops the transfers (partial data is kept), closes every job
        handle of this manager and waits for its threads. Calling it again
        does nothing. After it returns no notify callback of its jobs runs."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            jobs = list(self._jobs)
        hr = HRESULT(lib.qm_manager_close(self._handle))
        if hr.failed and hr != C.QM_E_HANDLE:
            with self._lock:
                self._closed = False
            check(hr, "Manager.close()")
        for job in jobs:
            job._manager_closed()
        with _open_managers_lock:
            _open_managers.discard(self)

    @property
    def max_connections(self) -> int:
        """The cap on the connections of all the manager's jobs (default 24)."""
        out = c_uint32(0)
        check(lib.qm_manager_get_max_connections(self._handle, byref(out)), "Manager.max_connections")
        return int(out.value)

    @max_connections.setter
    def max_connections(self, n: int) -> None:
        check(lib.qm_manager_set_max_connections(self._handle, _uint(n, 32, "Manager.max_connections")), "Manager.max_connections")

    @property
    def max_connections_per_server(self) -> int:
        """The cap on one job's connections to one server (default 6)."""
        out = c_uint32(0)
        check(
            lib.qm_manager_get_max_connections_per_server(self._handle, byref(out)), "Manager.max_connections_per_server"
        )
        return int(out.value)

    @max_connections_per_server.setter
    def max_connections_per_server(self, n: int) -> None:
        check(
            lib.qm_manager_set_max_connections_per_server(self._handle, _uint(n, 32, "Manager.max_connections_per_server")),
            "Manager.max_connections_per_server",
        )

    @property
    def skipped_jobs(self) -> List[str]:
        """The jobs of the state directory that could not be read when it was
        opened, a sentence each; their rows stay in the directory untouched."""
        _, text = _read_string(lib.qm_manager_get_skipped_jobs, (self._handle,), "Manager.skipped_jobs")
        return [line for line in (text or "").split("\n") if line]

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        where = f" state_dir={self.state_dir!r}" if self.state_dir else ""
        if self.connected:
            where = f" address={self.address!r}" if self.address else " connected"
        return f"<qmgr.Manager handle={self._handle}{where} {state}>"

    def _adopt(self, handle: int) -> "Job":
        job = Job._from_handle(self, handle)
        with self._lock:
            self._jobs.add(job)
        return job

    # -- jobs

    def create_job(self, name: str, job_type: JobType = JobType.DOWNLOAD) -> "Job":
        """Creates a job (SUSPENDED, priority NORMAL, no files) named
        ``name`` (at most 256 characters) and returns a reference to it.
        ``job_type`` is BITS's: ``JobType.UPLOAD`` and ``UPLOAD_REPLY``
        jobs hold one file, sent from its local name to its remote name
        (``add_file(url, local_path)``)."""
        out = qm_job_t(0)
        cname = _cstr(name, "Manager.create_job(name)")
        if JobType(job_type) == JobType.DOWNLOAD:
            hr = lib.qm_job_create(self._handle, cname, byref(out))
        else:
            hr = lib.qm_job_create_ex(self._handle, cname, int(job_type), byref(out))
        check(hr, "Manager.create_job()")
        return self._adopt(int(out.value))

    def jobs(self, all_users: bool = False) -> List["Job"]:
        """The jobs that are not final, newest first, each as a new
        reference (close them, or let them be garbage-collected). With
        ``all_users``, every user's (``QM_ENUM_ALL_USERS``: a daemon's
        administrators only, ``AccessDenied`` for others)."""
        flags = C.QM_ENUM_ALL_USERS if all_users else 0
        count = c_size_t(0)
        check(lib.qm_manager_enum_jobs_ex(self._handle, flags, None, 0, byref(count)), "Manager.jobs()")
        for _ in range(16):
            cap = int(count.value) + 4
            arr = (qm_job_t * cap)()
            hr = HRESULT(lib.qm_manager_enum_jobs_ex(self._handle, flags, arr, cap, byref(count)))
            if hr == C.QM_E_INSUFFICIENT_BUFFER:
                continue
            check(hr, "Manager.jobs()")
            return [self._adopt(int(arr[i])) for i in range(int(count.value))]
        raise error_from_code(C.QM_E_INSUFFICIENT_BUFFER, "Manager.jobs()")

    def get_job(self, job_id: Union[uuid.UUID, str]) -> "Job":
        """A new reference to the job with this id (a ``uuid.UUID`` or its
        string); ``NotFound`` if there is none or it is final."""
        guid = _to_guid(job_id)
        out = qm_job_t(0)
        check(lib.qm_manager_get_job(self._handle, byref(guid), byref(out)), "Manager.get_job()")
        return self._adopt(int(out.value))

    # -- settings

    @property
    def max_active_jobs(self) -> int:
        """How many jobs transfer at once (default 4, at least 1)."""
        out = c_uint32(0)
        check(lib.qm_manager_get_max_active_jobs(self._handle, byref(out)), "Manager.max_active_jobs")
        return int(out.value)

    @max_active_jobs.setter
    def max_active_jobs(self, n: int) -> None:
        check(
            lib.qm_manager_set_max_active_jobs(self._handle, _uint(n, 32, "Manager.max_active_jobs")),
            "Manager.max_active_jobs",
        )

    @property
    def max_bandwidth(self) -> int:
        """Cap on the sum of all background transfers, bytes per second
        (0: unlimited; setting None means 0). A job's own
        ``Job.max_bandwidth`` applies on top."""
        out = c_uint64(0)
        check(lib.qm_manager_get_max_bandwidth(self._handle, byref(out)), "Manager.max_bandwidth")
        return int(out.value)

    @max_bandwidth.setter
    def max_bandwidth(self, bytes_per_sec: Optional[int]) -> None:
        value = 0 if bytes_per_sec is None else _uint(bytes_per_sec, 64, "Manager.max_bandwidth")
        check(lib.qm_manager_set_max_bandwidth(self._handle, value), "Manager.max_bandwidth")


@atexit.register
def _close_all_managers() -> None:
    # Stop every transfer thread while the interpreter is still whole, so no
    # notify callback tries to enter Python during finalisation.
    with _open_managers_lock:
        managers = list(_open_managers)
    for m in managers:
        try:
            m.close()
        except Exception:
            pass


# --- Job --------------------------------------------------------------------------


#: A NULL ``qm_notify_fn`` (ctypes refuses None for a function-pointer argument).
_NULL_NOTIFY = qm_notify_fn()


# ctypes callback thunks must outlive every call the library may still make
# into them. The library promises that once qm_job_set_notify / qm_job_close /
# qm_manager_close returns, an old callback is not running and will not run
# again -- unless the caller is that very callback. So a thunk released from
# inside a callback (on the library's notify thread) is parked here and
# dropped only when that thread next enters a callback, or when some other
# thread releases thunks while it is outside any callback.
_cb_lock = threading.RLock()  # re-entered if a collection runs finalisers inside it
_cb_depth: Dict[int, int] = {}
_cb_deferred: Dict[int, List[Any]] = {}


def _release_thunks(thunks: List[Any]) -> None:
    """Lets go of ctypes thunks the library no longer calls. Must not be
    called with a lock held: dropping them may run arbitrary finalisers."""
    tid = threading.get_ident()
    dropped: List[Any] = []
    with _cb_lock:
        if _cb_depth.get(tid):
            if thunks:
                _cb_deferred.setdefault(tid, []).extend(thunks)
            return
        for t in list(_cb_deferred):
            if not _cb_depth.get(t):
                dropped.append(_cb_deferred.pop(t, None))
    del dropped  # outside the lock


def _trampoline(job_ref: "weakref.ReferenceType[Job]", callback: NotifyCallback) -> Any:
    def call(handle: int, event: int, file_index: int, code: int, _context: Any) -> None:
        tid = threading.get_ident()
        with _cb_lock:
            depth = _cb_depth.get(tid, 0)
            _cb_depth[tid] = depth + 1
            parked = _cb_deferred.pop(tid, None) if depth == 0 else None
        try:
            # Thunks parked by this thread's previous callback: it has
            # returned, so they are no longer executing.
            del parked
            job = job_ref()
            if job is None:
                return
            try:
                ev: Any = Notify(event)
            except ValueError:
                ev = event
            index = None if file_index == C.QM_FILE_INDEX_NONE else int(file_index)
            # An exception here is reported by ctypes through sys.unraisablehook.
            callback(job, ev, index, HRESULT(code))
        finally:
            with _cb_lock:
                if depth:
                    _cb_depth[tid] = depth
                else:
                    del _cb_depth[tid]

    return qm_notify_fn(call)


class Job(_Closable):
    """A reference to a job (``qm_job_t``).

    Get one from ``Manager.create_job()``, ``Manager.jobs()`` or
    ``Manager.get_job()``. The job itself lives in its manager until it is
    completed or cancelled; ``close()`` (or leaving a ``with`` block, or
    garbage collection) only releases this reference. Closing twice is
    harmless; any other use after close raises ``InvalidHandle``.

    Every method may be called from any thread. Failures raise
    ``QmgrError`` subclasses.
    """

    _handle: int
    _manager: Manager
    _closed: bool
    _lock: threading.Lock
    # ctypes callback objects that may be registered with the library;
    # they must stay alive until the library can no longer call them.
    _notify_keep: List[Any]
    _notify_callback: Optional[NotifyCallback]
    _notify_inflight: int
    _notify_overlap: bool

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("Job objects come from Manager.create_job(), jobs() or get_job()")

    @classmethod
    def _from_handle(cls, manager: Manager, handle: int) -> "Job":
        self = object.__new__(cls)
        self._manager = manager
        self._handle = handle
        self._closed = False
        self._lock = threading.Lock()
        self._notify_keep = []
        self._notify_callback = None
        self._notify_inflight = 0
        self._notify_overlap = False
        return self

    # -- lifetime

    @property
    def handle(self) -> int:
        """The ``qm_job_t`` value."""
        return self._handle

    @property
    def manager(self) -> Manager:
        """The manager this reference came from."""
        return self._manager

    @property
    def closed(self) -> bool:
        """True once this reference is closed (by ``close()`` or its manager's)."""
        return self._closed

    def close(self) -> None:
        """Releases this reference; the job goes on. A notify callback set
        through it is removed (and no longer running when this returns).
        Calling it again does nothing."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        hr = HRESULT(lib.qm_job_close(self._handle))
        if hr.failed and hr != C.QM_E_HANDLE:  # QM_E_HANDLE: its manager closed it
            with self._lock:
                self._closed = False  # still open: the callback may still run
            check(hr, "Job.close()")
        self._manager_closed()

    def _manager_closed(self) -> None:
        """The handle is closed: the library no longer calls our callbacks."""
        with self._lock:
            self._closed = True
            released, self._notify_keep = self._notify_keep, []
            self._notify_callback = None
        _release_thunks(released)

    def __repr__(self) -> str:
        if self._closed:
            return f"<qmgr.Job handle={self._handle} closed>"
        try:
            return f"<qmgr.Job {self.id} {self.display_name!r} {self.state.name}>"
        except Exception:
            return f"<qmgr.Job handle={self._handle}>"

    # -- identity

    @property
    def id(self) -> uuid.UUID:
        """The job's GUID."""
        g = qm_guid()
        check(lib.qm_job_get_id(self._handle, byref(g)), "Job.id")
        return uuid.UUID(bytes=bytes(g.bytes))

    # -- files

    def add_file(self, remote: StrPath, local: StrPath) -> None:
        """Adds one file: ``remote`` is an ``http://``, ``https://`` or
        ``file://`` URL or an absolute path, ``local`` an absolute path whose
        directory exists when the file transfers."""
        check(
            lib.qm_job_add_file(
                self._handle,
                _cstr(remote, "Job.add_file(remote)"),
                _cstr(local, "Job.add_file(local)"),
            ),
            "Job.add_file()",
        )

    def add_files(self, files: Iterable[Union[FileSpec, Tuple[Any, ...], Sequence[Any]]]) -> None:
        """Adds files, all or none: each item is ``(remote, local)`` or
        ``(remote, local, size_hint)`` (a ``FileSpec`` is such a tuple)."""
        items = list(files)
        if len(items) >= (1 << 32):
            raise _invalid("Job.add_files()", "too many files")
        arr = (qm_file_set_info * max(len(items), 1))()
        for i, item in enumerate(items):
            arr[i].struct_size = ctypes.sizeof(qm_file_set_info)
            if isinstance(item, (str, bytes)) or len(item) not in (2, 3):
                raise TypeError(f"Job.add_files(): item {i} must be (remote, local[, size_hint])")
            remote, local = item[0], item[1]
            hint = item[2] if len(item) == 3 and item[2] is not None else 0
            arr[i].remote_name = _cstr(remote, f"Job.add_files()[{i}].remote")
            arr[i].local_name = _cstr(local, f"Job.add_files()[{i}].local")
            arr[i].size_hint = _uint(hint, 64, f"Job.add_files()[{i}].size_hint")
        # ctypes keeps the bytes objects assigned to c_char_p fields alive
        # in `arr` for the duration of the call.
        check(lib.qm_job_add_files(self._handle, len(items), arr if items else None), "Job.add_files()")

    def add_file_with_ranges(
        self, remote: StrPath, local: StrPath, ranges: Iterable[Tuple[int, int]]
    ) -> None:
        """Adds one file of which only ``ranges`` of the remote file are wanted
        (BITS's ``AddFileWithRanges``): each range is ``(offset, length)``,
        ``length`` may be ``QM_LENGTH_TO_EOF``; the ranges are written one
        after another to ``local`` in the order given. Raises for no ranges
        (``QM_E_INVALIDARG``), a bad range (``QM_BG_E_INVALID_RANGE``),
        overlaps (``QM_BG_E_OVERLAPPING_RANGES``) and more than 500
        (``QM_BG_E_TOO_MANY_RANGES_IN_FILE``)."""
        items = list(ranges)
        if len(items) >= (1 << 32):
            raise _invalid("Job.add_file_with_ranges()", "too many ranges")
        arr = (qm_file_range * max(len(items), 1))()
        for i, item in enumerate(items):
            arr[i].struct_size = ctypes.sizeof(qm_file_range)
            if isinstance(item, (str, bytes)) or len(item) != 2:
                raise TypeError(f"Job.add_file_with_ranges(): range {i} must be (offset, length)")
            arr[i].initial_offset = _uint(item[0], 64, f"Job.add_file_with_ranges()[{i}].offset")
            arr[i].length = _uint(item[1], 64, f"Job.add_file_with_ranges()[{i}].length")
        check(
            lib.qm_job_add_file_with_ranges(
                self._handle,
                _cstr(remote, "Job.add_file_with_ranges(remote)"),
                _cstr(local, "Job.add_file_with_ranges(local)"),
                len(items),
                arr,
            ),
            "Job.add_file_with_ranges()",
        )

    def file_ranges(self, index: int) -> List[Tuple[int, int]]:
        """The ranges of file ``index`` as ``(offset, length)`` in the order they
        were added (BITS's ``GetFileRanges``); empty for a whole file."""
        i = _uint(index, 32, "Job.file_ranges(index)")
        count = c_uint32(0)
        check(lib.qm_job_get_file_ranges(self._handle, i, None, 0, byref(count)), "Job.file_ranges()")
        arr = (qm_file_range * max(count.value, 1))()
        for k in range(len(arr)):
            arr[k].struct_size = ctypes.sizeof(qm_file_range)
        check(lib.qm_job_get_file_ranges(self._handle, i, arr, len(arr), byref(count)), "Job.file_ranges()")
        return [(arr[k].initial_offset, arr[k].length) for k in range(count.value)]

    @property
    def file_count(self) -> int:
        """Number of files in the job."""
        out = c_uint32(0)
        check(lib.qm_job_get_file_count(self._handle, byref(out)), "Job.file_count")
        return int(out.value)

    def file(self, index: int) -> FileInfo:
        """File ``index``: its names and progress (``ItemNotFound`` past the end)."""
        i = _uint(index, 32, "Job.file(index)")
        _, remote = _read_string(lib.qm_job_get_file_remote_name, (self._handle, i), "Job.file()")
        _, local = _read_string(lib.qm_job_get_file_local_name, (self._handle, i), "Job.file()")
        hint = c_uint64(0)
        check(lib.qm_job_get_file_size_hint(self._handle, i, byref(hint)), "Job.file()")
        p = sized(qm_file_progress)
        check(lib.qm_job_get_file_progress(self._handle, i, byref(p)), "Job.file()")
        return FileInfo(
            index=i,
            remote=remote or "",
            local=local or "",
            size_hint=int(hint.value),
            progress=FileProgress(
                bytes_total=_unknown_to_none(p.bytes_total),
                bytes_transferred=int(p.bytes_transferred),
                completed=bool(p.completed),
            ),
        )

    @property
    def files(self) -> List[FileInfo]:
        """Every file of the job, in order."""
        return [self.file(i) for i in range(self.file_count)]

    def file_sha256(self, index: int) -> Optional[str]:
        """The SHA-256 file ``index`` must have (64 lower-case hex digits), or
        None when none is set."""
        i = _uint(index, 32, "Job.file_sha256(index)")
        hr, text = _read_string(lib.qm_job_get_file_sha256, (self._handle, i), "Job.file_sha256()")
        return text if hr == C.QM_S_OK else None

    def set_file_sha256(self, index: int, sha256: Optional[Union[str, bytes]]) -> None:
        """Sets the SHA-256 that file ``index`` must have (64 hex digits, or
        the 32-byte digest), checked before the file counts as transferred;
        None clears it."""
        if isinstance(sha256, (bytes, bytearray)) and len(sha256) == 32:
            sha256 = bytes(sha256).hex()
        check(
            lib.qm_job_set_file_sha256(
                self._handle, _uint(index, 32, "Job.set_file_sha256(index)"), _cstr(sha256, "Job.set_file_sha256(hex)", True)
            ),
            "Job.set_file_sha256()",
        )

    def set_file_delta(
        self, index: int, seeds: Optional[Sequence[StrPath]], control_url: Optional[str] = None
    ) -> None:
        """Makes file ``index`` a delta download: its zsync control file
        (``control_url``, default the remote name + ``.zsync``) is read and
        the ``seeds`` (absolute paths, read and never written) are scanned
        for its blocks; only the rest is fetched, as ranges. Fetched blocks
        are checked against the control file's MD4 and the file against its
        SHA-1: weak hashes, so set a SHA-256 too (``set_file_sha256``). No
        control file, no ranges or no block found: a full download
        (``file_delta_status`` says which way). None or [] clears it.
        ``FeatureNotImplemented`` from a library built without ``delta``."""
        i = _uint(index, 32, "Job.set_file_delta(index)")
        paths = [_cstr(s, "Job.set_file_delta(seeds)") for s in (seeds or [])]
        array = (c_char_p * max(len(paths), 1))(*paths)
        check(
            lib.qm_job_set_file_delta(
                self._handle,
                i,
                array if paths else None,
                len(paths),
                _cstr(control_url, "Job.set_file_delta(control_url)", True),
            ),
            "Job.set_file_delta()",
        )

    def file_delta_status(self, index: int) -> DeltaStatus:
        """Which way file ``index``'s delta download went, and the bytes
        that came from the seeds."""
        i = _uint(index, 32, "Job.file_delta_status(index)")
        s = sized(qm_file_delta_status)
        check(lib.qm_job_get_file_delta_status(self._handle, i, byref(s)), "Job.file_delta_status()")
        _, reason = _read_string(lib.qm_job_get_file_delta_reason, (self._handle, i), "Job.file_delta_status()")
        ways = {C.QM_DELTA_WAY_NONE: "none", C.QM_DELTA_WAY_PENDING: "pending", C.QM_DELTA_WAY_DELTA: "delta", C.QM_DELTA_WAY_FULL: "full"}
        return DeltaStatus(
            way=ways.get(int(s.way), "unknown"),
            bytes_from_seeds=int(s.bytes_from_seeds),
            reason=reason or "",
        )

    # -- state and progress

    @property
    def state(self) -> JobState:
        """The job's state (lock-free)."""
        out = c_uint32(0)
        check(lib.qm_job_get_state(self._handle, byref(out)), "Job.state")
        return _to_state(int(out.value))

    @property
    def progress(self) -> Progress:
        """A consistent snapshot of bytes, files, rate and ETA (lock-free)."""
        p = sized(qm_job_progress)
        check(lib.qm_job_get_progress_ex(self._handle, byref(p)), "Job.progress")
        return Progress(
            bytes_total=_unknown_to_none(p.bytes_total),
            bytes_transferred=int(p.bytes_transferred),
            files_total=int(p.files_total),
            files_transferred=int(p.files_transferred),
            bytes_per_second=int(p.bytes_per_second),
            eta_seconds=_unknown_to_none(p.eta_seconds),
        )

    def get_progress(self, flag: int = C.QM_PROGRESS_PERCENT_DONE) -> int:
        """``qm_job_get_progress``: ``QM_PROGRESS_PERCENT_DONE`` (whole
        percent) or ``QM_PROGRESS_SIZE_DONE`` (bytes transferred)."""
        out = c_uint64(0)
        check(
            lib.qm_job_get_progress(self._handle, _uint(flag, 32, "Job.get_progress(flag)"), byref(out)),
            "Job.get_progress()",
        )
        return int(out.value)

    @property
    def status(self) -> JobStatus:
        """``GetStatus``: flags, Win32 result, HTTP status and retry count."""
        status, win32, transport, retries = c_uint32(), c_uint32(), c_uint32(), c_uint32()
        check(
            lib.qm_job_get_status(self._handle, byref(status), byref(win32), byref(transport), byref(retries)),
            "Job.status",
        )
        return JobStatus(Status(int(status.value)), int(win32.value), int(transport.value), int(retries.value))

    @property
    def error(self) -> Optional[JobError]:
        """The last error while the job is in ERROR or TRANSIENT_ERROR, else None."""
        e = sized(qm_job_error)
        hr = HRESULT(lib.qm_job_get_error(self._handle, byref(e)))
        if hr == C.QM_BG_E_ERROR_INFORMATION_UNAVAILABLE:
            return None
        check(hr, "Job.error")
        code = HRESULT(e.code)
        _, text = _read_string(
            lib.qm_job_get_error_description,
            (self._handle,),
            "Job.error",
            allow=(C.QM_BG_E_ERROR_INFORMATION_UNAVAILABLE,),
        )
        try:
            context: Any = ErrorContext(int(e.context))
        except ValueError:
            context = int(e.context)
        return JobError(
            code=code,
            name=hresult_name(code),
            context=context,
            file_index=None if e.file_index == C.QM_FILE_INDEX_NONE else int(e.file_index),
            http_status=int(e.http_status) or None,
            description=text if text is not None else str(code),
        )

    @property
    def times(self) -> JobTimes:
        """Creation, last modification and transfer completion (UTC datetimes or None)."""
        t = sized(qm_job_times)
        check(lib.qm_job_get_times(self._handle, byref(t)), "Job.times")
        return JobTimes(
            created=_ms_to_datetime(t.creation_ms),
            modified=_ms_to_datetime(t.modification_ms),
            transfer_completed=_ms_to_datetime(t.transfer_completion_ms),
        )

    # -- actions

    def resume(self) -> None:
        """Queues the job (SUSPENDED, ERROR, TRANSIENT_ERROR → QUEUED; an
        active job is left as it is). ``Empty`` if it has no files or
        nothing left to transfer; ``InvalidState`` if final."""
        check(lib.qm_job_resume(self._handle), "Job.resume()")

    def suspend(self) -> None:
        """Suspends the job; returns once the transfer has stopped. Partial
        data is kept for a later ``resume()``."""
        check(lib.qm_job_suspend(self._handle), "Job.suspend()")

    def cancel(self) -> HRESULT:
        """Cancels the job and deletes its temporary files. Returns
        ``QM_S_OK`` or ``QM_BG_S_UNABLE_TO_DELETE_FILES``; a second cancel
        raises ``InvalidState``."""
        return check(lib.qm_job_cancel(self._handle), "Job.cancel()")

    def complete(self) -> HRESULT:
        """Renames every transferred file into place (after fsync), deletes
        partial ones, and acknowledges the job. Returns ``QM_S_OK`` or
        ``QM_BG_S_PARTIAL_COMPLETE`` (some files were not transferred)."""
        return check(lib.qm_job_complete(self._handle), "Job.complete()")

    def switch_to_foreground(self) -> None:
        """Makes the job FOREGROUND: it runs first and ignores the manager's
        bandwidth limit."""
        check(lib.qm_job_switch_to_foreground(self._handle), "Job.switch_to_foreground()")

    def take_ownership(self) -> None:
        """Makes the calling user the job's owner (BITS's ``TakeOwnership``,
        ``qm_job_take_ownership``): its files are then touched with that
        user's rights. On a daemon's manager, only its administrators may
        take another user's job (``AccessDenied``)."""
        check(lib.qm_job_take_ownership(self._handle), "Job.take_ownership()")

    def wait(self, timeout: Optional[float] = None) -> Optional[JobState]:
        """Blocks until the job is TRANSFERRED, ERROR, SUSPENDED, ACKNOWLEDGED
        or CANCELLED and returns that state, or returns None after
        ``timeout`` seconds (None: no timeout).

        The wait is one call into the library, which blocks without polling
        and without holding the GIL: other Python threads run meanwhile.
        Raises ``Aborted`` if the manager is closed during the wait. Must
        not be called from a notify callback of the same job. A signal
        (Ctrl-C) is handled only when the call returns: pass a timeout and
        loop to stay responsive."""
        state = c_uint32(0)
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))):
            raise TypeError(f"Job.wait(timeout): expected seconds as a number, not {type(timeout).__name__}")
        if timeout is None or timeout == math.inf:
            hr = HRESULT(lib.qm_job_wait(self._handle, C.QM_WAIT_INFINITE, byref(state)))
        else:
            if not timeout >= 0:  # also rejects NaN
                raise ValueError(f"Job.wait(timeout): {timeout} is not a duration")
            remaining = math.ceil(timeout * 1000)
            longest = C.QM_WAIT_INFINITE - 1  # ~49.7 days; longer waits go in slices
            while True:
                ms = min(remaining, longest)
                hr = HRESULT(lib.qm_job_wait(self._handle, ms, byref(state)))
                remaining -= ms
                if hr != C.QM_S_FALSE or remaining <= 0:
                    break
        if hr == C.QM_S_FALSE:
            return None
        check(hr, "Job.wait()")
        return _to_state(int(state.value))

    # -- properties

    @property
    def display_name(self) -> str:
        """The display name (at most 256 characters)."""
        return _read_string(lib.qm_job_get_display_name, (self._handle,), "Job.display_name")[1] or ""

    @display_name.setter
    def display_name(self, name: str) -> None:
        check(lib.qm_job_set_display_name(self._handle, _cstr(name, "Job.display_name")), "Job.display_name")

    @property
    def description(self) -> str:
        """The description (at most 1,024 characters)."""
        return _read_string(lib.qm_job_get_description, (self._handle,), "Job.description")[1] or ""

    @description.setter
    def description(self, text: str) -> None:
        check(lib.qm_job_set_description(self._handle, _cstr(text, "Job.description")), "Job.description")

    @property
    def priority(self) -> Priority:
        """The priority (``Priority.NORMAL`` by default)."""
        out = c_uint32(0)
        check(lib.qm_job_get_priority(self._handle, byref(out)), "Job.priority")
        try:
            return Priority(int(out.value))
        except ValueError:
            return int(out.value)  # type: ignore[return-value]

    @priority.setter
    def priority(self, priority: int) -> None:
        check(lib.qm_job_set_priority(self._handle, _uint(priority, 32, "Job.priority")), "Job.priority")

    min_retry_delay = _uint32_property(
        "min_retry_delay", "Seconds to wait before retrying after a transient error (default 600)."
    )
    no_progress_timeout = _uint32_property(
        "no_progress_timeout", "Seconds of transient errors without progress before ERROR (default 14 days)."
    )

    @property
    def max_bandwidth(self) -> int:
        """The job's own limit in bytes per second (0: none; setting None means 0)."""
        out = c_uint64(0)
        check(lib.qm_job_get_max_bandwidth(self._handle, byref(out)), "Job.max_bandwidth")
        return int(out.value)

    @max_bandwidth.setter
    def max_bandwidth(self, bytes_per_sec: Optional[int]) -> None:
        value = 0 if bytes_per_sec is None else _uint(bytes_per_sec, 64, "Job.max_bandwidth")
        check(lib.qm_job_set_max_bandwidth(self._handle, value), "Job.max_bandwidth")

    stall_timeout = _uint32_property(
        "stall_timeout",
        "Seconds a connection may deliver nothing before qmgr gives it up and retries (default 60).",
    )
    max_download_time = _uint32_property(
        "max_download_time",
        "Seconds the job may spend connecting and transferring before it fails with "
        "``QM_BG_E_MAXDOWNLOAD_TIMEOUT`` (default 7,776,000, 90 days, as BITS; 0: no limit); "
        "time queued, suspended or in a transient error does not count, and ``resume()`` "
        "starts it again.",
    )
    @property
    def job_type(self) -> JobType:
        """The job's type, chosen when it was created (BITS's ``GetType``)."""
        out = c_uint32(0)
        check(lib.qm_job_get_type(self._handle, byref(out)), "Job.job_type")
        return JobType(out.value)

    @property
    def upload_protocol(self) -> UploadProtocol:
        """An upload job's protocol: ``UploadProtocol.TUS`` (tus 1.0, the
        default of upload jobs) or ``RUFH`` (the IETF resumable-upload
        draft, experimental; the protocol of upload-reply jobs: tus has no
        reply). ``NotImplemented``-style ``QmgrError`` on a download."""
        out = c_uint32(0)
        check(lib.qm_job_get_upload_protocol(self._handle, byref(out)), "Job.upload_protocol")
        return UploadProtocol(out.value)

    @upload_protocol.setter
    def upload_protocol(self, protocol: UploadProtocol) -> None:
        check(lib.qm_job_set_upload_protocol(self._handle, int(protocol)), "Job.upload_protocol")

    @property
    def reply_file_name(self) -> Optional[str]:
        """Where an upload-reply job's reply goes (BITS's
        ``GetReplyFileName``); None: in memory (at most 1 MiB)."""
        hr, text = _read_string(lib.qm_job_get_reply_file_name, (self._handle,), "Job.reply_file_name")
        return None if hr == C.QM_S_FALSE else text

    @reply_file_name.setter
    def reply_file_name(self, path: Optional[str]) -> None:
        check(
            lib.qm_job_set_reply_file_name(self._handle, _cstr(path, "Job.reply_file_name", True)),
            "Job.reply_file_name",
        )

    @property
    def reply_progress(self) -> Tuple[Optional[int], int]:
        """An upload-reply job's reply progress (``GetReplyProgress``):
        ``(bytes_total, bytes_transferred)``, the total None until the reply
        arrived."""
        total, done = c_uint64(0), c_uint64(0)
        check(lib.qm_job_get_reply_progress(self._handle, byref(total), byref(done)), "Job.reply_progress")
        return _unknown_to_none(total.value), int(done.value)

    @property
    def reply_data(self) -> bytes:
        """The server's reply (BITS's ``GetReplyData``) once the job is
        TRANSFERRED: ``TooLarge``-coded ``QmgrError`` over 1 MiB (read the
        reply file), ``InvalidState`` before it arrived."""
        needed = c_size_t(0)
        for _ in range(16):
            size = int(needed.value)
            buf = ctypes.create_string_buffer(max(size, 1))
            hr = HRESULT(lib.qm_job_get_reply_data(self._handle, buf if size else None, size, byref(needed)))
            if hr == C.QM_E_INSUFFICIENT_BUFFER or (hr == C.QM_S_OK and int(needed.value) > size):
                continue
            check(hr, "Job.reply_data")
            return buf.raw[: int(needed.value)]
        raise error_from_code(C.QM_E_INSUFFICIENT_BUFFER, "Job.reply_data")

    @property
    def dynamic_content(self) -> bool:
        """The server's content may change between requests (BITS's
        ``BITS_JOB_PROPERTY_DYNAMIC_CONTENT``): each file comes in one request
        without a range and starts again from zero after any interruption."""
        out = c_uint32(0)
        check(lib.qm_job_get_dynamic_content(self._handle, byref(out)), "Job.dynamic_content")
        return bool(out.value)

    @dynamic_content.setter
    def dynamic_content(self, dynamic: bool) -> None:
        check(lib.qm_job_set_dynamic_content(self._handle, 1 if dynamic else 0), "Job.dynamic_content")

    @property
    def yielding(self) -> bool:
        """Whether the job yields to other traffic (True by default): a
        background job (never a ``Priority.FOREGROUND`` one) slows when the
        queuing delay of its connections rises above a target
        (receiver-side LEDBAT, RFC 6817 and RFC 9840), so that it uses only
        idle bandwidth. False: it competes like any download. The bandwidth
        limits apply either way; it may be changed while the job transfers
        (it applies within 20 ms)."""
        out = c_uint32(0)
        check(lib.qm_job_get_yielding(self._handle, byref(out)), "Job.yielding")
        return bool(out.value)

    @yielding.setter
    def yielding(self, yielding: bool) -> None:
        check(lib.qm_job_set_yielding(self._handle, 1 if yielding else 0), "Job.yielding")

    min_notification_interval = _uint32_property(
        "min_notification_interval",
        "The least time in milliseconds between two progress notifications "
        "(``Notify.JOB_MODIFICATION`` while transferring; BITS's "
        "``BITS_JOB_PROPERTY_MINIMUM_NOTIFICATION_INTERVAL_MS``, default 500); "
        "state changes are always notified.",
    )

    @property
    def notify_cmdline(self) -> Optional[Tuple[str, Optional[str]]]:
        """The program run when the job is transferred or fails, and its
        parameters (BITS's ``SetNotifyCmdLine``), or None. Set it to
        ``(program, parameters)``: ``program`` an absolute path (no search
        path, no shell), ``parameters`` its command line, first the program's
        name (its ``argv[0]``), ``"..."`` grouping words; or
        ``(program, None)`` to run it alone, or None to remove it. It runs for
        the JOB_TRANSFERRED / JOB_ERROR events of ``notify_flags`` only when no
        callback is registered, from the process that runs the job, with
        ``QMGR_JOB_ID`` and ``QMGR_JOB_STATE`` in its environment."""
        sizes = (c_size_t(0), c_size_t(0))
        check(
            lib.qm_job_get_notify_cmdline(self._handle, None, 0, byref(sizes[0]), None, 0, byref(sizes[1])),
            "Job.notify_cmdline",
        )
        program = ctypes.create_string_buffer(sizes[0].value)
        params = ctypes.create_string_buffer(sizes[1].value)
        check(
            lib.qm_job_get_notify_cmdline(
                self._handle, program, len(program), byref(sizes[0]), params, len(params), byref(sizes[1])
            ),
            "Job.notify_cmdline",
        )
        if not program.value:
            return None
        return (program.value.decode(), params.value.decode() or None)

    @notify_cmdline.setter
    def notify_cmdline(self, cmdline: Optional[Tuple[StrPath, Optional[str]]]) -> None:
        if cmdline is None:
            check(lib.qm_job_set_notify_cmdline(self._handle, None, None), "Job.notify_cmdline")
            return
        program, params = cmdline
        check(
            lib.qm_job_set_notify_cmdline(
                self._handle,
                _cstr(program, "Job.notify_cmdline(program)"),
                None if params is None else _cstr(params, "Job.notify_cmdline(parameters)"),
            ),
            "Job.notify_cmdline",
        )

    max_connections = _uint32_property(
        "max_connections",
        "How many connections the job may use at once (default 6): that many of its files "
        "transfer at once, each on its own connection, and a large file whose server answers "
        "ranges is split into segments over them.",
    )
    security_flags = _uint32_property(
        "security_flags",
        "The redirect policy: ``QM_HTTP_REDIRECT_POLICY_ALLOW_SILENT`` (0, the default), "
        "``_ALLOW_REPORT`` (followed and reported by ``file_final_url``) or ``_DISALLOW`` (a "
        "redirect is fatal), optionally with ``_ALLOW_HTTPS_TO_HTTP`` (without it an HTTPS "
        "download redirected to plain HTTP fails). Under every policy a redirect is only "
        "reported: the remote name, where each attempt starts and the only origin credentials "
        "and custom headers go to, stays the caller's.",
    )

    @property
    def max_download_size(self) -> int:
        """The largest file the job may download, in bytes (0 or None: no limit);
        a larger one is a fatal ``QM_BG_E_MAX_DOWNLOAD_SIZE_LIMIT_REACHED``."""
        out = c_uint64(0)
        check(lib.qm_job_get_max_download_size(self._handle, byref(out)), "Job.max_download_size")
        return int(out.value)

    @max_download_size.setter
    def max_download_size(self, size: Optional[int]) -> None:
        value = 0 if size is None else _uint(size, 64, "Job.max_download_size")
        check(lib.qm_job_set_max_download_size(self._handle, value), "Job.max_download_size")

    @property
    def low_speed_limit(self) -> Tuple[int, int]:
        """``(bytes_per_second, seconds)``: slower than that on average is a
        transient timeout (curl's ``--speed-limit``/``--speed-time``); ``(0, 0)``
        or None: off."""
        rate, seconds = c_uint64(0), c_uint32(0)
        check(lib.qm_job_get_low_speed_limit(self._handle, byref(rate), byref(seconds)), "Job.low_speed_limit")
        return int(rate.value), int(seconds.value)

    @low_speed_limit.setter
    def low_speed_limit(self, limit: Optional[Tuple[int, int]]) -> None:
        rate, seconds = (0, 0) if limit is None else limit
        check(
            lib.qm_job_set_low_speed_limit(
                self._handle, _uint(rate, 64, "Job.low_speed_limit"), _uint(seconds, 32, "Job.low_speed_limit")
            ),
            "Job.low_speed_limit",
        )

    def file_final_url(self, index: int) -> str:
        """The URL file ``index``'s last response came from: its remote name
        unless the server redirected (or where a refused redirect pointed).
        A report only: never fetched from, never trusted, never stored."""
        i = _uint(index, 32, "Job.file_final_url(index)")
        _, url = _read_string(lib.qm_job_get_file_final_url, (self._handle, i), "Job.file_final_url()")
        return url or ""

    def replace_remote_prefix(self, old: str, new: str) -> bool:
        """Replaces ``old`` at the start of every file's remote name with
        ``new`` (BITS's ``ReplaceRemotePrefix``), keeping the bytes already
        transferred; False when no name started with ``old``."""
        hr = check(
            lib.qm_job_replace_remote_prefix(
                self._handle,
                _cstr(old, "Job.replace_remote_prefix(old)"),
                _cstr(new, "Job.replace_remote_prefix(new)"),
            ),
            "Job.replace_remote_prefix()",
        )
        return hr == C.QM_S_OK

    def set_file_remote_name(self, index: int, remote: str) -> None:
        """Gives file ``index`` a new remote name (BITS's ``SetRemoteName``),
        keeping its bytes when the server still has the same version."""
        check(
            lib.qm_job_set_file_remote_name(
                self._handle,
                _uint(index, 32, "Job.set_file_remote_name(index)"),
                _cstr(remote, "Job.set_file_remote_name(remote)"),
            ),
            "Job.set_file_remote_name()",
        )

    def file_temporary_name(self, index: int) -> Optional[str]:
        """The temporary file holding file ``index``'s bytes until ``complete()``
        (BITS's ``GetTemporaryName``); None before the transfer created it and
        once the file is in place or cancelled."""
        i = _uint(index, 32, "Job.file_temporary_name(index)")
        hr, name = _read_string(lib.qm_job_get_file_temporary_name, (self._handle, i), "Job.file_temporary_name()")
        return name if hr == C.QM_S_OK else None

    def file_response_headers(self, index: int) -> Optional[str]:
        """The header lines of the last HTTP response for file ``index``
        (``name: value\\r\\n`` each, names in lower case; BITS's
        ``BITS_FILE_PROPERTY_ID_HTTP_RESPONSE_HEADERS``); None before a response."""
        i = _uint(index, 32, "Job.file_response_headers(index)")
        hr, text = _read_string(
            lib.qm_job_get_file_response_headers, (self._handle, i), "Job.file_response_headers()"
        )
        return text if hr == C.QM_S_OK else None

    # -- notifications

    @property
    def notify_flags(self) -> Notify:
        """The ``Notify`` flags (default JOB_TRANSFERRED | JOB_ERROR)."""
        out = c_uint32(0)
        check(lib.qm_job_get_notify_flags(self._handle, byref(out)), "Job.notify_flags")
        return Notify(int(out.value))

    @property
    def notify_callback(self) -> Optional[NotifyCallback]:
        """The callback set through this reference, or None."""
        return self._notify_callback

    def set_notify(self, callback: Optional[NotifyCallback], flags: Optional[int] = None) -> None:
        """Calls ``callback(job, event, file_index, code)`` on a library
        thread for each event selected by ``flags`` (``Notify`` bits; None
        keeps the current flags). ``callback=None`` removes the callback.

        ``job`` is this ``Job`` object, ``event`` one ``Notify`` member,
        ``file_index`` an ``int`` or None, ``code`` the error (an
        ``HRESULT``) for ``JOB_ERROR``, else 0. The callback may call any
        method except ``wait()`` on this job; its exceptions are reported
        through ``sys.unraisablehook``. It is kept alive while registered,
        and released when replaced, removed or when this reference or its
        manager is closed; once this method or ``close()`` returns, the old
        callback is not running and will not run again."""
        if callback is not None and not callable(callback):
            raise TypeError("Job.set_notify(): callback must be callable or None")
        if flags is None:
            flags = int(self.notify_flags)
        f = _uint(int(flags), 32, "Job.set_notify(flags)")
        cfunc = _trampoline(weakref.ref(self), callback) if callback is not None else None
        with self._lock:
            if self._notify_inflight:
                self._notify_overlap = True
            self._notify_inflight += 1
            if cfunc is not None:
                self._notify_keep.append(cfunc)
        hr = HRESULT(C.QM_E_UNEXPECTED)
        released: List[Any] = []
        try:
            fn = cfunc if cfunc is not None else _NULL_NOTIFY
            hr = HRESULT(lib.qm_job_set_notify(self._handle, fn, None, f))
        finally:
            with self._lock:
                self._notify_inflight -= 1
                if not self._notify_overlap:
                    # No other set_notify ran meanwhile, so the library holds
                    # exactly ours (on success) or the previous one (on failure).
                    if hr.succeeded:
                        released = [c for c in self._notify_keep if c is not cfunc]
                        self._notify_keep = [cfunc] if cfunc is not None else []
                        self._notify_callback = callback
                    elif cfunc is not None:
                        self._notify_keep.remove(cfunc)
                        released = [cfunc]
                elif hr.succeeded:
                    # Concurrent calls: which one the library kept is unknown,
                    # so every candidate stays alive until the next clean call.
                    self._notify_callback = callback
                if self._notify_inflight == 0:
                    self._notify_overlap = False
            _release_thunks(released)
        check(hr, "Job.set_notify()")

    # -- HTTP options

    @property
    def custom_headers(self) -> Optional[str]:
        """The extra request headers as set ("Name: value" lines), or None."""
        hr, text = _read_string(lib.qm_job_get_custom_headers, (self._handle,), "Job.custom_headers")
        return None if hr == C.QM_S_FALSE else text

    def set_custom_headers(self, headers: Optional[Union[str, Mapping[str, str], Iterable[Tuple[str, str]]]]) -> None:
        """Sets extra request headers: a string of CRLF-separated "Name:
        value" lines, a mapping or (name, value) pairs; None removes them."""
        if headers is not None and not isinstance(headers, (str, bytes)):
            pairs = headers.items() if isinstance(headers, Mapping) else headers
            headers = "".join(f"{k}: {v}\r\n" for k, v in pairs)
        check(
            lib.qm_job_set_custom_headers(self._handle, _cstr(headers, "Job.set_custom_headers()", True)),
            "Job.set_custom_headers()",
        )

    def set_credentials(self, user: Optional[str], password: Optional[str] = None) -> None:
        """Sets HTTP Basic credentials (kept in memory); ``user=None`` removes them."""
        check(
            lib.qm_job_set_credentials(
                self._handle,
                _cstr(user, "Job.set_credentials(user)", True),
                _cstr(password, "Job.set_credentials(password)", True),
            ),
            "Job.set_credentials()",
        )

    @property
    def proxy(self) -> Optional[str]:
        """The proxy as ``set_proxy`` set it: the URL exactly as given (with
        any password in it), "" for a direct connection, None when it comes
        from the environment (the default)."""
        hr, text = _read_string(lib.qm_job_get_proxy, (self._handle,), "Job.proxy")
        return None if hr == C.QM_S_FALSE else text

    def set_proxy(self, proxy_url: Optional[str]) -> None:
        """Sets the proxy URL (http, https, socks4, socks4a, socks5, socks5h);
        "" connects directly; None takes it from the environment (default)."""
        check(lib.qm_job_set_proxy(self._handle, _cstr(proxy_url, "Job.set_proxy()", True)), "Job.set_proxy()")

    @property
    def ca_file(self) -> Optional[str]:
        """The CA file ``set_ca_file`` set, or None (the system's roots)."""
        hr, text = _read_string(lib.qm_job_get_ca_file, (self._handle,), "Job.ca_file")
        return None if hr == C.QM_S_FALSE else text

    def set_ca_file(self, pem_path: Optional[StrPath]) -> None:
        """Trusts the CA certificates of this PEM file (absolute path)
        instead of the system's roots; None returns to the system's roots."""
        check(lib.qm_job_set_ca_file(self._handle, _cstr(pem_path, "Job.set_ca_file()", True)), "Job.set_ca_file()")

    @property
    def client_certificate(self) -> Optional[Tuple[str, str]]:
        """The paths ``(cert_pem, key_pem)`` ``set_client_certificate`` set,
        or None: only the paths, never what the files hold."""
        sizes = (c_size_t(0), c_size_t(0))
        check(
            lib.qm_job_get_client_certificate(self._handle, None, 0, byref(sizes[0]), None, 0, byref(sizes[1])),
            "Job.client_certificate",
        )
        cert = ctypes.create_string_buffer(sizes[0].value)
        key = ctypes.create_string_buffer(sizes[1].value)
        hr = check(
            lib.qm_job_get_client_certificate(
                self._handle, cert, len(cert), byref(sizes[0]), key, len(key), byref(sizes[1])
            ),
            "Job.client_certificate",
        )
        if hr == C.QM_S_FALSE:
            return None
        return (cert.value.decode(), key.value.decode())

    def set_client_certificate(self, cert_pem: Optional[StrPath], key_pem: Optional[StrPath]) -> None:
        """Presents this client certificate and key (PEM files, absolute
        paths) for mutual TLS; both None removes them."""
        check(
            lib.qm_job_set_client_certificate(
                self._handle,
                _cstr(cert_pem, "Job.set_client_certificate(cert_pem)", True),
                _cstr(key_pem, "Job.set_client_certificate(key_pem)", True),
            ),
            "Job.set_client_certificate()",
        )
