//! The scheduling rule, as a pure function of what the scheduler saw.
//!
//! At most `max_active` jobs transfer at once; queued jobs start in order
//! of priority, then queue order. A queued FOREGROUND job that finds every
//! slot taken preempts the lowest-priority running background job (the
//! last queued among equals), one at a time.
//!
//! The timers are pure too: given what each job waits for and the time,
//! [`alarms`] says whose retry or maximum download time is due and when
//! the next pass must be. The scheduler reads the clock once per pass and
//! passes it in; the tests pass any time they like.

use std::time::Instant;

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
        }
    }
}

/// What to do: start these jobs (indexes into the input, best first) and
/// preempt this one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Decision {
    pub start: Vec<usize>,
    pub preempt: Option<usize>,
}

/// Decides a scheduling pass.
pub(crate) fn decide(seen: &[Seen], max_active: usize) -> Decision {
    let busy = seen.iter().filter(|s| s.running || s.stopping).count();
    let mut free = max_active.saturating_sub(busy);
    let mut queued: Vec<usize> = (0..seen.len()).filter(|&i| seen[i].queued).collect();
    queued.sort_by_key(|&i| (seen[i].priority, seen[i].queue_seq));
    let mut decision = Decision::default();
    for i in queued {
        if free > 0 {
            decision.start.push(i);
            free -= 1;
        } else if seen[i].priority == Priority::Foreground
            && decision.preempt.is_none()
            && !seen.iter().any(|s| s.stopping)
        {
            decision.preempt = (0..seen.len())
                .filter(|&j| seen[j].running && seen[j].priority != Priority::Foreground)
                .max_by_key(|&j| (seen[j].priority, seen[j].queue_seq));
        }
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
        }
    }

    #[test]
    fn higher_priority_then_queue_order_within_the_slots() {
        let seen = [
            job(Priority::Low, 1, false, true),
            job(Priority::Normal, 3, false, true),
            job(Priority::Normal, 2, false, true),
            job(Priority::High, 4, false, true),
        ];
        assert_eq!(decide(&seen, 2).start, vec![3, 2]);
        assert_eq!(decide(&seen, 10).start, vec![3, 2, 1, 0]);
        let running = [
            job(Priority::Normal, 1, true, false),
            job(Priority::Low, 2, false, true),
        ];
        assert_eq!(decide(&running, 1), Decision::default());
    }

    #[test]
    fn foreground_preempts_the_lowest_background_job_once() {
        let mut seen = vec![
            job(Priority::High, 1, true, false),
            job(Priority::Low, 2, true, false),
            job(Priority::Low, 3, true, false),
            job(Priority::Foreground, 4, false, true),
        ];
        let d = decide(&seen, 3);
        assert_eq!((d.start.clone(), d.preempt), (vec![], Some(2)));
        // While the victim is still stopping nobody else is preempted.
        seen[2].running = false;
        seen[2].stopping = true;
        assert_eq!(decide(&seen, 3).preempt, None);
        // A background job never preempts.
        seen[3].priority = Priority::High;
        seen[2].stopping = false;
        seen[2].running = true;
        assert_eq!(decide(&seen, 3).preempt, None);
        // Foreground jobs are never preempted.
        let all_fg = [
            job(Priority::Foreground, 1, true, false),
            job(Priority::Foreground, 2, false, true),
        ];
        assert_eq!(decide(&all_fg, 1).preempt, None);
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
