//! The errors flow steps answer with; they mirror `flow-error` and
//! `sign-in-error` of the WIT contract.

use crate::model::FieldError;
use crate::ports::PortError;

/// Why a flow step did not go ahead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FlowError {
    /// Input failed validation.
    #[error("invalid input: {0:?}")]
    InvalidInput(Vec<FieldError>),
    /// Unknown flow id or ticket.
    #[error("unknown flow")]
    UnknownFlow,
    /// The flow passed its lifetime.
    #[error("flow expired")]
    FlowExpired,
    /// The step does not follow from the flow's state (named).
    #[error("wrong step: flow is {0}")]
    WrongStep(String),
    /// The link was never issued.
    #[error("link unknown")]
    LinkUnknown,
    /// The link was used once already.
    #[error("link spent")]
    LinkSpent,
    /// The link passed its deadline.
    #[error("link expired")]
    LinkExpired,
    /// The link was burnt by wrong keywords.
    #[error("link burnt")]
    LinkBurnt,
    /// Wrong keyword; this many attempts remain.
    #[error("wrong keyword, {0} attempts left")]
    WrongKeyword(u32),
    /// The user ID is taken.
    #[error("user id unavailable")]
    UserIdUnavailable,
    /// The customer already has an account.
    #[error("already registered")]
    AlreadyRegistered,
    /// Too many mails to this address; seconds to wait.
    #[error("rate limited for {0} s")]
    RateLimited(u64),
    /// A capability failed.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl From<PortError> for FlowError {
    fn from(e: PortError) -> Self {
        FlowError::Unavailable(e.0)
    }
}

impl FlowError {
    /// One invalid field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        FlowError::InvalidInput(vec![FieldError::new(field, message)])
    }
}

/// Why sign-in failed; never says whether the user ID exists.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignInError {
    /// Wrong user ID or password.
    #[error("bad credentials")]
    BadCredentials,
    /// Wait this many seconds before trying again.
    #[error("retry after {0} s")]
    RetryAfter(u64),
    /// A capability failed.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl From<PortError> for SignInError {
    fn from(e: PortError) -> Self {
        SignInError::Unavailable(e.0)
    }
}
