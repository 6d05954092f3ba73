"""Loading ``libqmgr`` and declaring its C ABI for ctypes.

This module is the only one that knows where the shared library is and what
its functions look like. Every function exported by ``libqmgr`` (the list is
``include/qmgr.symbols``) gets its ``argtypes`` and ``restype`` here, exactly
as ``include/qmgr.h`` declares it; the structs and the callback type mirror
the header's.

The library is looked for, in order:

1. ``$QMGR_LIBRARY`` (a path to the file; when it is set, nothing else is
   tried, so a wrong value is reported instead of silently ignored);
2. ``libqmgr.so`` / ``libqmgr.so.1`` inside the package directory (a wheel
   that ships the library);
3. the build directories of a checkout: ``target/release`` then
   ``target/debug`` next to the ``python/`` directory;
4. ``ctypes.util.find_library("qmgr")`` (an installed ``libqmgr.so.1``).

ctypes releases the GIL around every foreign call made through a ``CDLL``,
so a long call such as ``qm_job_wait`` never blocks other Python threads.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from ctypes import (
    POINTER,
    Structure,
    c_char_p,
    c_int32,
    c_int64,
    c_size_t,
    c_uint8,
    c_uint32,
    c_uint64,
    c_void_p,
)
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, TypeVar

__all__ = [
    "ABI_VERSION",
    "lib",
    "library_path",
    "qm_guid",
    "qm_file_set_info",
    "qm_file_range",
    "qm_file_progress",
    "qm_file_delta_status",
    "qm_job_progress",
    "qm_job_error",
    "qm_job_times",
    "qm_notify_fn",
    "PROTOTYPES",
    "OPTIONAL",
    "has",
    "sized",
]

#: The ABI major number this package was written for (``QM_ABI_VERSION``).
ABI_VERSION = 1

# --- types of qmgr.h -------------------------------------------------------

qm_hresult = c_int32
_S = TypeVar("_S", bound=Structure)
qm_job_t = c_uint64
qm_manager_t = c_uint64


class qm_guid(Structure):
    """``qm_guid``: a job's GUID, 16 bytes in RFC 4122 order."""

    _fields_ = [("bytes", c_uint8 * 16)]


class qm_file_set_info(Structure):
    """``qm_file_set_info`` (``FILESETINFO``): one file to add."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("reserved", c_uint32),
        ("remote_name", c_char_p),
        ("local_name", c_char_p),
        ("size_hint", c_uint64),
    ]


class qm_file_range(Structure):
    """``qm_file_range`` (``BG_FILE_RANGE``): bytes of a remote file to download."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("reserved", c_uint32),
        ("initial_offset", c_uint64),
        ("length", c_uint64),
    ]


class qm_file_progress(Structure):
    """``qm_file_progress`` (``BG_FILE_PROGRESS``)."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("completed", c_uint32),
        ("bytes_total", c_uint64),
        ("bytes_transferred", c_uint64),
    ]


class qm_file_delta_status(Structure):
    """``qm_file_delta_status``: how a file's delta download went."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("way", c_uint32),
        ("bytes_from_seeds", c_uint64),
    ]


class qm_job_progress(Structure):
    """``qm_job_progress`` (``BG_JOB_PROGRESS`` plus rate and ETA)."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("reserved", c_uint32),
        ("bytes_total", c_uint64),
        ("bytes_transferred", c_uint64),
        ("files_total", c_uint32),
        ("files_transferred", c_uint32),
        ("bytes_per_second", c_uint64),
        ("eta_seconds", c_uint64),
    ]


class qm_job_error(Structure):
    """``qm_job_error``: a job's last error."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("code", qm_hresult),
        ("context", c_uint32),
        ("file_index", c_uint32),
        ("http_status", c_uint32),
    ]


class qm_job_times(Structure):
    """``qm_job_times``: Unix epoch milliseconds, 0 for "not yet"."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("reserved", c_uint32),
        ("creation_ms", c_int64),
        ("modification_ms", c_int64),
        ("transfer_completion_ms", c_int64),
    ]


def sized(cls: "type[_S]") -> "_S":
    """A zeroed instance of one of the structs above with ``struct_size``
    set, as the header's ``QM_*_INIT`` initialisers make them."""
    value = cls()
    value.struct_size = ctypes.sizeof(cls)
    return value


#: ``typedef void (*qm_notify_fn)(qm_job_t job, uint32_t event,
#: uint32_t file_index, qm_hresult code, void *context);``
qm_notify_fn = ctypes.CFUNCTYPE(None, qm_job_t, c_uint32, c_uint32, qm_hresult, c_void_p)

_P = POINTER
_STR_OUT = [c_char_p, c_size_t, _P(c_size_t)]  # (char *buf, size_t cap, size_t *needed)

#: name -> (restype, argtypes), one entry per exported function.
PROTOTYPES: Dict[str, Tuple[object, List[object]]] = {
    # Library
    "qm_version": (c_char_p, []),
    "qm_abi_version": (c_uint32, []),
    "qm_format_hresult": (qm_hresult, [qm_hresult] + _STR_OUT),
    "qm_get_last_error_message": (qm_hresult, _STR_OUT),
    "qm_guid_to_string": (qm_hresult, [_P(qm_guid)] + _STR_OUT),
    "qm_guid_from_string": (qm_hresult, [c_char_p, _P(qm_guid)]),
    # Managers
    "qm_manager_open": (qm_hresult, [c_char_p, _P(qm_manager_t)]),
    "qm_manager_connect": (qm_hresult, [c_char_p, _P(qm_manager_t)]),
    "qm_manager_close": (qm_hresult, [qm_manager_t]),
    "qm_manager_set_max_active_jobs": (qm_hresult, [qm_manager_t, c_uint32]),
    "qm_manager_get_max_active_jobs": (qm_hresult, [qm_manager_t, _P(c_uint32)]),
    "qm_manager_set_max_bandwidth": (qm_hresult, [qm_manager_t, c_uint64]),
    "qm_manager_get_max_bandwidth": (qm_hresult, [qm_manager_t, _P(c_uint64)]),
    "qm_manager_enum_jobs": (qm_hresult, [qm_manager_t, _P(qm_job_t), c_size_t, _P(c_size_t)]),
    "qm_manager_enum_jobs_ex": (qm_hresult, [qm_manager_t, c_uint32, _P(qm_job_t), c_size_t, _P(c_size_t)]),
    "qm_manager_get_job": (qm_hresult, [qm_manager_t, _P(qm_guid), _P(qm_job_t)]),
    # Jobs
    "qm_job_create": (qm_hresult, [qm_manager_t, c_char_p, _P(qm_job_t)]),
    "qm_job_create_ex": (qm_hresult, [qm_manager_t, c_char_p, c_uint32, _P(qm_job_t)]),
    "qm_job_get_type": (qm_hresult, [qm_job_t, _P(c_uint32)]),
    "qm_job_set_upload_protocol": (qm_hresult, [qm_job_t, c_uint32]),
    "qm_job_get_upload_protocol": (qm_hresult, [qm_job_t, _P(c_uint32)]),
    "qm_job_set_reply_file_name": (qm_hresult, [qm_job_t, c_char_p]),
    "qm_job_get_reply_file_name": (qm_hresult, [qm_job_t] + _STR_OUT),
    "qm_job_get_reply_progress": (qm_hresult, [qm_job_t, _P(c_uint64), _P(c_uint64)]),
    "qm_job_get_reply_data": (qm_hresult, [qm_job_t, c_void_p, c_size_t, _P(c_size_t)]),
    "qm_job_take_ownership": (qm_hresult, [qm_job_t]),
    "qm_job_close": (qm_hresult, [qm_job_t]),
    "qm_job_get_id": (qm_hresult, [qm_job_t, _P(qm_guid)]),
    "qm_job_add_files": (qm_hresult, [qm_job_t, c_uint32, _P(qm_file_set_info)]),
    "qm_job_add_file_with_ranges": (qm_hresult, [qm_job_t, c_char_p, c_char_p, c_uint32, _P(qm_file_range)]),
    "qm_job_get_file_ranges": (qm_hresult, [qm_job_t, c_uint32, _P(qm_file_range), c_uint32, _P(c_uint32)]),
    "qm_job_add_file": (qm_hresult, [qm_job_t, c_char_p, c_char_p]),
    "qm_job_get_file_count": (qm_hresult, [qm_job_t, _P(c_uint32)]),
    "qm_job_get_file_remote_name": (qm_hresult, [qm_job_t, c_uint32] + _STR_OUT),
    "qm_job_get_file_local_name": (qm_hresult, [qm_job_t, c_uint32] + _STR_OUT),
    "qm_job_get_file_progress": (qm_hresult, [qm_job_t, c_uint32, _P(qm_file_progress)]),
    "qm_job_set_file_sha256": (qm_hresult, [qm_job_t, c_uint32, c_char_p]),
    "qm_job_set_file_delta": (qm_hresult, [qm_job_t, c_uint32, _P(c_char_p), c_uint32, c_char_p]),
    "qm_job_get_file_delta_status": (qm_hresult, [qm_job_t, c_uint32, _P(qm_file_delta_status)]),
    "qm_job_get_file_delta_reason": (qm_hresult, [qm_job_t, c_uint32] + _STR_OUT),
    "qm_job_get_file_sha256": (qm_hresult, [qm_job_t, c_uint32] + _STR_OUT),
    "qm_job_get_file_size_hint": (qm_hresult, [qm_job_t, c_uint32, _P(c_uint64)]),
    "qm_job_get_progress_ex": (qm_hresult, [qm_job_t, _P(qm_job_progress)]),
    "qm_job_get_progress": (qm_hresult, [qm_job_t, c_uint32, _P(c_uint64)]),
    "qm_job_get_status": (
        qm_hresult,
        [qm_job_t, _P(c_uint32), _P(c_uint32), _P(c_uint32), _P(c_uint32)],
    ),
    "qm_job_get_state": (qm_hresult, [qm_job_t, _P(c_uint32)]),
    "qm_job_get_error": (qm_hresult, [qm_job_t, _P(qm_job_error)]),
    "qm_job_get_error_description": (qm_hresult, [qm_job_t] + _STR_OUT),
    "qm_job_get_times": (qm_hresult, [qm_job_t, _P(qm_job_times)]),
    "qm_job_resume": (qm_hresult, [qm_job_t]),
    "qm_job_suspend": (qm_hresult, [qm_job_t]),
    "qm_job_cancel": (qm_hresult, [qm_job_t]),
    "qm_job_complete": (qm_hresult, [qm_job_t]),
    "qm_job_switch_to_foreground": (qm_hresult, [qm_job_t]),
    "qm_job_wait": (qm_hresult, [qm_job_t, c_uint32, _P(c_uint32)]),
    "qm_job_set_priority": (qm_hresult, [qm_job_t, c_uint32]),
    "qm_job_get_priority": (qm_hresult, [qm_job_t, _P(c_uint32)]),
    "qm_job_set_display_name": (qm_hresult, [qm_job_t, c_char_p]),
    "qm_job_get_display_name": (qm_hresult, [qm_job_t] + _STR_OUT),
    "qm_job_set_description": (qm_hresult, [qm_job_t, c_char_p]),
    "qm_job_get_description": (qm_hresult, [qm_job_t] + _STR_OUT),
    "qm_job_set_min_retry_delay": (qm_hresult, [qm_job_t, c_uint32]),
    "qm_job_get_min_retry_delay": (qm_hresult, [qm_job_t, _P(c_uint32)]),
    "qm_job_set_no_progress_timeout": (qm_hresult, [qm_job_t, c_uint32]),
    "qm_job_get_no_progress_timeout": (qm_hresult, [qm_job_t, _P(c_uint32)]),
    "qm_job_set_notify": (qm_hresult, [qm_job_t, qm_notify_fn, c_void_p, c_uint32]),
    "qm_job_get_notify_flags": (qm_hresult, [qm_job_t, _P(c_uint32)]),
    "qm_job_set_max_bandwidth": (qm_hresult, [qm_job_t, c_uint64]),
    "qm_job_get_max_bandwidth": (qm_hresult, [qm_job_t, _P(c_uint64)]),
    # HTTP options
    "qm_job_set_custom_headers": (qm_hresult, [qm_job_t, c_char_p]),
    "qm_job_get_custom_headers": (qm_hresult, [qm_job_t] + _STR_OUT),
    "qm_job_set_credentials": (qm_hresult, [qm_job_t, c_char_p, c_char_p]),
    "qm_job_set_proxy": (qm_hresult, [qm_job_t, c_char_p]),
    "qm_job_get_proxy": (qm_hresult, [qm_job_t] + _STR_OUT),
    "qm_job_set_ca_file": (qm_hresult, [qm_job_t, c_char_p]),
    "qm_job_get_ca_file": (qm_hresult, [qm_job_t] + _STR_OUT),
    "qm_job_set_client_certificate": (qm_hresult, [qm_job_t, c_char_p, c_char_p]),
    "qm_job_get_client_certificate": (qm_hresult, [qm_job_t] + _STR_OUT + _STR_OUT),
    "qm_job_set_stall_timeout": (qm_hresult, [qm_job_t, c_uint32]),
    "qm_job_get_stall_timeout": (qm_hresult, [qm_job_t, _P(c_uint32)]),
    "qm_job_set_security_flags": (qm_hresult, [qm_job_t, c_uint32]),
    "qm_job_get_security_flags": (qm_hresult, [qm_job_t, _P(c_uint32)]),
    "qm_job_set_max_download_size": (qm_hresult, [qm_job_t, c_uint64]),
    "qm_job_get_max_download_size": (qm_hresult, [qm_job_t, _P(c_uint64)]),
    "qm_job_set_low_speed_limit": (qm_hresult, [qm_job_t, c_uint64, c_uint32]),
    "qm_job_get_low_speed_limit": (qm_hresult, [qm_job_t, _P(c_uint64), _P(c_uint32)]),
    "qm_job_get_file_final_url": (qm_hresult, [qm_job_t, c_uint32] + _STR_OUT),
    "qm_job_get_file_temporary_name": (qm_hresult, [qm_job_t, c_uint32] + _STR_OUT),
    "qm_job_replace_remote_prefix": (qm_hresult, [qm_job_t, c_char_p, c_char_p]),
    "qm_job_set_file_remote_name": (qm_hresult, [qm_job_t, c_uint32, c_char_p]),
    "qm_job_get_file_response_headers": (qm_hresult, [qm_job_t, c_uint32] + _STR_OUT),
    "qm_manager_get_skipped_job_count": (qm_hresult, [qm_manager_t, _P(c_uint32)]),
    "qm_manager_get_skipped_jobs": (qm_hresult, [qm_manager_t] + _STR_OUT),
    "qm_job_set_max_connections": (qm_hresult, [qm_job_t, c_uint32]),
    "qm_job_get_max_connections": (qm_hresult, [qm_job_t, _P(c_uint32)]),
    "qm_job_set_max_download_time": (qm_hresult, [qm_job_t, c_uint32]),
    "qm_job_set_dynamic_content": (qm_hresult, [qm_job_t, c_uint32]),
    "qm_job_get_dynamic_content": (qm_hresult, [qm_job_t, _P(c_uint32)]),
    "qm_job_set_yielding": (qm_hresult, [qm_job_t, c_uint32]),
    "qm_job_get_yielding": (qm_hresult, [qm_job_t, _P(c_uint32)]),
    "qm_job_get_max_download_time": (qm_hresult, [qm_job_t, _P(c_uint32)]),
    "qm_job_set_notify_cmdline": (qm_hresult, [qm_job_t, c_char_p, c_char_p]),
    "qm_job_get_notify_cmdline": (qm_hresult, [qm_job_t] + _STR_OUT + _STR_OUT),
    "qm_job_set_min_notification_interval": (qm_hresult, [qm_job_t, c_uint32]),
    "qm_job_get_min_notification_interval": (qm_hresult, [qm_job_t, _P(c_uint32)]),
    "qm_manager_set_max_connections": (qm_hresult, [qm_manager_t, c_uint32]),
    "qm_manager_get_max_connections": (qm_hresult, [qm_manager_t, _P(c_uint32)]),
    "qm_manager_set_max_connections_per_server": (qm_hresult, [qm_manager_t, c_uint32]),
    "qm_manager_get_max_connections_per_server": (qm_hresult, [qm_manager_t, _P(c_uint32)]),
}

#: Functions added to ABI 1 after its first release (0.3.0): a library
#: without them still loads, and only the features that need them are
#: unavailable (``FeatureNotImplemented``). Every other function is required.
OPTIONAL: "frozenset[str]" = frozenset()

#: The optional functions the loaded library lacks.
missing_optional: "set[str]" = set()


def has(name: str) -> bool:
    """True if the loaded library exports the function ``name``."""
    return name in PROTOTYPES and name not in missing_optional

# --- finding the library ----------------------------------------------------

_PACKAGE_DIR = Path(__file__).resolve().parent
_NAMES = ("libqmgr.so", "libqmgr.so.1")


def candidate_paths() -> List[Tuple[str, Optional[Path]]]:
    """Where the library is looked for, in order, as (description, path)
    pairs; ``path`` is None for the ``find_library`` step."""
    out: List[Tuple[str, Optional[Path]]] = []
    for name in _NAMES:
        out.append(("next to the package", _PACKAGE_DIR / name))
    # In a checkout the package is python/qmgr and the build is target/.
    repo = _PACKAGE_DIR.parent.parent
    for profile in ("release", "debug"):
        for name in _NAMES:
            out.append((f"build directory target/{profile}", repo / "target" / profile / name))
    out.append(('ctypes.util.find_library("qmgr")', None))
    return out


def _load() -> Tuple[ctypes.CDLL, str]:
    env = os.environ.get("QMGR_LIBRARY")
    if env:
        try:
            return ctypes.CDLL(env), env
        except OSError as e:
            raise ImportError(
                f"qmgr: cannot load the library named by $QMGR_LIBRARY ({env!r}): {e}"
            ) from e
    looked: List[str] = ["$QMGR_LIBRARY (not set)"]
    errors: List[str] = []
    for what, path in candidate_paths():
        if path is None:
            found = ctypes.util.find_library("qmgr")
            if found is None:
                looked.append(f"{what} (found nothing)")
                continue
            target = found
            looked.append(f"{what} -> {found}")
        else:
            looked.append(f"{path} ({what})")
            if not path.exists():
                continue
            target = str(path)
        try:
            return ctypes.CDLL(target), target
        except OSError as e:
            errors.append(f"{target}: {e}")
    message = "qmgr: cannot find libqmgr.so. Looked in:\n  " + "\n  ".join(looked)
    if errors:
        message += "\nFound but could not load:\n  " + "\n  ".join(errors)
    message += (
        "\nBuild it with `cargo build --lib` (or --release) in the qmgr checkout, "
        "or set QMGR_LIBRARY to the path of libqmgr.so."
    )
    raise ImportError(message)


def _declare(dll: ctypes.CDLL, where: str) -> None:
    missing: List[str] = []
    for name, (restype, argtypes) in PROTOTYPES.items():
        try:
            fn = getattr(dll, name)
        except AttributeError:
            if name in OPTIONAL:
                missing_optional.add(name)
            else:
                missing.append(name)
            continue
        fn.restype = restype
        fn.argtypes = argtypes
    if missing:
        raise ImportError(
            f"qmgr: the library {where} lacks these functions: {', '.join(missing)} "
            "(is it an older or foreign build?)"
        )


def _check_abi(dll: ctypes.CDLL, where: str) -> None:
    try:
        fn = dll.qm_abi_version
    except AttributeError:
        raise ImportError(f"qmgr: {where} is not a qmgr library (no qm_abi_version)") from None
    fn.restype = c_uint32
    fn.argtypes = []
    abi = int(fn())
    if abi != ABI_VERSION:
        raise ImportError(
            f"qmgr: the library {where} has ABI version {abi}, but this Python package "
            f"was written for ABI version {ABI_VERSION}; install matching versions"
        )


lib, library_path = _load()
_check_abi(lib, library_path)
_declare(lib, library_path)


def exported_names() -> Sequence[str]:
    """The names of every function this module declares."""
    return tuple(PROTOTYPES)

