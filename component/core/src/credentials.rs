//! Screens 8 to 10 of enrollment and steps 5 and 6 of recovery: the user
//! ID and password chosen after both channels passed, and the account.

use crate::error::FlowError;
use crate::kv::{self, Change};
use crate::model::Timestamp;
use crate::ports::Condition;
use crate::records::{
    Account, AccountRef, ContactIndex, LinkTarget, Ticket, TicketState, account_key, contact_key,
    customer_key, throttle_key, ticket_key, user_key,
};
use crate::secret::{self, Memorised, Token};
use crate::service::Service;
use crate::validate;

/// A new session.
#[derive(Clone, Debug)]
pub struct SessionGrant {
    /// The session id (bearer secret).
    pub session: Token,
    /// Ends then at the latest.
    pub expires_at: Timestamp,
}

/// Valid user ID and password submissions one ticket allows (screen 8).
/// Each may tell whether a user ID is taken, so a ticket cannot be used to
/// probe for accounts: past the last one the ticket is burnt, and the
/// customer starts again from the mail.
pub const MAX_CREDENTIAL_SUBMISSIONS: u32 = 5;

impl Service<'_> {
    /// Screen 8: the desired user ID and password. Validated here; whether
    /// the ID is free is told now (both channels have passed) and decided
    /// for good at [`Service::complete_credentials`]. Each valid submission
    /// is counted before it is checked, and costs the same hash whether or
    /// not the ID is free.
    pub fn submit_credentials(&self, ticket: &Token, user_id: &str, password: &str) -> Result<(), FlowError> {
        let user_id = validate::email(user_id).map_err(|m| FlowError::field("user-id", m))?;
        validate::password(password, &user_id).map_err(|m| FlowError::field("password", m))?;
        let current = self.load_ticket(ticket)?;
        if current.state == TicketState::Completed {
            return Err(FlowError::WrongStep(current.state.name().into()));
        }
        let mut spent = false;
        let counted = self.update_ticket(ticket, |t| {
            if t.state == TicketState::Completed {
                return Err(FlowError::WrongStep(t.state.name().into()));
            }
            if t.submissions >= MAX_CREDENTIAL_SUBMISSIONS {
                spent = true;
                return Err(FlowError::LinkBurnt);
            }
            t.submissions += 1;
            Ok(())
        });
        if let Err(e) = counted {
            if spent {
                let _ = self.ports.store.delete(&ticket_key(ticket), Condition::Any);
                self.audit(
                    "ticket-burnt",
                    &current.reference,
                    "reason=too-many-credential-submissions",
                );
            }
            return Err(e);
        }
        let password_hash = Memorised::new(password).hash(self.ports.rng, self.ports.hasher)?;
        if self.user_id_taken(&user_id, &current.target)? {
            return Err(FlowError::UserIdUnavailable);
        }
        self.update_ticket(ticket, |t| {
            if t.state == TicketState::Completed {
                return Err(FlowError::WrongStep(t.state.name().into()));
            }
            t.state = TicketState::CredentialsEntered {
                user_id: user_id.clone(),
                password_hash: password_hash.clone(),
            };
            Ok(())
        })
    }

    /// Screen 9: the user ID to confirm.
    pub fn review_credentials(&self, ticket: &Token) -> Result<String, FlowError> {
        match self.load_ticket(ticket)?.state {
            TicketState::CredentialsEntered { user_id, .. } => Ok(user_id),
            other => Err(FlowError::WrongStep(other.name().into())),
        }
    }

    /// Screen 9 → 10: creates the account (enrollment) or replaces its
    /// credentials and ends every session of it (recovery); signs in.
    pub fn complete_credentials(&self, ticket: &Token) -> Result<SessionGrant, FlowError> {
        let now = self.now();
        let key = ticket_key(ticket);
        // Claim: the ticket goes to Completed exactly once; on a failure
        // below it is put back so the customer can retry.
        let claimed = kv::update::<Ticket, _>(self.ports.store, &key, |current| {
            let t = live_ticket(current, now)?;
            let TicketState::CredentialsEntered { .. } = &t.state else {
                return Err(FlowError::WrongStep(t.state.name().into()));
            };
            let mut done = t.clone();
            done.state = TicketState::Completed;
            Ok(Change::Write(done, Some(t.expires_at), t.clone()))
        })?;
        if !self.ticket_won_link(&claimed.link_key, &ticket.digest())? {
            return Err(FlowError::UnknownFlow);
        }
        let TicketState::CredentialsEntered {
            user_id,
            password_hash,
        } = &claimed.state
        else {
            return Err(FlowError::WrongStep(claimed.state.name().into()));
        };
        let result = match &claimed.target {
            LinkTarget::NewAccount { .. } => self.create_account(&claimed, user_id, password_hash, now),
            LinkTarget::ExistingAccount { account_id } => {
                self.reset_credentials(&claimed, account_id, user_id, password_hash, now)
            }
        };
        match result {
            Ok(account) => self.open_session(&account),
            Err(e) => {
                let back = claimed.clone();
                let _ = kv::update::<Ticket, _>(self.ports.store, &key, |current| match current {
                    Some(t) if t.state == TicketState::Completed => {
                        Ok(Change::Write(back.clone(), Some(back.expires_at), ()))
                    }
                    _ => Ok(Change::Keep(())),
                });
                Err(e)
            }
        }
    }

    fn create_account(
        &self,
        ticket: &Ticket,
        user_id: &str,
        password_hash: &str,
        now: Timestamp,
    ) -> Result<Account, FlowError> {
        let LinkTarget::NewAccount {
            customer_id,
            display_name,
            contact_email,
            birth_date,
            agent_code,
            accepted_terms,
            flow_reference,
        } = &ticket.target
        else {
            return Err(FlowError::UnknownFlow);
        };
        let account_id = secret::reference('A', self.ports.rng);
        let reservation = AccountRef {
            account_id: account_id.clone(),
        };
        // Reserve the policyholder, then the user ID: each reservation is a
        // write-if-absent, so of two flows racing for either one wins.
        if !kv::create(self.ports.store, &customer_key(customer_id), &reservation, None)? {
            self.audit("account-refused", flow_reference, "reason=already-registered");
            return Err(FlowError::AlreadyRegistered);
        }
        if !kv::create(self.ports.store, &user_key(user_id), &reservation, None)? {
            let _ = self
                .ports
                .store
                .delete(&customer_key(customer_id), Condition::Any);
            self.audit("account-refused", flow_reference, "reason=user-id-unavailable");
            return Err(FlowError::UserIdUnavailable);
        }
        let account = Account {
            account_id: account_id.clone(),
            customer_id: customer_id.clone(),
            user_id: user_id.to_owned(),
            password_hash: password_hash.to_owned(),
            contact_email: contact_email.clone(),
            birth_date: *birth_date,
            display_name: display_name.clone(),
            agent_code: agent_code.clone(),
            accepted_terms: accepted_terms.clone(),
            generation: 1,
            created_at: now,
            updated_at: now,
        };
        let written = kv::create(self.ports.store, &account_key(&account_id), &account, None)
            .and_then(|created| {
                if created {
                    Ok(())
                } else {
                    Err(FlowError::Unavailable("account id collision".into()))
                }
            })
            .and_then(|()| self.index_contact(contact_email, &account_id));
        if let Err(e) = written {
            let _ = self.ports.store.delete(&user_key(user_id), Condition::Any);
            let _ = self
                .ports
                .store
                .delete(&customer_key(customer_id), Condition::Any);
            return Err(e);
        }
        self.audit(
            "account-created",
            &account_id,
            format!(
                "flow={flow_reference} agent={}",
                agent_code.as_deref().unwrap_or("-")
            ),
        );
        Ok(account)
    }

    fn reset_credentials(
        &self,
        ticket: &Ticket,
        account_id: &str,
        user_id: &str,
        password_hash: &str,
        now: Timestamp,
    ) -> Result<Account, FlowError> {
        let account = kv::load::<Account>(self.ports.store, &account_key(account_id))?
            .ok_or(FlowError::UnknownFlow)?
            .value;
        let same_id = account.user_id.eq_ignore_ascii_case(user_id);
        if !same_id {
            let reservation = AccountRef {
                account_id: account_id.to_owned(),
            };
            if !kv::create(self.ports.store, &user_key(user_id), &reservation, None)? {
                return Err(FlowError::UserIdUnavailable);
            }
        }
        let updated = kv::update::<Account, _>(self.ports.store, &account_key(account_id), |current| {
            let mut a = current.ok_or(FlowError::UnknownFlow)?.clone();
            a.user_id = user_id.to_owned();
            a.password_hash = password_hash.to_owned();
            // A new generation ends every session signed in before.
            a.generation += 1;
            a.updated_at = now;
            Ok(Change::Write(a.clone(), None, a))
        });
        let updated = match updated {
            Ok(a) => a,
            Err(e) => {
                if !same_id {
                    let _ = self.ports.store.delete(&user_key(user_id), Condition::Any);
                }
                return Err(e);
            }
        };
        if !same_id {
            let _ = self
                .ports
                .store
                .delete(&user_key(&account.user_id), Condition::Any);
        }
        // The old and new IDs start afresh from the owner's own client (a
        // guesser's throttle elsewhere stays theirs, and lapses in a day).
        let _ = self
            .ports
            .store
            .delete(&throttle_key(&account.user_id, self.client()), Condition::Any);
        let _ = self
            .ports
            .store
            .delete(&throttle_key(user_id, self.client()), Condition::Any);
        self.audit(
            "credentials-reset",
            account_id,
            format!(
                "flow={} user-id-changed={} sessions-revoked=all",
                ticket.reference, !same_id
            ),
        );
        Ok(updated)
    }

    fn index_contact(&self, email: &str, account_id: &str) -> Result<(), FlowError> {
        kv::update::<ContactIndex, _>(self.ports.store, &contact_key(email), |current| {
            let mut index = current.cloned().unwrap_or_default();
            if !index.account_ids.iter().any(|a| a == account_id) {
                index.account_ids.push(account_id.to_owned());
            }
            Ok(Change::Write(index, None, ()))
        })
    }

    /// Whether `user_id` belongs to an account other than the one this
    /// flow acts on.
    fn user_id_taken(&self, user_id: &str, target: &LinkTarget) -> Result<bool, FlowError> {
        let owner = kv::load::<AccountRef>(self.ports.store, &user_key(user_id))?;
        Ok(match (owner, target) {
            (None, _) => false,
            (Some(owner), LinkTarget::ExistingAccount { account_id }) => {
                owner.value.account_id != *account_id
            }
            (Some(_), LinkTarget::NewAccount { .. }) => true,
        })
    }

    fn load_ticket(&self, ticket: &Token) -> Result<Ticket, FlowError> {
        let current = kv::load::<Ticket>(self.ports.store, &ticket_key(ticket))?;
        let t = live_ticket(current.as_ref().map(|v| &v.value), self.now())?.clone();
        if !self.ticket_won_link(&t.link_key, &ticket.digest())? {
            return Err(FlowError::UnknownFlow);
        }
        Ok(t)
    }

    fn update_ticket(
        &self,
        ticket: &Token,
        mut change: impl FnMut(&mut Ticket) -> Result<(), FlowError>,
    ) -> Result<(), FlowError> {
        let now = self.now();
        kv::update::<Ticket, _>(self.ports.store, &ticket_key(ticket), |current| {
            let mut t = live_ticket(current, now)?.clone();
            change(&mut t)?;
            let expires = t.expires_at;
            Ok(Change::Write(t, Some(expires), ()))
        })
    }
}

fn live_ticket(current: Option<&Ticket>, now: Timestamp) -> Result<&Ticket, FlowError> {
    match current {
        None => Err(FlowError::UnknownFlow),
        Some(t) if now >= t.expires_at => Err(FlowError::FlowExpired),
        Some(t) => Ok(t),
    }
}
