//! What the flows keep in storage, and under which keys. Every key that a
//! bearer secret addresses carries only the secret's SHA-256.

use serde::{Deserialize, Serialize};

use crate::model::{CustomerInput, Date, Identity, Timestamp};
use crate::secret::{Token, digest};

/// Key of an enrollment flow, by flow id.
pub fn enrollment_key(flow: &Token) -> String {
    format!("enrollment/{}", flow.digest())
}
/// Key of a mailed link, by link token.
pub fn link_key(token: &Token) -> String {
    format!("link/{}", token.digest())
}
/// Key of a credentials ticket.
pub fn ticket_key(ticket: &Token) -> String {
    format!("ticket/{}", ticket.digest())
}
/// Key of a session.
pub fn session_key(session: &Token) -> String {
    format!("session/{}", session.digest())
}
/// Key of a renewal hand-over.
pub fn handover_key(token: &Token) -> String {
    format!("handover/{}", token.digest())
}
/// Key of an account.
pub fn account_key(account_id: &str) -> String {
    format!("account/{account_id}")
}
/// Key reserving a user ID (case-insensitive) for one account.
pub fn user_key(user_id: &str) -> String {
    format!("user/{}", digest(&user_id.to_lowercase()))
}
/// Key reserving a policyholder for one account.
pub fn customer_key(customer_id: &str) -> String {
    format!("customer/{}", digest(customer_id))
}
/// Key listing the accounts registered with a contact address.
pub fn contact_key(email: &str) -> String {
    format!("contact/{}", digest(&email.to_lowercase()))
}
/// Key of the sign-in throttle of a user ID from one client.
pub fn throttle_key(user_id: &str, client: &str) -> String {
    format!(
        "throttle/{}",
        digest(&format!("{}\n{client}", user_id.to_lowercase()))
    )
}
/// Key of the hourly mail counter of an address: of its mailbox, so
/// spellings that reach one inbox share one counter.
pub fn mail_window_key(email: &str) -> String {
    format!("mail-window/{}", digest(&mailbox(email)))
}

/// Key of the hourly counter of enrollment confirmations for one person:
/// the name in kana and the date of birth, the part of an identity that a
/// guesser of policy or phone numbers holds fixed.
pub fn person_window_key(family_name_kana: &str, given_name_kana: &str, birth_date: &str) -> String {
    format!(
        "confirm-window/person/{}",
        digest(&format!("{family_name_kana}\n{given_name_kana}\n{birth_date}"))
    )
}

/// Key of the hourly counter of enrollment confirmations from one client
/// (its [`crate::service::client_key`]).
pub fn client_window_key(client: &str) -> String {
    format!("confirm-window/client/{}", digest(client))
}

/// The mailbox an address reaches, as a mail limit must count it: case
/// folded, and a `+tag` (subaddress) dropped from the local part, since
/// `RL+1@example.jp` and `rl+2@example.jp` land where `rl@example.jp`
/// does on every common mail service.
pub fn mailbox(email: &str) -> String {
    let email = email.trim().to_lowercase();
    match email.rsplit_once('@') {
        Some((local, domain)) => {
            let local = local.split('+').next().unwrap_or(local);
            format!("{local}@{domain}")
        }
        None => email,
    }
}

/// Where an enrollment flow stands (see `enrollment.mermaid`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EnrollmentState {
    /// Screen 1 done: waiting for customer information.
    Started,
    /// Screen 2 done: waiting for keyword and contact address.
    CustomerEntered,
    /// Screen 3 done: waiting for confirmation.
    ContactEntered,
    /// Screen 4 done: a mail went out; the flow continues from the link.
    MailSent,
}

impl EnrollmentState {
    /// The state's name, as `wrong-step` reports it.
    pub fn name(&self) -> &'static str {
        match self {
            EnrollmentState::Started => "started",
            EnrollmentState::CustomerEntered => "customer-entered",
            EnrollmentState::ContactEntered => "contact-entered",
            EnrollmentState::MailSent => "mail-sent",
        }
    }
}

/// An enrollment flow, screens 1 to 5.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EnrollmentFlow {
    /// Public reference for audit.
    pub reference: String,
    /// Where it stands.
    pub state: EnrollmentState,
    /// The agent whose page started it.
    pub agent_code: Option<String>,
    /// Screen 2 as normalised, for the review screen.
    pub customer: Option<CustomerInput>,
    /// Screen 2 as the directory matches it.
    pub identity: Option<Identity>,
    /// The terms version accepted on screen 2.
    pub accepted_terms: Option<String>,
    /// Contact address from screen 3.
    pub email: Option<String>,
    /// argon2id hash of the keyword from screen 3.
    pub keyword_hash: Option<String>,
    /// When it started.
    pub issued_at: Timestamp,
    /// When it lapses.
    pub expires_at: Timestamp,
}

/// Which flow a link continues.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LinkKind {
    /// First-time enrollment.
    Enrollment,
    /// Forgotten ID or password.
    Recovery,
}

/// What completing a link's flow acts on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LinkTarget {
    /// Enrollment: the account to create.
    NewAccount {
        /// Policyholder's customer number.
        customer_id: String,
        /// Display name from the directory.
        display_name: String,
        /// Contact address (recovery finds the account by it).
        contact_email: String,
        /// Date of birth (recovery checks it).
        birth_date: Date,
        /// The agent the customer came through.
        agent_code: Option<String>,
        /// Terms version accepted.
        accepted_terms: String,
        /// Public reference of the enrollment flow.
        flow_reference: String,
    },
    /// Recovery: the account whose credentials are replaced.
    ExistingAccount {
        /// The account.
        account_id: String,
    },
}

/// Where a link stands (see `link.mermaid`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LinkState {
    /// Mailed; waiting for the keyword.
    Active,
    /// Spent by a correct keyword; the ticket (by digest) that won it.
    Spent {
        /// Digest of the winning ticket.
        ticket: String,
    },
    /// Burnt by too many wrong keywords.
    Burnt,
    /// Recovery for an address and birth date matching no account: the
    /// flow was made (so the answer and its cost are the same) but the
    /// token was never mailed to anyone. Behaves as unknown.
    Pretend,
}

/// A mailed one-time link.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Link {
    /// Public reference for audit.
    pub reference: String,
    /// Which flow.
    pub kind: LinkKind,
    /// Where it stands.
    pub state: LinkState,
    /// argon2id hash of the keyword that opens it.
    pub keyword_hash: String,
    /// Keyword attempts started (counted before checking).
    pub attempts: u32,
    /// When it was mailed.
    pub sent_at: Timestamp,
    /// When it lapses.
    pub expires_at: Timestamp,
    /// What completing it acts on; `None` for a pretend link.
    pub target: Option<LinkTarget>,
}

/// Where a credentials ticket stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TicketState {
    /// Waiting for user ID and password (screen 8).
    AwaitingCredentials,
    /// Waiting for confirmation (screen 9).
    CredentialsEntered {
        /// Desired user ID.
        user_id: String,
        /// argon2id hash of the password.
        password_hash: String,
    },
    /// Done; the account exists. Kept until expiry so a replay says so.
    Completed,
}

impl TicketState {
    /// The state's name, as `wrong-step` reports it.
    pub fn name(&self) -> &'static str {
        match self {
            TicketState::AwaitingCredentials => "awaiting-credentials",
            TicketState::CredentialsEntered { .. } => "credentials-entered",
            TicketState::Completed => "completed",
        }
    }
}

/// The right to set credentials, won at a link by the correct keyword.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Ticket {
    /// Public reference (the link's).
    pub reference: String,
    /// Storage key of the link it was won at.
    pub link_key: String,
    /// Which flow.
    pub kind: LinkKind,
    /// What completing acts on.
    pub target: LinkTarget,
    /// Where it stands.
    pub state: TicketState,
    /// When it lapses.
    pub expires_at: Timestamp,
    /// User ID and password submissions made with it (screen 8), counted
    /// before each is checked; see `MAX_CREDENTIAL_SUBMISSIONS`.
    #[serde(default)]
    pub submissions: u32,
}

/// A customer's account.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Account {
    /// Account id (public, random).
    pub account_id: String,
    /// Policyholder's customer number.
    pub customer_id: String,
    /// User ID (an e-mail address).
    pub user_id: String,
    /// argon2id hash of the password.
    pub password_hash: String,
    /// Contact address.
    pub contact_email: String,
    /// Date of birth.
    pub birth_date: Date,
    /// Display name.
    pub display_name: String,
    /// Agent the customer enrolled through.
    pub agent_code: Option<String>,
    /// Terms version accepted.
    pub accepted_terms: String,
    /// Bumped when credentials are replaced: sessions of an older
    /// generation are dead.
    pub generation: u64,
    /// When created.
    pub created_at: Timestamp,
    /// When credentials last changed.
    pub updated_at: Timestamp,
}

/// A signed-in session.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Session {
    /// The account.
    pub account_id: String,
    /// The account's generation at sign-in.
    pub generation: u64,
    /// Sign-in time.
    pub issued_at: Timestamp,
    /// Ends if unused until then.
    pub idle_until: Timestamp,
    /// Ends then at the latest.
    pub absolute_until: Timestamp,
}

/// A reservation pointing to one account (user ID, customer).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccountRef {
    /// The account.
    pub account_id: String,
}

/// The accounts registered with one contact address.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ContactIndex {
    /// Account ids, oldest first.
    pub account_ids: Vec<String>,
}

/// Sign-in failures of one user ID.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Throttle {
    /// Consecutive failures.
    pub failures: u32,
    /// No attempt is checked before this time.
    pub next_allowed_at: Timestamp,
}

/// Mails to one address in the current hour.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct MailWindow {
    /// Start of the hour window.
    pub window_start: Timestamp,
    /// Mails in it.
    pub count: u32,
}

/// A renewal hand-over waiting to be redeemed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Handover {
    /// Policyholder.
    pub customer_id: String,
    /// Contract to renew.
    pub policy_number: String,
    /// Agent, if any.
    pub agent_code: Option<String>,
    /// Lapses then.
    pub expires_at: Timestamp,
}
