//! Every row of DESIGN §3 "The job's life", and every error path, as tests
//! of the model alone: no thread, no socket, no file, no clock.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::engine::model::command::{
    Clock, Command, Effects, Files, Final, NewFile, Persist, Property,
};
use crate::engine::model::job::{JobModel, Run, StoredFile, StoredJob};
use crate::engine::model::ledger::{RangeSet, Span};
use crate::engine::model::schedule::{self, Timers};
use crate::engine::transport::error::TransferError;
use crate::engine::transport::options::HttpOptions;
use crate::engine::transport::source::Source;
use crate::engine::types::*;
use crate::hresult::*;

/// A fixed starting time; tests move it with `Clock::later`.
fn t0() -> Clock {
    use std::sync::OnceLock;
    static T0: OnceLock<Clock> = OnceLock::new();
    *T0.get_or_init(Clock::now)
}

/// The owner of the tests' jobs.
const OWNER: Owner = Owner {
    uid: 1000,
    gid: 1000,
};

fn new_job() -> JobModel {
    JobModel::new(JobId([7; 16]), OWNER, "job", JobType::Download, 1, t0()).unwrap()
}

fn file(n: u32) -> NewFile {
    let remote = format!("http://server/{n}");
    NewFile {
        source: Source::Http(remote.clone()),
        remote,
        local: PathBuf::from(format!("/dest/{n}")),
        size_hint: 0,
        ranges: None,
    }
}

fn apply(job: &mut JobModel, command: Command) -> Effects {
    job.apply(command, t0()).unwrap()
}

fn apply_at(job: &mut JobModel, command: Command, at: Clock) -> Effects {
    job.apply(command, at).unwrap()
}

fn refused(job: &mut JobModel, command: Command) -> i32 {
    let before = format!("{job:?}");
    let code = job.apply(command, t0()).unwrap_err().code.0;
    assert_eq!(
        format!("{job:?}"),
        before,
        "a refused command changed the job"
    );
    code
}

fn kinds(fx: &Effects) -> Vec<u32> {
    fx.events.iter().map(|e| e.kind).collect()
}

/// A job with `files` files, resumed and started as run 1.
fn running_job(files: u32) -> JobModel {
    let mut job = new_job();
    apply(
        &mut job,
        Command::AddFiles {
            files: (0..files).map(file).collect(),
            seq: 2,
        },
    );
    apply(&mut job, Command::Resume { seq: 3 });
    apply(
        &mut job,
        Command::Start {
            run: 1,
            per_server: 6,
        },
    );
    job
}

/// Transfers file `index` of a running job completely: `len` bytes.
fn transfer_file(job: &mut JobModel, index: usize, len: u64) {
    let fx = apply(job, Command::NextPiece);
    assert_eq!(fx.piece.unwrap().file, index);
    assert_eq!(job.state(), JobState::Connecting);
    opened(job, index, 0, Some(len));
    assert_eq!(job.state(), JobState::Transferring);
    arrived(job, index, 0..len);
    assert!(piece_ended(job, index).finalize);
    apply(job, Command::FileDone { file: index });
}

/// The id of the (first) piece being fetched of file `index`.
fn piece_of(job: &JobModel, index: usize) -> u64 {
    job.pieces()
        .iter()
        .find(|p| p.file == index)
        .expect("a piece of the file is being fetched")
        .id
}

/// The worker opened file `index` at `start` of a source of `total` bytes.
fn opened(job: &mut JobModel, index: usize, start: u64, total: Option<u64>) -> Effects {
    let piece = piece_of(job, index);
    apply(
        job,
        Command::Opened {
            piece,
            file: index,
            start,
            total,
            validator: None,
            ranges: false,
            headers: None,
        },
    )
}

/// These bytes of file `index` were written.
fn arrived(job: &mut JobModel, index: usize, range: std::ops::Range<u64>) -> Effects {
    let piece = piece_of(job, index);
    apply(
        job,
        Command::Arrived {
            piece,
            file: index,
            range,
        },
    )
}

/// The connection fetching file `index` is done with its piece.
fn piece_ended(job: &mut JobModel, index: usize) -> Effects {
    let piece = piece_of(job, index);
    apply(job, Command::PieceEnded { piece })
}

fn transient(code: i32) -> TransferError {
    TransferError::transient(HResult(code), ErrorContext::GeneralTransport, "lost".into())
}

fn fatal(code: i32) -> TransferError {
    TransferError::fatal(HResult(code), ErrorContext::RemoteFile, "gone".into())
}

/// Ends a job by cancelling it.
fn cancel(job: &mut JobModel) -> Effects {
    apply(job, Command::BeginFinish);
    apply(
        job,
        Command::Finish {
            outcome: Final::Cancelled,
            temps_removed: vec![],
        },
    )
}

#[test]
fn create_gives_a_suspended_normal_job_with_bits_defaults() {
    let job = new_job();
    assert_eq!(job.state(), JobState::Suspended);
    assert_eq!(job.priority(), Priority::Normal);
    assert_eq!(job.notify_flags(), NotifyFlags::DEFAULT);
    assert_eq!(job.retry_delay(), 600);
    assert_eq!(job.no_progress_timeout(), 1_209_600);
    assert!(job.files().is_empty());
    let long = "x".repeat(257);
    let err = JobModel::new(JobId([1; 16]), OWNER, &long, JobType::Download, 1, t0()).unwrap_err();
    assert_eq!(err.code.0, QM_BG_E_STRING_TOO_LONG);
}

#[test]
fn add_files_appends_all_or_none() {
    let mut job = new_job();
    let fx = apply(
        &mut job,
        Command::AddFiles {
            files: vec![file(0), file(1)],
            seq: 2,
        },
    );
    assert_eq!(job.files().len(), 2);
    assert_eq!(fx.persist.files, Files::All);
    assert!(fx.persist.job);
    assert_eq!(job.published().bytes_total, None, "sizes are unknown");
    // One duplicate refuses the whole batch.
    let code = refused(
        &mut job,
        Command::AddFiles {
            files: vec![file(2), file(0)],
            seq: 3,
        },
    );
    assert_eq!(code, QM_E_INVALIDARG);
    assert_eq!(
        refused(
            &mut job,
            Command::AddFiles {
                files: vec![],
                seq: 3
            }
        ),
        QM_E_INVALIDARG
    );
    assert_eq!(job.state(), JobState::Suspended, "adding does not resume");
}

#[test]
fn add_files_to_a_transferred_job_queues_it_again() {
    let mut job = running_job(1);
    transfer_file(&mut job, 0, 10);
    apply(&mut job, Command::NextPiece);
    assert_eq!(job.state(), JobState::Transferred);
    assert!(job.times().transfer_completion.is_some());
    let fx = apply(
        &mut job,
        Command::AddFiles {
            files: vec![file(1)],
            seq: 9,
        },
    );
    assert_eq!(job.state(), JobState::Queued);
    assert_eq!(job.queue_seq(), 9);
    assert!(fx.wake_scheduler);
    assert!(job.times().transfer_completion.is_none());
}

#[test]
fn add_files_to_a_final_job_is_an_invalid_state() {
    let mut job = new_job();
    cancel(&mut job);
    let code = refused(
        &mut job,
        Command::AddFiles {
            files: vec![file(0)],
            seq: 2,
        },
    );
    assert_eq!(code, QM_BG_E_INVALID_STATE);
}

#[test]
fn resume_queues_suspended_error_and_transient_jobs() {
    // SUSPENDED
    let mut job = new_job();
    apply(
        &mut job,
        Command::AddFiles {
            files: vec![file(0)],
            seq: 2,
        },
    );
    let fx = apply(&mut job, Command::Resume { seq: 5 });
    assert_eq!(job.state(), JobState::Queued);
    assert_eq!(job.queue_seq(), 5);
    assert!(fx.wake_scheduler && fx.persist.job);
    // ERROR
    apply(
        &mut job,
        Command::Start {
            run: 1,
            per_server: 6,
        },
    );
    apply(&mut job, Command::NextPiece);
    apply(
        &mut job,
        Command::RunEnded {
            run: 1,
            failure: Some(fatal(QM_E_FAIL)),
        },
    );
    assert_eq!(job.state(), JobState::Error);
    apply(&mut job, Command::Resume { seq: 6 });
    assert_eq!(job.state(), JobState::Queued);
    assert!(job.error().is_err(), "resume clears the error");
    // TRANSIENT_ERROR
    apply(
        &mut job,
        Command::Start {
            run: 2,
            per_server: 6,
        },
    );
    apply(&mut job, Command::NextPiece);
    apply(
        &mut job,
        Command::RunEnded {
            run: 2,
            failure: Some(transient(QM_E_WINHTTP_TIMEOUT)),
        },
    );
    assert_eq!(job.state(), JobState::TransientError);
    apply(&mut job, Command::Resume { seq: 7 });
    assert_eq!(job.state(), JobState::Queued);
    assert_eq!(job.retry_at(), None);
}

#[test]
fn resume_of_an_active_job_changes_nothing() {
    let mut job = running_job(1);
    apply(&mut job, Command::NextPiece);
    for state in [JobState::Connecting, JobState::Transferring] {
        if state == JobState::Transferring {
            opened(&mut job, 0, 0, Some(5));
        }
        assert_eq!(job.state(), state);
        let seq = job.queue_seq();
        let fx = apply(&mut job, Command::Resume { seq: 99 });
        assert_eq!(fx, Effects::default());
        assert_eq!((job.state(), job.queue_seq()), (state, seq));
    }
}

#[test]
fn resume_refuses_empty_transferred_and_final_jobs() {
    let mut job = new_job();
    assert_eq!(refused(&mut job, Command::Resume { seq: 2 }), QM_BG_E_EMPTY);
    let mut done = running_job(1);
    transfer_file(&mut done, 0, 3);
    apply(&mut done, Command::NextPiece);
    assert_eq!(
        refused(&mut done, Command::Resume { seq: 2 }),
        QM_BG_E_EMPTY
    );
    cancel(&mut job);
    assert_eq!(
        refused(&mut job, Command::Resume { seq: 2 }),
        QM_BG_E_INVALID_STATE
    );
}

#[test]
fn resume_after_every_byte_arrived_goes_to_transferred() {
    let mut job = running_job(1);
    transfer_file(&mut job, 0, 8);
    // A suspend raced the end: the file is done, the job not yet TRANSFERRED.
    apply(&mut job, Command::Suspend);
    apply(
        &mut job,
        Command::RunEnded {
            run: 1,
            failure: None,
        },
    );
    assert_eq!(job.state(), JobState::Suspended);
    let fx = apply(&mut job, Command::Resume { seq: 4 });
    assert_eq!(job.state(), JobState::Transferred);
    assert!(fx.wake_waiters);
}

#[test]
fn suspend_stops_the_run_and_keeps_the_bytes() {
    let mut job = running_job(1);
    apply(&mut job, Command::NextPiece);
    opened(&mut job, 0, 0, Some(100));
    arrived(&mut job, 0, 0..40);
    let fx = apply(&mut job, Command::Suspend);
    assert_eq!(job.state(), JobState::Suspended);
    assert!(fx.stop_run && fx.wake_waiters && fx.persist.job);
    assert_eq!(job.run(), Run::Stopping(1));
    // The stopping worker's last chunk still counts, but it gets no new piece
    // and cannot move the state.
    arrived(&mut job, 0, 40..50);
    assert_eq!(apply(&mut job, Command::NextPiece).piece, None);
    assert_eq!(job.state(), JobState::Suspended);
    apply(
        &mut job,
        Command::RunEnded {
            run: 1,
            failure: Some(transient(QM_E_FAIL)),
        },
    );
    assert_eq!(
        job.state(),
        JobState::Suspended,
        "a stopped run's failure is not the job's"
    );
    assert_eq!(job.run(), Run::Idle);
    assert_eq!(job.published().bytes_transferred, 50);
    // Suspend works from every non-final state, and not from final ones.
    apply(&mut job, Command::Suspend);
    assert_eq!(job.state(), JobState::Suspended);
    cancel(&mut job);
    assert_eq!(refused(&mut job, Command::Suspend), QM_BG_E_INVALID_STATE);
}

#[test]
fn cancel_stops_the_run_and_ends_the_job_once() {
    let mut job = running_job(1);
    apply(&mut job, Command::NextPiece);
    let fx = apply(&mut job, Command::BeginFinish);
    assert!(fx.stop_run);
    assert!(job.finishing());
    let fx = apply(
        &mut job,
        Command::Finish {
            outcome: Final::Cancelled,
            temps_removed: vec![0],
        },
    );
    assert_eq!(job.state(), JobState::Cancelled);
    assert!(fx.forget && fx.wake_waiters && fx.wake_scheduler);
    assert_eq!(
        refused(&mut job, Command::BeginFinish),
        QM_BG_E_INVALID_STATE
    );
}

#[test]
fn complete_commits_transferred_files_and_reports_partial_ones() {
    let mut job = running_job(2);
    transfer_file(&mut job, 0, 4);
    apply(&mut job, Command::BeginFinish);
    assert_eq!(job.files_to_commit(), vec![0]);
    assert_eq!(job.incomplete_files(), 1, "PARTIAL_COMPLETE");
    apply(
        &mut job,
        Command::Committed {
            done: vec![0],
            failed: false,
        },
    );
    let fx = apply(
        &mut job,
        Command::Finish {
            outcome: Final::Acknowledged,
            temps_removed: vec![1],
        },
    );
    assert_eq!(job.state(), JobState::Acknowledged);
    assert!(fx.forget);
}

#[test]
fn a_failed_rename_leaves_the_job_as_it_was() {
    let mut job = running_job(2);
    transfer_file(&mut job, 0, 4);
    transfer_file(&mut job, 1, 4);
    apply(&mut job, Command::NextPiece);
    assert_eq!(job.state(), JobState::Transferred);
    apply(&mut job, Command::BeginFinish);
    let fx = apply(
        &mut job,
        Command::Committed {
            done: vec![0],
            failed: true,
        },
    );
    assert_eq!(job.state(), JobState::Transferred);
    assert!(!job.finishing());
    assert_eq!(fx.persist.files, Files::All, "the renamed file is recorded");
    assert!(job.files()[0].committed());
    assert_eq!(
        job.files_to_commit(),
        vec![1],
        "a retry renames only the rest"
    );
    // An active job whose transfer was stopped for the commit goes back to the queue.
    let mut active = running_job(1);
    apply(&mut active, Command::NextPiece);
    apply(&mut active, Command::BeginFinish);
    let fx = apply(
        &mut active,
        Command::Committed {
            done: vec![],
            failed: true,
        },
    );
    assert_eq!(active.state(), JobState::Queued);
    assert!(fx.wake_scheduler);
}

#[test]
fn the_worker_moves_a_job_through_connecting_and_transferring_to_transferred() {
    let mut job = running_job(2);
    let every_event = NotifyFlags::ALL & !NotifyFlags::DISABLE;
    apply(
        &mut job,
        Command::Set(Property::NotifyFlags(NotifyFlags(every_event))),
    );
    transfer_file(&mut job, 0, 10);
    let fx = apply(&mut job, Command::NextPiece);
    assert_eq!(
        fx.piece.unwrap().span,
        Span {
            start: 0,
            end: None
        }
    );
    opened(&mut job, 1, 0, None);
    arrived(&mut job, 1, 0..6);
    apply(&mut job, Command::Sized { file: 1, len: 6 });
    // The last file done makes the job TRANSFERRED in the same step: no
    // reader sees every file complete while the job still looks active.
    let fx = apply(&mut job, Command::FileDone { file: 1 });
    assert!(kinds(&fx).contains(&NotifyFlags::FILE_TRANSFERRED));
    assert_eq!(fx.events[0].file_index, 1);
    assert_eq!(job.state(), JobState::Transferred);
    assert!(kinds(&fx).contains(&NotifyFlags::JOB_TRANSFERRED));
    assert!(fx.wake_waiters);
    assert_eq!(apply(&mut job, Command::NextPiece).piece, None);
    let p = job.published();
    assert_eq!((p.bytes_total, p.bytes_transferred), (Some(16), 16));
    assert_eq!((p.files_total, p.files_transferred), (2, 2));
    assert!(job.status().complete);
}

#[test]
fn a_transient_failure_waits_the_retry_delay_or_a_longer_retry_after() {
    let mut job = running_job(1);
    apply(&mut job, Command::Set(Property::RetryDelay(30)));
    apply(&mut job, Command::NextPiece);
    let fx = apply(
        &mut job,
        Command::RunEnded {
            run: 1,
            failure: Some(transient(QM_E_WINHTTP_TIMEOUT)),
        },
    );
    assert_eq!(job.state(), JobState::TransientError);
    assert!(fx.wake_scheduler && fx.persist.job);
    assert!(
        !job.state().is_settled(),
        "wait goes on through TRANSIENT_ERROR"
    );
    assert_eq!(job.retry_at(), Some(t0().now + Duration::from_secs(30)));
    let status = job.status();
    assert!(status.error);
    assert_eq!(status.win32_result, 12002);
    assert_eq!(job.error().unwrap().file_index, Some(0));
    // Not yet due: nothing happens.
    apply_at(
        &mut job,
        Command::RetryDue { seq: 8 },
        t0().later(Duration::from_secs(29)),
    );
    assert_eq!(job.state(), JobState::TransientError);
    // Due: back to the queue, counted, at the end of the queue.
    apply_at(
        &mut job,
        Command::RetryDue { seq: 8 },
        t0().later(Duration::from_secs(30)),
    );
    assert_eq!(job.state(), JobState::Queued);
    assert_eq!((job.num_retries(), job.queue_seq()), (1, 8));
    // A server's longer Retry-After wins; a delay below 1 s is raised to 1 s.
    apply(
        &mut job,
        Command::Start {
            run: 2,
            per_server: 6,
        },
    );
    apply(&mut job, Command::NextPiece);
    let mut busy = transient(QM_E_FAIL);
    busy.retry_after = Some(Duration::from_secs(120));
    apply(
        &mut job,
        Command::RunEnded {
            run: 2,
            failure: Some(busy),
        },
    );
    assert_eq!(job.retry_at(), Some(t0().now + Duration::from_secs(120)));
    apply(&mut job, Command::Set(Property::RetryDelay(0)));
    assert_eq!(job.retry_delay(), 1);
}

#[test]
fn a_fatal_failure_is_an_error_with_its_code_and_notification() {
    let mut job = running_job(1);
    apply(&mut job, Command::NextPiece);
    let fx = apply(
        &mut job,
        Command::RunEnded {
            run: 1,
            failure: Some(fatal(HResult::from_http_status(404).0)),
        },
    );
    assert_eq!(job.state(), JobState::Error);
    assert!(fx.wake_waiters);
    assert_eq!(kinds(&fx), vec![NotifyFlags::JOB_ERROR]);
    assert_eq!(fx.events[0].code, HResult::from_http_status(404));
    let err = job.error().unwrap();
    assert_eq!(err.context, ErrorContext::RemoteFile);
    assert_eq!(job.retry_at(), None);
}

#[test]
fn transient_failures_without_progress_for_the_timeout_are_final() {
    let mut job = running_job(1);
    apply(&mut job, Command::Set(Property::NoProgressTimeout(60)));
    apply(&mut job, Command::NextPiece);
    // Progress 50 s in restarts the window.
    apply_at(
        &mut job,
        Command::Progressed,
        t0().later(Duration::from_secs(50)),
    );
    apply_at(
        &mut job,
        Command::RunEnded {
            run: 1,
            failure: Some(transient(QM_E_FAIL)),
        },
        t0().later(Duration::from_secs(100)),
    );
    assert_eq!(
        job.state(),
        JobState::TransientError,
        "50 s without progress"
    );
    apply_at(
        &mut job,
        Command::RetryDue { seq: 4 },
        t0().later(Duration::from_secs(700)),
    );
    apply(
        &mut job,
        Command::Start {
            run: 2,
            per_server: 6,
        },
    );
    apply(&mut job, Command::NextPiece);
    apply_at(
        &mut job,
        Command::RunEnded {
            run: 2,
            failure: Some(transient(QM_E_FAIL)),
        },
        t0().later(Duration::from_secs(111)),
    );
    assert_eq!(job.state(), JobState::Error, "61 s without progress");
    // Timeout 0: the first error is final.
    let mut strict = running_job(1);
    apply(&mut strict, Command::Set(Property::NoProgressTimeout(0)));
    apply(&mut strict, Command::NextPiece);
    apply(
        &mut strict,
        Command::RunEnded {
            run: 1,
            failure: Some(transient(QM_E_FAIL)),
        },
    );
    assert_eq!(strict.state(), JobState::Error);
}

#[test]
fn a_slice_that_is_over_sends_the_job_to_the_end_of_the_queue() {
    let mut job = running_job(1);
    apply(&mut job, Command::NextPiece);
    let fx = apply(&mut job, Command::Preempt { requeue: Some(99) });
    assert_eq!(job.state(), JobState::Queued);
    assert_eq!(job.queue_seq(), 99);
    assert!(fx.stop_run && fx.persist.job, "{fx:?}");
}

#[test]
fn a_job_is_resumable_when_no_byte_on_disk_would_be_lost() {
    use crate::engine::transport::validator::{HttpValidator, Validator};
    let open = |job: &mut JobModel, validator: Option<Validator>, ranges: bool| {
        apply(job, Command::NextPiece);
        let piece = piece_of(job, 0);
        apply(
            job,
            Command::Opened {
                piece,
                file: 0,
                start: 0,
                total: Some(100),
                validator,
                ranges,
                headers: None,
            },
        );
    };
    let strong = Some(Validator::Http(HttpValidator {
        etag: Some("\"v1\"".into()),
        last_modified: None,
        total: Some(100),
    }));
    // Nothing on disk yet: nothing to lose.
    let mut job = running_job(1);
    open(&mut job, None, false);
    assert!(job.resumable());
    // Bytes of a version that cannot be asked for again (no validator),
    // or of a source that ignored ranges: they would be lost.
    arrived(&mut job, 0, 0..10);
    assert!(!job.resumable());
    let mut whole = running_job(1);
    open(&mut whole, strong.clone(), false);
    arrived(&mut whole, 0, 0..10);
    assert!(!whole.resumable());
    // A strong validator and a source that answers ranges: resumable.
    let mut ranged = running_job(1);
    open(&mut ranged, strong, true);
    arrived(&mut ranged, 0, 0..10);
    assert!(ranged.resumable());
}

#[test]
fn preemption_sends_a_running_job_back_to_the_queue() {
    let mut job = running_job(1);
    apply(&mut job, Command::NextPiece);
    let seq = job.queue_seq();
    let fx = apply(&mut job, Command::Preempt { requeue: None });
    assert_eq!(job.state(), JobState::Queued);
    assert_eq!(job.queue_seq(), seq, "it keeps its place");
    assert!(fx.stop_run);
    assert_eq!(job.run(), Run::Stopping(1));
    // Until the run has ended it cannot start again; then it can.
    assert!(job
        .apply(
            Command::Start {
                run: 2,
                per_server: 6
            },
            t0()
        )
        .is_err());
    apply(
        &mut job,
        Command::RunEnded {
            run: 1,
            failure: None,
        },
    );
    assert_eq!(job.state(), JobState::Queued);
    apply(
        &mut job,
        Command::Start {
            run: 2,
            per_server: 6,
        },
    );
    // Preempting a job that is not running does nothing.
    let mut idle = new_job();
    assert_eq!(
        apply(&mut idle, Command::Preempt { requeue: None }),
        Effects::default()
    );
}

#[test]
fn a_job_starts_only_when_queued_idle_and_not_finishing() {
    let mut job = new_job();
    assert!(
        job.apply(
            Command::Start {
                run: 1,
                per_server: 6
            },
            t0()
        )
        .is_err(),
        "suspended"
    );
    apply(
        &mut job,
        Command::AddFiles {
            files: vec![file(0)],
            seq: 2,
        },
    );
    apply(&mut job, Command::Resume { seq: 3 });
    apply(&mut job, Command::BeginFinish);
    assert!(
        job.apply(
            Command::Start {
                run: 1,
                per_server: 6
            },
            t0()
        )
        .is_err(),
        "finishing"
    );
    let mut failed = new_job();
    apply(
        &mut failed,
        Command::AddFiles {
            files: vec![file(0)],
            seq: 2,
        },
    );
    apply(&mut failed, Command::Resume { seq: 3 });
    apply(
        &mut failed,
        Command::StartFailed {
            error: transient(QM_E_OUTOFMEMORY),
        },
    );
    assert_eq!(failed.state(), JobState::TransientError);
}

#[test]
fn a_restarted_source_or_a_failed_checksum_empties_the_ledger() {
    let mut job = running_job(1);
    apply(&mut job, Command::NextPiece);
    opened(&mut job, 0, 0, Some(100));
    arrived(&mut job, 0, 0..60);
    apply(
        &mut job,
        Command::Durable {
            file: 0,
            ranges: RangeSet::of(0..60),
        },
    );
    // A resume at 60 whose answer restarts the file (another version).
    opened(&mut job, 0, 0, Some(200));
    let f = &job.files()[0];
    assert_eq!(
        (f.ledger().arrived_bytes(), f.ledger().durable().len()),
        (0, 0)
    );
    assert_eq!(job.published().bytes_total, Some(200));
    arrived(&mut job, 0, 0..200);
    let fx = apply(
        &mut job,
        Command::Discarded {
            file: 0,
            temp_removed: true,
        },
    );
    assert_eq!(fx.persist.files, Files::One(0));
    let f = &job.files()[0];
    assert_eq!(
        (f.ledger().arrived_bytes(), f.validator(), f.temp()),
        (0, None, None)
    );
    assert_eq!(job.published().bytes_transferred, 0);
}

#[test]
fn a_resume_at_an_offset_keeps_what_precedes_it() {
    let mut job = running_job(1);
    apply(&mut job, Command::NextPiece);
    opened(&mut job, 0, 0, Some(100));
    arrived(&mut job, 0, 0..70);
    apply(
        &mut job,
        Command::Durable {
            file: 0,
            ranges: RangeSet::of(0..50),
        },
    );
    // The temporary file turned out to hold only 60 bytes.
    apply(&mut job, Command::TempCut { file: 0, len: 60 });
    let l = job.files()[0].ledger();
    assert_eq!(
        (l.arrived().to_string(), l.durable().to_string()),
        ("0-60".into(), "0-50".into())
    );
    assert_eq!(
        l.next_missing(),
        Some(Span {
            start: 60,
            end: Some(100)
        })
    );
}

#[test]
fn setters_validate_and_final_jobs_refuse_them() {
    let mut job = new_job();
    let fx = apply(&mut job, Command::Set(Property::DisplayName("fw".into())));
    assert!(fx.persist.job);
    assert_eq!(
        refused(
            &mut job,
            Command::Set(Property::Description("d".repeat(1025)))
        ),
        QM_BG_E_STRING_TOO_LONG
    );
    assert_eq!(
        refused(
            &mut job,
            Command::Set(Property::NotifyFlags(NotifyFlags(0x40)))
        ),
        QM_E_INVALIDARG
    );
    assert_eq!(
        refused(
            &mut job,
            Command::Set(Property::FileSha256 {
                index: 0,
                digest: None
            })
        ),
        QM_E_ITEM_NOT_FOUND
    );
    let fx = apply(
        &mut job,
        Command::Set(Property::Priority(Priority::Foreground)),
    );
    assert!(fx.wake_scheduler);
    assert!(job.status().foreground);
    apply(
        &mut job,
        Command::Set(Property::StallTimeout(Duration::ZERO)),
    );
    assert_eq!(job.http().stall_timeout, Duration::from_secs(1));
    cancel(&mut job);
    assert_eq!(
        refused(&mut job, Command::Set(Property::MaxBandwidth(5))),
        QM_BG_E_INVALID_STATE
    );
}

#[test]
fn notifications_follow_the_flags() {
    let mut job = running_job(1);
    // Default flags: JOB_TRANSFERRED and JOB_ERROR only.
    let fx = apply(&mut job, Command::Set(Property::Description("x".into())));
    assert!(fx.events.is_empty());
    apply(
        &mut job,
        Command::Set(Property::NotifyFlags(NotifyFlags(
            NotifyFlags::JOB_MODIFICATION | NotifyFlags::DISABLE,
        ))),
    );
    let fx = apply(&mut job, Command::Set(Property::Description("y".into())));
    assert!(fx.events.is_empty(), "DISABLE wins");
    apply(
        &mut job,
        Command::Set(Property::NotifyFlags(NotifyFlags(
            NotifyFlags::JOB_MODIFICATION,
        ))),
    );
    let fx = apply(&mut job, Command::Progressed);
    assert_eq!(kinds(&fx), vec![NotifyFlags::JOB_MODIFICATION]);
}

fn stored(state: JobState, files: Vec<StoredFile>) -> StoredJob {
    StoredJob {
        id: JobId([9; 16]),
        owner: Owner { uid: 7, gid: 8 },
        created_order: 1,
        display_name: "stored".into(),
        description: String::new(),
        state: state as u32,
        priority: 1,
        retry_delay: 0,
        no_progress_timeout: 10,
        notify_flags: 0xFF,
        max_bandwidth: 7,
        num_retries: 2,
        queue_seq: 3,
        created: t0().wall,
        modified: t0().wall,
        transfer_completed: None,
        error: None,
        retry_at: None,
        http: HttpOptions::default(),
        max_download_size: 0,
        max_connections: 6,
        max_download_time: crate::engine::model::job::DEFAULT_MAX_DOWNLOAD_TIME,
        dynamic_content: false,
        yielding: true,
        notify_cmdline: None,
        min_notification_interval: 500,
        low_speed_limit: (0, 0),
        committing: false,
        kind: JobType::Download,
        upload: None,
        files,
    }
}

fn stored_file(total: u64, durable: &str, on_disk: Option<u64>, completed: bool) -> StoredFile {
    StoredFile {
        remote: "http://server/x".into(),
        local: "/dest/x".into(),
        size_hint: 0,
        temp: Some("/dest/.x.qmgr-part".into()),
        on_disk,
        validator: None,
        sha256: None,
        total: Some(total),
        durable: durable.parse::<RangeSet>().unwrap(),
        completed,
        committed: false,
        ranges: None,
        delta: None,
        local_len: None,
    }
}

#[test]
fn a_job_stored_retrying_is_reopened_retrying_with_its_error_until_its_time() {
    let error = JobError {
        code: HResult(QM_E_WINHTTP_CANNOT_CONNECT),
        context: ErrorContext::RemoteFile,
        file_index: Some(0),
        http_status: 0,
        description: "connecting to 127.0.0.1:9 failed: Connection refused".into(),
    };
    let clock = t0();
    let retrying = |retry_at: Option<std::time::SystemTime>| StoredJob {
        error: Some(error.clone()),
        retry_at,
        retry_delay: 600,
        ..stored(JobState::TransientError, vec![])
    };
    for (retry_at, wait) in [
        // Its time, 30 s from now.
        (Some(clock.wall + Duration::from_secs(30)), 30),
        // A time gone by, or none (an older directory): retry at once.
        (Some(clock.wall - Duration::from_secs(30)), 0),
        (None, 0),
        // A wall clock set back a year waits one day at most.
        (Some(clock.wall + Duration::from_secs(365 * 86_400)), 86_400),
    ] {
        let (job, changed) = JobModel::restore(retrying(retry_at), clock);
        assert_eq!(job.state(), JobState::TransientError, "{retry_at:?}");
        assert!(!changed);
        assert_eq!(job.error().unwrap(), &error);
        assert_eq!(
            job.retry_at(),
            Some(clock.now + Duration::from_secs(wait)),
            "{retry_at:?}"
        );
        assert_eq!(
            job.retry_wall(),
            Some(clock.wall + Duration::from_secs(wait))
        );
        assert_eq!(Timers::of(&job).retry_at, job.retry_at());
    }
}

#[test]
fn a_restored_job_trusts_only_durable_bytes_still_on_disk() {
    for (state, expected) in [
        (JobState::Transferring, JobState::Queued),
        (JobState::Connecting, JobState::Queued),
        (JobState::TransientError, JobState::Queued),
        (JobState::Suspended, JobState::Suspended),
        (JobState::Error, JobState::Error),
    ] {
        let (job, changed) = JobModel::restore(stored(state, vec![]), t0());
        assert_eq!(job.state(), expected);
        assert_eq!(changed, state != expected);
    }
    let (job, _) = JobModel::restore(
        stored(
            JobState::Suspended,
            vec![
                stored_file(100, "0-80", Some(50), false),
                stored_file(100, "0-100", Some(100), true),
                stored_file(100, "0-100", Some(90), true),
                stored_file(100, "0-30", None, false),
            ],
        ),
        t0(),
    );
    let arrived: Vec<String> = job
        .files()
        .iter()
        .map(|f| f.ledger().arrived().to_string())
        .collect();
    assert_eq!(arrived, ["0-50", "0-100", "0-90", ""]);
    let done: Vec<bool> = job.files().iter().map(|f| f.completed()).collect();
    assert_eq!(
        done,
        [false, true, false, false],
        "a short completed file is fetched again"
    );
    assert_eq!(
        job.files()[3].temp(),
        None,
        "a missing temporary file is forgotten"
    );
    let p = job.published();
    assert_eq!(
        (p.bytes_total, p.bytes_transferred, p.files_transferred),
        (Some(400), 240, 1)
    );
    assert_eq!(job.retry_delay(), 1);
    assert_eq!(job.notify_flags(), NotifyFlags(NotifyFlags::ALL));
}

#[test]
fn a_crash_in_the_middle_of_complete_is_recognised_at_the_next_open() {
    // complete() records that it is committing before its first rename.
    let mut job = running_job(1);
    transfer_file(&mut job, 0, 4);
    apply(&mut job, Command::BeginFinish);
    let fx = apply(&mut job, Command::CommitStarted);
    assert!(fx.persist.job && job.committing());
    // The directory after a crash between renames: file 0 renamed (its
    // temporary file gone, its local name holding its length), file 1 not.
    let mut renamed = stored_file(100, "0-100", None, true);
    renamed.local_len = Some(100);
    let waiting = stored_file(100, "0-100", Some(100), true);
    let mut crashed = stored(JobState::Transferred, vec![renamed.clone(), waiting]);
    crashed.committing = true;
    let (job, _) = JobModel::restore(crashed.clone(), t0());
    assert_eq!(job.state(), JobState::Transferred);
    assert!(job.files()[0].committed() && job.files()[0].completed());
    assert_eq!(job.files_to_commit(), vec![1], "only the rest is renamed");
    assert_eq!(job.incomplete_files(), 0, "complete() will say S_OK");
    // Without the record, or with a local file of another length, nothing is assumed.
    crashed.committing = false;
    assert!(!JobModel::restore(crashed.clone(), t0()).0.files()[0].completed());
    crashed.committing = true;
    crashed.files[0].local_len = Some(99);
    assert!(!JobModel::restore(crashed, t0()).0.files()[0].completed());
}

// ----- segments -----------------------------------------------------------

const MIB: u64 = 1 << 20;

fn version(tag: &str, total: u64) -> Option<crate::engine::transport::validator::Validator> {
    Some(crate::engine::transport::validator::Validator::Http(
        crate::engine::transport::validator::HttpValidator {
            etag: Some(format!("\"{tag}\"")),
            last_modified: None,
            total: Some(total),
        },
    ))
}

/// A piece's source answered as asked.
fn piece_opened(job: &mut JobModel, piece: u64, start: u64, tag: &str, total: u64) -> Effects {
    apply(
        job,
        Command::Opened {
            piece,
            file: 0,
            start,
            total: Some(total),
            validator: version(tag, total),
            ranges: true,
            headers: None,
        },
    )
}

fn piece_arrived(job: &mut JobModel, piece: u64, range: std::ops::Range<u64>) -> Effects {
    apply(
        job,
        Command::Arrived {
            piece,
            file: 0,
            range,
        },
    )
}

/// A 16 MiB file whose first connection has opened it (ranges honoured)
/// and a second connection that took the second half: pieces 1 and 2.
fn split_job() -> JobModel {
    let mut job = running_job(1);
    let first = apply(&mut job, Command::NextPiece).piece.unwrap();
    // Until the first answer, nobody knows whether the file can be split.
    let fx = apply(&mut job, Command::NextPiece);
    assert!(fx.wait && fx.piece.is_none());
    let fx = piece_opened(&mut job, first.id, 0, "v1", 16 * MIB);
    assert_eq!(fx.piece.unwrap().span.end, Some(16 * MIB));
    let second = apply(&mut job, Command::NextPiece).piece.unwrap();
    assert_eq!(
        (second.file, second.span.start, second.span.end),
        (0, 8 * MIB, Some(16 * MIB))
    );
    job
}

#[test]
fn a_split_piece_learns_its_new_end_and_the_last_piece_keeps_the_file() {
    let mut job = split_job();
    // The first connection hears of the split with its next chunk.
    let fx = piece_arrived(&mut job, 1, 0..MIB);
    assert_eq!(
        fx.piece.unwrap().span,
        Span {
            start: MIB,
            end: Some(8 * MIB)
        }
    );
    piece_opened(&mut job, 2, 8 * MIB, "v1", 16 * MIB);
    piece_arrived(&mut job, 2, 8 * MIB..16 * MIB);
    // The second half is done first: the file is not complete yet.
    assert!(!apply(&mut job, Command::PieceEnded { piece: 2 }).finalize);
    piece_arrived(&mut job, 1, MIB..8 * MIB);
    assert!(apply(&mut job, Command::PieceEnded { piece: 1 }).finalize);
    assert_eq!(job.published().bytes_transferred, 16 * MIB);
    apply(&mut job, Command::FileDone { file: 0 });
    assert_eq!(job.state(), JobState::Transferred);
}

#[test]
fn another_version_on_one_segment_stops_every_writer_and_restarts_the_file() {
    let mut job = split_job();
    piece_arrived(&mut job, 1, 0..2 * MIB);
    // The second connection's If-Range failed: the server sent the whole
    // new version from byte 0.
    let fx = piece_opened(&mut job, 2, 0, "v2", 20 * MIB);
    assert_eq!(fx.piece, None);
    let f = &job.files()[0];
    assert_eq!((f.ledger().arrived_bytes(), f.validator()), (0, None));
    assert_eq!(job.published().bytes_transferred, 0);
    // The first connection's next chunk is refused and not counted.
    assert_eq!(piece_arrived(&mut job, 1, 2 * MIB..3 * MIB).piece, None);
    assert_eq!(job.files()[0].ledger().arrived_bytes(), 0);
    // Until both have stopped, nobody starts the file again.
    apply(&mut job, Command::PieceEnded { piece: 2 });
    assert!(apply(&mut job, Command::NextPiece).wait);
    assert!(!apply(&mut job, Command::PieceEnded { piece: 1 }).finalize);
    let again = apply(&mut job, Command::NextPiece).piece.unwrap();
    assert_eq!(
        again.span,
        Span {
            start: 0,
            end: None
        }
    );
}

#[test]
fn a_segment_answered_with_the_whole_file_gives_its_stretch_back() {
    let mut job = split_job();
    // Same version, but a 200 from byte 0: ranges are not honoured.
    let fx = apply(
        &mut job,
        Command::Opened {
            piece: 2,
            file: 0,
            start: 0,
            total: Some(16 * MIB),
            validator: version("v1", 16 * MIB),
            ranges: false,
            headers: None,
        },
    );
    assert_eq!(fx.piece, None);
    // The first connection goes on to the end; nobody splits it again.
    let fx = piece_arrived(&mut job, 1, 0..MIB);
    assert_eq!(fx.piece.unwrap().span.end, Some(16 * MIB));
    apply(&mut job, Command::PieceEnded { piece: 2 });
    assert_eq!(job.files()[0].splittable(), Some(false));
    let fx = apply(&mut job, Command::NextPiece);
    assert!(fx.piece.is_none() && !fx.wait);
}

/// Issue 19, item 3: the segments of a file restarted by another version
/// (`another_version_on_one_segment_...`) run as one whole fetch, so that
/// answers flipping between two versions cannot restart them forever.
#[test]
fn after_a_version_change_in_a_run_the_file_is_fetched_whole_on_one_connection() {
    let mut job = split_job();
    piece_opened(&mut job, 2, 0, "v2", 16 * MIB);
    apply(&mut job, Command::PieceEnded { piece: 2 });
    apply(&mut job, Command::PieceEnded { piece: 1 });
    let again = apply(&mut job, Command::NextPiece).piece.unwrap();
    // The next backend has the first version again: taken, not split.
    let fx = piece_opened(&mut job, again.id, 0, "v1", 16 * MIB);
    assert_eq!(fx.piece.unwrap().span.end, Some(16 * MIB));
    assert_eq!(job.files()[0].splittable(), Some(false));
    assert_eq!(job.files()[0].version_changes, 1);
    let fx = apply(&mut job, Command::NextPiece);
    assert!(fx.piece.is_none() && !fx.wait, "{fx:?}");
    piece_arrived(&mut job, again.id, 0..16 * MIB);
    assert!(apply(&mut job, Command::PieceEnded { piece: again.id }).finalize);
    apply(&mut job, Command::FileDone { file: 0 });
    assert_eq!(job.state(), JobState::Transferred);
}

#[test]
fn more_version_changes_in_a_run_than_the_bound_end_the_job_in_error() {
    use crate::engine::model::job::MAX_VERSION_CHANGES;
    let mut job = running_job(1);
    let mut piece = apply(&mut job, Command::NextPiece).piece.unwrap().id;
    piece_opened(&mut job, piece, 0, "v0", 16 * MIB);
    for change in 1..=MAX_VERSION_CHANGES + 1 {
        // The connection breaks after a MiB; its resume lands on another
        // backend, which sends its own version whole.
        piece_arrived(&mut job, piece, 0..MIB);
        apply(&mut job, Command::PieceEnded { piece });
        let next = apply(&mut job, Command::NextPiece).piece.unwrap();
        assert_eq!(next.span.start, MIB);
        piece = next.id;
        let fx = piece_opened(&mut job, piece, 0, &format!("v{}", change % 2), 16 * MIB);
        if change <= MAX_VERSION_CHANGES {
            assert_eq!(job.state(), JobState::Transferring, "change {change}");
            assert_eq!(fx.piece.unwrap().span.start, 0);
            assert_eq!(job.files()[0].splittable(), Some(false));
        } else {
            assert_eq!(fx.piece, None);
            assert!(fx.stop_run);
            assert_eq!(job.state(), JobState::Error);
            let err = job.error().unwrap();
            assert_eq!(err.code.0, QM_BG_E_INVALID_SERVER_RESPONSE);
            assert_eq!(err.context, ErrorContext::RemoteFile);
            assert_eq!(err.file_index, Some(0));
            assert!(
                err.description.contains(&format!("{change} times")),
                "{}",
                err.description
            );
        }
    }
    // A resume is a new run with a new count, from the bytes kept.
    apply(
        &mut job,
        Command::RunEnded {
            run: 1,
            failure: None,
        },
    );
    apply(&mut job, Command::Resume { seq: 9 });
    apply(
        &mut job,
        Command::Start {
            run: 2,
            per_server: 6,
        },
    );
    assert_eq!(job.files()[0].version_changes, 0);
    let next = apply(&mut job, Command::NextPiece).piece.unwrap();
    assert_eq!(next.span.start, MIB);
}

/// Run 1 of a one-file job opened `v1` and wrote its first MiB; then
/// `between` ends the run and starts run 2.
fn second_run_sees_v2(between: impl FnOnce(&mut JobModel)) -> JobModel {
    let mut job = running_job(1);
    let piece = apply(&mut job, Command::NextPiece).piece.unwrap().id;
    piece_opened(&mut job, piece, 0, "v1", 16 * MIB);
    piece_arrived(&mut job, piece, 0..MIB);
    between(&mut job);
    apply(
        &mut job,
        Command::Start {
            run: 2,
            per_server: 6,
        },
    );
    let piece = apply(&mut job, Command::NextPiece).piece.unwrap().id;
    let fx = piece_opened(&mut job, piece, 0, "v2", 16 * MIB);
    assert_eq!(fx.piece.unwrap().span.start, 0, "another version restarts");
    job
}

#[test]
fn a_version_change_across_the_callers_resume_is_an_update_not_counted() {
    let mut job = second_run_sees_v2(|job| {
        apply(job, Command::Suspend);
        apply(
            job,
            Command::RunEnded {
                run: 1,
                failure: None,
            },
        );
        apply(job, Command::Resume { seq: 9 });
    });
    assert_eq!(job.files()[0].version_changes, 0);
    assert_eq!(job.files()[0].splittable(), Some(true));
    assert!(apply(&mut job, Command::NextPiece).piece.is_some());
}

#[test]
fn a_version_change_across_an_automatic_retry_is_counted() {
    let mut job = second_run_sees_v2(|job| {
        let cut = transient(QM_E_WINHTTP_CONNECTION_ERROR);
        apply_at(
            job,
            Command::RunEnded {
                run: 1,
                failure: Some(cut),
            },
            t0(),
        );
        assert_eq!(job.state(), JobState::TransientError);
        apply_at(
            job,
            Command::RetryDue { seq: 9 },
            t0().later(Duration::from_secs(600)),
        );
        assert_eq!(job.state(), JobState::Queued);
    });
    assert_eq!(job.files()[0].version_changes, 1);
    assert_eq!(job.files()[0].splittable(), Some(false));
    let fx = apply(&mut job, Command::NextPiece);
    assert!(fx.piece.is_none() && !fx.wait, "{fx:?}");
}

// ----- the maximum download time -------------------------------------------

#[test]
fn the_maximum_download_time_counts_connecting_and_transferring_only() {
    let mut job = running_job(1);
    apply(&mut job, Command::Set(Property::MaxDownloadTime(10)));
    let at = |s: u64| t0().later(Duration::from_secs(s));
    job.apply(Command::NextPiece, at(0)).unwrap();
    assert_eq!(job.state(), JobState::Connecting);
    // 4 s in, preempted: back to the queue, where time does not count.
    job.apply(Command::Preempt { requeue: None }, at(4))
        .unwrap();
    assert_eq!(job.state(), JobState::Queued);
    assert_eq!(job.download_deadline(), None);
    job.apply(
        Command::RunEnded {
            run: 1,
            failure: None,
        },
        at(4),
    )
    .unwrap();
    // 100 s later it runs again: 6 s are left.
    job.apply(
        Command::Start {
            run: 2,
            per_server: 6,
        },
        at(100),
    )
    .unwrap();
    job.apply(Command::NextPiece, at(100)).unwrap();
    assert_eq!(job.download_deadline(), Some(at(106).now));
    job.apply(Command::TimeCheck, at(105)).unwrap();
    assert_eq!(job.state(), JobState::Connecting);
    let fx = job.apply(Command::TimeCheck, at(106)).unwrap();
    assert_eq!(job.state(), JobState::Error);
    assert!(fx.stop_run);
    assert_eq!(job.error().unwrap().code.0, QM_BG_E_MAXDOWNLOAD_TIMEOUT);
}

// ----- retry timing, in virtual time, as the scheduler drives it ----------

/// The scheduler's pass over these jobs at `at`: the commands of the due
/// timers (`schedule::alarms`), each retry with the next place in the
/// queue. Returns when the next pass must be.
fn pass(jobs: &mut [&mut JobModel], at: Clock, seq: &mut u64) -> Option<Instant> {
    let timers: Vec<Timers> = jobs.iter().map(|j| Timers::of(j)).collect();
    let alarms = schedule::alarms(&timers, at.now);
    for i in alarms.time_check {
        apply_at(jobs[i], Command::TimeCheck, at);
    }
    for i in alarms.retry {
        *seq += 1;
        apply_at(jobs[i], Command::RetryDue { seq: *seq }, at);
    }
    alarms.next
}

/// The running job's run `run` connects at `at` and fails with `err`
/// before a byte arrives.
fn fails(job: &mut JobModel, run: u64, err: TransferError, at: Clock) {
    apply_at(job, Command::NextPiece, at);
    apply_at(
        job,
        Command::RunEnded {
            run,
            failure: Some(err),
        },
        at,
    );
}

/// The scheduler starts the queued job as run `run` at `at`.
fn starts(job: &mut JobModel, run: u64, at: Clock) {
    apply_at(job, Command::Start { run, per_server: 6 }, at);
}

/// A transient failure whose server asked to come back after `wait`.
fn busy(wait: Duration) -> TransferError {
    let mut err = transient(QM_E_FAIL);
    err.retry_after = Some(wait);
    err
}

fn ms(n: u64) -> Clock {
    t0().later(Duration::from_millis(n))
}

fn secs(n: u64) -> Clock {
    t0().later(Duration::from_secs(n))
}

#[test]
fn each_job_waits_its_retry_delay_and_the_scheduler_wakes_for_the_earliest() {
    let mut jobs: Vec<JobModel> = [30, 10, 20]
        .into_iter()
        .map(|delay| {
            let mut job = running_job(1);
            apply(&mut job, Command::Set(Property::RetryDelay(delay)));
            fails(&mut job, 1, transient(QM_E_WINHTTP_TIMEOUT), t0());
            job
        })
        .collect();
    let mut seq = 100;
    let mut refs: Vec<&mut JobModel> = jobs.iter_mut().collect();
    let states = |jobs: &[&mut JobModel]| jobs.iter().map(|j| j.state()).collect::<Vec<_>>();
    use JobState::{Queued as Q, TransientError as T};
    assert_eq!(pass(&mut refs, t0(), &mut seq), Some(secs(10).now));
    assert_eq!(states(&refs), [T, T, T]);
    // A pass woken early (a job queued, a setting changed) changes nothing.
    assert_eq!(pass(&mut refs, ms(9_999), &mut seq), Some(secs(10).now));
    assert_eq!(states(&refs), [T, T, T]);
    assert_eq!(pass(&mut refs, secs(10), &mut seq), Some(secs(20).now));
    assert_eq!(states(&refs), [T, Q, T]);
    assert_eq!(pass(&mut refs, secs(20), &mut seq), Some(secs(30).now));
    assert_eq!(states(&refs), [T, Q, Q]);
    assert_eq!(pass(&mut refs, secs(30), &mut seq), None);
    assert_eq!(states(&refs), [Q, Q, Q]);
    // Each went to the end of the queue when its retry came, once.
    let order: Vec<(u64, u32)> = refs
        .iter()
        .map(|j| (j.queue_seq(), j.num_retries()))
        .collect();
    assert_eq!(order, [(103, 1), (101, 1), (102, 1)]);
}

#[test]
fn a_wait_below_a_second_is_raised_to_a_second() {
    let mut seq = 0;
    // A delay of 0, a Retry-After of 300 ms, a Retry-After date already
    // past (0): each waits 1 s.
    for err in [
        transient(QM_E_FAIL),
        busy(Duration::from_millis(300)),
        busy(Duration::ZERO),
    ] {
        let mut job = running_job(1);
        apply(&mut job, Command::Set(Property::RetryDelay(0)));
        fails(&mut job, 1, err, t0());
        assert_eq!(job.retry_at(), Some(secs(1).now));
        assert_eq!(pass(&mut [&mut job], ms(999), &mut seq), Some(secs(1).now));
        assert_eq!(job.state(), JobState::TransientError);
        assert_eq!(pass(&mut [&mut job], secs(1), &mut seq), None);
        assert_eq!(job.state(), JobState::Queued);
    }
}

#[test]
fn retry_after_counts_only_when_longer_than_the_retry_delay() {
    let mut job = running_job(1);
    apply(&mut job, Command::Set(Property::RetryDelay(60)));
    let mut seq = 0;
    let mut now = t0();
    // (what the server asked for, what the job waits)
    for (asked, waits) in [
        (Some(5), 60),
        (Some(60), 60),
        (Some(61), 61),
        (Some(3600), 3600),
        // An earlier Retry-After does not stick.
        (None, 60),
    ] {
        let err = asked.map_or_else(|| transient(QM_E_FAIL), |s| busy(Duration::from_secs(s)));
        let run = u64::from(job.num_retries()) + 1;
        fails(&mut job, run, err, now);
        let due = now.later(Duration::from_secs(waits));
        assert_eq!(job.retry_at(), Some(due.now), "asked {asked:?}");
        let just_before = now.later(Duration::from_secs(waits - 1));
        assert_eq!(pass(&mut [&mut job], just_before, &mut seq), Some(due.now));
        assert_eq!(job.state(), JobState::TransientError);
        assert_eq!(pass(&mut [&mut job], due, &mut seq), None);
        assert_eq!(job.state(), JobState::Queued);
        now = due;
        starts(&mut job, run + 1, now);
    }
}

#[test]
fn a_retry_after_past_what_the_clock_holds_waits_the_longest_it_can() {
    // The transport caps Retry-After at a week; the model still survives
    // a wait no clock can add.
    let mut job = running_job(1);
    apply(&mut job, Command::Set(Property::RetryDelay(1)));
    let week = Duration::from_secs(7 * 24 * 3600);
    fails(&mut job, 1, busy(week), t0());
    assert_eq!(job.retry_at(), Some(t0().later(week).now));
    let mut seq = 0;
    assert_eq!(
        pass(&mut [&mut job], secs(3600), &mut seq),
        Some(t0().later(week).now)
    );
    assert_eq!(job.state(), JobState::TransientError);
    let mut job = running_job(1);
    fails(&mut job, 1, busy(Duration::MAX), t0());
    let longest = t0().later(Duration::from_secs(u64::from(u32::MAX))).now;
    assert_eq!(job.retry_at(), Some(longest));
    assert_eq!(
        pass(&mut [&mut job], t0().later(week), &mut seq),
        Some(longest)
    );
    assert_eq!(job.state(), JobState::TransientError);
}

#[test]
fn retries_without_progress_end_in_error_at_the_first_failure_past_the_timeout() {
    // (retry delay, no-progress timeout, how long an attempt takes to
    // fail, in ms) -> the retries made, and when the job is in ERROR.
    for (delay, timeout, attempt, retries, error_at) in [
        // Refused at once, retried every second: ERROR at 3 s, as the
        // design says, after 3 retries.
        (1, 3, 0, 3, 3_000),
        // Retries that straddle the timeout: ERROR at the first failure
        // past it (the job waits in TRANSIENT_ERROR meanwhile).
        (2, 3, 0, 2, 4_000),
        // Attempts that take time count it: 0.5, 2.5 + 0.5 = 3.0 s.
        (2, 3, 500, 1, 3_000),
    ] {
        let mut job = running_job(1);
        apply(&mut job, Command::Set(Property::RetryDelay(delay)));
        apply(&mut job, Command::Set(Property::NoProgressTimeout(timeout)));
        let mut seq = 0;
        let mut now = 0;
        let mut run = 1;
        loop {
            now += attempt;
            fails(
                &mut job,
                run,
                transient(QM_E_WINHTTP_CANNOT_CONNECT),
                ms(now),
            );
            if job.state() == JobState::Error {
                break;
            }
            assert_eq!(job.state(), JobState::TransientError);
            // The scheduler sleeps until the retry and starts the job then.
            let wake = pass(&mut [&mut job], ms(now), &mut seq).unwrap();
            assert_eq!(wake, ms(now + delay as u64 * 1000).now);
            now += delay as u64 * 1000;
            assert_eq!(pass(&mut [&mut job], ms(now), &mut seq), None);
            run += 1;
            starts(&mut job, run, ms(now));
        }
        let case = (delay, timeout, attempt);
        assert_eq!((job.num_retries(), now), (retries, error_at), "{case:?}");
        assert_eq!(job.error().unwrap().code.0, QM_E_WINHTTP_CANNOT_CONNECT);
        assert_eq!(job.retry_at(), None);
        assert_eq!(pass(&mut [&mut job], ms(now + 60_000), &mut seq), None);
        // A resume opens a new window: the next failure is transient again.
        apply_at(&mut job, Command::Resume { seq: 99 }, ms(now));
        starts(&mut job, run + 1, ms(now));
        fails(&mut job, run + 1, transient(QM_E_FAIL), ms(now + 1000));
        assert_eq!(job.state(), JobState::TransientError, "{case:?}");
    }
}

/// Issue 19, item 1: where a redirect led is a discovery. Under every
/// policy it is reported as the final URL and nothing else: the remote
/// name, the source the next request goes to (and so the origin the
/// credentials follow) stay the caller's, and nothing is persisted.
#[test]
fn a_redirect_is_reported_and_never_becomes_the_source() {
    for policy in [
        SecurityFlags::REDIRECT_POLICY_ALLOW_SILENT,
        SecurityFlags::REDIRECT_POLICY_ALLOW_REPORT,
        SecurityFlags::REDIRECT_POLICY_DISALLOW,
    ] {
        let mut job = running_job(1);
        apply(
            &mut job,
            Command::Set(Property::SecurityFlags(SecurityFlags(policy))),
        );
        for url in [
            "http://elsewhere/x",
            "http://server/0?moved",
            "file:///etc/hostname",
        ] {
            let fx = apply(
                &mut job,
                Command::Redirected {
                    file: 0,
                    url: url.into(),
                },
            );
            assert_eq!(fx.persist.files, Files::None, "{policy:x} {url}");
            let f = job.file(0).unwrap();
            assert_eq!(f.remote(), "http://server/0", "{policy:x} {url}");
            assert_eq!(f.source(), &Source::Http("http://server/0".into()));
            assert_eq!(f.final_url(), url);
        }
        // An answer from the remote name itself ends the report.
        apply(
            &mut job,
            Command::Redirected {
                file: 0,
                url: "http://server/0".into(),
            },
        );
        assert_eq!(job.file(0).unwrap().final_url(), "http://server/0");
        apply(
            &mut job,
            Command::Redirected {
                file: 0,
                url: "http://elsewhere/x".into(),
            },
        );
        // A caller's call changes the name, and forgets the report.
        apply(
            &mut job,
            Command::SetRemoteNames {
                names: vec![(
                    0,
                    "https://mirror/1".into(),
                    Source::Http("https://mirror/1".into()),
                )],
            },
        );
        let f = job.file(0).unwrap();
        assert_eq!(f.remote(), "https://mirror/1");
        assert_eq!(f.final_url(), "https://mirror/1");
    }
}

#[test]
fn a_job_keeps_its_owner_and_a_restored_one_its_stored_owner() {
    assert_eq!(new_job().owner(), OWNER);
    let (job, _) = JobModel::restore(stored(JobState::Suspended, vec![]), t0());
    assert_eq!(job.owner(), Owner { uid: 7, gid: 8 });
}

#[test]
fn taking_ownership_requeues_a_running_job_and_keeps_the_bytes_handed_over() {
    let new_owner = Owner { uid: 2000, gid: 20 };
    let mut job = running_job(2);
    transfer_file(&mut job, 0, 4);
    apply(&mut job, Command::NextPiece);
    opened(&mut job, 1, 0, Some(6));
    arrived(&mut job, 1, 0..3);
    let fx = apply(&mut job, Command::BeginFinish);
    assert!(fx.stop_run, "the old owner's transfer stops first");
    apply(
        &mut job,
        Command::RunEnded {
            run: 1,
            failure: None,
        },
    );
    let fx = apply(
        &mut job,
        Command::TakeOwnership {
            owner: new_owner,
            lost: vec![],
            seq: 9,
        },
    );
    assert_eq!(job.owner(), new_owner);
    assert!(!job.finishing());
    assert_eq!(job.state(), JobState::Queued);
    assert!(fx.wake_scheduler);
    assert_eq!(
        fx.persist,
        Persist {
            job: true,
            files: Files::All
        }
    );
    assert_eq!(job.published().bytes_transferred, 7, "no byte is lost");
}

#[test]
fn taking_ownership_fetches_again_what_could_not_be_handed_over() {
    let mut job = running_job(2);
    transfer_file(&mut job, 0, 4);
    transfer_file(&mut job, 1, 6);
    apply(&mut job, Command::NextPiece);
    assert_eq!(job.state(), JobState::Transferred);
    apply(&mut job, Command::BeginFinish);
    apply(
        &mut job,
        Command::RunEnded {
            run: 1,
            failure: None,
        },
    );
    apply(
        &mut job,
        Command::TakeOwnership {
            owner: Owner { uid: 3, gid: 3 },
            lost: vec![1, 7],
            seq: 9,
        },
    );
    assert_eq!(
        job.state(),
        JobState::Queued,
        "a lost file is fetched again"
    );
    assert_eq!(job.queue_seq(), 9);
    assert!(job.times().transfer_completion.is_none());
    assert!(job.files()[0].completed());
    assert!(!job.files()[1].completed());
    assert!(job.files()[1].temp().is_none());
    assert_eq!(job.published().bytes_transferred, 4);
    assert_eq!(job.published().files_transferred, 1);
    // A suspended job with nothing lost stays as it was.
    let mut suspended = new_job();
    apply(&mut suspended, Command::BeginFinish);
    apply(
        &mut suspended,
        Command::TakeOwnership {
            owner: Owner { uid: 3, gid: 3 },
            lost: vec![],
            seq: 10,
        },
    );
    assert_eq!(suspended.state(), JobState::Suspended);
    // A final job cannot change hands.
    cancel(&mut suspended);
    assert_eq!(
        refused(
            &mut suspended,
            Command::TakeOwnership {
                owner: OWNER,
                lost: vec![],
                seq: 11
            }
        ),
        QM_BG_E_INVALID_STATE
    );
}

/// A running job of one file with seeds, whose worker found `seeded`
/// bytes of a target of `len` bytes in them.
#[cfg(feature = "delta")]
fn delta_job(len: u64, seeded: &str) -> JobModel {
    let mut job = new_job();
    apply(
        &mut job,
        Command::AddFiles {
            files: vec![file(0)],
            seq: 2,
        },
    );
    apply(
        &mut job,
        Command::Set(Property::FileDelta {
            index: 0,
            delta: Some(DeltaSource {
                seeds: vec!["/old.img".into()],
                control_url: None,
            }),
        }),
    );
    assert_eq!(job.files()[0].delta_status().way, DeltaWay::Pending);
    apply(&mut job, Command::Resume { seq: 3 });
    apply(
        &mut job,
        Command::Start {
            run: 1,
            per_server: 4,
        },
    );
    apply(&mut job, Command::NextPiece);
    apply(
        &mut job,
        Command::DeltaSeeded {
            file: 0,
            ranges: seeded.parse().unwrap(),
            matched: (len, [1; 20]),
        },
    );
    // The worker drops the piece it prepared with and asks again.
    piece_ended(&mut job, 0);
    job
}

#[cfg(feature = "delta")]
#[test]
fn blocks_from_seeds_count_as_arrived_and_only_the_gaps_are_planned() {
    let mut job = delta_job(1000, "0-400,600-999");
    let status = job.files()[0].delta_status();
    assert_eq!(
        (status.way, status.bytes_from_seeds),
        (DeltaWay::Delta, 799)
    );
    assert_eq!(job.published().bytes_transferred, 799);
    assert_eq!(job.published().bytes_total, Some(1000));
    let piece = apply(&mut job, Command::NextPiece).piece.unwrap();
    assert_eq!(
        piece.span,
        Span {
            start: 400,
            end: Some(600)
        }
    );
    // The server's answer: that range, of the control file's length. The
    // seeds' bytes stay (no validator before is no restart here).
    let fx = opened(&mut job, 0, 400, Some(1000));
    assert_eq!(fx.piece.unwrap().span.start, 400);
    assert_eq!(job.files()[0].ledger().arrived_bytes(), 799);
    arrived(&mut job, 0, 400..600);
    assert!(!piece_ended(&mut job, 0).finalize);
    let last = apply(&mut job, Command::NextPiece).piece.unwrap();
    assert_eq!(
        last.span,
        Span {
            start: 999,
            end: Some(1000)
        }
    );
}

#[cfg(feature = "delta")]
#[test]
fn a_server_file_of_another_length_makes_it_a_full_download() {
    let mut job = delta_job(1000, "0-400,600-999");
    apply(&mut job, Command::NextPiece);
    let id = piece_of(&job, 0);
    let fx = opened(&mut job, 0, 400, Some(2000));
    assert_eq!(fx.piece, None, "the piece is taken away");
    let f = &job.files()[0];
    let status = f.delta_status();
    assert_eq!(status.way, DeltaWay::Full);
    assert!(status.reason.contains("2000"), "{status:?}");
    assert_eq!(status.bytes_from_seeds, 0);
    assert_eq!(f.ledger().arrived_bytes(), 0);
    assert_eq!(job.published().bytes_transferred, 0);
    // Nothing is planned while its connection holds it; once it let go,
    // the file is fetched whole from byte 0.
    assert_eq!(apply(&mut job, Command::NextPiece).piece, None);
    apply(&mut job, Command::PieceEnded { piece: id });
    let piece = apply(&mut job, Command::NextPiece).piece.unwrap();
    assert_eq!(
        piece.span,
        Span {
            start: 0,
            end: None
        }
    );
}

#[cfg(feature = "delta")]
#[test]
fn a_server_that_ignores_the_range_makes_it_a_full_download() {
    let mut job = delta_job(1000, "0-400,600-999");
    apply(&mut job, Command::NextPiece);
    opened(&mut job, 0, 0, Some(1000));
    let status = job.files()[0].delta_status();
    assert_eq!(status.way, DeltaWay::Full);
    assert!(status.reason.contains("range"), "{status:?}");
}

#[cfg(feature = "delta")]
#[test]
fn seeds_are_set_before_the_file_starts_and_only_on_http_files() {
    let mut job = delta_job(1000, "0-10");
    let seeds = || {
        Some(DeltaSource {
            seeds: vec!["/old.img".into()],
            control_url: None,
        })
    };
    let code = refused(
        &mut job,
        Command::Set(Property::FileDelta {
            index: 0,
            delta: seeds(),
        }),
    );
    assert_eq!(code, QM_BG_E_INVALID_STATE);
    let mut local = new_job();
    apply(
        &mut local,
        Command::AddFiles {
            files: vec![NewFile {
                source: Source::Local("/src".into()),
                remote: "/src".into(),
                local: "/dest/x".into(),
                size_hint: 0,
                ranges: None,
            }],
            seq: 2,
        },
    );
    let code = refused(
        &mut local,
        Command::Set(Property::FileDelta {
            index: 0,
            delta: seeds(),
        }),
    );
    assert_eq!(code, QM_E_INVALIDARG);
}

// ----- upload jobs (issue 25) ---------------------------------------------

fn upload_job(kind: JobType) -> JobModel {
    let mut job = JobModel::new(JobId([9; 16]), OWNER, "up", kind, 1, t0()).unwrap();
    apply(
        &mut job,
        Command::AddFiles {
            files: vec![file(0)],
            seq: 1,
        },
    );
    job
}

fn sent(confirmed: u64, size: u64) -> crate::engine::transport::upload_state::UploadState {
    crate::engine::transport::upload_state::UploadState {
        protocol: UploadProtocol::Tus,
        upload_url: Some("http://server/up/1".into()),
        confirmed,
        file_size: size,
        file_mtime_ns: 1,
        expires: None,
        max_append: None,
    }
}

#[test]
fn an_upload_job_holds_one_file_and_refuses_download_options() {
    let mut job = upload_job(JobType::Upload);
    assert_eq!(job.kind(), JobType::Upload);
    assert_eq!(job.upload().unwrap().protocol, UploadProtocol::Tus);
    let second = Command::AddFiles {
        files: vec![file(1)],
        seq: 2,
    };
    assert_eq!(refused(&mut job, second), QM_BG_E_TOO_MANY_FILES);
    for option in [
        Property::DynamicContent(true),
        Property::MaxDownloadSize(10),
        Property::ReplyFileName(None),
        Property::FileSha256 {
            index: 0,
            digest: None,
        },
    ] {
        assert_eq!(refused(&mut job, Command::Set(option)), QM_E_INVALIDARG);
    }
    // Two files at once are refused whole, as are ranges.
    let mut empty = JobModel::new(JobId([8; 16]), OWNER, "up", JobType::Upload, 1, t0()).unwrap();
    let two = Command::AddFiles {
        files: vec![file(0), file(1)],
        seq: 1,
    };
    assert_eq!(refused(&mut empty, two), QM_BG_E_TOO_MANY_FILES);
    // A download refuses the upload options.
    let mut download = new_job();
    let protocol = Command::Set(Property::UploadProtocol(UploadProtocol::Rufh));
    assert_eq!(refused(&mut download, protocol), QM_E_INVALIDARG);
}

#[test]
fn an_upload_reply_job_speaks_the_draft_and_refuses_tus() {
    let mut job = upload_job(JobType::UploadReply);
    assert_eq!(job.upload().unwrap().protocol, UploadProtocol::Rufh);
    let tus = Command::Set(Property::UploadProtocol(UploadProtocol::Tus));
    assert_eq!(refused(&mut job, tus), QM_E_INVALIDARG);
    apply(
        &mut job,
        Command::Set(Property::ReplyFileName(Some("/dest/reply".into()))),
    );
    assert_eq!(
        job.upload().unwrap().reply_file.as_deref(),
        Some(std::path::Path::new("/dest/reply"))
    );
}

#[test]
fn an_uploads_progress_is_what_the_server_confirmed_and_survives_a_restore() {
    let mut job = upload_job(JobType::Upload);
    apply(&mut job, Command::Resume { seq: 2 });
    apply(
        &mut job,
        Command::Start {
            run: 1,
            per_server: 1,
        },
    );
    assert_eq!(job.useful_connections(), 1);
    assert!(apply(&mut job, Command::NextPiece).piece.is_some());
    assert_eq!(job.state(), JobState::Connecting);
    let fx = apply(
        &mut job,
        Command::UploadConfirmed {
            state: sent(0, 100),
        },
    );
    assert!(
        fx.persist.job,
        "the upload URL is written before data is sent"
    );
    assert_eq!(job.state(), JobState::Transferring);
    let fx = apply(
        &mut job,
        Command::UploadConfirmed {
            state: sent(40, 100),
        },
    );
    assert_eq!(fx.persist.files, Files::One(0));
    let p = job.published();
    assert_eq!((p.bytes_total, p.bytes_transferred), (Some(100), 40));
    // A new process (no temporary file): the server's 40 bytes count
    // until it is asked again; a transferred upload stays transferred.
    for (durable, completed, shown) in [("0-40", false, 40), ("0-100", true, 100)] {
        let mut s = stored(
            JobState::Transferring,
            vec![stored_file(100, durable, None, completed)],
        );
        s.kind = JobType::Upload;
        s.upload = job.upload().cloned();
        let (restored, _) = JobModel::restore(s, t0());
        assert_eq!(restored.kind(), JobType::Upload);
        assert_eq!(restored.published().bytes_transferred, shown);
        assert_eq!(restored.upload(), job.upload());
        assert_eq!(restored.files()[0].completed(), completed);
    }
    // Done: TRANSFERRED; complete renames nothing.
    apply(
        &mut job,
        Command::UploadConfirmed {
            state: sent(100, 100),
        },
    );
    apply(&mut job, Command::FileDone { file: 0 });
    assert_eq!(job.state(), JobState::Transferred);
    assert!(job.files_to_commit().is_empty());
}

#[test]
fn another_remote_name_is_another_upload() {
    let mut job = upload_job(JobType::Upload);
    apply(
        &mut job,
        Command::UploadConfirmed {
            state: sent(40, 100),
        },
    );
    let remote = "http://elsewhere/up/".to_string();
    apply(
        &mut job,
        Command::SetRemoteNames {
            names: vec![(0, remote.clone(), Source::Http(remote))],
        },
    );
    assert_eq!(job.upload().unwrap().state, None);
    assert_eq!(job.published().bytes_transferred, 0);
}
