//! The one-time link of a mail, shared by enrollment and recovery (state
//! diagram: `link.mermaid`).
//!
//! Mail scanners open links, so opening spends nothing. The first correct
//! keyword spends the link; the attempt is counted before the keyword is
//! checked, so racing guesses cannot exceed the limit; the fifth wrong
//! keyword burns the link.

use crate::error::FlowError;
use crate::kv::{self, Change};
use crate::model::Timestamp;
use crate::records::{Link, LinkKind, LinkState, Ticket, TicketState, link_key, ticket_key};
use crate::secret::{Memorised, Token};
use crate::service::Service;
use crate::validate;

/// Wrong keywords a link takes before it burns.
pub const MAX_KEYWORD_ATTEMPTS: u32 = 5;

/// A link that can still be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkStatus {
    /// Which flow it continues.
    pub kind: LinkKind,
    /// Wrong keywords still allowed.
    pub attempts_left: u32,
    /// When it lapses.
    pub expires_at: Timestamp,
}

/// The right to set credentials, won by the correct keyword.
#[derive(Clone, Debug)]
pub struct Verified {
    /// Which flow.
    pub kind: LinkKind,
    /// Bearer ticket for the credentials steps.
    pub ticket: Token,
}

impl Service<'_> {
    /// Screen 7 on GET: what the link is. Spends nothing.
    pub fn open_link(&self, token: &Token) -> Result<LinkStatus, FlowError> {
        let link = kv::load::<Link>(self.ports.store, &link_key(token))?;
        let link = usable(link.as_ref().map(|v| &v.value), self.now())?;
        Ok(LinkStatus {
            kind: link.kind,
            attempts_left: MAX_KEYWORD_ATTEMPTS.saturating_sub(link.attempts),
            expires_at: link.expires_at,
        })
    }

    /// Screen 7 on POST: checks the keyword and, if it is right, spends
    /// the link and returns a ticket. Of racing correct submissions exactly
    /// one wins; the others find the link spent.
    pub fn submit_keyword(&self, token: &Token, keyword: &str) -> Result<Verified, FlowError> {
        let now = self.now();
        let key = link_key(token);
        // An empty or over-long keyword is a typing slip, not a guess:
        // refuse it without counting, as any form field would.
        let keyword = validate::keyword(keyword).map_err(|m| FlowError::field("keyword", m))?;

        // 1. Count the attempt before checking, so parallel guesses
        //    cannot get more than the allowed number of checks.
        let link = kv::update::<Link, _>(self.ports.store, &key, |current| {
            let link = usable(current, now)?;
            let mut counted = link.clone();
            counted.attempts += 1;
            let expires = link.expires_at + 86_400;
            Ok(Change::Write(counted.clone(), Some(expires), counted))
        })?;

        // 2. Check the keyword (the slow part).
        // System-made recovery keywords are upper-case; accept them as
        // typed in lower case on a phone keyboard.
        let keyword = match link.kind {
            LinkKind::Recovery => keyword.to_uppercase(),
            LinkKind::Enrollment => keyword,
        };
        if !Memorised::new(keyword).verify(&link.keyword_hash, self.ports.hasher)? {
            let left = MAX_KEYWORD_ATTEMPTS.saturating_sub(link.attempts);
            self.audit("keyword-failed", &link.reference, format!("attempts-left={left}"));
            if left == 0 {
                self.burn(&key, now)?;
                self.audit("link-burnt", &link.reference, "reason=too-many-wrong-keywords");
                return Err(FlowError::LinkBurnt);
            }
            return Err(FlowError::WrongKeyword(left));
        }

        // 3. Write the ticket, then spend the link naming it. The ticket
        //    counts only while the link names it as the winner, so a loser's
        //    ticket is worthless even if its clean-up fails.
        let Some(target) = link.target.clone() else {
            return Err(FlowError::LinkUnknown);
        };
        let ticket = Token::generate(self.ports.rng);
        let ticket_digest = ticket.digest();
        let record = Ticket {
            reference: link.reference.clone(),
            link_key: key.clone(),
            kind: link.kind,
            target,
            state: TicketState::AwaitingCredentials,
            expires_at: now + self.settings()?.flow_lifetime,
            submissions: 0,
        };
        if !kv::create(
            self.ports.store,
            &ticket_key(&ticket),
            &record,
            Some(record.expires_at),
        )? {
            return Err(FlowError::Unavailable("ticket collision".into()));
        }
        let spent = kv::update::<Link, _>(self.ports.store, &key, |current| {
            // Not `usable`: racing attempts may have pushed the counter to
            // the limit meanwhile, and this one was counted and is right.
            let link = spendable(current, now)?;
            let mut spent = link.clone();
            spent.state = LinkState::Spent {
                ticket: ticket_digest.clone(),
            };
            let expires = link.expires_at + 86_400;
            Ok(Change::Write(spent, Some(expires), ()))
        });
        if let Err(e) = spent {
            let _ = self
                .ports
                .store
                .delete(&ticket_key(&ticket), crate::ports::Condition::Any);
            return Err(e);
        }
        self.audit("link-spent", &link.reference, "outcome=keyword-correct");
        Ok(Verified {
            kind: link.kind,
            ticket,
        })
    }

    fn burn(&self, key: &str, now: Timestamp) -> Result<(), FlowError> {
        kv::update::<Link, _>(self.ports.store, key, |current| match current {
            Some(link) if link.state == LinkState::Active => {
                let mut burnt = link.clone();
                burnt.state = LinkState::Burnt;
                let expires = link.expires_at.max(now) + 86_400;
                Ok(Change::Write(burnt, Some(expires), ()))
            }
            _ => Ok(Change::Keep(())),
        })
    }

    /// Whether `ticket_digest` is the ticket that won the link at `key`.
    pub(crate) fn ticket_won_link(&self, key: &str, ticket_digest: &str) -> Result<bool, FlowError> {
        let link = kv::load::<Link>(self.ports.store, key)?;
        Ok(matches!(link, Some(l) if l.value.state == LinkState::Spent { ticket: ticket_digest.to_owned() }))
    }
}

/// The link if it can take a keyword now, or why not.
fn usable(link: Option<&Link>, now: Timestamp) -> Result<&Link, FlowError> {
    let link = spendable(link, now)?;
    if link.attempts >= MAX_KEYWORD_ATTEMPTS {
        return Err(FlowError::LinkBurnt);
    }
    Ok(link)
}

/// The link if a counted, correct keyword can spend it now.
fn spendable(link: Option<&Link>, now: Timestamp) -> Result<&Link, FlowError> {
    let link = link.ok_or(FlowError::LinkUnknown)?;
    match link.state {
        LinkState::Pretend => Err(FlowError::LinkUnknown),
        LinkState::Spent { .. } => Err(FlowError::LinkSpent),
        LinkState::Burnt => Err(FlowError::LinkBurnt),
        LinkState::Active if now >= link.expires_at => Err(FlowError::LinkExpired),
        LinkState::Active => Ok(link),
    }
}
