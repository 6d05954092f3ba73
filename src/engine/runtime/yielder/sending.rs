//! Yielding of uploads (issue 23): the sending side of a background
//! upload's connection feeds the sending controller of its priority,
//! which the kernel's pacing of the socket enforces.

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{
    class_index, is_mapped_loopback, Class, JobOption, Yielding, MAX_WAIT, SAMPLE_EVERY, UNCLAMPED,
    WINDOW_SLACK,
};
use crate::engine::types::Priority;

impl Yielding {
    fn sending_class(&self, priority: Priority) -> Option<&Class> {
        Some(&self.sending[class_index(priority)?])
    }

    /// The part of an upload's body sent over `socket`, which takes part
    /// once [`SendFlow::follow`] says its job yields.
    pub(crate) fn send_flow(&self, socket: std::net::TcpStream) -> SendFlow<'_> {
        let peer = socket
            .peer_addr()
            .ok()
            .map(|a| a.ip())
            .filter(|ip| !ip.is_loopback() && !is_mapped_loopback(ip));
        SendFlow {
            yielding: self,
            class: None,
            socket,
            peer,
            next_sample: Instant::now(),
            option: JobOption::default(),
            acked: None,
            congestion: None,
            paced: false,
            share: None,
            fixed: false,
        }
    }
}

/// The congestion control a yielding upload asks the kernel for: TCP-LP,
/// which backs off as soon as the round trip grows, before any loss. Only
/// where the kernel has it and lets this process use it (root, or listed
/// in `net.ipv4.tcp_allowed_congestion_control`); elsewhere the socket
/// keeps its own, quietly, and the pacing alone yields.
const LOW_PRIORITY_CONGESTION: &str = "lp";

/// The least bytes a paced upload writes at a time.
const MIN_PIECE: usize = 4096;

/// The longest a receiver holds an acknowledgement back (Linux's
/// delayed-ACK timeout, `TCP_ATO_MIN`).
const DELAYED_ACK: Duration = Duration::from_millis(40);

/// The longest a paced upload holds its next piece back for the socket to
/// send the last ones ([`SendFlow::hold`]).
pub(crate) const MAX_HOLD: Duration = Duration::from_secs(1);

/// The least send buffer a limited upload connection is fixed at.
const MIN_SEND_BUFFER: u64 = 16 * 1024;

/// The least rate one upload connection is paced at, in bytes per second
/// (a few segments a second: its round trip keeps being measured).
const MIN_PACE: u64 = 4096;

/// One upload body's part in its priority's sending controller. The
/// sender measures the round trip itself (`tcpi_rtt`, from its own
/// clock: no echoed timestamps to go stale), and the kernel paces the
/// socket at the class's rate divided among its connections
/// (`SO_MAX_PACING_RATE`), so that a cut holds on the wire at once,
/// whatever the socket's buffer holds.
pub(crate) struct SendFlow<'a> {
    yielding: &'a Yielding,
    class: Option<&'a Class>,
    socket: std::net::TcpStream,
    /// `None`: a server on this host, which shares no link.
    peer: Option<IpAddr>,
    next_sample: Instant,
    option: JobOption,
    /// The bytes the peer had acknowledged at the last sample.
    acked: Option<u64>,
    /// The congestion control the socket had before it was made TCP-LP.
    congestion: Option<String>,
    /// The kernel paces the socket at the class's rate, this connection's
    /// share of it (`None`: no limit) in bytes per second.
    paced: bool,
    share: Option<u64>,
    /// The socket's send buffer was fixed (for the socket's life).
    fixed: bool,
}

impl SendFlow<'_> {
    /// Takes the part a job of `priority` asks for (see [`Flow::follow`]).
    pub(crate) fn follow(&mut self, priority: u32, yields: impl FnOnce() -> bool) {
        if self.peer.is_none() {
            return;
        }
        let Some(class) = self.option.switch(self.class, priority, yields, |p| {
            self.yielding.sending_class(p)
        }) else {
            return;
        };
        self.leave();
        if let Some(class) = class {
            class.flows.fetch_add(1, Ordering::Relaxed);
            self.acked = crate::sys::tcp_sending(&self.socket).and_then(|i| i.bytes_acked);
            let before = crate::sys::congestion_control(&self.socket);
            if before.as_deref() != Some(LOW_PRIORITY_CONGESTION)
                && crate::sys::set_congestion_control(&self.socket, LOW_PRIORITY_CONGESTION)
            {
                self.congestion = before;
            }
        }
        self.class = class;
    }

    /// Counts `bytes` written to the socket and samples the round trip
    /// when it is time; returns how long to wait before writing more
    /// (zero while the kernel paces the socket).
    pub(crate) fn sent(&mut self, bytes: u64) -> Duration {
        let (Some(class), Some(peer)) = (self.class, self.peer) else {
            return Duration::ZERO;
        };
        let now = Instant::now();
        if now >= self.next_sample {
            self.next_sample = now + SAMPLE_EVERY;
            self.sample(class, peer, now);
        }
        if self.paced {
            return Duration::ZERO;
        }
        // No pacing in this kernel: the writes pay the class's throttle
        // (the socket's buffer then delays a cut by what it holds).
        let wait = class.throttle.take(bytes);
        if !wait.is_zero() {
            class.held.store(true, Ordering::Relaxed);
        }
        wait.min(MAX_WAIT)
    }

    /// Feeds the controller what the peer acknowledged and the round
    /// trip, adjusts it when due, and paces the socket at its share.
    fn sample(&mut self, class: &Class, peer: IpAddr, now: Instant) {
        let info = crate::sys::tcp_sending(&self.socket);
        let acked = info.and_then(|i| i.bytes_acked);
        let newly = match (acked, self.acked) {
            (Some(now), Some(before)) => now.saturating_sub(before),
            _ => 0,
        };
        // The round trip is timed on acknowledged data: with none since
        // the last sample, the figure is an old one.
        let fresh = acked.is_none() || newly > 0;
        self.acked = acked;
        // A receiver acknowledges every second segment at once, and a lone
        // one after its delayed-ACK timeout (40 ms on Linux): paced at
        // one segment per interval, an acknowledgement waits up to an
        // interval, which the round trip shows. Not a queue: at a low
        // rate, counted as one, it would cut the rate further, and the
        // interval would grow again, down to the floor.
        let spacing = match (self.share, info) {
            (Some(share), Some(i)) if share > 0 => {
                Duration::from_secs_f64(f64::from(i.segment) / share as f64).min(DELAYED_ACK)
            }
            _ => Duration::ZERO,
        };
        let mut state = class.state.lock();
        if let Some(rtt) = info.and_then(|i| i.round_trip).filter(|_| fresh) {
            let base = state.controller.base(peer).unwrap_or(rtt);
            state
                .controller
                .on_delay(now, peer, rtt.saturating_sub(spacing).max(base.min(rtt)));
        }
        state.controller.on_bytes(peer, newly);
        if state.next_adjust.is_none_or(|at| now >= at) {
            class.adjust(&mut state, now);
        }
        let rate = state.controller.rate();
        // Limited, the send buffer holds about what the share sends in a
        // round trip plus the target, as a download's receive window:
        // a write then returns (and the connection is sampled) every few
        // milliseconds, and little waits in the buffer behind a cut.
        let round_trip =
            state.controller.base(peer).unwrap_or_default() + state.controller.target();
        drop(state);
        let flows = class.flows.load(Ordering::Relaxed).max(1) as u64;
        let share = (rate != 0).then(|| (rate / flows).max(MIN_PACE));
        self.share = share;
        self.paced = crate::sys::set_pacing_rate(&self.socket, share);
        if let Some(share) = share {
            let buffer = (share as f64 * round_trip.as_secs_f64() * WINDOW_SLACK) as u64;
            let buffer = buffer.clamp(MIN_SEND_BUFFER, u64::from(UNCLAMPED)) as u32;
            self.fixed |= crate::sys::fix_send_buffer(&self.socket, buffer);
        }
    }

    /// While paced, how long to wait before writing the next piece (at
    /// most a sample period, then ask again), sampling the connection when
    /// due; `None`: write now. The socket is let to hold at most a piece
    /// unsent beyond the one being sent: given more, a blocked write
    /// returns (and the connection is sampled) only once the kernel sent
    /// enough, and on a path of a few microseconds Linux sends up to
    /// 64 KB at once whatever the pacing rate, then waits that burst's
    /// time at the rate, seconds at a background floor, behind which a
    /// raised rate is stuck (an upload stayed at its floor for 20 s after
    /// the user's own upload ended, `bench/yield.sh` `SHAPES=up`).
    pub(crate) fn hold(&mut self) -> Option<Duration> {
        let (Some(class), Some(peer), Some(share)) = (self.class, self.peer, self.share) else {
            return None;
        };
        if !self.paced {
            return None;
        }
        let unsent = u64::from(crate::sys::tcp_sending(&self.socket)?.unsent?);
        let beyond = unsent.checked_sub(self.piece(usize::MAX) as u64)?;
        if beyond == 0 {
            return None;
        }
        let now = Instant::now();
        if now >= self.next_sample {
            self.next_sample = now + SAMPLE_EVERY;
            self.sample(class, peer, now);
        }
        Some(Duration::from_secs_f64(beyond as f64 / share.max(1) as f64).min(SAMPLE_EVERY))
    }

    /// The bytes to write at a time, at most `max`: while paced, what
    /// the connection's share sends in a sample period, so that a write
    /// returns (and the connection is sampled) about that often.
    pub(crate) fn piece(&self, max: usize) -> usize {
        match self.share {
            Some(share) if self.class.is_some() => {
                let per_sample = (share as f64 * SAMPLE_EVERY.as_secs_f64()) as usize;
                per_sample.clamp(MIN_PIECE, max.max(MIN_PIECE))
            }
            _ => max,
        }
    }

    /// Whether the connection may serve another request once this body is
    /// sent: not with a send buffer fixed at a background rate.
    pub(crate) fn poolable(&self) -> bool {
        !self.fixed
    }

    /// Leaves the class: the socket is no longer paced and gets its
    /// congestion control back (the connection may serve a FOREGROUND
    /// request next).
    fn leave(&mut self) {
        if let Some(class) = self.class.take() {
            class.flows.fetch_sub(1, Ordering::Relaxed);
        }
        if std::mem::take(&mut self.paced) {
            crate::sys::set_pacing_rate(&self.socket, None);
        }
        if let Some(name) = self.congestion.take() {
            crate::sys::set_congestion_control(&self.socket, &name);
        }
    }
}

impl Drop for SendFlow<'_> {
    fn drop(&mut self) {
        self.leave();
    }
}
