//! Queries that always answer at least one row, for Spin's PostgreSQL.
//!
//! Spin 4.0.2's `query` (`spin:postgres/postgres@4.0.0`, and the same
//! code at Spin's main branch in 2026-12) never returns when a statement
//! answers no rows: it learns the columns from the first row, through a
//! channel whose sender lives as long as the row stream, and waits on it
//! after the stream ends. A guest calling it blocks its request forever
//! (the server saw the statement finish; Spin's connection stays busy).
//!
//! So [`SpinPostgres`](crate::spin_postgres::SpinPostgres) runs every
//! query as [`wrap`] writes it: the statement as a common table
//! expression (a write with `RETURNING` too, a top-level data-modifying
//! `WITH`, run exactly once), joined to one row that counts its rows:
//!
//! ```sql
//! WITH cw_q AS (statement)
//! SELECT cw_n.cw_rows, cw_q.* FROM (SELECT count(*) AS cw_rows FROM cw_q) AS cw_n
//! LEFT JOIN cw_q ON true
//! ```
//!
//! No rows: one row, count 0, which [`unwrap`] turns back into none.
//! Rows: each with the count in front, in the statement's own order (a
//! `LEFT JOIN ... ON true` is a nested loop with the one-row side outer,
//! so the rows come in the order the statement made them).

use crate::{Row, SqlError, Value};

/// `statement` (PostgreSQL, one statement) as a query that always answers
/// at least one row.
pub fn wrap(statement: &str) -> String {
    let statement = statement.trim().trim_end_matches(';');
    format!(
        "WITH cw_q AS ({statement}\n) SELECT cw_n.cw_rows, cw_q.* \
         FROM (SELECT count(*) AS cw_rows FROM cw_q) AS cw_n LEFT JOIN cw_q ON true"
    )
}

/// The rows of the statement [`wrap`] wrapped: none when the count is
/// 0, else each row without the count.
pub fn unwrap(rows: Vec<Row>) -> Result<Vec<Row>, SqlError> {
    match rows.first().map(|row| row.0.first()) {
        Some(Some(Value::Int(0))) => Ok(Vec::new()),
        Some(Some(Value::Int(_))) => Ok(rows
            .into_iter()
            .map(|Row(mut values)| {
                values.remove(0);
                Row(values)
            })
            .collect()),
        _ => Err(SqlError(
            "PostgreSQL: a query answered without its row count".into(),
        )),
    }
}
