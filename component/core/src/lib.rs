//! The flow logic of customer-web: first-time enrollment with a keyword and
//! a one-time mailed link, recovery of a forgotten user ID or password,
//! sign-in, and the hand-over to contract renewal.
//!
//! This crate has no wasm, wasmtime or Spin dependency: the flows reach the
//! world only through [`ports`], so they run natively in tests and inside
//! the component alike.
//!
//! ```
//! use customer_web_core::{Service, testing::World};
//!
//! let world = World::new();
//! let service = Service::new(world.ports());
//! let flow = service.start_enrollment(Some("AG001")).unwrap();
//! assert!(service.review_enrollment(&flow).is_err()); // nothing entered yet
//! ```
#![deny(missing_docs)]

pub mod account;
pub mod common_passwords;
#[cfg(any(test, feature = "testing"))]
pub mod conformance;
pub mod credentials;
pub mod enrollment;
pub mod error;
pub mod kv;
pub mod link;
pub mod mail;
pub mod memory;
pub mod model;
pub mod ports;
pub mod records;
pub mod recovery;
pub mod secret;
pub mod service;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod validate;

pub use error::{FlowError, SignInError};
pub use service::Service;
