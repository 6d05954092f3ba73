//! The scheduling rule, as a pure function of what the scheduler saw.
//!
//! At most `max_active` jobs transfer at once; queued jobs start in order
//! of priority, then queue order. When every slot is taken, the first job
//! that waits may take one (one preemption at a time, none while a
//! preempted job is still stopping), as BITS's priorities say: "a
//! higher-priority job preempts a lower-priority job; jobs at the same
//! priority level share transfer time, which prevents a large job from
//! blocking the transfer queue":
//!
//! - a FOREGROUND job preempts the lowest-priority running background job
//!   (the last queued among equals);
//! - a background job preempts a running job of lower priority that can
//!   stop without losing bytes, or one of its own priority whose time
//!   slice ([`SLICE`]) is over; the latter goes to the end of the queue,
//!   so that jobs of one priority take turns (and one user's jobs cannot
//!   hold every slot of a shared qmgrd). A job that would lose its bytes
//!   (a source without ranges, dynamic content) is never preempted for a
//!   background job.
//!
//! The timers are pure too: given what each job waits for and the time,
//! [`alarms`] says whose retry or maximum download time is due and when
//! the next pass must be. The scheduler reads the clock once per pass and
//! passes it in; the tests pass any time they like.

use std::time::{Duration, Instant};

use crate::engine::model::job::{JobModel, Run};
use crate::engine::types::{JobState, Priority};

/// What the scheduler saw of one job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Seen {
    pub priority: Priority,
    pub queue_seq: u64,
    /// Has a worker that has not been told to stop.
    pub running: bool,
    /// Has a worker that was told to stop and is still ending.
    pub stopping: bool,
    /// QUEUED with no worker: wants a slot.
    pub queued: bool,
    /// When its current run started (while `running`).
    pub running_since: Option<Instant>,
    /// Stopping it now loses no byte ([`JobModel::resumable`]).
    pub resumable: bool,
}

impl Seen {
    /// What the scheduler sees of `job`.
    pub(crate) fn of(job: &JobModel) -> Seen {
        Seen {
            priority: job.priority(),
            queue_seq: job.queue_seq(),
            running: matches!(job.run(), Run::Running(_)),
            stopping: matches!(job.run(), Run::Stopping(_)),
            queued: job.state() == JobState::Queued && job.run() == Run::Idle,
            running_since: job.run_since(),
            resumable: job.resumable(),
        }
    }
}

/// How long a background job transfers before a queued job of its
/// priority may take its slot. (BITS says its jobs share transfer time but
/// not how much; two minutes keeps the cost of a turn, a new connection
/// and an `If-Range`, small against it.)
pub(crate) const SLICE: Duration = Duration::from_secs(120);

/// What to do: start these jobs (indexes into the input, best first) and
/// preempt this one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Decision {
    pub start: Vec<usize>,
    pub preempt: Option<Preemption>,
    /// When a waiting job's turn comes (a running job's slice ends): the
    /// next pass must be then at the latest.
    pub next: Option<Instant>,
}

/// A job to send back to the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Preemption {
    /// Its index in the input.
    pub job: usize,
    /// Its slice is over: it goes to the end of its priority's queue (else
    /// it keeps its place).
    pub to_the_end: bool,
}

/// Decides a scheduling pass at `now`.
pub(crate) fn decide(seen: &[Seen], max_active: usize, now: Instant) -> Decision {
    let busy = seen.iter().filter(|s| s.running || s.stopping).count();
    let mut free = max_active.saturating_sub(busy);
    let mut queued: Vec<usize> = (0..seen.len()).filter(|&i| seen[i].queued).collect();
    queued.sort_by_key(|&i| (seen[i].priority, seen[i].queue_seq));
    let mut decision = Decision::default();
    // The first job left without a slot is the one a preemption serves.
    let mut first = None;
    for i in queued {
        if free == 0 {
            first = Some(i);
            break;
        }
        decision.start.push(i);
        free -= 1;
    }
    let Some(first) = first else {
        return decision;
    };
    if seen.iter().any(|s| s.stopping) {
        return decision;
    }
    let wants = seen[first].priority;
    let background = |j: usize| seen[j].running && seen[j].priority != Priority::Foreground;
    if wants == Priority::Foreground {
        decision.preempt = (0..seen.len())
            .filter(|&j| background(j))
            .max_by_key(|&j| (seen[j].priority, seen[j].queue_seq))
            .map(|job| Preemption {
                job,
                to_the_end: false,
            });
        return decision;
    }
    let resumable = |j: &usize| background(*j) && seen[*j].resumable;
    // A lower priority first (the lowest, the last queued), then the
    // longest-running job of the same priority whose slice is over.
    let lower = (0..seen.len())
        .filter(resumable)
        .filter(|&j| seen[j].priority > wants)
        .max_by_key(|&j| (seen[j].priority, seen[j].queue_seq));
    if let Some(job) = lower {
        decision.preempt = Some(Preemption {
            job,
            to_the_end: false,
        });
        return decision;
    }
    // The same priority's running jobs, with the end of their slice.
    let peers: Vec<(usize, Instant)> = (0..seen.len())
        .filter(resumable)
        .filter(|&j| seen[j].priority == wants)
        .filter_map(|j| Some((j, seen[j].running_since? + SLICE)))
        .collect();
    let over = peers.iter().filter(|&&(_, end)| end <= now);
    decision.preempt = over
        .min_by_key(|&&(_, end)| end)
        .map(|&(job, _)| Preemption {
            job,
            to_the_end: true,
        });
    if decision.preempt.is_none() {
        decision.next = peers.iter().map(|&(_, end)| end).min();
    }
    decision
}

/// What one job waits for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Timers {
    /// When it goes back to the queue (in TRANSIENT_ERROR only).
    pub retry_at: Option<Instant>,
    /// When its maximum download time runs out (while it transfers).
    pub deadline: Option<Instant>,
}

impl Timers {
    /// What `job` waits for.
    pub(crate) fn of(job: &JobModel) -> Timers {
        Timers {
            retry_at: job
                .retry_at()
                .filter(|_| job.state() == JobState::TransientError),
            deadline: job.download_deadline(),
        }
    }
}

/// What is due at a pass, and when the next one must be.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Alarms {
    /// Jobs (indexes into the input) whose maximum download time has run
    /// out: `Command::TimeCheck`.
    pub time_check: Vec<usize>,
    /// Jobs whose retry is due, the longest due first (then input order):
    /// `Command::RetryDue`, each with the next place in the queue.
    pub retry: Vec<usize>,
    /// The earliest timer not yet due, if any.
    pub next: Option<Instant>,
}

/// Which timers are due at `now` (a timer is due at its time exactly),
/// and the earliest of the others.
pub(crate) fn alarms(timers: &[Timers], now: Instant) -> Alarms {
    let due = |at: Option<Instant>| at.is_some_and(|at| at <= now);
    let mut retry: Vec<usize> = (0..timers.len())
        .filter(|&i| due(timers[i].retry_at))
        .collect();
    retry.sort_by_key(|&i| timers[i].retry_at);
    Alarms {
        time_check: (0..timers.len())
            .filter(|&i| due(timers[i].deadline))
            .collect(),
        retry,
        next: timers
            .iter()
            .flat_map(|t| [t.retry_at, t.deadline])
            .flatten()
            .filter(|&at| at > now)
            .min(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(priority: Priority, queue_seq: u64, running: bool, queued: bool) -> Seen {
        Seen {
            priority,
            queue_seq,
            running,
            stopping: false,
            queued,
            running_since: running.then(|| at(0)),
            resumable: true,
        }
    }

    fn preempt(job: usize, to_the_end: bool) -> Option<Preemption> {
        Some(Preemption { job, to_the_end })
    }

    #[test]
    fn higher_priority_then_queue_order_within_the_slots() {
        let seen = [
            job(Priority::Low, 1, false, true),
            job(Priority::Normal, 3, false, true),
            job(Priority::Normal, 2, false, true),
            job(Priority::High, 4, false, true),
        ];
        assert_eq!(decide(&seen, 2, at(0)).start, vec![3, 2]);
        assert_eq!(decide(&seen, 10, at(0)).start, vec![3, 2, 1, 0]);
        let running = [
            job(Priority::Normal, 1, true, false),
            job(Priority::Low, 2, false, true),
        ];
        assert_eq!(decide(&running, 1, at(0)).preempt, None);
    }

    #[test]
    fn foreground_preempts_the_lowest_background_job_once() {
        let mut seen = vec![
            job(Priority::High, 1, true, false),
            job(Priority::Low, 2, true, false),
            job(Priority::Low, 3, true, false),
            job(Priority::Foreground, 4, false, true),
        ];
        let d = decide(&seen, 3, at(0));
        assert_eq!((d.start.clone(), d.preempt), (vec![], preempt(2, false)));
        // While the victim is still stopping nobody else is preempted.
        seen[2].running = false;
        seen[2].stopping = true;
        assert_eq!(decide(&seen, 3, at(0)).preempt, None);
        // Foreground jobs are never preempted.
        let all_fg = [
            job(Priority::Foreground, 1, true, false),
            job(Priority::Foreground, 2, false, true),
        ];
        assert_eq!(decide(&all_fg, 1, at(0)).preempt, None);
    }

    #[test]
    fn a_background_job_preempts_a_lower_priority_one_that_can_resume() {
        let mut seen = vec![
            job(Priority::Normal, 1, true, false),
            job(Priority::Low, 2, true, false),
            job(Priority::Low, 3, true, false),
            job(Priority::High, 4, false, true),
        ];
        // The lowest priority, the last queued: it keeps its place.
        assert_eq!(decide(&seen, 3, at(0)).preempt, preempt(2, false));
        // One that would lose its bytes is left alone.
        seen[2].resumable = false;
        assert_eq!(decide(&seen, 3, at(0)).preempt, preempt(1, false));
        seen[1].resumable = false;
        assert_eq!(decide(&seen, 3, at(0)).preempt, preempt(0, false));
        seen[0].resumable = false;
        assert_eq!(decide(&seen, 3, at(0)).preempt, None);
        // A job of lower priority than every running one waits its turn.
        let low_waits = [
            job(Priority::Normal, 1, true, false),
            job(Priority::Low, 2, false, true),
        ];
        assert_eq!(decide(&low_waits, 1, at(1000)).preempt, None);
    }

    #[test]
    fn jobs_of_one_priority_take_turns_of_a_slice() {
        let slice = SLICE.as_secs();
        let mut seen = vec![
            job(Priority::Normal, 1, true, false),
            job(Priority::Normal, 2, true, false),
            job(Priority::Normal, 3, false, true),
        ];
        seen[1].running_since = Some(at(10));
        // Before a slice is over: nobody, and the next pass when it is.
        let d = decide(&seen, 2, at(5));
        assert_eq!((d.preempt, d.next), (None, Some(at(slice))));
        // Then the longest-running one goes to the end of the queue.
        let d = decide(&seen, 2, at(slice));
        assert_eq!((d.preempt, d.next), (preempt(0, true), None));
        // Not one that would lose its bytes: the other, once its slice ends.
        seen[0].resumable = false;
        let d = decide(&seen, 2, at(slice));
        assert_eq!((d.preempt, d.next), (None, Some(at(slice + 10))));
        assert_eq!(decide(&seen, 2, at(slice + 10)).preempt, preempt(1, true));
        // Nobody waits: nobody is preempted, whatever the time.
        seen[2].queued = false;
        assert_eq!(decide(&seen, 2, at(10 * slice)), Decision::default());
    }

    // ----- timers, in virtual time -------------------------------------

    fn at(s: u64) -> Instant {
        use std::sync::OnceLock;
        static T0: OnceLock<Instant> = OnceLock::new();
        *T0.get_or_init(Instant::now) + std::time::Duration::from_secs(s)
    }

    fn retry(s: u64) -> Timers {
        Timers {
            retry_at: Some(at(s)),
            deadline: None,
        }
    }

    #[test]
    fn a_timer_is_due_at_its_time_and_not_a_moment_before() {
        let timers = [retry(30)];
        let just_before = at(30) - std::time::Duration::from_nanos(1);
        assert_eq!(
            alarms(&timers, just_before),
            Alarms {
                next: Some(at(30)),
                ..Alarms::default()
            }
        );
        assert_eq!(
            alarms(&timers, at(30)),
            Alarms {
                retry: vec![0],
                ..Alarms::default()
            }
        );
        let deadline = [Timers {
            retry_at: None,
            deadline: Some(at(7)),
        }];
        assert_eq!(alarms(&deadline, at(6)).next, Some(at(7)));
        assert_eq!(alarms(&deadline, at(7)).time_check, vec![0]);
        // Nothing to wait for: no next pass (the scheduler idles).
        assert_eq!(alarms(&[Timers::default()], at(0)), Alarms::default());
    }

    #[test]
    fn the_next_pass_is_the_earliest_timer_not_yet_due() {
        let timers = [
            retry(50),
            Timers {
                retry_at: None,
                deadline: Some(at(40)),
            },
            retry(20),
            Timers::default(),
            retry(5),
            retry(30),
        ];
        assert_eq!(alarms(&timers, at(0)).next, Some(at(5)));
        let a = alarms(&timers, at(20));
        // Due ones are not waited for: the next is the earliest still ahead.
        assert_eq!(a.next, Some(at(30)));
        // The longest due goes back to the queue first.
        assert_eq!(a.retry, vec![4, 2]);
        let a = alarms(&timers, at(45));
        assert_eq!((a.retry, a.time_check), (vec![4, 2, 5], vec![1]));
        assert_eq!(a.next, Some(at(50)));
        // Retries due at once go in input order.
        assert_eq!(alarms(&[retry(3), retry(3)], at(3)).retry, vec![0, 1]);
    }
}
