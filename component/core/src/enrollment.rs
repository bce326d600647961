//! First-time enrollment, screens 1 to 5 (state diagram:
//! `enrollment.mermaid`). The flow continues at the mailed link
//! ([`crate::link`]) and ends in [`crate::credentials`].

use crate::error::FlowError;
use crate::kv::{self, Change};
use crate::mail;
use crate::model::{CustomerInput, Date, FieldError, Identity, Timestamp};
use crate::records::{
    EnrollmentFlow, EnrollmentState, Link, LinkKind, LinkState, LinkTarget, client_window_key,
    enrollment_key, link_key, person_window_key,
};
use crate::secret::{self, Memorised, Token};
use crate::service::Service;
use crate::validate;

/// What screen 4 shows back (never the keyword).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Review {
    /// Customer information as normalised.
    pub customer: CustomerInput,
    /// Contact address.
    pub email: String,
    /// Terms version accepted.
    pub terms_version: String,
}

/// What screen 5 tells the customer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailSent {
    /// Where the mail went.
    pub email: String,
    /// When the link lapses.
    pub link_expires_at: Timestamp,
}

/// Enrollment confirmations for one person (name in kana and date of
/// birth) in an hour, from anywhere: a customer retrying after a typo has
/// room, a guesser of policy or phone numbers for a known person does not.
pub const CONFIRMATIONS_PER_PERSON_PER_HOUR: u32 = 5;

/// Enrollment confirmations from one client (an IP address, IPv6 by its
/// /64) in an hour, for anyone: room for an agent's office enrolling its
/// customers from one address, none for one client sweeping the directory
/// with many identities.
pub const CONFIRMATIONS_PER_CLIENT_PER_HOUR: u32 = 30;

/// Longest agent code kept; agent codes come from a URL anyone can edit.
const MAX_AGENT_CODE: usize = 32;

impl Service<'_> {
    /// Screen 1: opens an enrollment flow for the agent whose page linked
    /// here. Returns the flow id (a bearer secret of the browser).
    pub fn start_enrollment(&self, agent_code: Option<&str>) -> Result<Token, FlowError> {
        let agent_code = match agent_code.map(str::trim).filter(|a| !a.is_empty()) {
            None => None,
            Some(a)
                if a.len() <= MAX_AGENT_CODE
                    && a.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                Some(a.to_owned())
            }
            Some(_) => return Err(FlowError::field("agent-code", "代理店コードが正しくありません。")),
        };
        let settings = self.settings()?;
        let now = self.now();
        let flow_id = Token::generate(self.ports.rng);
        let flow = EnrollmentFlow {
            reference: secret::reference('E', self.ports.rng),
            state: EnrollmentState::Started,
            agent_code,
            customer: None,
            identity: None,
            accepted_terms: None,
            email: None,
            keyword_hash: None,
            issued_at: now,
            expires_at: now + settings.flow_lifetime,
        };
        if !kv::create(
            self.ports.store,
            &enrollment_key(&flow_id),
            &flow,
            Some(flow.expires_at),
        )? {
            return Err(FlowError::Unavailable("flow id collision".into()));
        }
        self.audit(
            "enrollment-started",
            &flow.reference,
            format!("agent={}", flow.agent_code.as_deref().unwrap_or("-")),
        );
        Ok(flow_id)
    }

    /// Screen 2: customer information and the accepted terms version.
    /// Going back to this screen from later ones clears the contact step.
    pub fn submit_customer(
        &self,
        flow_id: &Token,
        input: &CustomerInput,
        accepted_terms: &str,
    ) -> Result<(), FlowError> {
        let terms = &self.settings()?.terms_version;
        let validated = validate::customer(input, self.today());
        let mut errors = validated.as_ref().err().cloned().unwrap_or_default();
        if accepted_terms != terms {
            errors.push(FieldError::new(
                "accepted-terms",
                "利用規約をご確認のうえ、同意してください。",
            ));
        }
        let identity = match validated {
            Ok(identity) if errors.is_empty() => identity,
            _ => return Err(FlowError::InvalidInput(errors)),
        };
        self.update_flow(flow_id, |flow| {
            if flow.state == EnrollmentState::MailSent {
                return Err(FlowError::WrongStep(flow.state.name().into()));
            }
            flow.customer = Some(display_input(&identity));
            flow.identity = Some(identity.clone());
            flow.accepted_terms = Some(terms.clone());
            flow.email = None;
            flow.keyword_hash = None;
            flow.state = EnrollmentState::CustomerEntered;
            Ok(())
        })
    }

    /// Screen 3: the customer's own keyword and the contact address. The
    /// keyword is stored only as an argon2id hash.
    pub fn submit_contact(&self, flow_id: &Token, keyword: &str, email: &str) -> Result<(), FlowError> {
        let mut errors = Vec::new();
        let keyword = validate::keyword(keyword).map_err(|m| errors.push(FieldError::new("keyword", m)));
        let email = validate::email(email).map_err(|m| errors.push(FieldError::new("email", m)));
        let (Ok(keyword), Ok(email)) = (keyword, email) else {
            return Err(FlowError::InvalidInput(errors));
        };
        // Check the state before paying for the hash.
        let current = self.load_flow(flow_id)?;
        if !matches!(
            current.state,
            EnrollmentState::CustomerEntered | EnrollmentState::ContactEntered
        ) {
            return Err(FlowError::WrongStep(current.state.name().into()));
        }
        let keyword_hash = Memorised::new(keyword).hash(self.ports.rng, self.ports.hasher)?;
        self.update_flow(flow_id, |flow| {
            if !matches!(
                flow.state,
                EnrollmentState::CustomerEntered | EnrollmentState::ContactEntered
            ) {
                return Err(FlowError::WrongStep(flow.state.name().into()));
            }
            flow.email = Some(email.clone());
            flow.keyword_hash = Some(keyword_hash.clone());
            flow.state = EnrollmentState::ContactEntered;
            Ok(())
        })
    }

    /// Screen 4: what was entered.
    pub fn review_enrollment(&self, flow_id: &Token) -> Result<Review, FlowError> {
        let flow = self.load_flow(flow_id)?;
        match (&flow.state, flow.customer, flow.email, flow.accepted_terms) {
            (EnrollmentState::ContactEntered, Some(customer), Some(email), Some(terms_version)) => {
                Ok(Review {
                    customer,
                    email,
                    terms_version,
                })
            }
            (state, ..) => Err(FlowError::WrongStep(state.name().into())),
        }
    }

    /// Screen 4 → 5: checks the identity against the directory and mails
    /// the contact address. A match gets the one-time link; no match gets
    /// a mail saying the details could not be verified. The screen's answer
    /// is the same either way, so it tells nobody who is a customer.
    pub fn confirm_enrollment(&self, flow_id: &Token) -> Result<MailSent, FlowError> {
        let settings = self.settings()?;
        let now = self.now();
        let key = enrollment_key(flow_id);
        // Claim the flow first: of two racing confirmations one goes on.
        let flow = kv::update::<EnrollmentFlow, _>(self.ports.store, &key, |current| {
            let flow = live_flow(current, now)?;
            if flow.state != EnrollmentState::ContactEntered {
                return Err(FlowError::WrongStep(flow.state.name().into()));
            }
            let mut claimed = flow.clone();
            claimed.state = EnrollmentState::MailSent;
            claimed.expires_at = now + settings.link_lifetime;
            Ok(Change::Write(
                claimed,
                Some(now + settings.link_lifetime),
                flow.clone(),
            ))
        })?;
        let result = self.send_enrollment_mail(&flow, now);
        if result.is_err() {
            // Put the flow back so the customer can confirm again.
            let _ = kv::update::<EnrollmentFlow, _>(self.ports.store, &key, |current| match current {
                Some(f) if f.state == EnrollmentState::MailSent => {
                    let mut back = f.clone();
                    back.state = EnrollmentState::ContactEntered;
                    back.expires_at = flow.expires_at;
                    Ok(Change::Write(back, Some(flow.expires_at), ()))
                }
                _ => Ok(Change::Keep(())),
            });
        }
        result
    }

    fn send_enrollment_mail(&self, flow: &EnrollmentFlow, now: Timestamp) -> Result<MailSent, FlowError> {
        let settings = self.settings()?;
        let (Some(identity), Some(email), Some(keyword_hash), Some(terms)) = (
            &flow.identity,
            &flow.email,
            &flow.keyword_hash,
            &flow.accepted_terms,
        ) else {
            return Err(FlowError::WrongStep(flow.state.name().into()));
        };
        // Each confirmation asks the directory about an identity: counted
        // per person, from whatever client (many clients trying one
        // person's policy or phone numbers), and per client, for whoever
        // (one client trying many identities). The typed exports' caller
        // (the portal's own code) applies its own limits.
        if self.client() != crate::service::TYPED_CALLER {
            let birth = identity.birth_date;
            let born = format!("{:04}-{:02}-{:02}", birth.year, birth.month, birth.day);
            self.take_hourly_allowance(
                &client_window_key(self.client()),
                CONFIRMATIONS_PER_CLIENT_PER_HOUR,
            )?;
            self.take_hourly_allowance(
                &person_window_key(&identity.family_name_kana, &identity.given_name_kana, &born),
                CONFIRMATIONS_PER_PERSON_PER_HOUR,
            )?;
        }
        self.take_mail_allowance(email)?;
        let expires_at = now + settings.link_lifetime;
        match self.ports.directory.find_policyholder(identity)? {
            Some(holder) => {
                let token = Token::generate(self.ports.rng);
                let link = Link {
                    reference: flow.reference.clone(),
                    kind: LinkKind::Enrollment,
                    state: LinkState::Active,
                    keyword_hash: keyword_hash.clone(),
                    attempts: 0,
                    sent_at: now,
                    expires_at,
                    target: Some(LinkTarget::NewAccount {
                        customer_id: holder.customer_id,
                        display_name: holder.display_name,
                        contact_email: email.clone(),
                        birth_date: identity.birth_date,
                        agent_code: flow.agent_code.clone(),
                        accepted_terms: terms.clone(),
                        flow_reference: flow.reference.clone(),
                    }),
                };
                // Links outlive their deadline by a day so a late click
                // says "expired" rather than "unknown".
                if !kv::create(
                    self.ports.store,
                    &link_key(&token),
                    &link,
                    Some(expires_at + 86_400),
                )? {
                    return Err(FlowError::Unavailable("link collision".into()));
                }
                let url = self.link_url(token.expose())?;
                self.ports
                    .mailer
                    .send(&mail::enrollment_link(settings, email, &url, now, expires_at))?;
                self.audit(
                    "mail-sent",
                    &flow.reference,
                    "kind=enrollment-link identity=matched",
                );
            }
            None => {
                self.ports
                    .mailer
                    .send(&mail::enrollment_unverified(settings, email, now))?;
                self.audit(
                    "mail-sent",
                    &flow.reference,
                    "kind=enrollment-unverified identity=unmatched",
                );
            }
        }
        Ok(MailSent {
            email: email.clone(),
            link_expires_at: expires_at,
        })
    }

    fn load_flow(&self, flow_id: &Token) -> Result<EnrollmentFlow, FlowError> {
        let current = kv::load::<EnrollmentFlow>(self.ports.store, &enrollment_key(flow_id))?;
        live_flow(current.as_ref().map(|v| &v.value), self.now()).cloned()
    }

    fn update_flow(
        &self,
        flow_id: &Token,
        mut change: impl FnMut(&mut EnrollmentFlow) -> Result<(), FlowError>,
    ) -> Result<(), FlowError> {
        let now = self.now();
        kv::update::<EnrollmentFlow, _>(self.ports.store, &enrollment_key(flow_id), |current| {
            let mut flow = live_flow(current, now)?.clone();
            change(&mut flow)?;
            let expires = flow.expires_at;
            Ok(Change::Write(flow, Some(expires), ()))
        })
    }
}

fn live_flow(current: Option<&EnrollmentFlow>, now: Timestamp) -> Result<&EnrollmentFlow, FlowError> {
    match current {
        None => Err(FlowError::UnknownFlow),
        Some(f) if now >= f.expires_at => Err(FlowError::FlowExpired),
        Some(f) => Ok(f),
    }
}

/// Screen 2's fields as the review screen shows them: normalised.
fn display_input(identity: &Identity) -> CustomerInput {
    let Date { year, month, day } = identity.birth_date;
    CustomerInput {
        family_name: identity.family_name.clone(),
        given_name: identity.given_name.clone(),
        family_name_kana: identity.family_name_kana.clone(),
        given_name_kana: identity.given_name_kana.clone(),
        birth_date: format!("{year}年{month}月{day}日"),
        phone: identity.phone.clone(),
        postal_code: format!(
            "{}-{}",
            &identity.postal_code[..3.min(identity.postal_code.len())],
            &identity.postal_code[3.min(identity.postal_code.len())..]
        ),
        policy_number: identity.policy_number.clone(),
    }
}
