//! The HTTP component: the store checks over the imported storage.

use customer_web_core::conformance::{WallTime, increment, read_counter, run, run_shared, store_checks};
use customer_web_core::model::Timestamp;
use customer_web_core::ports::{Condition, Entry, PortError, Store, WriteOutcome};
use customer_web_core::testing::FakeClock;
use customer_web_sql::conformance::outbox_checks;
use customer_web_sql::outbox::SqlOutbox;
use customer_web_sql::spin_postgres::open_contract_database;
use customer_web_sql::{Connection, OneConnection, SqlError};
use wasip2::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

mod bindings {
    wit_bindgen::generate!({
        // The real contract (../../wit, package customer-web:plugin) and
        // this component's world (wit/world.wit).
        path: ["../../wit", "wit"],
        world: "customer-web:spin-conformance/conformance",
        generate_all,
    });
}

use bindings::customer_web::plugin::storage;

/// The store the adapter exports, as the core's port (the customer-web
/// component's own binding, in short).
struct Imported;

fn condition(c: Condition) -> storage::Condition {
    match c {
        Condition::Absent => storage::Condition::Absent,
        Condition::Version(v) => storage::Condition::Version(v),
        Condition::Any => storage::Condition::Any,
    }
}

fn outcome(o: storage::WriteOutcome) -> WriteOutcome {
    match o {
        storage::WriteOutcome::Written(v) => WriteOutcome::Written(v),
        storage::WriteOutcome::Conflict => WriteOutcome::Conflict,
    }
}

fn error(e: storage::Error) -> PortError {
    match e {
        storage::Error::Unavailable(message) => PortError(format!("storage: {message}")),
        storage::Error::TooLarge => PortError("storage: too large".into()),
    }
}

impl Store for Imported {
    fn get(&self, key: &str) -> Result<Option<Entry>, PortError> {
        let entry = storage::get(key).map_err(error)?;
        Ok(entry.map(|e| Entry {
            value: e.value,
            version: e.version,
        }))
    }

    fn put(
        &self,
        key: &str,
        value: &[u8],
        c: Condition,
        expires_at: Option<Timestamp>,
    ) -> Result<WriteOutcome, PortError> {
        storage::put(key, value, condition(c), expires_at)
            .map(outcome)
            .map_err(error)
    }

    fn delete(&self, key: &str, c: Condition) -> Result<WriteOutcome, PortError> {
        storage::delete(key, condition(c)).map(outcome).map_err(error)
    }
}

/// An empty outbox on the database the adapter keeps the contract in
/// (Spin's `default` SQLite, or PostgreSQL when `database_url` is set),
/// on the statements and executor the adapter uses.
fn fresh_outbox() -> Result<SqlOutbox<OneConnection<Box<dyn Connection>>>, SqlError> {
    let mut conn = open_contract_database()?;
    customer_web_sql::migrate(&mut conn, &customer_web_sql::outbox::SCHEMA)?;
    conn.execute("DELETE FROM cw_outbox", &[])?;
    SqlOutbox::on(OneConnection::new(conn))
}

/// Every outbox check, each on an emptied outbox.
fn check_outbox() -> Result<String, String> {
    let mut fault = None;
    let ran = run(
        &outbox_checks(),
        || fresh_outbox().map_err(|e| fault = Some(e.0)).ok(),
        &FakeClock::default(),
    )?;
    match fault {
        Some(fault) => Err(format!("a fresh outbox: {fault}")),
        None => Ok(format!("ok {ran}")),
    }
}

/// The value of `name` in a query string (no percent-decoding: the
/// harness sends plain names and numbers).
fn parameter<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn answer(method: &Method, path: &str, query: &str) -> (u16, String) {
    let outcome = match (method, path) {
        (Method::Get, "/checks") => {
            let ns = parameter(query, "ns").unwrap_or("conformance/");
            run_shared(&store_checks(), &Imported, &WallTime, ns).map(|ran| format!("ok {ran}"))
        }
        (Method::Get, "/outbox-checks") => check_outbox(),
        (Method::Post, "/increment") => {
            let key = parameter(query, "key").unwrap_or("race/counter");
            match parameter(query, "times").map(str::parse::<u64>) {
                Some(Ok(times)) => increment(&Imported, key, times).map(|c| format!("conflicts {c}")),
                _ => return (400, "times=N expected".into()),
            }
        }
        (Method::Get, "/counter") => {
            let key = parameter(query, "key").unwrap_or("race/counter");
            read_counter(&Imported, key).map(|n| n.to_string())
        }
        _ => return (404, "no such check".into()),
    };
    match outcome {
        Ok(body) => (200, body),
        Err(failure) => (500, failure),
    }
}

struct Component;

impl wasip2::exports::http::incoming_handler::Guest for Component {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let target = request.path_with_query().unwrap_or_else(|| "/".into());
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let (status, body) = answer(&request.method(), path, query);
        let response = OutgoingResponse::new(Fields::new());
        let _ = response.set_status_code(status);
        let Ok(outgoing) = response.body() else {
            return;
        };
        ResponseOutparam::set(out, Ok(response));
        if let Ok(stream) = outgoing.write() {
            for chunk in body.as_bytes().chunks(4096) {
                if stream.blocking_write_and_flush(chunk).is_err() {
                    break;
                }
            }
        }
        let _ = OutgoingBody::finish(outgoing, None);
    }
}

wasip2::http::proxy::export!(Component);
