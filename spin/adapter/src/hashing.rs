//! `customer-web:plugin/hashing`: not offered on Spin. Every call answers
//! `none`, and the component hashes in WebAssembly itself (Spin runs the
//! component and this adapter as WebAssembly alike, so hashing here would
//! gain nothing).

use crate::Adapter;
use crate::bindings::exports::customer_web::plugin::hashing::{Argon2Params, Error, Guest};

impl Guest for Adapter {
    fn argon2id(_secret: Vec<u8>, _salt: Vec<u8>, _params: Argon2Params) -> Result<Option<Vec<u8>>, Error> {
        Ok(None)
    }
}
