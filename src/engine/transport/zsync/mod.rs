//! zsync (issue 24): the control file `zsyncmake` writes beside a file
//! (`control`) and the block matching that finds its blocks in seeds, the
//! local files a device already has (`matcher`), and the checks of the
//! file rebuilt from them (`verify`). Plain data and reads: no job, no
//! socket.

pub(crate) mod control;
pub(crate) mod matcher;
pub(crate) mod verify;
