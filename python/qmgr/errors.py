"""HRESULTs in Python: the ``HRESULT`` int type and the ``QmgrError`` family.

Every failing call raises a ``QmgrError`` (or a subclass chosen by its code)
that carries the code, its name (``"QM_BG_E_EMPTY"``), its description
(``"the job has no files to transfer"``) and a message. Names and
descriptions come from the library itself, through ``qm_format_hresult``, so
they are right for every code it knows, including ones newer than this
package.
"""

from __future__ import annotations

import ctypes
import functools
import re
from typing import Dict, Optional, Tuple, Type

from . import constants as C
from ._lib import lib

__all__ = [
    "HRESULT",
    "format_hresult",
    "last_error_message",
    "hresult_name",
    "hresult_description",
    "succeeded",
    "failed",
    "QmgrError",
    "InvalidArgument",
    "StringTooLong",
    "InvalidPointer",
    "InvalidState",
    "InvalidHandle",
    "HandleClosed",
    "NotFound",
    "ItemNotFound",
    "Empty",
    "FeatureNotImplemented",
    "BufferTooSmall",
    "Aborted",
    "AccessDenied",
    "OutOfMemory",
    "SharingViolation",
    "ServiceUnavailable",
    "InternalError",
    "error_class_for",
    "error_from_code",
]


def _u32(code: int) -> int:
    return int(code) & 0xFFFFFFFF


def _i32(code: int) -> int:
    u = _u32(code)
    return u - (1 << 32) if u & 0x80000000 else u


def succeeded(code: int) -> bool:
    """True for a success code (``QM_SUCCEEDED``); signed or unsigned form."""
    return (_u32(code) & 0x80000000) == 0


def failed(code: int) -> bool:
    """True for a failure code (``QM_FAILED``); signed or unsigned form."""
    return not succeeded(code)


@functools.lru_cache(maxsize=512)
def _format(code_u32: int) -> str:
    needed = ctypes.c_size_t(0)
    lib.qm_format_hresult(_i32(code_u32), None, 0, ctypes.byref(needed))
    size = max(int(needed.value), 64)
    for _ in range(4):
        buf = ctypes.create_string_buffer(size)
        hr = _u32(lib.qm_format_hresult(_i32(code_u32), buf, size, ctypes.byref(needed)))
        if hr == C.QM_E_INSUFFICIENT_BUFFER:
            size = int(needed.value)
            continue
        if failed(hr):
            break
        return buf.value.decode("utf-8", "replace")
    return f"0x{code_u32:08X}: unknown error"


def last_error_message() -> str:
    """The message of this thread's last failed qmgr call
    (``qm_get_last_error_message``): the library's own words, naming the
    value, path or URL at fault; ``""`` when no call of this thread failed."""
    needed = ctypes.c_size_t(0)
    for _ in range(4):
        lib.qm_get_last_error_message(None, 0, ctypes.byref(needed))
        size = int(needed.value)
        buf = ctypes.create_string_buffer(size)
        hr = _u32(lib.qm_get_last_error_message(buf, size, ctypes.byref(needed)))
        if hr == C.QM_E_INSUFFICIENT_BUFFER:
            continue
        return buf.value.decode("utf-8", "replace") if succeeded(hr) else ""
    return ""


def format_hresult(code: int) -> str:
    """Says a code in words, through ``qm_format_hresult``, e.g.
    ``"QM_BG_E_INVALID_STATE (0x80200002): the requested action is not allowed
    in the job's current state"``; unknown codes give ``"0xXXXXXXXX: unknown
    error"``. Accepts the signed or the unsigned form."""
    return _format(_u32(code))


_FORMATTED = re.compile(r"^(?P<name>.+?) \((?P<hex>0x[0-9A-Fa-f]{8})\): (?P<desc>.*)$", re.S)
_UNKNOWN = re.compile(r"^(?P<hex>0x[0-9A-Fa-f]{8}): (?P<desc>.*)$", re.S)


def _split(code: int) -> Tuple[str, str]:
    """(name, description) of a code; the name of an unknown code is its
    hexadecimal form."""
    text = format_hresult(code)
    m = _FORMATTED.match(text)
    if m:
        return m.group("name"), m.group("desc")
    m = _UNKNOWN.match(text)
    if m:
        return C.CODE_NAMES.get(_u32(code), m.group("hex")), m.group("desc")
    return C.CODE_NAMES.get(_u32(code), f"0x{_u32(code):08X}"), text


def hresult_name(code: int) -> str:
    """The code's name, e.g. ``"QM_BG_E_EMPTY"`` (``"0x…"`` when unknown)."""
    return _split(code)[0]


def hresult_description(code: int) -> str:
    """The code's meaning, e.g. ``"the job has no files to transfer"``."""
    return _split(code)[1]


class HRESULT(int):
    """A result code: an ``int`` (always the unsigned 32-bit form, so it
    equals the ``QM_*`` constants) that knows its name and description.

    >>> HRESULT(-2145386493) == qmgr.QM_BG_E_EMPTY
    True
    >>> str(HRESULT(qmgr.QM_BG_E_EMPTY))
    'QM_BG_E_EMPTY (0x80200003): the job has no files to transfer'
    """

    def __new__(cls, value: int) -> "HRESULT":
        return super().__new__(cls, _u32(value))

    @property
    def signed(self) -> int:
        """The value as C's ``int32_t qm_hresult`` sees it."""
        return _i32(self)

    @property
    def succeeded(self) -> bool:
        """``QM_SUCCEEDED(hr)``."""
        return succeeded(self)

    @property
    def failed(self) -> bool:
        """``QM_FAILED(hr)``."""
        return failed(self)

    @property
    def name(self) -> str:
        """The code's name, e.g. ``"QM_BG_S_PARTIAL_COMPLETE"``."""
        return hresult_name(self)

    @property
    def description(self) -> str:
        """The code's meaning in words."""
        return hresult_description(self)

    def __str__(self) -> str:
        return format_hresult(self)

    def __repr__(self) -> str:
        return f"HRESULT(0x{int(self):08X} {self.name})"


# --- exceptions ----------------------------------------------------------------


class QmgrError(Exception):
    """A qmgr call failed.

    Attributes:
        code: the HRESULT (an ``HRESULT``, i.e. an ``int`` in unsigned form,
            e.g. ``0x80200003``).
        name: its name, e.g. ``"QM_BG_E_EMPTY"``.
        description: what it means, e.g. ``"the job has no files to transfer"``.
        detail: what the library said of this failure, e.g. ``"file 0: the
            local name 'x' is not an absolute file path"`` (``""`` if none).
        message: the whole text, usually with the call that failed.
    """

    code: HRESULT
    name: str
    description: str
    detail: str
    message: str

    def __init__(
        self,
        code: int,
        name: Optional[str] = None,
        description: Optional[str] = None,
        message: Optional[str] = None,
        detail: str = "",
    ) -> None:
        hr = HRESULT(code)
        if name is None or description is None:
            n, d = _split(hr)
            name = n if name is None else name
            description = d if description is None else description
        if message is None:
            message = f"{name} (0x{int(hr):08X}): {description}"
        super().__init__(hr, name, description, message)
        self.code = hr
        self.name = name
        self.description = description
        self.detail = detail
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(0x{int(self.code):08X}, {self.name!r}, {self.message!r})"


class InvalidArgument(QmgrError, ValueError):
    """``QM_E_INVALIDARG`` (and ``QM_BG_E_INVALID_PROXY_INFO``): an argument is invalid."""


class StringTooLong(InvalidArgument):
    """``QM_BG_E_STRING_TOO_LONG``, ``QM_BG_E_USERNAME_TOO_LARGE``,
    ``QM_BG_E_PASSWORD_TOO_LARGE``."""


class InvalidPointer(QmgrError):
    """``QM_E_POINTER``: a required pointer was NULL (a bug in this package)."""


class InvalidState(QmgrError):
    """``QM_BG_E_INVALID_STATE`` / ``QM_E_INVALID_STATE``: not allowed in the
    job's current state (e.g. a second ``cancel()``)."""


class InvalidHandle(QmgrError):
    """``QM_E_HANDLE``: the manager or job handle is closed or stale."""


#: The same class as ``InvalidHandle``: using a closed ``Manager`` or ``Job``.
HandleClosed = InvalidHandle


class NotFound(QmgrError, LookupError):
    """``QM_BG_E_NOT_FOUND``: no such job."""


class ItemNotFound(NotFound, IndexError):
    """``QM_E_ITEM_NOT_FOUND``: a file index past the end."""


class Empty(QmgrError):
    """``QM_BG_E_EMPTY``: the job has no files, or nothing left to transfer."""


class FeatureNotImplemented(QmgrError, NotImplementedError):
    """``QM_E_NOTIMPL``: not implemented in this release."""


class BufferTooSmall(QmgrError):
    """``QM_E_INSUFFICIENT_BUFFER`` (handled inside this package; seen only
    from the raw API)."""


class Aborted(QmgrError):
    """``QM_E_ABORT``: e.g. the manager was closed during a ``wait()``."""


class AccessDenied(QmgrError):
    """``QM_E_ACCESSDENIED``."""


class OutOfMemory(QmgrError):
    """``QM_E_OUTOFMEMORY`` (e.g. no thread could be started)."""


class SharingViolation(QmgrError):
    """``QM_E_SHARING_VIOLATION``: the state directory is in use."""


class ServiceUnavailable(QmgrError, ConnectionError):
    """``QM_E_SERVICE_UNAVAILABLE``: no qmgr daemon listens at the address
    (``Manager.connect``), or the connection to it was lost; the next call
    connects again."""


class InternalError(QmgrError):
    """``QM_E_UNEXPECTED``: an internal failure of the library."""


_CLASSES: Dict[int, Type[QmgrError]] = {
    C.QM_E_INVALIDARG: InvalidArgument,
    C.QM_BG_E_INVALID_PROXY_INFO: InvalidArgument,
    C.QM_BG_E_STRING_TOO_LONG: StringTooLong,
    C.QM_BG_E_USERNAME_TOO_LARGE: StringTooLong,
    C.QM_BG_E_PASSWORD_TOO_LARGE: StringTooLong,
    C.QM_E_POINTER: InvalidPointer,
    C.QM_BG_E_INVALID_STATE: InvalidState,
    C.QM_E_INVALID_STATE: InvalidState,
    C.QM_E_HANDLE: InvalidHandle,
    C.QM_BG_E_NOT_FOUND: NotFound,
    C.QM_E_ITEM_NOT_FOUND: ItemNotFound,
    C.QM_BG_E_EMPTY: Empty,
    C.QM_E_NOTIMPL: FeatureNotImplemented,
    C.QM_E_INSUFFICIENT_BUFFER: BufferTooSmall,
    C.QM_E_ABORT: Aborted,
    C.QM_E_ACCESSDENIED: AccessDenied,
    C.QM_E_OUTOFMEMORY: OutOfMemory,
    C.QM_E_SHARING_VIOLATION: SharingViolation,
    C.QM_E_SERVICE_UNAVAILABLE: ServiceUnavailable,
    C.QM_E_UNEXPECTED: InternalError,
}


def error_class_for(code: int) -> Type[QmgrError]:
    """The exception class for a failure code (``QmgrError`` for the rest)."""
    return _CLASSES.get(_u32(code), QmgrError)


def error_from_code(code: int, what: Optional[str] = None, detail: str = "") -> QmgrError:
    """The exception for a failure code; ``what`` (e.g. ``"Job.resume()"``)
    prefixes the message, and ``detail`` (the library's words) ends it."""
    hr = HRESULT(code)
    name, description = _split(hr)
    message = f"{name} (0x{int(hr):08X}): {description}"
    if what:
        message = f"{what}: {message}"
    if detail:
        message = f"{message}: {detail}"
    return error_class_for(hr)(hr, name, description, message, detail)


def check(code: int, what: Optional[str] = None) -> HRESULT:
    """Raises the matching ``QmgrError`` for a failure code, with the
    library's message of the call that just failed on this thread; returns
    the (success) code as an ``HRESULT`` otherwise."""
    hr = HRESULT(code)
    if hr & 0x80000000:
        raise error_from_code(hr, what, last_error_message())
    return hr
