//! `customer-web:plugin/hashing`: argon2id computed natively when the
//! capabilities say so ([`Hashing::Native`]), else `none` and the
//! component hashes in WebAssembly.

use crate::bindings::customer_web::plugin::hashing::{self, Argon2Params, Error};
use crate::hashing::{Hashing, hash};
use crate::link::{CustomerWeb, Fault};

impl hashing::Host for CustomerWeb<'_> {
    fn convert_error(&mut self, fault: Fault<Error>) -> wasmtime::Result<Error> {
        fault.into_guest()
    }

    fn argon2id(
        &mut self,
        secret: Vec<u8>,
        salt: Vec<u8>,
        params: Argon2Params,
    ) -> Result<Option<Vec<u8>>, Fault<Error>> {
        match self.caps.hashing {
            Hashing::Component => Ok(None),
            Hashing::Native => crate::blocking::run(|| hash(&secret, &salt, params))
                .map(Some)
                .map_err(|e| Error::Unavailable(e.to_string()).into()),
        }
    }
}
