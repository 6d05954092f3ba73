"""qmgr: background file transfers (in the spirit of Microsoft BITS) from Python.

A ctypes front end for ``libqmgr``: create a job, add files (remote URL ->
local path), resume it, and the library moves the bytes on its own threads.
Files appear at their names only when you call ``complete()``::

    import qmgr
    with qmgr.Manager() as m, m.create_job("copy") as job:
        job.add_file("file:///etc/os-release", "/tmp/os-release")
        job.resume()
        if job.wait() == qmgr.JobState.TRANSFERRED: job.complete()

The library is found through ``$QMGR_LIBRARY``, then next to this package,
then a checkout's ``target/release`` / ``target/debug``, then the system
(``ctypes.util.find_library``). Importing fails with ``ImportError`` if it is
missing or its ABI version is not the one this package was written for.

Failures raise ``QmgrError`` subclasses carrying the HRESULT, its name and
its description. Every object may be used from any thread; ``Job.wait()``
does not hold the GIL.
"""

from __future__ import annotations

# Star imports re-export exactly each submodule's __all__, also for type
# checkers (`mypy --strict` refuses names a package does not export).
from . import _core, constants, errors
from ._core import *  # noqa: F401,F403  (Manager, Job, FileSpec, ...)
from ._lib import ABI_VERSION as ABI_VERSION, library_path as library_path
from .constants import *  # noqa: F401,F403  (every QM_* constant and the enums)
from .constants import (
    CODE_NAMES as CODE_NAMES,
    ErrorContext as ErrorContext,
    JobState as JobState,
    JobType as JobType,
    Notify as Notify,
    Priority as Priority,
    Status as Status,
    UploadProtocol as UploadProtocol,
)
from .errors import *  # noqa: F401,F403  (QmgrError and its subclasses, HRESULT, ...)

#: This package's version.
__version__ = "0.3.0"

# Everything the submodules export, plus the enums, the library facts and
# every QM_* constant.
__all__ = (
    _core.__all__
    + errors.__all__
    + ["JobState", "JobType", "UploadProtocol", "Priority", "Notify", "ErrorContext", "Status"]
    + ["library_path", "ABI_VERSION", "CODE_NAMES", "constants", "__version__"]
    + [name for name in dir(constants) if name.startswith("QM_")]
)
