//! The durable mail outbox, in SQL: what a queued message is, its states,
//! the retry schedule, and every statement.
//!
//! Each operation is one statement. A claim leases the due messages it
//! returns in the same statement that picks them, so two workers, threads
//! or hosts never claim one message: SQLite runs the statement under the
//! file's write lock; PostgreSQL picks with `FOR UPDATE SKIP LOCKED`, so
//! hosts delivering side by side pass over each other's rows instead of
//! waiting, and a host killed mid-delivery leaves its lease to run out and
//! the message to the others.

use crate::{Connection, Database, Dialect, Row, Schema, SqlError, Statement, Value};

/// An outbox fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutboxError {
    /// The outbox failed; carries its description.
    Unavailable(String),
}

impl std::fmt::Display for OutboxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let OutboxError::Unavailable(what) = self;
        write!(f, "outbox unavailable: {what}")
    }
}

impl std::error::Error for OutboxError {}

impl From<SqlError> for OutboxError {
    fn from(error: SqlError) -> Self {
        OutboxError::Unavailable(error.0)
    }
}

/// A durable queue of outgoing messages: the contract the host's outboxes
/// (memory, SQLite, PostgreSQL) and the Spin adapter's keep, and
/// `conformance::outbox_checks` checks.
pub trait Outbox {
    /// Queues a message, due at once; returns its id.
    fn enqueue(&self, message: &OutgoingMessage, now: u64) -> Result<u64, OutboxError>;

    /// Claims up to `limit` messages due at `now` (Pending/Failing with
    /// next_attempt_at <= now and not leased), leasing each until now+lease
    /// so two workers never send the same message. Oldest due first.
    fn claim_due(&self, now: u64, lease: u64, limit: usize) -> Result<Vec<QueuedMessage>, OutboxError>;

    /// Records a successful delivery: the message is `Sent` and is never
    /// claimed again. Counts the attempt. Unless `keep_body`, the body
    /// (which holds the one-time link) is dropped: the link has left, and
    /// the operator's view needs only recipient, subject, kind and state.
    fn mark_sent(&self, id: u64, now: u64, keep_body: bool) -> Result<(), OutboxError>;

    /// Records a permanent refusal: state `Dead`, never claimed again, the
    /// body dropped. A message already sent stays sent.
    fn mark_dead(&self, id: u64, error: &str, now: u64) -> Result<(), OutboxError>;

    /// Records a failed attempt: attempts+1, state `Failing`,
    /// next_attempt_at = now + backoff(attempts), and releases the lease.
    /// A message already sent stays sent (a worker whose lease ran out may
    /// report late).
    fn mark_failed(&self, id: u64, error: &str, now: u64) -> Result<(), OutboxError>;

    /// Up to `limit` messages, newest first, for the operator's view.
    fn list(&self, limit: usize) -> Result<Vec<QueuedMessage>, OutboxError>;

    /// One message by id.
    fn get(&self, id: u64) -> Result<Option<QueuedMessage>, OutboxError>;
}

/// An [`Outbox`] on a [`Database`]: the host's SQLite file or PostgreSQL
/// pool, or one Spin instance's connection ([`OneConnection`](crate::OneConnection)).
#[derive(Debug)]
pub struct SqlOutbox<D> {
    db: D,
}

impl<D: Database> SqlOutbox<D> {
    /// The outbox on `db`, its schema brought up to date.
    pub fn on(db: D) -> Result<Self, SqlError> {
        db.migrate(&SCHEMA)?;
        Ok(SqlOutbox { db })
    }

    fn run<T>(&self, f: impl FnOnce(&mut dyn Connection) -> Result<T, SqlError>) -> Result<T, OutboxError> {
        Ok(self.db.with(f)?)
    }
}

impl<D: Database> Outbox for SqlOutbox<D> {
    fn enqueue(&self, message: &OutgoingMessage, now: u64) -> Result<u64, OutboxError> {
        self.run(|c| enqueue(c, message, now))
    }

    fn claim_due(&self, now: u64, lease: u64, limit: usize) -> Result<Vec<QueuedMessage>, OutboxError> {
        self.run(|c| claim_due(c, now, lease, limit, None))
    }

    fn mark_sent(&self, id: u64, now: u64, keep_body: bool) -> Result<(), OutboxError> {
        self.run(|c| mark_sent(c, id, now, keep_body))
    }

    fn mark_dead(&self, id: u64, error: &str, _now: u64) -> Result<(), OutboxError> {
        self.run(|c| mark_dead(c, id, error))
    }

    fn mark_failed(&self, id: u64, error: &str, now: u64) -> Result<(), OutboxError> {
        self.run(|c| mark_failed(c, id, error, now))
    }

    fn list(&self, limit: usize) -> Result<Vec<QueuedMessage>, OutboxError> {
        self.run(|c| list(c, limit))
    }

    fn get(&self, id: u64) -> Result<Option<QueuedMessage>, OutboxError> {
        self.run(|c| get(c, id))
    }
}

/// A finished plain-text message, as the component hands it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// The recipient's address.
    pub to: String,
    /// The subject line, plain UTF-8.
    pub subject: String,
    /// The body, plain UTF-8 with `\n` line ends.
    pub text: String,
    /// What the message is for (`enrollment-link`, ...), for the operator.
    pub kind: String,
}

/// The longest subject accepted, in bytes (a header line's limit).
pub const MAX_SUBJECT: usize = 998;

/// The largest body accepted, in bytes.
pub const MAX_TEXT: usize = 64 * 1024;

/// How long a deliverer holds a claimed message, in seconds: longer than
/// any delivery should take, so a live deliverer never loses its claim,
/// yet short enough that a crashed one's messages go out again soon.
pub const DELIVERY_LEASE: u64 = 300;

impl OutgoingMessage {
    /// Why the outbox refuses this message, if it does: header injection
    /// (a recipient that is not one address, control characters in the
    /// subject) and oversized mail are refused at the door, whatever the
    /// component believes it validated.
    pub fn refusal(&self) -> Option<&'static str> {
        if self.to.chars().any(|c| c.is_control() || c == ',' || c == ';') || !self.to.contains('@') {
            return Some("recipient is not a single address");
        }
        if self.subject.chars().any(char::is_control) || self.subject.len() > MAX_SUBJECT {
            return Some("subject has control characters or is too long");
        }
        if self.text.len() > MAX_TEXT {
            return Some("body too long");
        }
        None
    }
}

/// Where a queued message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Not attempted yet.
    Pending,
    /// Delivered; never sent again.
    Sent,
    /// The last attempt failed; it will be retried at `next_attempt_at`.
    Failing,
    /// Refused for good (the server answered 5xx, or the address cannot be
    /// sent to): never tried again; the body is dropped.
    Dead,
}

impl DeliveryState {
    /// The state's name as stored and shown to operators.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Failing => "failing",
            Self::Dead => "dead",
        }
    }

    /// The state with this name, as [`DeliveryState::as_str`] writes it.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "pending" => Some(Self::Pending),
            "sent" => Some(Self::Sent),
            "failing" => Some(Self::Failing),
            "dead" => Some(Self::Dead),
            _ => None,
        }
    }
}

/// A message in the outbox, with its delivery record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    /// The outbox's id for the message; never reused.
    pub id: u64,
    /// The message itself.
    pub message: OutgoingMessage,
    /// When it was enqueued.
    pub queued_at: u64,
    /// How many delivery attempts were made, successful or not.
    pub attempts: u32,
    /// Where delivery stands.
    pub state: DeliveryState,
    /// The earliest time of the next attempt (meaningless once sent).
    pub next_attempt_at: u64,
    /// Why the last failed attempt failed.
    pub last_error: Option<String>,
    /// When it was delivered.
    pub sent_at: Option<u64>,
}

/// The wait before the next attempt after `attempts` failed ones, in
/// seconds: min(30 × 2^(attempts − 1), 3600). 30 s, 1 min, 2 min, … then
/// hourly for ever: the outbox never gives up on a temporary failure
/// (nothing is lost), and the state shows it. [`FAILED`] computes the same
/// in SQL (a test holds them equal).
pub fn backoff(attempts: u32) -> u64 {
    const FIRST: u64 = 30;
    const LONGEST: u64 = 3600;
    let factor = 1u64.checked_shl(attempts.saturating_sub(1)).unwrap_or(u64::MAX);
    FIRST.saturating_mul(factor).min(LONGEST)
}

/// The outbox's schema. Steps are append-only.
///
/// SQLite's first two steps are the wasmtime host's shipped layouts
/// (`outbox`; then dead letters, by a table rebuild since SQLite cannot
/// change a CHECK); the third gives the table its `cw_` name, which it
/// shares with the Spin adapter's.
pub const SCHEMA: Schema = Schema {
    name: "mail",
    sqlite: &[
        "CREATE TABLE IF NOT EXISTS outbox (
            id              INTEGER PRIMARY KEY AUTOINCREMENT,
            recipient       TEXT NOT NULL,
            subject         TEXT NOT NULL,
            body            TEXT NOT NULL,
            kind            TEXT NOT NULL,
            queued_at       INTEGER NOT NULL,
            attempts        INTEGER NOT NULL DEFAULT 0,
            state           TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failing')),
            next_attempt_at INTEGER NOT NULL,
            leased_until    INTEGER NOT NULL DEFAULT 0,
            last_error      TEXT,
            sent_at         INTEGER
        );
        CREATE INDEX IF NOT EXISTS outbox_due ON outbox (next_attempt_at)
            WHERE state <> 'sent';",
        "CREATE TABLE outbox_v2 (
            id              INTEGER PRIMARY KEY AUTOINCREMENT,
            recipient       TEXT NOT NULL,
            subject         TEXT NOT NULL,
            body            TEXT NOT NULL,
            kind            TEXT NOT NULL,
            queued_at       INTEGER NOT NULL,
            attempts        INTEGER NOT NULL DEFAULT 0,
            state           TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failing', 'dead')),
            next_attempt_at INTEGER NOT NULL,
            leased_until    INTEGER NOT NULL DEFAULT 0,
            last_error      TEXT,
            sent_at         INTEGER
        );
        INSERT INTO outbox_v2 SELECT id, recipient, subject, body, kind, queued_at, attempts, state,
            next_attempt_at, leased_until, last_error, sent_at FROM outbox;
        DROP TABLE outbox;
        ALTER TABLE outbox_v2 RENAME TO outbox;
        CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state IN ('pending', 'failing');",
        "ALTER TABLE outbox RENAME TO cw_outbox;
        DROP INDEX IF EXISTS outbox_due;
        CREATE INDEX IF NOT EXISTS cw_outbox_due ON cw_outbox (next_attempt_at)
            WHERE state IN ('pending', 'failing');",
    ],
    postgres: &["CREATE TABLE cw_outbox (
            id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            recipient       TEXT NOT NULL,
            subject         TEXT NOT NULL,
            body            TEXT NOT NULL,
            kind            TEXT NOT NULL,
            queued_at       BIGINT NOT NULL,
            attempts        INTEGER NOT NULL DEFAULT 0,
            state           TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failing', 'dead')),
            next_attempt_at BIGINT NOT NULL,
            leased_until    BIGINT NOT NULL DEFAULT 0,
            last_error      TEXT,
            sent_at         BIGINT
        );
        CREATE INDEX cw_outbox_due ON cw_outbox (next_attempt_at) WHERE state IN ('pending', 'failing');"],
};

/// The columns [`read`] reads, in its order.
pub const COLUMNS: &str = "id, recipient, subject, body, kind, queued_at, attempts, state, \
                           next_attempt_at, last_error, sent_at";

/// 1 recipient, 2 subject, 3 body, 4 kind, 5 now → the new message's id;
/// it is due at once.
pub const ENQUEUE: Statement = Statement {
    sqlite: "INSERT INTO cw_outbox (recipient, subject, body, kind, queued_at, state, next_attempt_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?5)
             RETURNING id",
    postgres: "INSERT INTO cw_outbox (recipient, subject, body, kind, queued_at, state, next_attempt_at)
               VALUES ($1, $2, $3, $4, $5, 'pending', $5)
               RETURNING id",
};

/// 1 now, 2 lease end, 3 most messages, 4 the id to claim first (or
/// NULL) → [`COLUMNS`] of each message claimed: due (pending or failing,
/// next attempt reached) and not leased; that id first if it is among
/// them, then the oldest due.
pub const CLAIM: Statement = Statement {
    sqlite: "UPDATE cw_outbox SET leased_until = ?2
             WHERE id IN (SELECT id FROM cw_outbox
                          WHERE state IN ('pending', 'failing')
                            AND next_attempt_at <= ?1 AND leased_until <= ?1
                          ORDER BY id = ?4 DESC, next_attempt_at, id
                          LIMIT ?3)
             RETURNING id, recipient, subject, body, kind, queued_at, attempts, state,
                       next_attempt_at, last_error, sent_at",
    postgres: "UPDATE cw_outbox SET leased_until = $2
               WHERE id IN (SELECT id FROM cw_outbox
                            WHERE state IN ('pending', 'failing')
                              AND next_attempt_at <= $1 AND leased_until <= $1
                            ORDER BY (id = $4) DESC, next_attempt_at, id
                            LIMIT $3
                            FOR UPDATE SKIP LOCKED)
               RETURNING id, recipient, subject, body, kind, queued_at, attempts, state,
                         next_attempt_at, last_error, sent_at",
};

/// 1 id, 2 now, 3 keep the body (1) or drop it (0): delivered; never
/// claimed again. A message already sent keeps its first record.
pub const SENT: Statement = Statement {
    sqlite: "UPDATE cw_outbox
             SET state = 'sent', attempts = attempts + 1, sent_at = ?2, leased_until = 0,
                 body = CASE WHEN ?3 THEN body ELSE '' END
             WHERE id = ?1 AND state <> 'sent'
             RETURNING id",
    postgres: "UPDATE cw_outbox
               SET state = 'sent', attempts = attempts + 1, sent_at = $2, leased_until = 0,
                   body = CASE WHEN $3::bigint <> 0 THEN body ELSE '' END
               WHERE id = $1 AND state <> 'sent'
               RETURNING id",
};

/// 1 id, 2 error: refused for good; the body goes. A message already sent
/// or dead stays as it is.
pub const DEAD: Statement = Statement {
    sqlite: "UPDATE cw_outbox
             SET state = 'dead', attempts = attempts + 1, last_error = ?2, leased_until = 0, body = ''
             WHERE id = ?1 AND state IN ('pending', 'failing')
             RETURNING id",
    postgres: "UPDATE cw_outbox
               SET state = 'dead', attempts = attempts + 1, last_error = $2, leased_until = 0, body = ''
               WHERE id = $1 AND state IN ('pending', 'failing')
               RETURNING id",
};

/// 1 id, 2 error, 3 now: the attempt failed; the next is due after
/// [`backoff`] of the attempts counted with this one. A message already
/// sent or dead (a worker whose lease ran out reporting late) stays.
pub const FAILED: Statement = Statement {
    sqlite: "UPDATE cw_outbox
             SET state = 'failing', attempts = attempts + 1, last_error = ?2, leased_until = 0,
                 next_attempt_at = ?3 + min(30 * (1 << min(attempts, 7)), 3600)
             WHERE id = ?1 AND state IN ('pending', 'failing')
             RETURNING id",
    postgres: "UPDATE cw_outbox
               SET state = 'failing', attempts = attempts + 1, last_error = $2, leased_until = 0,
                   next_attempt_at = $3 + LEAST(30 * (1::bigint << LEAST(attempts, 7)), 3600)
               WHERE id = $1 AND state IN ('pending', 'failing')
               RETURNING id",
};

/// 1 most messages → [`COLUMNS`], newest first.
pub const LIST: Statement = Statement {
    sqlite: "SELECT id, recipient, subject, body, kind, queued_at, attempts, state,
                    next_attempt_at, last_error, sent_at
             FROM cw_outbox ORDER BY id DESC LIMIT ?1",
    postgres: "SELECT id, recipient, subject, body, kind, queued_at, attempts, state,
                      next_attempt_at, last_error, sent_at
               FROM cw_outbox ORDER BY id DESC LIMIT $1",
};

/// 1 id → [`COLUMNS`] of that message.
pub const GET: Statement = Statement {
    sqlite: "SELECT id, recipient, subject, body, kind, queued_at, attempts, state,
                    next_attempt_at, last_error, sent_at
             FROM cw_outbox WHERE id = ?1",
    postgres: "SELECT id, recipient, subject, body, kind, queued_at, attempts, state,
                      next_attempt_at, last_error, sent_at
               FROM cw_outbox WHERE id = $1",
};

/// A row selected with [`COLUMNS`].
pub fn read(row: &Row) -> Result<QueuedMessage, SqlError> {
    let state_name = row.text(7, "delivery state")?;
    let state = DeliveryState::from_name(&state_name)
        .ok_or_else(|| SqlError(format!("unknown delivery state {state_name:?} in the outbox")))?;
    Ok(QueuedMessage {
        id: row.uint(0, "id")?,
        message: OutgoingMessage {
            to: row.text(1, "recipient")?,
            subject: row.text(2, "subject")?,
            text: row.text(3, "body")?,
            kind: row.text(4, "kind")?,
        },
        queued_at: row.uint(5, "queued_at")?,
        attempts: u32::try_from(row.uint(6, "attempts")?).unwrap_or(u32::MAX),
        state,
        next_attempt_at: row.uint(8, "next_attempt_at")?,
        last_error: match row.0.get(9) {
            Some(Value::Null) | None => None,
            Some(_) => Some(row.text(9, "last_error")?),
        },
        sent_at: row.opt_uint(10, "sent_at")?,
    })
}

fn limit(limit: usize) -> Value {
    Value::Int(i64::try_from(limit).unwrap_or(i64::MAX))
}

/// Queues a message, due at once; returns its id.
pub fn enqueue(c: &mut dyn Connection, message: &OutgoingMessage, now: u64) -> Result<u64, SqlError> {
    let d = c.dialect();
    let rows = c.query(
        ENQUEUE.text(d),
        &[
            Value::Text(message.to.clone()),
            Value::Text(message.subject.clone()),
            Value::Text(message.text.clone()),
            Value::Text(message.kind.clone()),
            Value::uint(now),
        ],
    )?;
    rows.first()
        .ok_or_else(|| SqlError("the outbox returned no id".into()))?
        .uint(0, "id")
}

/// Claims up to `most` messages due at `now`, leased until `now + lease`;
/// message `first` first if it is due and free (a deliverer that just
/// queued it sends it before older mail), then the oldest due.
pub fn claim_due(
    c: &mut dyn Connection,
    now: u64,
    lease: u64,
    most: usize,
    first: Option<u64>,
) -> Result<Vec<QueuedMessage>, SqlError> {
    let d = c.dialect();
    let rows = c.query(
        CLAIM.text(d),
        &[
            Value::uint(now),
            Value::uint(now.saturating_add(lease)),
            limit(most),
            Value::opt_uint(first),
        ],
    )?;
    let mut claimed = rows.iter().map(read).collect::<Result<Vec<_>, _>>()?;
    // RETURNING follows no ORDER BY.
    claimed.sort_by_key(|m| (Some(m.id) != first, m.next_attempt_at, m.id));
    Ok(claimed)
}

/// Runs a state change on message `id` (its statement returns the id it
/// changed); a change that touched no row is fine if the message exists
/// (its state already stands), an error if not.
fn change(c: &mut dyn Connection, id: u64, statement: Statement, params: &[Value]) -> Result<(), SqlError> {
    let d = c.dialect();
    if c.query(statement.text(d), params)?.is_empty() && get(c, id)?.is_none() {
        return Err(SqlError(format!("no message {id} in the outbox")));
    }
    Ok(())
}

/// Records a delivery (see [`SENT`]).
pub fn mark_sent(c: &mut dyn Connection, id: u64, now: u64, keep_body: bool) -> Result<(), SqlError> {
    change(
        c,
        id,
        SENT,
        &[Value::uint(id), Value::uint(now), Value::Int(keep_body.into())],
    )
}

/// Records a permanent refusal (see [`DEAD`]).
pub fn mark_dead(c: &mut dyn Connection, id: u64, error: &str) -> Result<(), SqlError> {
    change(c, id, DEAD, &[Value::uint(id), Value::Text(error.to_owned())])
}

/// Records a failed attempt (see [`FAILED`]).
pub fn mark_failed(c: &mut dyn Connection, id: u64, error: &str, now: u64) -> Result<(), SqlError> {
    change(
        c,
        id,
        FAILED,
        &[Value::uint(id), Value::Text(error.to_owned()), Value::uint(now)],
    )
}

/// Whether the outbox's table exists: a database nobody queued mail in
/// (nor migrated) has none, which a reader takes for an empty outbox.
pub fn exists(c: &mut dyn Connection) -> Result<bool, SqlError> {
    let sql = match c.dialect() {
        Dialect::Sqlite => "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cw_outbox'",
        Dialect::Postgres => {
            "SELECT 1 FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_name = 'cw_outbox'"
        }
    };
    Ok(!c.query(sql, &[])?.is_empty())
}

/// Up to `most` messages, newest first.
pub fn list(c: &mut dyn Connection, most: usize) -> Result<Vec<QueuedMessage>, SqlError> {
    let d = c.dialect();
    c.query(LIST.text(d), &[limit(most)])?.iter().map(read).collect()
}

/// One message by id.
pub fn get(c: &mut dyn Connection, id: u64) -> Result<Option<QueuedMessage>, SqlError> {
    let d = c.dialect();
    c.query(GET.text(d), &[Value::uint(id)])?
        .first()
        .map(read)
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(to: &str, subject: &str, text: &str) -> OutgoingMessage {
        OutgoingMessage {
            to: to.into(),
            subject: subject.into(),
            text: text.into(),
            kind: "enrollment-link".into(),
        }
    }

    #[test]
    fn header_injection_and_oversized_mail_are_refused() {
        let subject = "【ご登録】お客さまWebサービス";
        assert_eq!(message("taro@example.jp", subject, "本文\n").refusal(), None);
        let longest = "a".repeat(MAX_SUBJECT);
        assert_eq!(
            message("taro@example.jp", &longest, &"x".repeat(MAX_TEXT)).refusal(),
            None
        );
        for to in [
            "taro@example.jp\r\nBcc: all@example.jp",
            "taro@example.jp, jiro@example.jp",
            "taro@example.jp; jiro@example.jp",
            "taro.example.jp",
            "taro@example.jp\0",
        ] {
            assert_eq!(
                message(to, subject, "本文").refusal(),
                Some("recipient is not a single address"),
                "{to:?}"
            );
        }
        for bad in ["件名\r\nBcc: all@example.jp", "件名\n", &format!("{longest}a")] {
            assert_eq!(
                message("taro@example.jp", bad, "本文").refusal(),
                Some("subject has control characters or is too long"),
                "{bad:?}"
            );
        }
        assert_eq!(
            message("taro@example.jp", subject, &"x".repeat(MAX_TEXT + 1)).refusal(),
            Some("body too long")
        );
    }
}
