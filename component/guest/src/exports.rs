//! The component's typed exports: each function makes a core service over
//! the host's ports and converts at the edge.

use customer_web_core::records::LinkKind;
use customer_web_core::secret::Token;
use customer_web_core::{Service, SignInError};

use crate::Component;
use crate::bindings::exports::customer_web::plugin::types::{
    Contract, CustomerInput, FlowError, SessionGrant,
};
use crate::bindings::exports::customer_web::plugin::{account, credentials, enrollment, link, recovery};
use crate::convert::{self, flow_error};
use crate::ports::ports;

fn service() -> Service<'static> {
    Service::new(ports())
}

fn token(text: &str) -> Token {
    Token::from_caller(text)
}

impl enrollment::Guest for Component {
    fn start(agent_code: Option<String>) -> Result<String, FlowError> {
        service()
            .start_enrollment(agent_code.as_deref())
            .map(|t| t.expose().to_owned())
            .map_err(flow_error)
    }

    fn submit_customer(
        flow_id: String,
        customer: CustomerInput,
        accepted_terms: String,
    ) -> Result<(), FlowError> {
        service()
            .submit_customer(
                &token(&flow_id),
                &convert::customer_from_wit(customer),
                &accepted_terms,
            )
            .map_err(flow_error)
    }

    fn submit_contact(flow_id: String, keyword: String, email: String) -> Result<(), FlowError> {
        service()
            .submit_contact(&token(&flow_id), &keyword, &email)
            .map_err(flow_error)
    }

    fn review(flow_id: String) -> Result<enrollment::Summary, FlowError> {
        let r = service()
            .review_enrollment(&token(&flow_id))
            .map_err(flow_error)?;
        Ok(enrollment::Summary {
            customer: convert::customer_to_wit(r.customer),
            email: r.email,
            terms_version: r.terms_version,
        })
    }

    fn confirm(flow_id: String) -> Result<enrollment::MailSent, FlowError> {
        let sent = service()
            .confirm_enrollment(&token(&flow_id))
            .map_err(flow_error)?;
        Ok(enrollment::MailSent {
            email: sent.email,
            link_expires_at: sent.link_expires_at,
        })
    }
}

fn flow_kind(kind: LinkKind) -> link::FlowKind {
    match kind {
        LinkKind::Enrollment => link::FlowKind::Enrollment,
        LinkKind::Recovery => link::FlowKind::Recovery,
    }
}

impl link::Guest for Component {
    fn open(t: String) -> Result<link::LinkStatus, FlowError> {
        let s = service().open_link(&token(&t)).map_err(flow_error)?;
        Ok(link::LinkStatus {
            kind: flow_kind(s.kind),
            attempts_left: s.attempts_left,
            expires_at: s.expires_at,
        })
    }

    fn submit_keyword(t: String, keyword: String) -> Result<link::Verified, FlowError> {
        let v = service()
            .submit_keyword(&token(&t), &keyword)
            .map_err(flow_error)?;
        Ok(link::Verified {
            kind: flow_kind(v.kind),
            ticket: v.ticket.expose().to_owned(),
        })
    }
}

impl credentials::Guest for Component {
    fn submit(ticket: String, user_id: String, password: String) -> Result<(), FlowError> {
        service()
            .submit_credentials(&token(&ticket), &user_id, &password)
            .map_err(flow_error)
    }

    fn review(ticket: String) -> Result<String, FlowError> {
        service().review_credentials(&token(&ticket)).map_err(flow_error)
    }

    fn complete(ticket: String) -> Result<SessionGrant, FlowError> {
        service()
            .complete_credentials(&token(&ticket))
            .map(convert::session_grant)
            .map_err(flow_error)
    }
}

impl recovery::Guest for Component {
    fn start(email: String, birth_date: String) -> Result<recovery::Started, FlowError> {
        let started = service()
            .start_recovery(&email, &birth_date)
            .map_err(flow_error)?;
        Ok(recovery::Started {
            keyword: started.keyword.expose().to_owned(),
            link_expires_at: started.link_expires_at,
        })
    }
}

impl account::Guest for Component {
    fn sign_in(user_id: String, password: String) -> Result<SessionGrant, account::SignInError> {
        service()
            .sign_in(&user_id, &password)
            .map(convert::session_grant)
            .map_err(|e| match e {
                SignInError::BadCredentials => account::SignInError::BadCredentials,
                SignInError::RetryAfter(s) => account::SignInError::RetryAfter(s),
                SignInError::Unavailable(m) => account::SignInError::Unavailable(m),
            })
    }

    fn sign_out(session: String) -> Result<(), FlowError> {
        service().sign_out(&token(&session)).map_err(flow_error)
    }

    fn home(session: String) -> Result<Option<account::HomeScreen>, FlowError> {
        let home = service().home(&token(&session)).map_err(flow_error)?;
        Ok(home.map(|h| account::HomeScreen {
            display_name: h.display_name,
            user_id: h.user_id,
            session_expires_at: h.session_expires_at,
        }))
    }

    fn renewable_contracts(session: String) -> Result<Vec<Contract>, FlowError> {
        let list = service()
            .renewable_contracts(&token(&session))
            .map_err(flow_error)?;
        Ok(list.into_iter().map(convert::contract_to_wit).collect())
    }

    fn begin_renewal(session: String, policy_number: String) -> Result<account::Handover, FlowError> {
        let h = service()
            .begin_renewal(&token(&session), &policy_number)
            .map_err(flow_error)?;
        Ok(account::Handover {
            url: h.url,
            token: h.token.expose().to_owned(),
            expires_at: h.expires_at,
        })
    }

    fn redeem_handover(t: String) -> Result<Option<account::HandoverClaim>, FlowError> {
        let claim = service().redeem_handover(&token(&t)).map_err(flow_error)?;
        Ok(claim.map(|c| account::HandoverClaim {
            customer_id: c.customer_id,
            policy_number: c.policy_number,
            agent_code: c.agent_code,
        }))
    }
}
