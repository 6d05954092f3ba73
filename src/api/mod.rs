//! The Rust API's two handles, [`Manager`](manager::Manager) and
//! [`Job`](job::Job): facades over one of two backends, chosen when the
//! manager is made and kept by every job it hands out.
//!
//! - **Local**: the engine in this process (`Manager::open`). Each call is
//!   the engine's own: the facade adds one `match` on a two-variant enum
//!   (no box, no extra reference count), so `qm_job_get_progress` keeps
//!   its cost.
//! - **Remote** (feature `service`): a proxy of a job of `qmgrd`
//!   (`Manager::connect`, DESIGN §8), in `crate::proxy`. Every call is
//!   carried out by the daemon over its Unix socket, with the codes and
//!   messages of the in-process call; getters of a job read a snapshot the
//!   daemon's events keep fresh (see `crate::proxy`).
//!
//! Callbacks ([`NotifyCallback`](job::NotifyCallback)) receive the facade
//! `Job`, whichever backend runs them: a backend gets them already bound
//! to the job they report.
//!
//! This module sits above the engine and the proxy and below the crate
//! root, which re-exports it: it names the engine by its full paths (never
//! `crate::Job`, which is this module).

/// Runs the method of the same name and arguments on whichever backend
/// `self` holds: `delegate!(self.state())`. The backends offer the API's
/// methods with the API's signatures, so each facade method is its doc
/// comment and this line. `Backend` is the calling file's own enum.
macro_rules! delegate {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match &$self.backend {
            Backend::Local(inner) => inner.$method($($arg),*),
            #[cfg(feature = "service")]
            Backend::Remote(inner) => inner.$method($($arg),*),
        }
    };
}

pub mod job;
pub mod manager;
