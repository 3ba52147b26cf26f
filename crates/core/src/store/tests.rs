use chrono::{Duration, Utc};

use super::db::{Sql, args};
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

/// Where a test's store is: a SQLite file, or a new database on the tests' own PostgreSQL.
pub(super) struct Place {
    dir: tempfile::TempDir,
    url: Option<StoreUrl>,
}

impl Place {
    fn sqlite() -> Place {
        Place { dir: tempfile::tempdir().unwrap(), url: None }
    }

    fn postgres() -> Place {
        let cluster = throwaway_postgres::cluster().unwrap();
        let url = cluster.new_database().unwrap();
        let url = StoreUrl::parse(&url, Some(&crate::Secret::new(cluster.password()))).unwrap();
        let dir = tempfile::tempdir().unwrap();
        load_or_make_key(&dir.path().join("worker.token-key")).unwrap();
        Place { dir, url: Some(url) }
    }

    /// Opens the store here: a second opening is another process's (a second worker, `jobs`).
    pub(super) fn open(&self) -> Store {
        match &self.url {
            None => Store::open(&self.dir.path().join("nested/store.sqlite3")).unwrap(),
            Some(url) => Store::connect(url, &self.dir.path().join("worker.token-key"), self.dir.path()).unwrap(),
        }
    }
}

/// Runs a test on SQLite, then on PostgreSQL — on Linux, where the tests make their own; the
/// Windows build's tests, under Wine, cannot start one, and run the store on SQLite only.
pub(super) fn on_both(test: impl Fn(&Place)) {
    let postgres = cfg!(unix).then(Place::postgres);
    for place in std::iter::once(Place::sqlite()).chain(postgres) {
        eprintln!("on {}", if place.url.is_some() { "PostgreSQL" } else { "SQLite" });
        test(&place);
    }
}

#[test]
fn an_event_is_kept_once_with_its_job() {
    on_both(|place| {
        let store = place.open();
        let now = Utc::now();
        let Accepted::New { job_id } = store.accept(&event("k1"), now).unwrap() else { panic!("not new") };
        assert_eq!(store.accept(&event("k1"), now).unwrap(), Accepted::Duplicate);
        let job = store.job(job_id).unwrap().unwrap();
        assert_eq!((job.state, job.attempts, job.lsid.as_deref()), (JobState::Pending, 0, Some("abc")));
        assert_eq!(store.queue_health().unwrap().pending, 1);
    });
}

#[test]
fn due_jobs_are_claimed_rescheduled_and_finished() {
    on_both(|place| {
        let store = place.open();
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
    });
}

#[test]
fn a_sessions_jobs_run_one_at_a_time_in_order() {
    on_both(|place| {
        let store = place.open();
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
    });
}

#[test]
fn jobs_caught_running_by_a_crash_run_again_after_reopening() {
    on_both(|place| {
        let now = Utc::now();
        {
            let store = place.open();
            store.accept(&event("k1"), now).unwrap();
            assert_eq!(store.claim_due(now, 10).unwrap().len(), 1);
            // Dropped while the job is running, as a crash would leave it.
        }
        let store = place.open();
        assert!(store.claim_due(now, 10).unwrap().is_empty(), "opening alone takes no running job");
        assert_eq!(store.requeue_interrupted().unwrap(), 1);
        assert_eq!(store.claim_due(now, 10).unwrap().len(), 1);
    });
}

#[test]
fn a_job_left_running_by_a_process_that_died_is_taken_again_once_its_claim_lapses() {
    on_both(|place| {
        let now = Utc::now();
        let (first, second) = (place.open(), place.open());
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
    });
}

#[test]
fn a_second_opening_beside_a_working_store_leaves_its_running_jobs_alone() {
    on_both(|place| {
        let now = Utc::now();
        let worker = place.open();
        worker.accept(&event("k1"), now).unwrap();
        assert_eq!(worker.claim_due(now, 10).unwrap().len(), 1);
        let listing = place.open(); // `bt-autotask-worker jobs` while the worker runs
        assert_eq!(listing.recent_jobs(10).unwrap()[0].state, JobState::Running);
        assert!(worker.claim_due(now, 10).unwrap().is_empty(), "the running job is not handed out twice");
    });
}

#[test]
fn the_ledger_keeps_each_write_once() {
    on_both(|place| {
        let store = place.open();
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
    });
}

#[test]
fn polling_moves_the_watermark_with_its_jobs_and_never_back() {
    on_both(|place| {
        let store = place.open();
        let now = Utc::now();
        let mut polled = event("poll-abc");
        polled.source = Source::Polling;
        assert_eq!(store.accept_polled("Production", &[polled.clone()], now, now).unwrap(), 1);
        assert_eq!(store.accept_polled("Production", &[polled], now - Duration::hours(1), now).unwrap(), 0);
        assert_eq!(store.watermark("Production").unwrap().unwrap().timestamp_millis(), now.timestamp_millis());
        assert_eq!(store.recent_jobs(10).unwrap()[0].source, Source::Polling);
    });
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
    on_both(|place| {
        let store = place.open();
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
        assert_eq!(
            (recent[1].ticket_id, recent[1].details.as_deref()),
            (Some(7201), Some("session abc · ticket id 7201"))
        );
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
    });
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

#[cfg(unix)]
#[test]
fn a_database_that_cannot_be_used_says_what_is_missing_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = throwaway_postgres::cluster().unwrap();
    let url = StoreUrl::parse(&cluster.new_database().unwrap(), Some(&crate::Secret::new("wrong-password"))).unwrap();
    let key = dir.path().join("worker.token-key");
    let text = Store::connect(&url, &key, dir.path()).unwrap_err().to_string();
    assert!(text.contains("no key file") && text.contains("store migrate"), "{text}");
    load_or_make_key(&key).unwrap();
    let text = Store::connect(&url, &key, dir.path()).unwrap_err().to_string();
    assert!(text.contains("password authentication failed") && !text.contains("wrong-password"), "{text}");
}

#[cfg(unix)]
#[test]
fn a_worker_given_another_token_key_than_its_neighbours_refuses_to_start() {
    let place = Place::postgres();
    let store = place.open();
    let hash = store.keyed_hash("a rep's token").unwrap();
    let other = tempfile::tempdir().unwrap();
    let other_key = other.path().join("worker.token-key");
    load_or_make_key(&other_key).unwrap();
    let text = Store::connect(place.url.as_ref().unwrap(), &other_key, other.path()).unwrap_err().to_string();
    assert!(text.contains("not the key the other workers of this store use"), "{text}");
    assert_eq!(place.open().keyed_hash("a rep's token").unwrap(), hash, "the right key still opens it");
}

#[test]
fn pruning_removes_what_is_finished_and_old_and_keeps_what_waits_for_a_person() {
    on_both(|place| {
        let store = place.open();
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
        assert_eq!(
            batches.iter().map(|b| (b.activity, b.ledger)).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1)),
            (700, 700)
        );
        let left: Vec<String> = store.recent_jobs(100).unwrap().into_iter().map(|j| format!("{:?}", j.state)).collect();
        assert_eq!(left.len(), 3, "failed, pending and recent stay: {left:?}");
        let inbox: i64 = store.conn().query_one("SELECT COUNT(*) FROM inbox", args![], |r| r.get(0)).unwrap();
        assert_eq!(inbox, 3, "the events of pruned jobs went with them");
        assert_eq!(store.pruned_before().unwrap().map(|t| t.timestamp()), Some(cutoff.timestamp()));
        // SQLite gives the freed pages back to the disk at once; PostgreSQL's autovacuum keeps
        // them for the table's next rows.
        if store.engine() == Engine::Sqlite {
            let after = store.size_bytes().unwrap();
            assert!(after < before, "freed pages were given back: {before} → {after}");
        }
    });
}

#[test]
fn a_session_without_a_ticket_is_listed_until_attached_and_open_again_when_its_ticket_is_missing() {
    on_both(|place| {
        let store = place.open();
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
        assert_eq!(
            store.attach("Production", "abc", "7201", "rep", now).unwrap(),
            Attached::Already { by: "lead".into() }
        );
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
    });
}

#[test]
fn workers_claiming_at_once_never_take_a_job_twice_nor_two_of_one_session() {
    on_both(|place| {
        let now = Utc::now();
        let events: Vec<NewEvent> = (0..200)
            .map(|i| NewEvent { lsid: Some(format!("session-{}", i % 40)), ..event(&format!("k{i}")) })
            .collect();
        place.open().accept_all(&events, now).unwrap();
        let running = std::sync::Mutex::new(std::collections::HashSet::new());
        let taken = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    let worker = place.open();
                    loop {
                        let jobs = worker.claim_due(now, 3).unwrap();
                        if jobs.is_empty() {
                            let left = worker.queue_health().unwrap();
                            if left.pending + left.running == 0 {
                                break;
                            }
                            std::thread::sleep(std::time::Duration::from_millis(1));
                        }
                        for job in jobs {
                            let lsid = job.lsid.clone().unwrap();
                            assert!(running.lock().unwrap().insert(lsid.clone()), "two jobs of {lsid} at once");
                            taken.lock().unwrap().push(job.id);
                            std::thread::sleep(std::time::Duration::from_micros(200));
                            running.lock().unwrap().remove(&lsid);
                            worker.finish(job.id, JobState::Done, None, now).unwrap();
                        }
                    }
                });
            }
        });
        let mut taken = taken.into_inner().unwrap();
        taken.sort_unstable();
        let claims = taken.len();
        taken.dedup();
        assert_eq!((claims, taken.len()), (200, 200), "each job claimed once");
    });
}

#[test]
fn the_consoles_admins_and_sessions_and_the_desks_lists_read_alike_on_both_engines() {
    on_both(|place| {
        let store = place.open();
        let now = time(millis(Utc::now()));
        assert!(store.set_console_admin("Lead", "$argon2id$one", now).unwrap(), "new");
        assert!(!store.set_console_admin("lead", "$argon2id$two", now).unwrap(), "names in any case");
        let lead = store.console_admin("LEAD").unwrap().unwrap();
        assert_eq!((lead.name.as_str(), lead.password_hash.as_str()), ("Lead", "$argon2id$two"));
        assert_eq!(store.console_admin_by_id(lead.id).unwrap(), Some(lead.clone()));
        let ends = SessionEnds { idle: Duration::minutes(30), lifetime: Duration::hours(12) };
        let csrf = store.open_console_session("token-1", lead.id, &[7; 32], ends, now).unwrap();
        let session = store.console_session("token-1", ends, now + Duration::minutes(2)).unwrap().unwrap();
        assert_eq!((session.admin_id, session.credential, session.csrf), (lead.id, [7; 32], csrf));
        assert!(store.console_session("token-1", ends, now + Duration::hours(13)).unwrap().is_none(), "ended");
        store.open_console_session("token-2", lead.id, &[7; 32], ends, now).unwrap();
        store.close_console_session("token-2").unwrap();
        assert!(store.console_session("token-2", ends, now).unwrap().is_none(), "closed");
        store.set_console_admin("Sam", "$argon2id$three", now).unwrap();
        assert_eq!(store.console_admins().unwrap(), ["Lead", "Sam"]);
        assert!(store.remove_console_admin("lead").unwrap());
        assert!(store.console_admin_by_id(lead.id).unwrap().is_none());

        // The Overview's counts, and a failed job listed first.
        let Accepted::New { job_id: failed } = store.accept(&event("f"), now).unwrap() else { panic!("not new") };
        store.finish(failed, JobState::Failed, Some("role not found"), now).unwrap();
        let Accepted::New { job_id: done } = store.accept(&event("d"), now).unwrap() else { panic!("not new") };
        store.finish(done, JobState::Done, None, now).unwrap();
        store.accept(&event("p"), now).unwrap();
        let counts = store.profile_counts(now - Duration::hours(1)).unwrap();
        assert_eq!(
            counts,
            [ProfileCounts { profile: "Production".into(), queued: 1, failed: 1, written: 1, unlinked: 0 }]
        );
        assert_eq!(store.jobs_failed_first(10).unwrap()[0].id, failed);

        // A rep's own sessions without a ticket, found by the first characters of their id too.
        let session = UnlinkedSession {
            profile: "Production".into(),
            lsid: "abc123".into(),
            job_id: failed,
            rep: Some("alex.morgan".into()),
            ended_at: Some(now),
            reason: "No ticket".into(),
            ticket_id: Some(7201),
            ..UnlinkedSession::default()
        };
        store.note_unlinked(&session, now).unwrap();
        assert_eq!(
            store.unlinked_of_rep("Production", "Alex.Morgan", now - Duration::days(1)).unwrap(),
            std::slice::from_ref(&session)
        );
        assert_eq!(store.unlinked_matching("abc").unwrap().len(), 1);
        assert!(store.unlinked_matching("abd").unwrap().is_empty());
        store.time_written("Production", "abc123").unwrap();
        assert!(store.unlinked_since(now - Duration::days(1)).unwrap().is_empty(), "its time is written now");

        // The ledger by ticket, the caches, and the reps Autotask refused to be written as.
        let write = LedgerEntry {
            profile: "Production".into(),
            lsid: "abc123".into(),
            kind: "note".into(),
            part: 0,
            ticket_id: Some(7201),
            autotask_id: 1,
        };
        store.record_write(&write, now).unwrap();
        let written = store.tickets_written_since("Production", now - Duration::hours(1)).unwrap();
        assert_eq!(written.get(&7201).map(|t| t.timestamp_millis()), Some(now.timestamp_millis()));
        store.cache_many("role", &[("a".into(), "1".into()), ("b".into(), "2".into())], now).unwrap();
        store.uncache("role", "a").unwrap();
        assert_eq!(store.cached("role", "a", Duration::hours(1), now).unwrap(), None);
        assert_eq!(store.cached("role", "b", Duration::hours(1), now).unwrap().as_deref(), Some("2"));
        store.cache(REFUSED_REPS, &refused_rep_key("Production", 29_682_885), "Alex Morgan", now).unwrap();
        store.cache(REFUSED_REPS, &refused_rep_key("Staging", 1), "Sam Lee", now).unwrap();
        assert_eq!(store.refused_reps("Production", Duration::days(7), now).unwrap(), ["Alex Morgan"]);
        assert!(store.size_bytes().unwrap() > 0);
    });
}

#[test]
fn a_reps_last_sight_only_moves_forward_and_their_invitation_is_read_by_its_code() {
    on_both(|place| {
        let store = place.open();
        let now = time(millis(Utc::now()));
        let rep = NewRep {
            profile: "Desk".into(),
            username: "alex.morgan".into(),
            email: "alex.morgan@example.com".into(),
            resource_id: 29_682_885,
        };
        let code = crate::Secret::new("ABCDE-FGHJK-LMNPQ-RSTUV");
        store.invite_rep(&rep, &code, now + Duration::hours(72), now).unwrap();
        assert_eq!(store.invited_by_code(code.expose()).unwrap().map(|r| r.resource_id), Some(29_682_885));
        let seen = |at, version: Option<&str>| RepSeen {
            profile: "Desk".into(),
            username: "Alex.Morgan".into(),
            at,
            app_version: version.map(str::to_owned),
        };
        store.reps_seen(&[seen(now, Some("0.4.0"))]).unwrap();
        store.reps_seen(&[seen(now - Duration::hours(1), None)]).unwrap();
        let alex = &store.reps().unwrap()[0];
        assert_eq!(alex.last_seen_at, Some(now), "an older sighting leaves the newer");
        assert_eq!(alex.app_version.as_deref(), Some("0.4.0"), "and a sighting without a version keeps it");
    });
}

#[cfg(unix)]
#[test]
fn a_sqlite_store_copied_to_postgresql_keeps_every_job_token_and_admin() {
    let sqlite = Place::sqlite();
    let file = sqlite.open();
    let now = time(millis(Utc::now()));
    let Accepted::New { job_id: done } = file.accept(&event("k1"), now).unwrap() else { panic!("not new") };
    file.finish(done, JobState::Done, None, now).unwrap();
    file.accept(&NewEvent { lsid: Some("def".into()), ..event("k2") }, now).unwrap();
    let running = file.claim_due(now, 10).unwrap()[0].id;
    let big = NewEvent { lsid: Some("ghi".into()), body: "x".repeat(100_000), ..event("k3") };
    for i in 0..2_500 {
        file.log_activity(&ActivityLine { job_id: Some(i), ..activity("abc") }, now).unwrap();
    }
    file.accept(&big, now).unwrap();
    let rep = NewRep {
        profile: "Desk".into(),
        username: "alex.morgan".into(),
        email: "a@example.com".into(),
        resource_id: 7,
    };
    let code = crate::Secret::new("ABCDE-FGHJK-LMNPQ-RSTUV");
    file.invite_rep(&rep, &code, now + Duration::hours(1), now).unwrap();
    file.enrol_rep(code.expose(), &crate::Secret::new("alex-token"), now).unwrap().unwrap();
    file.set_console_admin("lead", "$argon2id$x", now).unwrap();
    let lead = file.console_admin("lead").unwrap().unwrap().id;
    let ends = SessionEnds { idle: Duration::minutes(30), lifetime: Duration::hours(12) };
    let csrf = file.open_console_session("console-token", lead, &[1; 32], ends, now).unwrap();

    // The PostgreSQL store reads the SQLite store's key file, as `store copy-to` sets it up.
    let postgres = Place::postgres();
    std::fs::copy(
        token_key_path(&sqlite.dir.path().join("nested/store.sqlite3")),
        postgres.dir.path().join("worker.token-key"),
    )
    .unwrap();
    let shared = postgres.open();
    let copied = file.copy_to(&shared).unwrap();
    let rows = |table: &str| copied.iter().find(|(t, _)| *t == table).unwrap().1;
    assert_eq!((rows("inbox"), rows("jobs"), rows("activity"), rows("reps")), (3, 3, 2_500, 1));

    let jobs = shared.recent_jobs(10).unwrap();
    assert_eq!(
        jobs.iter().map(|j| j.id).collect::<Vec<_>>(),
        file.recent_jobs(10).unwrap().iter().map(|j| j.id).collect::<Vec<_>>()
    );
    assert_eq!(shared.job(running).unwrap().unwrap().state, JobState::Running, "taken again once its claim lapses");
    assert_eq!(shared.job(jobs[0].id).unwrap().unwrap().body.len(), 100_000);
    let Accepted::New { job_id: next } = shared.accept(&event("k4"), now).unwrap() else { panic!("not new") };
    assert!(next > jobs[0].id, "new jobs are numbered after the copied ones");
    assert_eq!(shared.enrolled_reps().unwrap()[0].0, shared.keyed_hash("alex-token").unwrap(), "the rep's token works");
    let session = shared.console_session("console-token", ends, now).unwrap().unwrap();
    assert_eq!((session.admin_id, session.csrf), (lead, csrf), "the admin stays logged in");
    assert_eq!(
        shared.claim_due(now + JOB_LEASE, 10).unwrap().len(),
        3,
        "the lapsed claim, the waiting and the new job"
    );

    let again = file.copy_to(&shared).unwrap_err().to_string();
    assert!(again.contains("already holds a store"), "{again}");
}

#[cfg(unix)]
#[test]
fn a_store_whose_database_connection_is_cut_connects_again_and_loses_nothing() {
    let place = Place::postgres();
    let store = place.open();
    let now = Utc::now();
    store.accept(&event("k1"), now).unwrap();
    // The server ends the store's connection, as a restart or a failover to the replica does.
    let admin = place.open();
    let cut: i64 = admin
        .conn()
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            args![],
            |r| r.get(0),
        )
        .unwrap();
    assert!(cut >= 1, "the store's connection was ended");
    // The first use may meet the closed connection and say so; a later one is on a new connection.
    let mut failed = Vec::new();
    let accepted = loop {
        match store.accept(&event("k2"), now) {
            Ok(accepted) => break accepted,
            Err(e) if failed.len() < 2 => {
                failed.push(e.to_string());
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Err(e) => panic!("never connected again: {e} (before: {failed:?})"),
        }
    };
    assert!(failed.iter().all(|e| e.contains("57P01") || e.contains("closed")), "{failed:?}");
    assert!(matches!(accepted, Accepted::New { .. }));
    assert_eq!(store.queue_health().unwrap().pending, 2, "the event kept before the cut is there");
}

#[cfg(unix)]
#[test]
fn the_store_reaches_its_database_over_tls_and_refuses_a_certificate_it_cannot_verify() {
    let cluster = throwaway_postgres::cluster().unwrap();
    let url = format!("{}?sslmode=require", cluster.new_database().unwrap());
    let password = crate::Secret::new(cluster.password());
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("worker.token-key");
    load_or_make_key(&key).unwrap();
    let trusted = StoreUrl::parse(&url, Some(&password)).unwrap().with_ca_file(cluster.ca_file());
    let store = Store::connect(&trusted, &key, dir.path()).unwrap();
    let encrypted: bool = store
        .conn()
        .query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", args![], |r| r.get(0))
        .unwrap();
    assert!(encrypted, "the connection is over TLS");
    let untrusted = StoreUrl::parse(&url, Some(&password)).unwrap();
    let refused = Store::connect(&untrusted, &key, dir.path()).unwrap_err().to_string();
    assert!(refused.contains("certificate") && !refused.contains(cluster.password()), "{refused}");
}

fn desk_change(id: i64, assigned: Option<i64>, before: Option<i64>, minutes: i64) -> FoundChange {
    let change = crate::desk_api::DeskChange {
        id,
        number: format!("T20261207.{id:04}"),
        title: format!("Ticket {id}"),
        assigned,
        open: true,
    };
    let active = chrono::DateTime::from_timestamp(1_800_000_000 + minutes * 60, 0).unwrap();
    FoundChange { change, active, assigned_before: before }
}

#[test]
fn the_desks_changes_are_told_once_to_their_reps_under_numbers_every_opening_shares() {
    on_both(|place| {
        let (one, two) = (place.open(), place.open());
        let first = one.desk_watch("Desk").unwrap();
        assert_eq!((first.newest, first.last_look, first.threshold), (0, None, None));
        assert_eq!(two.desk_watch("Desk").unwrap().epoch, first.epoch, "one list for every worker");
        assert_ne!(one.desk_watch("Other").unwrap().epoch, first.epoch, "another profile's list");

        let now = Utc::now();
        let threshold = Some(crate::desk_api::Threshold { used: 120, limit: 10_000 });
        let found = [desk_change(1, Some(7), None, 0), desk_change(2, Some(8), Some(7), 0)];
        assert_eq!(one.record_look("Desk", &found, now, threshold).unwrap(), 2);
        assert_eq!(two.record_look("Desk", &found, now, threshold).unwrap(), 0, "told by the other worker");
        let again = [desk_change(1, Some(7), None, 1)];
        assert_eq!(two.record_look("Desk", &again, now, None).unwrap(), 1, "a later change of the same ticket");

        let state = two.desk_watch("Desk").unwrap();
        assert_eq!((state.newest, state.threshold), (3, None));
        assert_eq!(state.last_look.map(|t| t.timestamp_millis()), Some(now.timestamp_millis()));
        let ids = |after, me| -> Vec<i64> {
            one.desk_changes_after("Desk", after, me).unwrap().iter().map(|c| c.id).collect()
        };
        assert_eq!(ids(0, 7), [1, 2, 1], "their ticket, the one taken from them, theirs again");
        assert_eq!(ids(0, 8), [2]);
        assert_eq!(ids(2, 7), [1]);
        assert_eq!(ids(0, 9), Vec::<i64>::new(), "no rep hears of another's tickets");
        assert!(one.desk_changes_after("Other", 0, 7).unwrap().is_empty());
    });
}

#[test]
fn the_desk_keeps_its_newest_changes_only() {
    on_both(|place| {
        let store = place.open();
        store.desk_watch("Desk").unwrap();
        let found: Vec<_> = (0..KEPT_CHANGES + 10).map(|id| desk_change(id, Some(7), None, 0)).collect();
        store.record_look("Desk", &found, Utc::now(), None).unwrap();
        let kept = store.desk_changes_after("Desk", 0, 7).unwrap();
        assert_eq!(kept.len() as i64, KEPT_CHANGES);
        assert_eq!(kept[0].id, 10, "the oldest leave first");
    });
}

#[test]
fn a_duty_has_one_holder_and_passes_on_when_its_connection_ends() {
    on_both(|place| {
        let (one, two) = (place.open(), place.open());
        let (mine, theirs) = (one.duty("desk watch Desk"), two.duty("desk watch Desk"));
        assert!(mine.hold(&one).unwrap());
        assert!(mine.hold(&one).unwrap(), "kept");
        let holder = one.duty_holder("desk watch Desk").unwrap().unwrap();
        assert_eq!(holder.holder, this_worker());
        if one.engine() == Engine::Sqlite {
            return assert!(theirs.hold(&two).unwrap(), "a SQLite file's openings are one machine's");
        }
        assert!(!theirs.hold(&two).unwrap(), "held by the other");
        assert!(two.duty("desk watch Other").hold(&two).unwrap(), "another duty is free");
        drop(mine);
        assert!(theirs.hold(&two).unwrap(), "free once the holder's connection ended");
        assert!(two.duty_holder("desk watch Desk").unwrap().unwrap().since >= holder.since);
    });
}

#[test]
fn the_webhooks_keys_are_one_for_every_worker_and_sealed_under_the_token_key() {
    on_both(|place| {
        let (one, two) = (place.open(), place.open());
        assert!(one.webhook_keys("Desk").unwrap().is_none());
        let made = |s: &str| WebhookKeys {
            secret: crate::Secret::new(s),
            deactivation_key: crate::Secret::new(format!("{s}-off")),
        };
        let kept = one.keep_webhook_keys("Desk", &made("first-secret-0123456789"), Utc::now()).unwrap();
        let second = two.keep_webhook_keys("Desk", &made("second-secret-012345678"), Utc::now()).unwrap();
        assert_eq!(
            (kept.secret.expose(), second.secret.expose(), second.deactivation_key.expose()),
            ("first-secret-0123456789", "first-secret-0123456789", "first-secret-0123456789-off"),
            "the first kept is every worker's"
        );
        let sealed: Vec<u8> = one
            .conn()
            .query_one("SELECT secret FROM webhooks WHERE profile = $1", args!["Desk"], |r| r.get(0))
            .unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"secret"), "sealed, not in the clear");
        assert!(one.unseal("ticket webhook's deactivation key", &sealed).is_err(), "sealed for one purpose only");
        let mut changed = sealed.clone();
        *changed.last_mut().unwrap() ^= 1;
        assert!(one.unseal("ticket webhook's secret", &changed).is_err(), "a changed value is refused");
    });
}

#[test]
fn a_callout_is_taken_once_at_any_worker_and_forgotten_once_it_could_not_be_replayed() {
    on_both(|place| {
        let (one, two) = (place.open(), place.open());
        let (now, window) = (Utc::now(), Duration::minutes(20));
        assert!(one.first_callout(&[1; 32], now, window).unwrap());
        assert!(!two.first_callout(&[1; 32], now + Duration::minutes(1), window).unwrap(), "a replay at the other");
        assert!(two.first_callout(&[2; 32], now, window).unwrap());
        assert!(one.first_callout(&[1; 32], now + Duration::minutes(21), window).unwrap(), "forgotten");

        two.webhook_told_off("Desk").unwrap();
        one.keep_webhook_keys("Desk", &WebhookKeys { secret: "s".into(), deactivation_key: "k".into() }, now).unwrap();
        two.webhook_told_off("Desk").unwrap();
        assert!(one.take_webhook_told_off("Desk").unwrap() && !one.take_webhook_told_off("Desk").unwrap());

        one.note_hooked("Desk", &[(7, Some(3))].into()).unwrap();
        two.note_hooked("Desk", &[(7, Some(4)), (8, None)].into()).unwrap();
        assert_eq!(two.take_hooked("Desk").unwrap(), [(7, Some(3)), (8, None)].into(), "the first before, once");
        assert!(one.take_hooked("Desk").unwrap().is_empty());
    });
}

#[test]
fn an_allowance_is_counted_by_every_worker_together() {
    on_both(|place| {
        let (one, two) = (place.open(), place.open());
        let (now, quota) = (Utc::now(), (3, std::time::Duration::from_secs(60)));
        for store in [&one, &two, &one] {
            assert_eq!(store.take_allowance("keys", "Desk/alex", quota, now).unwrap(), Ok(()));
        }
        let wait = two.take_allowance("keys", "Desk/alex", quota, now).unwrap().unwrap_err();
        assert_eq!(wait, std::time::Duration::from_secs(60), "the next one in a minute");
        assert!(one.take_allowance("keys", "Desk/sam", quota, now).unwrap().is_ok(), "another rep's own");
        assert!(one.take_allowance("searches", "Desk/alex", quota, now).unwrap().is_ok(), "another kind's own");
        let later = now + Duration::seconds(61);
        assert!(one.take_allowance("keys", "Desk/alex", quota, later).unwrap().is_ok());
        assert!(two.take_allowance("keys", "Desk/alex", quota, later).unwrap().is_err());
    });
}
