//! The entry point of the flows: a [`Service`] borrows the ports for one
//! call and reads the settings at most once per call.

use std::cell::OnceCell;
use std::sync::Arc;

use crate::error::FlowError;
use crate::kv::{self, Change};
use crate::model::{Date, Settings, Timestamp};
use crate::ports::{AuditEvent, Ports};
use crate::records::{MailWindow, mail_window_key};

/// The flows of customer-web over a set of ports. Cheap to make: the
/// component makes one per call.
pub struct Service<'a> {
    pub(crate) ports: Ports<'a>,
    settings: OnceCell<Arc<Settings>>,
    /// The client's address as the host reported it; none for a caller
    /// that names none.
    client_address: Option<String>,
    /// Whom per-client throttles count this call against: the
    /// [`client_key`] of the address, worked out at the first throttle.
    client: OnceCell<String>,
}

/// The client of a call that names none: the typed exports, whose caller
/// is the portal's own code.
pub const TYPED_CALLER: &str = "typed-caller";

impl<'a> Service<'a> {
    /// A service over these ports, for a caller that names no client.
    pub fn new(ports: Ports<'a>) -> Self {
        Self {
            ports,
            settings: OnceCell::new(),
            client_address: None,
            client: OnceCell::new(),
        }
    }

    /// The same, for requests from `client` (a network address as the
    /// host reports it): the sign-in slow-down is kept per user ID *and*
    /// client, so a guesser elsewhere cannot slow the owner's own browser.
    /// IPv6 addresses count by their /64.
    pub fn for_client(mut self, client: &str) -> Self {
        self.client_address = Some(client.to_owned());
        self
    }

    /// Whom per-client throttles count this call against: the client's
    /// [`client_key`], or [`TYPED_CALLER`] when the call names no client.
    pub(crate) fn client(&self) -> &str {
        self.client.get_or_init(|| match &self.client_address {
            Some(address) => client_key(address),
            None => TYPED_CALLER.to_owned(),
        })
    }

    /// The settings in force (read once per service).
    pub fn settings(&self) -> Result<&Settings, FlowError> {
        self.read_settings().map(|s| &**s)
    }

    /// The settings in force, to keep beside the service without a copy
    /// (a page's layout shows several of them).
    pub fn settings_shared(&self) -> Result<Arc<Settings>, FlowError> {
        self.read_settings().cloned()
    }

    fn read_settings(&self) -> Result<&Arc<Settings>, FlowError> {
        if let Some(s) = self.settings.get() {
            return Ok(s);
        }
        let s = Arc::new(self.ports.config.settings()?);
        Ok(self.settings.get_or_init(|| s))
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.ports.clock.now()
    }

    /// Today's date in Japan, for birth-date checks.
    pub(crate) fn today(&self) -> Date {
        japan_date(self.now())
    }

    /// Records a security event. The trail is best effort by design: a
    /// step that already changed storage must not be reported as failed
    /// because its event could not be written (the host logs that fault).
    pub(crate) fn audit(&self, kind: &'static str, subject: &str, detail: impl Into<String>) {
        let _ = self.ports.audit.record(&AuditEvent {
            at: self.now(),
            kind,
            subject: subject.to_owned(),
            detail: detail.into(),
        });
    }

    /// Counts one mail to `email` in its hourly window, or refuses with the
    /// seconds until the window ends.
    pub(crate) fn take_mail_allowance(&self, email: &str) -> Result<(), FlowError> {
        let limit = self.settings()?.mails_per_hour;
        self.take_hourly_allowance(&mail_window_key(email), limit)
    }

    /// Counts one action under `key` in its hourly window (a fixed hour
    /// from the first action), or refuses with the seconds until the
    /// window ends. A compare-and-swap: racing callers are all counted.
    pub(crate) fn take_hourly_allowance(&self, key: &str, limit: u32) -> Result<(), FlowError> {
        let now = self.now();
        kv::update::<MailWindow, _>(self.ports.store, key, |current| {
            let mut window = match current {
                Some(w) if now < w.window_start + 3600 => w.clone(),
                _ => MailWindow {
                    window_start: now,
                    count: 0,
                },
            };
            if window.count >= limit {
                return Err(FlowError::RateLimited(window.window_start + 3600 - now));
            }
            window.count += 1;
            let expires = window.window_start + 3600;
            Ok(Change::Write(window, Some(expires), ()))
        })
    }

    /// The public URL of a mailed link.
    pub(crate) fn link_url(&self, token: &str) -> Result<String, FlowError> {
        Ok(format!(
            "{}/link/{token}",
            self.settings()?.base_url.trim_end_matches('/')
        ))
    }
}

/// The calendar date in Japan (UTC+9, no daylight saving) at `at`.
pub fn japan_date(at: Timestamp) -> Date {
    let days = (at + 9 * 3600) / 86_400;
    civil_from_days(days as i64)
}

/// Days since 1970-01-01 to a civil date (proleptic Gregorian).
fn civil_from_days(z: i64) -> Date {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as u16;
    Date { year, month, day }
}

/// The throttle key of a client address (`ip` or `ip:port`, as a host
/// reports it): the IP, IPv6 by its /64; anything else as given.
pub fn client_key(client: &str) -> String {
    use std::net::{IpAddr, SocketAddr};
    let client = client.trim();
    let ip = client
        .parse::<SocketAddr>()
        .map(|a| a.ip())
        .or_else(|_| client.parse::<IpAddr>());
    match ip {
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Ok(ip) => ip.to_string(),
        Err(_) => client.chars().take(64).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn japan_date_turns_at_midnight_jst() {
        // 2026-11-25T14:59:59Z is 23:59:59 JST; a second later it is the 26th.
        assert_eq!(
            japan_date(1_795_618_799),
            Date {
                year: 2026,
                month: 11,
                day: 25
            }
        );
        assert_eq!(
            japan_date(1_795_618_800),
            Date {
                year: 2026,
                month: 11,
                day: 26
            }
        );
        assert_eq!(
            japan_date(951_782_400),
            Date {
                year: 2000,
                month: 2,
                day: 29
            }
        );
    }
}
