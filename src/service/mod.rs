//! qmgr's service protocol (DESIGN §8): the `io.qmgr` Varlink interface
//! that `qmgrd` serves on a Unix socket, and the proxy that carries a
//! connected manager's calls to it. The daemon is its own crate
//! (`qmgrd/`); it uses this module's framing and encodings, so both ends
//! agree by construction. Not an API for programs: they use
//! [`crate::Manager::connect`] or `qm_manager_connect`.

/// The interface description the daemon serves through
/// `org.varlink.service.GetInterfaceDescription`.
pub const INTERFACE: &str = include_str!("io.qmgr.varlink");

/// The most reply bytes one `io.qmgr.GetReplyData` answer carries: in
/// base64, with the message's framing, well under the 1 MiB a message may
/// be (`varlink::MAX_MESSAGE`).
pub const REPLY_DATA_CHUNK: usize = 512 * 1024;

/// The interface's name, the prefix of its methods and errors.
pub const INTERFACE_NAME: &str = "io.qmgr";

/// `io.qmgr.Failed (code, message)`: the call failed as in-process.
pub const FAILED: &str = "io.qmgr.Failed";

/// `io.qmgr.LimitReached (what, limit)`: a bound of the daemon's policy.
pub const LIMIT_REACHED: &str = "io.qmgr.LimitReached";

pub mod codec;
pub mod varlink;

/// The full names of the methods of `io.qmgr` (and of
/// `org.varlink.service`), for both ends.
pub mod method {
    /// `org.varlink.service.GetInfo`.
    pub const GET_INFO: &str = "org.varlink.service.GetInfo";
    /// `org.varlink.service.GetInterfaceDescription`.
    pub const GET_INTERFACE_DESCRIPTION: &str = "org.varlink.service.GetInterfaceDescription";
    /// `io.qmgr.Hello`.
    pub const HELLO: &str = "io.qmgr.Hello";
    /// `io.qmgr.GetSkippedJobs`.
    pub const GET_SKIPPED_JOBS: &str = "io.qmgr.GetSkippedJobs";
    /// `io.qmgr.GetSettings`.
    pub const GET_SETTINGS: &str = "io.qmgr.GetSettings";
    /// `io.qmgr.SetSettings`.
    pub const SET_SETTINGS: &str = "io.qmgr.SetSettings";
    /// `io.qmgr.ListJobs`.
    pub const LIST_JOBS: &str = "io.qmgr.ListJobs";
    /// `io.qmgr.CreateJob`.
    pub const CREATE_JOB: &str = "io.qmgr.CreateJob";
    /// `io.qmgr.GetJob`.
    pub const GET_JOB: &str = "io.qmgr.GetJob";
    /// `io.qmgr.GetFiles`.
    pub const GET_FILES: &str = "io.qmgr.GetFiles";
    /// `io.qmgr.AddFiles`.
    pub const ADD_FILES: &str = "io.qmgr.AddFiles";
    /// `io.qmgr.AddFileWithRanges`.
    pub const ADD_FILE_WITH_RANGES: &str = "io.qmgr.AddFileWithRanges";
    /// `io.qmgr.SetFileRemoteName`.
    pub const SET_FILE_REMOTE_NAME: &str = "io.qmgr.SetFileRemoteName";
    /// `io.qmgr.SetFileSha256`.
    pub const SET_FILE_SHA256: &str = "io.qmgr.SetFileSha256";
    /// `io.qmgr.SetFileDelta`.
    pub const SET_FILE_DELTA: &str = "io.qmgr.SetFileDelta";
    /// `io.qmgr.SetUploadProtocol`.
    pub const SET_UPLOAD_PROTOCOL: &str = "io.qmgr.SetUploadProtocol";
    /// `io.qmgr.SetReplyFileName`.
    pub const SET_REPLY_FILE_NAME: &str = "io.qmgr.SetReplyFileName";
    /// `io.qmgr.GetReplyData`.
    pub const GET_REPLY_DATA: &str = "io.qmgr.GetReplyData";
    /// `io.qmgr.ReplaceRemotePrefix`.
    pub const REPLACE_REMOTE_PREFIX: &str = "io.qmgr.ReplaceRemotePrefix";
    /// `io.qmgr.SetJob`.
    pub const SET_JOB: &str = "io.qmgr.SetJob";
    /// `io.qmgr.Resume`.
    pub const RESUME: &str = "io.qmgr.Resume";
    /// `io.qmgr.Suspend`.
    pub const SUSPEND: &str = "io.qmgr.Suspend";
    /// `io.qmgr.Cancel`.
    pub const CANCEL: &str = "io.qmgr.Cancel";
    /// `io.qmgr.Complete`.
    pub const COMPLETE: &str = "io.qmgr.Complete";
    /// `io.qmgr.SwitchToForeground`.
    pub const SWITCH_TO_FOREGROUND: &str = "io.qmgr.SwitchToForeground";
    /// `io.qmgr.Wait`.
    pub const WAIT: &str = "io.qmgr.Wait";
    /// `io.qmgr.TakeOwnership`.
    pub const TAKE_OWNERSHIP: &str = "io.qmgr.TakeOwnership";
    /// `io.qmgr.Watch`.
    pub const WATCH: &str = "io.qmgr.Watch";
    /// `io.qmgr.TakeEvents`.
    pub const TAKE_EVENTS: &str = "io.qmgr.TakeEvents";
}
