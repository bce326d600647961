//! Sign-in, sessions, the home screen and the hand-over to renewal
//! (screens 10 to 12).

use crate::credentials::SessionGrant;
use crate::error::{FlowError, SignInError};
use crate::kv::{self, Change};
use crate::model::{Contract, FieldError, Timestamp};
use crate::ports::Condition;
use crate::records::{
    Account, AccountRef, Handover, Session, Throttle, account_key, handover_key, session_key, throttle_key,
    user_key,
};
use crate::secret::{Memorised, Token};
use crate::service::Service;
use crate::validate;

/// Failures allowed before sign-in slows down.
pub const FREE_SIGN_IN_FAILURES: u32 = 3;
/// Longest wait one failure can impose, in seconds. The delay grows but
/// never locks the account: an attacker can slow its owner, not shut them
/// out.
pub const MAX_SIGN_IN_DELAY: u64 = 15 * 60;
/// Lifetime of a renewal hand-over token, in seconds.
pub const HANDOVER_LIFETIME: u64 = 10 * 60;

/// The home screen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Home {
    /// Display name.
    pub display_name: String,
    /// User ID.
    pub user_id: String,
    /// Session ends then at the latest.
    pub session_expires_at: Timestamp,
}

/// The hand-over to the portal's renewal procedure.
#[derive(Clone, Debug)]
pub struct HandoverGrant {
    /// Where the browser POSTs the token (form field `handover`): the
    /// renewal URL.
    pub url: String,
    /// One-time bearer token the portal redeems.
    pub token: Token,
    /// Refused after then.
    pub expires_at: Timestamp,
}

/// What a redeemed hand-over stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandoverClaim {
    /// Policyholder.
    pub customer_id: String,
    /// Contract to renew.
    pub policy_number: String,
    /// Agent, if any.
    pub agent_code: Option<String>,
}

/// Seconds to wait after `failures` consecutive failures.
pub fn sign_in_delay(failures: u32) -> u64 {
    if failures < FREE_SIGN_IN_FAILURES {
        return 0;
    }
    let exponent = (failures - FREE_SIGN_IN_FAILURES).min(20);
    (1u64 << exponent).min(MAX_SIGN_IN_DELAY)
}

impl Service<'_> {
    /// Signs in. Unknown user IDs cost the same hash as known ones and
    /// answer the same. The attempt is counted *before* the password is
    /// checked, per user ID and client ([`Service::for_client`]): parallel
    /// guesses get no more checks than sequential ones, and while one
    /// client is slowed down, the owner's browser elsewhere is not.
    pub fn sign_in(&self, user_id: &str, password: &str) -> Result<SessionGrant, SignInError> {
        let now = self.now();
        let password = Memorised::new(password);
        let Ok(user_id) = validate::email(user_id) else {
            password.verify_nothing(self.ports.hasher);
            return Err(SignInError::BadCredentials);
        };
        let throttle = throttle_key(&user_id, self.client());
        // Counted as a failure up front; a success below clears it.
        let failures = kv::update::<Throttle, _>(self.ports.store, &throttle, |current| {
            let mut t = current.cloned().unwrap_or_default();
            if now < t.next_allowed_at {
                return Err(FlowError::RateLimited(t.next_allowed_at - now));
            }
            t.failures += 1;
            t.next_allowed_at = now + sign_in_delay(t.failures);
            let failures = t.failures;
            // Forgotten a day after the last attempt.
            Ok(Change::Write(t, Some(now + 86_400), failures))
        })
        .map_err(|e| match e {
            FlowError::RateLimited(seconds) => SignInError::RetryAfter(seconds),
            other => unavailable(other),
        })?;
        let account =
            match kv::load::<AccountRef>(self.ports.store, &user_key(&user_id)).map_err(unavailable)? {
                Some(r) => kv::load::<Account>(self.ports.store, &account_key(&r.value.account_id))
                    .map_err(unavailable)?
                    .map(|a| a.value),
                None => None,
            };
        let verified = match &account {
            Some(a) => password
                .verify(&a.password_hash, self.ports.hasher)
                .map_err(|e| unavailable(e.into()))?,
            None => {
                password.verify_nothing(self.ports.hasher);
                false
            }
        };
        let Some(account) = account.filter(|_| verified) else {
            self.audit(
                "sign-in-failed",
                &self.user_reference(&user_id),
                format!("failures={failures}"),
            );
            return Err(SignInError::BadCredentials);
        };
        let _ = self.ports.store.delete(&throttle, Condition::Any);
        let grant = self.open_session(&account).map_err(unavailable)?;
        self.audit("sign-in-succeeded", &account.account_id, "");
        Ok(grant)
    }

    /// An audit subject for a user ID that may not exist: the account id
    /// if it does, else a fixed word (the trail holds no typed user IDs,
    /// which are often someone's mistyped password).
    fn user_reference(&self, user_id: &str) -> String {
        match kv::load::<AccountRef>(self.ports.store, &user_key(user_id)) {
            Ok(Some(r)) => r.value.account_id,
            _ => "unknown-user".into(),
        }
    }

    /// Opens a session for an account.
    pub(crate) fn open_session(&self, account: &Account) -> Result<SessionGrant, FlowError> {
        let settings = self.settings()?;
        let now = self.now();
        let token = Token::generate(self.ports.rng);
        let session = Session {
            account_id: account.account_id.clone(),
            generation: account.generation,
            issued_at: now,
            idle_until: now + settings.session_idle,
            absolute_until: now + settings.session_absolute,
        };
        if !kv::create(
            self.ports.store,
            &session_key(&token),
            &session,
            Some(session.absolute_until),
        )? {
            return Err(FlowError::Unavailable("session collision".into()));
        }
        Ok(SessionGrant {
            session: token,
            expires_at: session.absolute_until,
        })
    }

    /// Ends a session.
    pub fn sign_out(&self, session: &Token) -> Result<(), FlowError> {
        if let Some(s) = kv::load::<Session>(self.ports.store, &session_key(session))? {
            self.ports.store.delete(&session_key(session), Condition::Any)?;
            self.audit("signed-out", &s.value.account_id, "");
        }
        Ok(())
    }

    /// The account of a live session, extending its idle deadline; `None`
    /// if unknown, expired, or revoked by a credentials reset.
    pub fn session_account(&self, session: &Token) -> Result<Option<(Account, Session)>, FlowError> {
        let now = self.now();
        let key = session_key(session);
        let Some(s) = kv::load::<Session>(self.ports.store, &key)? else {
            return Ok(None);
        };
        if now >= s.value.idle_until || now >= s.value.absolute_until {
            return Ok(None);
        }
        let Some(account) = kv::load::<Account>(self.ports.store, &account_key(&s.value.account_id))? else {
            return Ok(None);
        };
        if account.value.generation != s.value.generation {
            return Ok(None);
        }
        let idle = self.settings()?.session_idle;
        let mut touched = s.value.clone();
        touched.idle_until = (now + idle).min(touched.absolute_until);
        // A lost race only means another request touched it first.
        let _ = kv::save(
            self.ports.store,
            &key,
            &touched,
            Condition::Version(s.version),
            Some(touched.absolute_until),
        )?;
        Ok(Some((account.value, touched)))
    }

    /// The home screen of a live session.
    pub fn home(&self, session: &Token) -> Result<Option<Home>, FlowError> {
        Ok(self.session_account(session)?.map(|(a, s)| Home {
            display_name: a.display_name,
            user_id: a.user_id,
            session_expires_at: s.absolute_until,
        }))
    }

    /// Screen 12: the contracts that can be renewed now.
    pub fn renewable_contracts(&self, session: &Token) -> Result<Vec<Contract>, FlowError> {
        let (account, _) = self.session_account(session)?.ok_or(FlowError::UnknownFlow)?;
        let contracts = self.ports.directory.list_contracts(&account.customer_id)?;
        Ok(contracts.into_iter().filter(|c| c.renewable).collect())
    }

    /// Screen 12 → renewal: a one-time hand-over for a renewable contract
    /// of the signed-in customer.
    pub fn begin_renewal(&self, session: &Token, policy_number: &str) -> Result<HandoverGrant, FlowError> {
        let (account, _) = self.session_account(session)?.ok_or(FlowError::UnknownFlow)?;
        let policy_number =
            validate::policy_number(policy_number).map_err(|m| FlowError::field("policy-number", m))?;
        let renewable = self
            .ports
            .directory
            .list_contracts(&account.customer_id)?
            .into_iter()
            .any(|c| c.renewable && c.policy_number == policy_number);
        if !renewable {
            return Err(FlowError::InvalidInput(vec![FieldError::new(
                "policy-number",
                "選択された契約は継続手続きの対象ではありません。",
            )]));
        }
        let now = self.now();
        let token = Token::generate(self.ports.rng);
        let handover = Handover {
            customer_id: account.customer_id.clone(),
            policy_number: policy_number.clone(),
            agent_code: account.agent_code.clone(),
            expires_at: now + HANDOVER_LIFETIME,
        };
        if !kv::create(
            self.ports.store,
            &handover_key(&token),
            &handover,
            Some(handover.expires_at),
        )? {
            return Err(FlowError::Unavailable("hand-over collision".into()));
        }
        let url = self.settings()?.renewal_url.clone();
        self.audit(
            "renewal-handover",
            &account.account_id,
            format!("policy={policy_number}"),
        );
        Ok(HandoverGrant {
            url,
            token,
            expires_at: handover.expires_at,
        })
    }

    /// For the portal's renewal procedure: redeems a hand-over once.
    pub fn redeem_handover(&self, token: &Token) -> Result<Option<HandoverClaim>, FlowError> {
        let now = self.now();
        let key = handover_key(token);
        let Some(h) = kv::load::<Handover>(self.ports.store, &key)? else {
            return Ok(None);
        };
        if now >= h.value.expires_at {
            return Ok(None);
        }
        // Deleting at the version read makes redemption one-time even when
        // two redemptions race.
        if !matches!(
            self.ports.store.delete(&key, Condition::Version(h.version))?,
            crate::ports::WriteOutcome::Written(_)
        ) {
            return Ok(None);
        }
        self.audit(
            "renewal-redeemed",
            &h.value.customer_id,
            format!("policy={}", h.value.policy_number),
        );
        Ok(Some(HandoverClaim {
            customer_id: h.value.customer_id,
            policy_number: h.value.policy_number,
            agent_code: h.value.agent_code,
        }))
    }
}

fn unavailable(e: FlowError) -> SignInError {
    match e {
        FlowError::Unavailable(m) => SignInError::Unavailable(m),
        other => SignInError::Unavailable(other.to_string()),
    }
}
