//! Every statement of the contract, bound the way Spin's PostgreSQL
//! (`spin:postgres/postgres@4.0.0`) binds parameters: an integer only as
//! `bigint`, text only as text, bytes only as `bytea`, NULL as anything.
//! The native executor fits each value to the type PostgreSQL infers;
//! Spin does not, so a statement that put an integer where PostgreSQL
//! infers `integer` or `boolean` works natively and fails under Spin.
//! This runs them all natively with Spin's rules, each query wrapped to
//! answer at least one row as `customer_web_sql::spin_postgres` wraps it
//! (`one_row`: Spin 4.0.2 hangs on a query without rows), and reads
//! columns as it does.

use std::error::Error;

use bytes::BytesMut;
use customer_web_core::ports::{Condition, WriteOutcome};
use customer_web_sql::audit::{self, AuditEvent};
use customer_web_sql::outbox::{self, DeliveryState, OutgoingMessage};
use customer_web_sql::postgres::testing::TestDatabase;
use customer_web_sql::{Connection, Dialect, Row, SqlError, Value, is_current, kv, migrate, one_row};
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};

const NOW: u64 = 1_700_000_000;

/// A NULL that any parameter type takes, as Spin's `db-null` is.
#[derive(Debug)]
struct AnyNull;

impl ToSql for AnyNull {
    fn to_sql(&self, _: &Type, _: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        Ok(IsNull::Yes)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// A connection that binds and reads as Spin's does.
struct AsSpinBinds(postgres::Client);

fn strict(value: &Value) -> Box<dyn ToSql + Sync> {
    match value {
        Value::Null => Box::new(AnyNull),
        Value::Int(n) => Box::new(*n),
        Value::Text(text) => Box::new(text.clone()),
        Value::Blob(bytes) => Box::new(bytes.clone()),
    }
}

fn fault(e: postgres::Error) -> SqlError {
    SqlError(match e.source() {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    })
}

fn column(row: &postgres::Row, i: usize) -> Result<Value, SqlError> {
    let value = match *row.columns()[i].type_() {
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)
            .map(|v| v.map(|n| Value::Int(n.into()))),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)
            .map(|v| v.map(|n| Value::Int(n.into()))),
        Type::INT8 => row.try_get::<_, Option<i64>>(i).map(|v| v.map(Value::Int)),
        Type::BOOL => row
            .try_get::<_, Option<bool>>(i)
            .map(|v| v.map(|b| Value::Int(b.into()))),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR => {
            row.try_get::<_, Option<String>>(i).map(|v| v.map(Value::Text))
        }
        Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(i).map(|v| v.map(Value::Blob)),
        ref other => return Err(SqlError(format!("Spin's executor does not read {other}"))),
    };
    Ok(value.map_err(fault)?.unwrap_or(Value::Null))
}

impl Connection for AsSpinBinds {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, SqlError> {
        let boxed: Vec<Box<dyn ToSql + Sync>> = params.iter().map(strict).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
        let rows = self.0.query(&one_row::wrap(sql), &refs).map_err(fault)?;
        let rows = rows
            .iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| column(row, i))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Row)
            })
            .collect::<Result<Vec<_>, _>>()?;
        one_row::unwrap(rows)
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, SqlError> {
        let boxed: Vec<Box<dyn ToSql + Sync>> = params.iter().map(strict).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
        self.0.execute(sql, &refs).map_err(fault)
    }

    fn batch(&mut self, sql: &str) -> Result<(), SqlError> {
        self.0.batch_execute(sql).map_err(fault)
    }
}

fn message(to: &str) -> OutgoingMessage {
    OutgoingMessage {
        to: to.into(),
        subject: "件名".into(),
        text: "本文 https://example.jp/link/abc".into(),
        kind: "enrollment-link".into(),
    }
}

#[test]
fn every_statement_binds_as_spin_binds() {
    let Some(db) = TestDatabase::create("Spin's PostgreSQL parameter types") else {
        return;
    };
    let client = db
        .url
        .parse::<postgres::Config>()
        .unwrap()
        .connect(postgres::NoTls)
        .unwrap();
    let c = &mut AsSpinBinds(client);
    let schemas = [&kv::SCHEMA, &outbox::SCHEMA, &audit::SCHEMA];

    assert!(!is_current(c, &schemas).unwrap());
    for schema in schemas {
        migrate(c, schema).unwrap();
    }
    assert!(is_current(c, &schemas).unwrap());
    migrate(c, &kv::SCHEMA).unwrap();

    // The store: each condition, expiry, prefix counts, versions, purge.
    let WriteOutcome::Written(v1) =
        kv::put(c, "flow:1", b"a", Condition::Absent, Some(NOW + 60), NOW).unwrap()
    else {
        panic!("the first write conflicted")
    };
    assert_eq!(
        kv::put(c, "flow:1", b"b", Condition::Absent, None, NOW).unwrap(),
        WriteOutcome::Conflict
    );
    let WriteOutcome::Written(v2) = kv::put(c, "flow:1", b"b", Condition::Version(v1), None, NOW).unwrap()
    else {
        panic!("compare-and-swap conflicted")
    };
    assert!(v2 > v1);
    assert_eq!(
        kv::put(c, "flow:1", b"c", Condition::Version(v1), None, NOW).unwrap(),
        WriteOutcome::Conflict
    );
    assert!(matches!(
        kv::put(c, "flow:2", b"x", Condition::Any, Some(NOW + 1), NOW).unwrap(),
        WriteOutcome::Written(_)
    ));
    let entry = kv::get(c, "flow:1", NOW).unwrap().expect("written");
    assert_eq!((entry.value.as_slice(), entry.version), (&b"b"[..], v2));
    assert_eq!(kv::count_prefix(c, "flow:", NOW).unwrap(), 2);
    assert_eq!(kv::versions(c, NOW).unwrap().len(), 2);
    assert_eq!(
        kv::delete(c, "flow:2", Condition::Absent, NOW).unwrap(),
        WriteOutcome::Conflict
    );
    assert_eq!(
        kv::delete(c, "flow:2", Condition::Absent, NOW + 5).unwrap(),
        WriteOutcome::Written(0)
    );
    assert_eq!(
        kv::delete(c, "flow:1", Condition::Version(v1), NOW).unwrap(),
        WriteOutcome::Conflict
    );
    assert_eq!(
        kv::delete(c, "flow:1", Condition::Version(v2), NOW).unwrap(),
        WriteOutcome::Written(0)
    );
    assert_eq!(
        kv::delete(c, "flow:9", Condition::Any, NOW).unwrap(),
        WriteOutcome::Written(0)
    );
    kv::put(c, "old", b"x", Condition::Any, Some(NOW), NOW - 10).unwrap();
    assert_eq!(kv::purge_expired(c, NOW + 1).unwrap(), 1);
    assert!(kv::get(c, "old", NOW - 10).unwrap().is_none());

    // The outbox: queue, claim, sent (body kept and dropped), failed, dead.
    assert!(outbox::exists(c).unwrap());
    let a = outbox::enqueue(c, &message("a@example.jp"), NOW).unwrap();
    let b = outbox::enqueue(c, &message("b@example.jp"), NOW).unwrap();
    let d = outbox::enqueue(c, &message("d@example.jp"), NOW).unwrap();
    let claimed: Vec<u64> = outbox::claim_due(c, NOW, 60, 5, Some(b))
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(claimed, [b, a, d]);
    assert!(
        outbox::claim_due(c, NOW, 60, 5, None).unwrap().is_empty(),
        "leased"
    );
    outbox::mark_sent(c, a, NOW + 1, true).unwrap();
    outbox::mark_sent(c, b, NOW + 1, false).unwrap();
    outbox::mark_failed(c, d, "relay down", NOW + 1).unwrap();
    let kept = outbox::get(c, a).unwrap().expect("queued");
    assert_eq!(
        (kept.state, kept.message.text.as_str()),
        (DeliveryState::Sent, "本文 https://example.jp/link/abc")
    );
    let dropped = outbox::get(c, b).unwrap().expect("queued");
    assert_eq!(
        (dropped.state, dropped.message.text.as_str()),
        (DeliveryState::Sent, "")
    );
    assert_eq!(
        outbox::get(c, d).unwrap().expect("queued").state,
        DeliveryState::Failing
    );
    outbox::mark_dead(c, d, "refused").unwrap();
    assert_eq!(
        outbox::get(c, d).unwrap().expect("queued").state,
        DeliveryState::Dead
    );
    assert_eq!(
        outbox::list(c, 2)
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect::<Vec<_>>(),
        [d, b]
    );

    // The trail.
    let event = AuditEvent {
        at: NOW,
        kind: "link-spent".into(),
        subject: "flow-ref".into(),
        detail: "ticket=t".into(),
    };
    audit::record(c, &event).unwrap();
    assert_eq!(audit::recent(c, 5).unwrap(), [event]);
}
