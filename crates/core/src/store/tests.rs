use chrono::{Duration, Utc};

use super::*;

fn event(key: &str) -> NewEvent {
    NewEvent {
        profile: "Production".into(),
        source: Source::Outbound,
        event: "support_conference_end".into(),
        lsid: Some("abc".into()),
        dedupe_key: key.into(),
        body: "event=support_conference_end&lsid=abc".into(),
        remote_addr: Some("127.0.0.1".into()),
        job: JobState::Pending,
        note: None,
    }
}

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("nested/store.sqlite3")).unwrap();
    (dir, store)
}

#[test]
fn an_event_is_kept_once_with_its_job() {
    let (_dir, store) = open();
    let now = Utc::now();
    let Accepted::New { job_id } = store.accept(&event("k1"), now).unwrap() else { panic!("not new") };
    assert_eq!(store.accept(&event("k1"), now).unwrap(), Accepted::Duplicate);
    let job = store.job(job_id).unwrap().unwrap();
    assert_eq!((job.state, job.attempts, job.lsid.as_deref()), (JobState::Pending, 0, Some("abc")));
    assert_eq!(store.queue_health().unwrap().pending, 1);
}

#[test]
fn due_jobs_are_claimed_rescheduled_and_finished() {
    let (_dir, store) = open();
    let now = Utc::now();
    store.accept(&event("k1"), now).unwrap();
    let mut second = event("k2");
    second.lsid = Some("def".into());
    store.accept(&second, now).unwrap();
    let claimed = store.claim_due(now, 10).unwrap();
    assert_eq!(claimed.len(), 2);
    assert!(claimed.iter().all(|j| j.state == JobState::Running && j.attempts == 1));
    assert!(store.claim_due(now, 10).unwrap().is_empty(), "running jobs are not claimed twice");

    store.reschedule(claimed[0].id, now + Duration::seconds(30), "Autotask had a server error", now).unwrap();
    assert!(store.claim_due(now, 10).unwrap().is_empty(), "not due yet");
    assert_eq!(store.next_due().unwrap().unwrap().timestamp(), (now + Duration::seconds(30)).timestamp());
    store.renew_claims(now + Duration::seconds(20)).unwrap(); // the other job still runs
    let again = store.claim_due(now + Duration::seconds(31), 10).unwrap();
    assert_eq!(again[0].attempts, 2);
    assert_eq!(again[0].last_error.as_deref(), Some("Autotask had a server error"));

    store.finish(claimed[1].id, JobState::Failed, Some("role not found"), now).unwrap();
    assert!(store.retry(claimed[1].id, now).unwrap(), "a person can retry a failed job");
    let retried = store.claim_due(now, 10).unwrap();
    assert_eq!((retried[0].id, retried[0].attempts), (claimed[1].id, 1));
}

#[test]
fn a_sessions_jobs_run_one_at_a_time_in_order() {
    let (_dir, store) = open();
    let now = Utc::now();
    store.accept(&event("a1"), now).unwrap();
    store.accept(&event("a2"), now).unwrap();
    let mut other = event("b1");
    other.lsid = Some("other".into());
    store.accept(&other, now).unwrap();
    let first = store.claim_due(now, 10).unwrap();
    let keys: Vec<_> = first.iter().map(|j| j.lsid.clone().unwrap()).collect();
    assert_eq!(keys, ["abc", "other"], "one job per session in a batch");
    assert!(store.claim_due(now, 10).unwrap().is_empty(), "abc's second job waits while its first runs");
    store.finish(first[0].id, JobState::Done, None, now).unwrap();
    let second = store.claim_due(now, 10).unwrap();
    assert_eq!((second.len(), second[0].lsid.as_deref()), (1, Some("abc")));
}

#[test]
fn jobs_caught_running_by_a_crash_run_again_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite3");
    let now = Utc::now();
    {
        let store = Store::open(&path).unwrap();
        store.accept(&event("k1"), now).unwrap();
        assert_eq!(store.claim_due(now, 10).unwrap().len(), 1);
        // Dropped while the job is running, as a crash would leave it.
    }
    let store = Store::open(&path).unwrap();
    assert!(store.claim_due(now, 10).unwrap().is_empty(), "opening alone takes no running job");
    assert_eq!(store.requeue_interrupted().unwrap(), 1);
    assert_eq!(store.claim_due(now, 10).unwrap().len(), 1);
}

#[test]
fn a_job_left_running_by_a_process_that_died_is_taken_again_once_its_claim_lapses() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite3");
    let now = Utc::now();
    let (first, second) = (Store::open(&path).unwrap(), Store::open(&path).unwrap());
    first.accept(&event("k1"), now).unwrap();
    assert_eq!(first.claim_due(now, 10).unwrap().len(), 1);
    let when = |store: &Store| store.next_due().unwrap().map(|t| t.timestamp_millis());
    assert_eq!(when(&second), Some((now + JOB_LEASE).timestamp_millis()), "the second looks when the claim lapses");
    assert_eq!(when(&first), None, "the first renews its own");
    first.accept(&event("k2"), now).unwrap();
    assert!(first.claim_due(now, 10).unwrap().is_empty(), "one job of the session at a time");
    assert!(second.claim_due(now + Duration::seconds(14), 10).unwrap().is_empty(), "the first's claim holds");
    assert_eq!(first.renew_claims(now + Duration::seconds(10)).unwrap(), 1);
    let lapses = now + Duration::seconds(10) + JOB_LEASE;
    assert!(second.claim_due(now + Duration::seconds(20), 10).unwrap().is_empty(), "renewed: still the first's");

    // The first renews no more (it died): the second takes the job, and only that one of the session.
    let taken = second.claim_due(lapses, 10).unwrap();
    assert_eq!((taken.len(), taken[0].attempts, taken[0].state), (1, 2, JobState::Running));
    assert_eq!(first.renew_claims(lapses).unwrap(), 0, "the claim is the second's now");
    assert!(first.claim_due(lapses + Duration::seconds(1), 10).unwrap().is_empty());
}

#[test]
fn a_second_opening_beside_a_working_store_leaves_its_running_jobs_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite3");
    let now = Utc::now();
    let worker = Store::open(&path).unwrap();
    worker.accept(&event("k1"), now).unwrap();
    assert_eq!(worker.claim_due(now, 10).unwrap().len(), 1);
    let listing = Store::open(&path).unwrap(); // `bt-autotask-worker jobs` while the worker runs
    assert_eq!(listing.recent_jobs(10).unwrap()[0].state, JobState::Running);
    assert!(worker.claim_due(now, 10).unwrap().is_empty(), "the running job is not handed out twice");
}

#[test]
fn the_ledger_keeps_each_write_once() {
    let (_dir, store) = open();
    let now = Utc::now();
    let entry = LedgerEntry {
        profile: "Production".into(),
        lsid: "abc".into(),
        kind: "note".into(),
        part: 1,
        ticket_id: Some(7201),
        autotask_id: 901,
    };
    store.record_write(&entry, now).unwrap();
    store.record_write(&LedgerEntry { autotask_id: 902, ..entry.clone() }, now).unwrap();
    store
        .record_write(&LedgerEntry { kind: "time_entry".into(), part: 0, autotask_id: 55, ..entry.clone() }, now)
        .unwrap();
    let writes = store.writes_for("Production", "abc").unwrap();
    assert_eq!(writes.len(), 2);
    assert_eq!(writes[0].autotask_id, 901, "the first record stands");
}

#[test]
fn polling_moves_the_watermark_with_its_jobs_and_never_back() {
    let (_dir, store) = open();
    let now = Utc::now();
    let mut polled = event("poll-abc");
    polled.source = Source::Polling;
    assert_eq!(store.accept_polled("Production", &[polled.clone()], now, now).unwrap(), 1);
    assert_eq!(store.accept_polled("Production", &[polled], now - Duration::hours(1), now).unwrap(), 0);
    assert_eq!(store.watermark("Production").unwrap().unwrap().timestamp_millis(), now.timestamp_millis());
    assert_eq!(store.recent_jobs(10).unwrap()[0].source, Source::Polling);
}

fn activity(lsid: &str) -> ActivityLine {
    ActivityLine {
        profile: "Production".into(),
        lsid: Some(lsid.into()),
        level: "info",
        summary: "written".into(),
        ..Default::default()
    }
}

#[test]
fn activity_and_caches() {
    let (_dir, store) = open();
    let now = Utc::now();
    let written = ActivityLine {
        profile: "Production".into(),
        lsid: Some("abc".into()),
        ticket_id: Some(7201),
        level: "info",
        summary: "Wrote the session with Pat Lee (25 min) to ticket 7201".into(),
        details: Some("session abc · ticket id 7201".into()),
        job_id: Some(1),
        rep: Some("alex.morgan".into()),
    };
    store.log_activity(&written, now).unwrap();
    let failed = ActivityLine { level: "error", summary: "No ticket".into(), ..activity("def") };
    store.log_activity(&failed, now).unwrap();
    let recent = store.recent_activity(10).unwrap();
    assert_eq!(recent[0].summary, "No ticket");
    assert_eq!((recent[1].ticket_id, recent[1].details.as_deref()), (Some(7201), Some("session abc · ticket id 7201")));
    let alexs = store.activity_of_rep("Production", "Alex.Morgan", 10).unwrap();
    assert_eq!(alexs.iter().map(|a| a.id).collect::<Vec<_>>(), [recent[1].id], "a rep's own lines, in any case");
    assert!(store.job_of_rep(1, "Production", "alex.morgan").unwrap());
    assert!(
        !store.job_of_rep(1, "Production", "sam.lee").unwrap()
            && !store.job_of_rep(1, "Staging", "alex.morgan").unwrap()
    );

    assert_eq!(store.ticket_name("Production", 7201, now).unwrap(), None);
    store.remember_ticket("Production", 7201, "T20261124.0042 Outlook", now).unwrap();
    assert_eq!(store.ticket_name("Production", 7201, now).unwrap().as_deref(), Some("T20261124.0042 Outlook"));
    assert_eq!(store.ticket_name("Staging", 7201, now).unwrap(), None, "ticket ids are per Autotask database");

    store.cache("resource", "alex.morgan@example.com", "29684001", now).unwrap();
    assert_eq!(
        store.cached("resource", "alex.morgan@example.com", Duration::hours(1), now).unwrap().as_deref(),
        Some("29684001")
    );
    assert_eq!(
        store.cached("resource", "alex.morgan@example.com", Duration::hours(1), now + Duration::hours(2)).unwrap(),
        None
    );
}

#[test]
fn an_unusable_location_says_where_and_what_to_check() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"x").unwrap();
    let err = Store::open(&blocker.join("store.sqlite3")).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("could not be opened") && text.contains("permissions"), "{text}");
}

#[test]
fn pruning_removes_what_is_finished_and_old_and_keeps_what_waits_for_a_person() {
    let (_dir, store) = open();
    let old = Utc::now() - Duration::days(100);
    let now = Utc::now();
    let finish = |key: &str, state: JobState, at| {
        let Accepted::New { job_id } = store.accept(&event(key), at).unwrap() else { panic!("not new") };
        store.finish(job_id, state, None, at).unwrap();
    };
    for i in 0..1200 {
        finish(&format!("done-{i}"), JobState::Done, old);
    }
    finish("ignored", JobState::Ignored, old);
    finish("failed", JobState::Failed, old);
    store.accept(&event("pending"), old).unwrap();
    finish("recent", JobState::Done, now);
    for i in 0..700 {
        store.log_activity(&activity("abc"), old).unwrap();
        let entry = LedgerEntry {
            profile: "Production".into(),
            lsid: format!("{i:032x}"),
            kind: "note:session".into(),
            part: 1,
            ticket_id: Some(7201),
            autotask_id: i,
        };
        store.record_write(&entry, old).unwrap();
    }
    let before = store.size_bytes().unwrap();

    let cutoff = now - Duration::days(90);
    let mut batches = Vec::new();
    loop {
        let pruned = store.prune_batch(cutoff).unwrap();
        if pruned.is_empty() {
            break;
        }
        assert!(pruned.jobs <= retention::BATCH && pruned.ledger <= retention::BATCH, "small batches: {pruned:?}");
        batches.push(pruned);
    }
    store.finish_pruning(cutoff).unwrap();
    assert_eq!(batches.iter().map(|b| b.jobs).sum::<usize>(), 1201, "the done and ignored jobs");
    assert_eq!(batches.iter().map(|b| (b.activity, b.ledger)).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1)), (700, 700));
    let left: Vec<String> = store.recent_jobs(100).unwrap().into_iter().map(|j| format!("{:?}", j.state)).collect();
    assert_eq!(left.len(), 3, "failed, pending and recent stay: {left:?}");
    let inbox: i64 = store.conn().query_row("SELECT COUNT(*) FROM inbox", [], |r| r.get(0)).unwrap();
    assert_eq!(inbox, 3, "the events of pruned jobs went with them");
    assert_eq!(store.pruned_before().unwrap().map(|t| t.timestamp()), Some(cutoff.timestamp()));
    assert!(
        store.size_bytes().unwrap() < before,
        "freed pages were given back: {before} → {}",
        store.size_bytes().unwrap()
    );
}

#[test]
fn a_session_without_a_ticket_is_listed_until_attached_and_open_again_when_its_ticket_is_missing() {
    let (_dir, store) = open();
    // The store keeps milliseconds.
    let now = time(millis(Utc::now()));
    let Accepted::New { job_id } = store.accept(&event("k1"), now).unwrap() else { panic!("not new") };
    store.finish(job_id, JobState::Ignored, Some("No ticket"), now).unwrap();
    let session = UnlinkedSession {
        profile: "Production".into(),
        lsid: "abc".into(),
        job_id,
        customer: Some("Pat Lee".into()),
        company: Some("Dynamo Corporation".into()),
        duration_seconds: Some(1500),
        ended_at: Some(now),
        reason: "No ticket: session abc has no external key".into(),
        ..UnlinkedSession::default()
    };
    store.note_unlinked(&session, now).unwrap();
    assert_eq!(store.unlinked_since(now - Duration::days(14)).unwrap(), vec![session.clone()]);
    assert_eq!(session.described(), "Pat Lee (Dynamo Corporation, 25 min)");
    assert!(store.unlinked_since(now + Duration::seconds(1)).unwrap().is_empty(), "older than asked");

    assert_eq!(store.attach("Production", "abc", "7201", "lead", now).unwrap(), Attached::Queued { job_id });
    assert_eq!(store.job(job_id).unwrap().unwrap().state, JobState::Pending);
    assert_eq!(store.attached_ticket("Production", "abc").unwrap().as_deref(), Some("7201"));
    assert_eq!(store.attach("Production", "abc", "7201", "rep", now).unwrap(), Attached::Already { by: "lead".into() });
    let elsewhere = store.attach("Production", "abc", "7202", "rep", now).unwrap();
    assert_eq!(elsewhere, Attached::Elsewhere { ticket: "7201".into(), by: "lead".into() });
    assert!(store.unlinked_since(now - Duration::days(14)).unwrap().is_empty(), "attached: off the list");
    assert!(!store.dismiss("Production", "abc", "lead", now).unwrap(), "only an open one is dismissed");

    // The worker found no ticket 7201 after all: the session is back on the list, with why.
    let missing = UnlinkedSession { reason: "No ticket: Autotask has no ticket 7201".into(), ..session };
    store.note_unlinked(&missing, now).unwrap();
    assert_eq!(store.unlinked_since(now - Duration::days(14)).unwrap(), vec![missing]);
    assert_eq!(store.attached_ticket("Production", "abc").unwrap(), None);
    assert!(store.dismiss("Production", "abc", "lead", now).unwrap());
    assert_eq!(store.attach("Production", "zzz", "7201", "lead", now).unwrap(), Attached::Unknown);
}
