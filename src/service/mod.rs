//! qmgr's service protocol (DESIGN §8): the `io.qmgr` Varlink interface
//! that `qmgrd` serves on a Unix socket, and the proxy that carries a
//! connected manager's calls to it. The daemon is its own crate
//! (`qmgrd/`); it uses this module's framing and encodings, so both ends
//! agree by construction. Not an API for programs: they use
//! [`crate::Manager::connect`] or `qm_manager_connect`.

/// The interface description the daemon serves through
/// `org.varlink.service.GetInterfaceDescription`.
pub const INTERFACE: &str = include_str!("io.qmgr.varlink");

/// The interface's name, the prefix of its methods and errors.
pub const INTERFACE_NAME: &str = "io.qmgr";
