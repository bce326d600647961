//! `customer-web:plugin/audit`: events appended to the `cw_audit` table.

use crate::bindings::exports::customer_web::plugin::audit::{Error, Event, Guest};
use crate::db::{self, int, text};
use crate::{Adapter, sql};

impl Guest for Adapter {
    fn record_event(event: Event) -> Result<(), Error> {
        db::with(|conn| {
            db::exec(
                conn,
                sql::AUDIT_INSERT,
                &[
                    int(event.at),
                    text(event.kind),
                    text(event.subject),
                    text(event.detail),
                ],
            )
            .map(drop)
        })
        .map_err(Error::Unavailable)
    }
}
