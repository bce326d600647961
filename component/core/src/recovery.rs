//! Forgotten user ID or password (seed C), steps 2 and 3 (state diagram:
//! `recovery.mermaid`). Steps 4 to 6 go on at the link and in
//! [`crate::credentials`].
//!
//! No enumeration: whether or not the address and birth date match an
//! account, the step hashes a keyword, writes one link record and answers
//! alike. Only a match gets a mail; the other case is the named state
//! [`LinkState::Pretend`] — a link that was never mailed to anyone.

use crate::error::FlowError;
use crate::kv;
use crate::mail;
use crate::model::{FieldError, Timestamp};
use crate::records::{
    Account, ContactIndex, Link, LinkKind, LinkState, LinkTarget, account_key, contact_key, link_key,
};
use crate::secret::{self, Memorised, Token};
use crate::service::Service;
use crate::validate;

/// What step 3 shows.
#[derive(Clone, Debug)]
pub struct RecoveryStarted {
    /// The system-made keyword to note down; never in the mail.
    pub keyword: Memorised,
    /// When the mailed link lapses.
    pub link_expires_at: Timestamp,
}

impl Service<'_> {
    /// Step 2 → 3: registered contact address and date of birth.
    pub fn start_recovery(&self, email: &str, birth_date: &str) -> Result<RecoveryStarted, FlowError> {
        let email = validate::email(email).map_err(|m| FieldError::new("email", m));
        let birth_date =
            validate::birth_date(birth_date, self.today()).map_err(|m| FieldError::new("birth-date", m));
        let (email, birth_date) = match (email, birth_date) {
            (Ok(e), Ok(b)) => (e, b),
            (e, b) => {
                return Err(FlowError::InvalidInput(
                    e.err().into_iter().chain(b.err()).collect(),
                ));
            }
        };
        let settings = self.settings()?;
        let now = self.now();
        // Counted whether or not the address is known, so the limit itself
        // tells nothing.
        self.take_mail_allowance(&email)?;

        let account = self.find_account(&email, birth_date)?;
        let keyword = secret::system_keyword(self.ports.rng);
        let token = Token::generate(self.ports.rng);
        let expires_at = now + settings.link_lifetime;
        let reference = secret::reference('R', self.ports.rng);
        let (state, target) = match &account {
            Some(a) => (
                LinkState::Active,
                Some(LinkTarget::ExistingAccount {
                    account_id: a.account_id.clone(),
                }),
            ),
            None => (LinkState::Pretend, None),
        };
        let link = Link {
            reference: reference.clone(),
            kind: LinkKind::Recovery,
            state,
            keyword_hash: keyword.hash(self.ports.rng, self.ports.hasher)?,
            attempts: 0,
            sent_at: now,
            expires_at,
            target,
        };
        if !kv::create(
            self.ports.store,
            &link_key(&token),
            &link,
            Some(expires_at + 86_400),
        )? {
            return Err(FlowError::Unavailable("link collision".into()));
        }
        match &account {
            Some(a) => {
                let url = self.link_url(token.expose())?;
                self.ports
                    .mailer
                    .send(&mail::recovery_link(settings, &email, &url, now, expires_at))?;
                self.audit(
                    "recovery-started",
                    &reference,
                    format!("account={} outcome=mail-sent", a.account_id),
                );
            }
            None => self.audit("recovery-started", &reference, "outcome=no-match-pretended"),
        }
        Ok(RecoveryStarted {
            keyword,
            link_expires_at: expires_at,
        })
    }

    /// The newest account registered with this contact address and birth
    /// date. Reads the same records whether or not there is one.
    fn find_account(
        &self,
        email: &str,
        birth_date: crate::model::Date,
    ) -> Result<Option<Account>, FlowError> {
        let index = kv::load::<ContactIndex>(self.ports.store, &contact_key(email))?
            .map(|v| v.value)
            .unwrap_or_default();
        let mut found = None;
        for account_id in index.account_ids.iter().rev() {
            if let Some(a) = kv::load::<Account>(self.ports.store, &account_key(account_id))?
                && a.value.birth_date == birth_date
                && a.value.contact_email.eq_ignore_ascii_case(email)
            {
                found = Some(a.value);
                break;
            }
        }
        Ok(found)
    }
}
