//! `customer-web:plugin/audit`: events go to the audit trail and to the
//! structured log.

use crate::audit::AuditEvent;
use crate::bindings::customer_web::plugin::audit::{self, Error, Event};
use crate::link::{CustomerWeb, Fault};

impl audit::Host for CustomerWeb<'_> {
    fn convert_error(&mut self, fault: Fault<Error>) -> wasmtime::Result<Error> {
        fault.into_guest()
    }

    fn record_event(&mut self, event: Event) -> Result<(), Fault<Error>> {
        tracing::info!(
            target: "customer_web::audit",
            kind = %event.kind,
            subject = %event.subject,
            detail = %event.detail,
            "audit"
        );
        let event = AuditEvent {
            at: event.at,
            kind: event.kind,
            subject: event.subject,
            detail: event.detail,
        };
        crate::blocking::run(|| self.caps.audit.record(&event)).map_err(|e| {
            tracing::error!(error = %e, "customer_web.audit fault: event not recorded");
            Error::Unavailable(e.to_string()).into()
        })
    }
}
