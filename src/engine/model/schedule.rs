//! The scheduling rule, as a pure function of what the scheduler saw.
//!
//! At most `max_active` jobs transfer at once; queued jobs start in order
//! of priority, then queue order. A queued FOREGROUND job that finds every
//! slot taken preempts the lowest-priority running background job (the
//! last queued among equals), one at a time.

use crate::engine::types::Priority;

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
}
