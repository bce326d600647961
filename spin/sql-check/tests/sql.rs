//! The Spin adapter's SQL run natively on SQLite, as Spin's local database
//! runs it: one statement per `execute`, autocommit, positional parameters,
//! and (under `spin up`) a connection per instance, all on one file.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use customer_web_directory::{Date, Directory, FileDirectory, IdentityQuery};
use customer_web_spin_sql_check::sql;
use rusqlite::{Connection, OptionalExtension, ToSql, params};

const NOW: i64 = 1_700_000_000;
const NO_EXPIRY: Option<i64> = None;

/// A connection to `path` with the schema in place, as the adapter opens it.
fn open(path: &Path) -> Connection {
    let conn = Connection::open(path).expect("open the database");
    let present: i64 = conn
        .query_row(sql::SCHEMA_CHECK, [], |row| row.get(0))
        .expect("schema check");
    if present < sql::SCHEMA_OBJECTS {
        for statement in sql::SCHEMA {
            conn.execute(statement, []).expect("schema statement");
        }
    }
    conn
}

fn database() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("sqlite_db.db");
    (dir, path)
}

/// The first column of the first row, if any (RETURNING, or a SELECT).
fn first(conn: &Connection, statement: &str, params: &[&dyn ToSql]) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached(statement)?
        .query_row(params, |row| row.get(0))
        .optional()
}

fn get(conn: &Connection, key: &str, now: i64) -> Option<(Vec<u8>, i64)> {
    conn.prepare_cached(sql::KV_GET)
        .expect("prepare get")
        .query_row(params![key, now], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
        .expect("get")
}

/// Runs `write`, again while SQLite answers busy or locked, as the
/// adapter's `db::exec` does; returns the result and the retries.
fn retrying<T>(mut write: impl FnMut() -> rusqlite::Result<T>) -> (T, u32) {
    let mut retries = 0;
    loop {
        match write() {
            Ok(value) => return (value, retries),
            Err(e) if e.to_string().contains("locked") || e.to_string().contains("busy") => {
                retries += 1;
                thread::sleep(Duration::from_millis(2));
            }
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn the_schema_is_created_once_and_counted_complete() {
    let (_dir, path) = database();
    let conn = Connection::open(&path).unwrap();
    let before: i64 = conn.query_row(sql::SCHEMA_CHECK, [], |r| r.get(0)).unwrap();
    assert_eq!(before, 0);
    for statement in sql::SCHEMA {
        conn.execute(statement, []).unwrap();
    }
    let after: i64 = conn.query_row(sql::SCHEMA_CHECK, [], |r| r.get(0)).unwrap();
    assert_eq!(
        after,
        sql::SCHEMA_OBJECTS,
        "SCHEMA_CHECK counts every object SCHEMA makes"
    );
    let objects: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name LIKE 'cw\\_%' ESCAPE '\\'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        objects,
        sql::SCHEMA_OBJECTS,
        "SCHEMA_CHECK names every cw_ object"
    );
    for statement in sql::SCHEMA {
        conn.execute(statement, []).expect("the schema is idempotent");
    }
}

#[test]
fn compare_and_swap_writes_once_per_version_and_never_reuses_one() {
    let (_dir, path) = database();
    let c = open(&path);
    let v1 = first(
        &c,
        sql::KV_PUT_ABSENT,
        params!["k", b"a".to_vec(), NO_EXPIRY, NOW],
    )
    .unwrap()
    .expect("absent holds for a new key");
    assert!(v1 > 0);
    assert_eq!(
        first(
            &c,
            sql::KV_PUT_ABSENT,
            params!["k", b"x".to_vec(), NO_EXPIRY, NOW]
        )
        .unwrap(),
        None,
        "absent on a live key is a conflict"
    );
    let v2 = first(
        &c,
        sql::KV_PUT_VERSION,
        params!["k", b"b".to_vec(), NO_EXPIRY, NOW, v1],
    )
    .unwrap()
    .expect("the current version holds");
    assert!(v2 > v1);
    assert_eq!(
        first(
            &c,
            sql::KV_PUT_VERSION,
            params!["k", b"x".to_vec(), NO_EXPIRY, NOW, v1]
        )
        .unwrap(),
        None,
        "a stale version is a conflict"
    );
    assert_eq!(
        first(
            &c,
            sql::KV_PUT_VERSION,
            params!["other", b"x".to_vec(), NO_EXPIRY, NOW, v2]
        )
        .unwrap(),
        None,
        "a version of another key is a conflict"
    );
    assert_eq!(get(&c, "k", NOW), Some((b"b".to_vec(), v2)));
    let v3 = first(&c, sql::KV_PUT_ANY, params!["k", b"c".to_vec(), NO_EXPIRY])
        .unwrap()
        .expect("any always writes");
    assert!(v3 > v2);
    assert_eq!(get(&c, "k", NOW), Some((b"c".to_vec(), v3)));
    // An empty value is a value.
    let empty = first(&c, sql::KV_PUT_ANY, params!["e", Vec::<u8>::new(), NO_EXPIRY])
        .unwrap()
        .unwrap();
    assert_eq!(get(&c, "e", NOW), Some((Vec::new(), empty)));
}

#[test]
fn delete_by_version_then_recreate_gives_a_higher_version() {
    let (_dir, path) = database();
    let c = open(&path);
    let v1 = first(&c, sql::KV_PUT_ANY, params!["k", b"a".to_vec(), NO_EXPIRY])
        .unwrap()
        .unwrap();
    let v2 = first(
        &c,
        sql::KV_PUT_VERSION,
        params!["k", b"b".to_vec(), NO_EXPIRY, NOW, v1],
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        first(&c, sql::KV_DELETE_VERSION, params!["k", v1, NOW]).unwrap(),
        None,
        "a stale version deletes nothing"
    );
    assert_eq!(get(&c, "k", NOW), Some((b"b".to_vec(), v2)));
    assert_eq!(
        first(&c, sql::KV_DELETE_VERSION, params!["k", v2, NOW]).unwrap(),
        Some(v2)
    );
    assert_eq!(get(&c, "k", NOW), None);
    assert_eq!(
        first(&c, sql::KV_DELETE_VERSION, params!["k", v2, NOW]).unwrap(),
        None,
        "deleting an absent key by version is a conflict"
    );
    let v3 = first(
        &c,
        sql::KV_PUT_ABSENT,
        params!["k", b"c".to_vec(), NO_EXPIRY, NOW],
    )
    .unwrap()
    .unwrap();
    assert!(v3 > v2, "a recreated key never gets an old version back");
    assert_eq!(
        first(
            &c,
            sql::KV_PUT_VERSION,
            params!["k", b"x".to_vec(), NO_EXPIRY, NOW, v2]
        )
        .unwrap(),
        None,
        "a writer holding the version from before the delete cannot write (ABA)"
    );
    // The rowid sequence survives the deletion of the highest row too.
    assert_eq!(
        first(&c, sql::KV_DELETE_VERSION, params!["k", v3, NOW]).unwrap(),
        Some(v3)
    );
    let v4 = first(&c, sql::KV_PUT_ANY, params!["k", b"d".to_vec(), NO_EXPIRY])
        .unwrap()
        .unwrap();
    assert!(v4 > v3);
}

#[test]
fn an_expired_key_reads_and_writes_as_absent() {
    let (_dir, path) = database();
    let c = open(&path);
    let v1 = first(&c, sql::KV_PUT_ANY, params!["e", b"t".to_vec(), NOW + 10])
        .unwrap()
        .unwrap();
    assert_eq!(
        get(&c, "e", NOW + 9),
        Some((b"t".to_vec(), v1)),
        "live until expires_at"
    );
    assert_eq!(get(&c, "e", NOW + 10), None, "absent from expires_at on");
    assert_eq!(
        first(
            &c,
            sql::KV_PUT_VERSION,
            params!["e", b"u".to_vec(), NO_EXPIRY, NOW + 10, v1]
        )
        .unwrap(),
        None,
        "the version of an expired key no longer holds"
    );
    assert_eq!(
        first(&c, sql::KV_DELETE_VERSION, params!["e", v1, NOW + 10]).unwrap(),
        None,
        "nor does it delete"
    );
    assert!(
        first(&c, sql::KV_LIVE, params!["e", NOW + 10]).unwrap().is_none(),
        "a delete with `absent` holds for an expired key"
    );
    assert_eq!(
        c.execute(sql::KV_DELETE_EXPIRED, params!["e", NOW + 10]).unwrap(),
        1
    );
    let v2 = first(&c, sql::KV_PUT_ANY, params!["e", b"t".to_vec(), NOW + 10])
        .unwrap()
        .unwrap();
    let v3 = first(
        &c,
        sql::KV_PUT_ABSENT,
        params!["e", b"u".to_vec(), NO_EXPIRY, NOW + 10],
    )
    .unwrap()
    .expect("absent holds for an expired key, and replaces it");
    assert!(v3 > v2);
    assert_eq!(
        get(&c, "e", NOW + 1_000),
        Some((b"u".to_vec(), v3)),
        "no expiry any more"
    );
    // Purging removes expired rows only.
    first(&c, sql::KV_PUT_ANY, params!["old", b"o".to_vec(), NOW - 1]).unwrap();
    first(&c, sql::KV_PUT_ANY, params!["later", b"l".to_vec(), NOW + 60]).unwrap();
    assert_eq!(c.execute(sql::KV_PURGE, params![NOW]).unwrap(), 1);
    assert!(get(&c, "later", NOW).is_some());
}

#[test]
fn delete_with_absent_or_any_on_live_and_absent_keys() {
    let (_dir, path) = database();
    let c = open(&path);
    first(&c, sql::KV_PUT_ANY, params!["live", b"v".to_vec(), NO_EXPIRY]).unwrap();
    assert!(
        first(&c, sql::KV_LIVE, params!["live", NOW]).unwrap().is_some(),
        "a delete with `absent` is a conflict on a live key"
    );
    assert_eq!(
        c.execute(sql::KV_DELETE_EXPIRED, params!["live", NOW]).unwrap(),
        0
    );
    assert!(
        get(&c, "live", NOW).is_some(),
        "nothing live is dropped as expired"
    );
    assert!(
        first(&c, sql::KV_LIVE, params!["missing", NOW])
            .unwrap()
            .is_none()
    );
    assert_eq!(c.execute(sql::KV_DELETE_ANY, params!["missing"]).unwrap(), 0);
    assert_eq!(c.execute(sql::KV_DELETE_ANY, params!["live"]).unwrap(), 1);
    assert!(get(&c, "live", NOW).is_none());
}

/// Each thread its own connection to one file, as `spin up` gives each
/// instance: 16 writers race a compare-and-swap on one version, in both
/// journal modes. Exactly one wins; the others see a conflict.
#[test]
fn sixteen_connections_racing_one_version_have_exactly_one_winner() {
    for journal in ["DELETE", "WAL"] {
        let (_dir, path) = database();
        let c = open(&path);
        let mode: String = c
            .query_row(&format!("PRAGMA journal_mode = {journal}"), [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode.to_uppercase(), journal);
        let v1 = first(&c, sql::KV_PUT_ANY, params!["link", b"fresh".to_vec(), NO_EXPIRY])
            .unwrap()
            .unwrap();
        const RACERS: usize = 16;
        let barrier = Arc::new(Barrier::new(RACERS));
        let outcomes: Vec<(Option<i64>, u32)> = (0..RACERS)
            .map(|i| {
                let (path, barrier) = (path.clone(), barrier.clone());
                thread::spawn(move || {
                    let c = open(&path);
                    barrier.wait();
                    let value = format!("spent by {i}").into_bytes();
                    retrying(|| {
                        first(
                            &c,
                            sql::KV_PUT_VERSION,
                            params!["link", value, NO_EXPIRY, NOW, v1],
                        )
                    })
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|racer| racer.join().expect("racer"))
            .collect();
        let winners: Vec<i64> = outcomes.iter().filter_map(|(won, _)| *won).collect();
        assert_eq!(
            winners.len(),
            1,
            "{journal}: exactly one winner, got {outcomes:?}"
        );
        let (value, version) = get(&c, "link", NOW).unwrap();
        assert_eq!(version, winners[0], "{journal}: the winner's version is stored");
        assert!(String::from_utf8(value).unwrap().starts_with("spent by "));
        let retries: u32 = outcomes.iter().map(|(_, r)| r).sum();
        println!("{journal}: 1 winner of {RACERS}, {retries} busy answers retried");
    }
}

fn enqueue(c: &Connection, to: &str, now: i64) -> i64 {
    first(
        c,
        sql::OUTBOX_INSERT,
        params![
            to,
            "件名",
            "本文 http://127.0.0.1:3000/link/x",
            "enrollment-link",
            now
        ],
    )
    .unwrap()
    .expect("an id")
}

/// The ids `OUTBOX_CLAIM` leased at `now` (lease for 300 s).
fn claim(c: &Connection, now: i64, limit: i64, first_id: i64) -> Vec<i64> {
    let mut ids: Vec<i64> = c
        .prepare_cached(sql::OUTBOX_CLAIM)
        .unwrap()
        .query_map(params![now, now + 300, limit, first_id], |row| row.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    ids.sort_by_key(|id| (*id != first_id, *id));
    ids
}

fn state(c: &Connection, id: i64) -> (String, i64, i64, Option<String>) {
    c.query_row(
        "SELECT state, attempts, next_attempt_at, last_error FROM cw_outbox WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )
    .unwrap()
}

#[test]
fn the_outbox_lease_is_exclusive_and_expires() {
    let (_dir, path) = database();
    let c = open(&path);
    let a = enqueue(&c, "a@example.com", NOW);
    assert_eq!(claim(&c, NOW, 5, a), vec![a], "due at once");
    assert_eq!(
        claim(&c, NOW, 5, a),
        Vec::<i64>::new(),
        "leased: nobody else gets it"
    );
    assert_eq!(claim(&c, NOW + 299, 5, a), Vec::<i64>::new());
    assert_eq!(claim(&c, NOW + 300, 5, a), vec![a], "the lease ends after 300 s");
    // The message just queued is claimed first, before older due ones.
    let b = enqueue(&c, "b@example.com", NOW + 300);
    let d = enqueue(&c, "d@example.com", NOW + 300);
    assert_eq!(claim(&c, NOW + 300, 1, d), vec![d], "the new message first");
    assert_eq!(claim(&c, NOW + 300, 5, 0), vec![b]);
    // Sent: never claimed again; a late failure report changes nothing.
    c.execute(sql::OUTBOX_SENT, params![d, NOW + 301]).unwrap();
    c.execute(sql::OUTBOX_FAILED, params![d, "late", NOW + 302])
        .unwrap();
    assert_eq!(state(&c, d), ("sent".into(), 1, NOW + 300, None));
    assert_eq!(
        claim(&c, NOW + 100_000, 5, d),
        vec![a, b],
        "the others are due again"
    );
}

#[test]
fn many_connections_claiming_at_once_claim_each_message_once() {
    let (_dir, path) = database();
    let c = open(&path);
    let ids: Vec<i64> = (0..40)
        .map(|i| enqueue(&c, &format!("m{i}@example.com"), NOW))
        .collect();
    const CLAIMERS: usize = 8;
    let barrier = Arc::new(Barrier::new(CLAIMERS));
    let mut claimed: Vec<i64> = (0..CLAIMERS)
        .map(|_| {
            let (path, barrier) = (path.clone(), barrier.clone());
            thread::spawn(move || {
                let c = open(&path);
                barrier.wait();
                let mut mine = Vec::new();
                loop {
                    let (batch, _) = retrying(|| {
                        c.prepare_cached(sql::OUTBOX_CLAIM)?
                            .query_map(params![NOW, NOW + 300, 3, 0], |row| row.get::<_, i64>(0))?
                            .collect::<rusqlite::Result<Vec<_>>>()
                    });
                    if batch.is_empty() {
                        return mine;
                    }
                    mine.extend(batch);
                }
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .flat_map(|claimer| claimer.join().expect("claimer"))
        .collect();
    claimed.sort_unstable();
    assert_eq!(claimed, ids, "every message claimed exactly once");
}

/// The wasmtime host's backoff (host/src/mail/mod.rs): min(30 s ×
/// 2^(attempts − 1), 1 h) after `attempts` failed attempts.
fn host_backoff(attempts: u32) -> i64 {
    (30i64 << (attempts - 1).min(20)).min(3600)
}

#[test]
fn a_failed_attempt_waits_the_hosts_backoff_and_is_retried() {
    let (_dir, path) = database();
    let c = open(&path);
    let id = enqueue(&c, "a@example.com", NOW);
    let mut now = NOW;
    for attempts in 1..=10u32 {
        assert_eq!(claim(&c, now, 5, id), vec![id], "due again after the backoff");
        c.execute(sql::OUTBOX_FAILED, params![id, "relay answered 503", now])
            .unwrap();
        let (state_name, counted, next, error) = state(&c, id);
        assert_eq!(state_name, "failing");
        assert_eq!(counted, i64::from(attempts));
        assert_eq!(next - now, host_backoff(attempts), "after attempt {attempts}");
        assert_eq!(error.as_deref(), Some("relay answered 503"));
        assert_eq!(
            claim(&c, next - 1, 5, id),
            Vec::<i64>::new(),
            "not before the backoff"
        );
        now = next;
    }
    assert_eq!(claim(&c, now, 5, id), vec![id]);
    c.execute(sql::OUTBOX_SENT, params![id, now]).unwrap();
    assert_eq!(state(&c, id).0, "sent");
    assert_eq!(state(&c, id).1, 11, "every attempt counted");
}

#[test]
fn the_dev_mailbox_queries_list_newest_first_and_read_one() {
    let (_dir, path) = database();
    let bare = Connection::open(&path).unwrap();
    assert!(
        first(&bare, sql::OUTBOX_EXISTS, params![]).unwrap().is_none(),
        "no outbox before the adapter's first call"
    );
    let c = open(&path);
    assert!(first(&c, sql::OUTBOX_EXISTS, params![]).unwrap().is_some());
    let a = enqueue(&c, "a@example.com", NOW);
    let b = enqueue(&c, "b@example.com", NOW + 1);
    let listed: Vec<(i64, String, String)> = c
        .prepare(sql::OUTBOX_LIST)
        .unwrap()
        .query_map([200], |r| Ok((r.get(0)?, r.get(1)?, r.get(4)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(
        listed,
        vec![
            (b, "b@example.com".into(), "pending".into()),
            (a, "a@example.com".into(), "pending".into())
        ]
    );
    let (to, body): (String, String) = c
        .query_row(sql::OUTBOX_GET, [a], |r| Ok((r.get(0)?, r.get(2)?)))
        .unwrap();
    assert_eq!(to, "a@example.com");
    assert!(body.contains("/link/x"));
}

#[test]
fn audit_events_are_appended() {
    let (_dir, path) = database();
    let c = open(&path);
    c.execute(
        sql::AUDIT_INSERT,
        params![NOW, "enrollment-started", "flow:1", ""],
    )
    .unwrap();
    c.execute(
        sql::AUDIT_INSERT,
        params![NOW + 1, "mail-sent", "flow:1", "kind=enrollment-link"],
    )
    .unwrap();
    let kinds: Vec<String> = c
        .prepare("SELECT kind FROM cw_audit ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(kinds, ["enrollment-started", "mail-sent"]);
}

/// Seeds the sample as the adapter does (spin/adapter/src/directory.rs):
/// through customer-web-directory's validated parser, the same parameters,
/// the marker last.
fn seed(c: &Connection) -> rusqlite::Result<()> {
    let sample = FileDirectory::sample();
    for holder in sample.policyholders() {
        c.prepare_cached(sql::SEED_POLICYHOLDER)?.execute(params![
            holder.customer_id,
            holder.family_name,
            holder.given_name,
            holder.family_name_kana,
            holder.given_name_kana,
            holder.birth_date.to_string(),
            holder.phone,
            holder.postal_code,
            holder.display_name(),
        ])?;
        for (position, contract) in holder.contracts.iter().enumerate() {
            c.prepare_cached(sql::SEED_CONTRACT)?.execute(params![
                contract.policy_number,
                holder.customer_id,
                i64::try_from(position).unwrap(),
                contract.product,
                contract.subject,
                contract.expiry_date.to_string(),
                i64::from(contract.renewable),
            ])?;
        }
    }
    c.prepare_cached(sql::SEED_DONE)?.execute([NOW])?;
    Ok(())
}

fn find(c: &Connection, q: &IdentityQuery) -> Option<(String, String)> {
    c.prepare_cached(sql::FIND_POLICYHOLDER)
        .unwrap()
        .query_row(
            params![
                q.family_name,
                q.given_name,
                q.family_name_kana,
                q.given_name_kana,
                q.birth_date.to_string(),
                q.phone,
                q.postal_code,
                q.policy_number
            ],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .unwrap()
}

fn contracts(c: &Connection, customer_id: &str) -> Vec<customer_web_directory::Contract> {
    c.prepare_cached(sql::LIST_CONTRACTS)
        .unwrap()
        .query_map([customer_id], |r| {
            let expiry: String = r.get(3)?;
            Ok(customer_web_directory::Contract {
                policy_number: r.get(0)?,
                product: r.get(1)?,
                subject: r.get(2)?,
                expiry_date: expiry.parse().expect("a stored date parses"),
                renewable: r.get(4)?,
            })
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// The directory's source, once it is complete.
fn source(c: &Connection) -> rusqlite::Result<Option<String>> {
    c.prepare_cached(sql::DIRECTORY_SOURCE)?
        .query_row([], |row| row.get(0))
        .optional()
}

fn count(c: &Connection, table: &str) -> i64 {
    c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

/// Every identity the sample can be asked: each holder with each of their
/// policy numbers, each of those with one field wrong, and each holder with
/// every other holder's policy numbers.
fn identities(sample: &FileDirectory) -> Vec<IdentityQuery> {
    let mut queries = Vec::new();
    let holders = sample.policyholders();
    for holder in holders {
        for policy in holders.iter().flat_map(|h| &h.contracts) {
            let exact = IdentityQuery {
                family_name: holder.family_name.clone(),
                given_name: holder.given_name.clone(),
                family_name_kana: holder.family_name_kana.clone(),
                given_name_kana: holder.given_name_kana.clone(),
                birth_date: holder.birth_date,
                phone: holder.phone.clone(),
                postal_code: holder.postal_code.clone(),
                policy_number: policy.policy_number.clone(),
            };
            let born = holder.birth_date;
            let other_day = Date::new(born.year, born.month, if born.day == 1 { 2 } else { 1 }).unwrap();
            let mutations: [fn(&mut IdentityQuery, Date); 9] = [
                |q, _| q.family_name.push('x'),
                |q, _| q.given_name.push('x'),
                |q, _| q.family_name_kana.push('ア'),
                |q, _| q.given_name_kana.push('ア'),
                |q, other| q.birth_date = other,
                |q, _| q.phone.push('0'),
                |q, _| q.postal_code = "9999999".into(),
                |q, _| q.policy_number.push('0'),
                |q, _| q.family_name.insert(0, ' '),
            ];
            queries.push(exact.clone());
            for mutate in mutations {
                let mut query = exact.clone();
                mutate(&mut query, other_day);
                queries.push(query);
            }
        }
    }
    queries
}

#[test]
fn the_seeded_directory_matches_exactly_as_the_file_directory() {
    let (_dir, path) = database();
    let c = open(&path);
    assert_eq!(source(&c).unwrap(), None);
    seed(&c).unwrap();
    assert_eq!(source(&c).unwrap().as_deref(), Some("sample"));
    let sample = FileDirectory::sample();
    let queries = identities(&sample);
    let mut matched = 0;
    for query in &queries {
        let expected = sample
            .find_policyholder(query)
            .unwrap()
            .map(|p| (p.customer_id, p.display_name));
        assert_eq!(find(&c, query), expected, "{query:?}");
        matched += usize::from(expected.is_some());
    }
    let contracts_total: usize = sample.policyholders().iter().map(|h| h.contracts.len()).sum();
    assert_eq!(
        matched, contracts_total,
        "each holder matches with each own policy, nothing else"
    );
    assert!(queries.len() > 100);
    for holder in sample.policyholders() {
        assert_eq!(
            contracts(&c, &holder.customer_id),
            sample.list_contracts(&holder.customer_id).unwrap(),
            "{}: the insurer's order",
            holder.customer_id
        );
    }
    assert!(contracts(&c, "C9999999").is_empty());
    assert_eq!(
        find(&c, &queries[0]).map(|(_, name)| name).as_deref(),
        Some("山田\u{3000}太郎")
    );
}

#[test]
fn seeding_is_idempotent_and_safe_for_racing_first_readers() {
    let (_dir, path) = database();
    let c = open(&path);
    const READERS: usize = 8;
    let barrier = Arc::new(Barrier::new(READERS));
    let sample = FileDirectory::sample();
    let holders = i64::try_from(sample.len()).unwrap();
    let contracts_total = i64::try_from(
        sample
            .policyholders()
            .iter()
            .map(|h| h.contracts.len())
            .sum::<usize>(),
    )
    .unwrap();
    let seen: Vec<(i64, i64)> = (0..READERS)
        .map(|_| {
            let (path, barrier) = (path.clone(), barrier.clone());
            thread::spawn(move || {
                let c = open(&path);
                barrier.wait();
                // The adapter's first read: seed unless the marker is there,
                // then read.
                let (complete, _) = retrying(|| source(&c));
                if complete.is_none() {
                    retrying(|| seed(&c));
                }
                (count(&c, "cw_policyholders"), count(&c, "cw_contracts"))
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|reader| reader.join().expect("reader"))
        .collect();
    for counts in seen {
        assert_eq!(
            counts,
            (holders, contracts_total),
            "no reader sees a partial directory"
        );
    }
    seed(&c).unwrap();
    assert_eq!(
        count(&c, "cw_policyholders"),
        holders,
        "seeding again adds nothing"
    );
    assert_eq!(count(&c, "cw_contracts"), contracts_total);
    assert_eq!(count(&c, "cw_directory_source"), 1);
}

#[test]
fn the_sample_is_never_mixed_into_the_insurers_own_directory() {
    let (_dir, path) = database();
    let c = open(&path);
    c.execute(
        "INSERT INTO cw_policyholders VALUES ('X1', '田中', '一', 'タナカ', 'ハジメ', '1970-01-01', '0311112222', '1000001', '田中　一')",
        [],
    )
    .unwrap();
    c.execute(
        "INSERT INTO cw_contracts VALUES ('Z1', 'X1', 0, '火災保険', '東京都', '2027-01-01', 1)",
        [],
    )
    .unwrap();
    c.execute(
        "INSERT INTO cw_directory_source (id, source, loaded_at) VALUES (0, 'insurer', 0)",
        [],
    )
    .unwrap();
    seed(&c).unwrap();
    assert_eq!(count(&c, "cw_policyholders"), 1);
    assert_eq!(count(&c, "cw_contracts"), 1);
    assert_eq!(source(&c).unwrap().as_deref(), Some("insurer"));
}
