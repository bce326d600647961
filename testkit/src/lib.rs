//! What the tests and benchmarks of customer-web run the host with, kept
//! out of the product host:
//!
//! - [`MovableClock`]: a wall clock that tests move forward (a 48-hour
//!   expiry without waiting) and stop (so a slow machine cannot let a
//!   delay run out early);
//! - [`spin`]: a stand-in for Spin's host interfaces, to run the component
//!   composed with the Spin adapter on the host's engine.
#![deny(missing_docs)]

mod clock;
pub mod spin;

pub use clock::MovableClock;
