//! The use cases of core, through [`sesame_core::Services`] as the binary builds them, on a real
//! SQLite database and a clock the tests move.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod world;

mod authorization_requests;
mod captcha;
mod certificates;
mod clients;
mod limits;
mod passwords;
mod reset;
mod second_factor;
mod sessions;
mod sign_in;
mod signing_keys;
mod tokens;
