//! The Spin adapter's directory SQL run natively on SQLite, as Spin's local
//! database runs it: one statement per `execute`, autocommit, positional
//! parameters, and (under `spin up`) a connection per instance, all on one
//! file. (The store, the outbox and the audit trail are customer-web-sql's:
//! the wasmtime host's contract suites and `sql/tests` run them on SQLite.)

use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use customer_web_directory::{Date, Directory, FileDirectory, IdentityQuery};
use customer_web_spin_conformance::sql;
use rusqlite::{Connection, OptionalExtension, params};

const NOW: i64 = 1_700_000_000;

/// A connection to `path` with the schema in place, as the adapter opens it.
fn open(path: &Path) -> Connection {
    let conn = Connection::open(path).expect("open the database");
    if objects(&conn, sql::SCHEMA_CHECK) < sql::SCHEMA_OBJECTS {
        for statement in sql::SCHEMA {
            conn.execute(statement, []).expect("schema statement");
        }
    }
    conn
}

/// The count a `SELECT count(*)` returns.
fn objects(conn: &Connection, count: &str) -> u64 {
    let n: i64 = conn.query_row(count, [], |row| row.get(0)).expect("a count");
    u64::try_from(n).expect("a count is not negative")
}

fn database() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("sqlite_db.db");
    (dir, path)
}

/// Runs `write`, again while SQLite answers busy or locked, as
/// customer-web-sql's Spin executor does; returns the result and the
/// retries.
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
    assert_eq!(objects(&conn, sql::SCHEMA_CHECK), 0);
    for statement in sql::SCHEMA {
        conn.execute(statement, []).unwrap();
    }
    assert_eq!(
        objects(&conn, sql::SCHEMA_CHECK),
        sql::SCHEMA_OBJECTS,
        "SCHEMA_CHECK counts every object SCHEMA makes"
    );
    assert_eq!(
        objects(
            &conn,
            "SELECT count(*) FROM sqlite_master WHERE name LIKE 'cw\\_%' ESCAPE '\\'"
        ),
        sql::SCHEMA_OBJECTS,
        "SCHEMA_CHECK names every cw_ object"
    );
    for statement in sql::SCHEMA {
        conn.execute(statement, []).expect("the schema is idempotent");
    }
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
