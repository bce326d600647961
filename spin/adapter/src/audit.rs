//! `customer-web:plugin/audit`: events appended to the trail, customer-web-sql's
//! [`audit`] (table `cw_audit`).

use customer_web_sql::audit::{self, AuditEvent};

use crate::Adapter;
use crate::bindings::exports::customer_web::plugin::audit::{Error, Event, Guest};
use crate::db;

impl Guest for Adapter {
    fn record_event(event: Event) -> Result<(), Error> {
        let event = AuditEvent {
            at: event.at,
            kind: event.kind,
            subject: event.subject,
            detail: event.detail,
        };
        db::with(|c| audit::record(c, &event)).map_err(Error::Unavailable)
    }
}
