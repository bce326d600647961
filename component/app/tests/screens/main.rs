//! The screens driven through `handle` as a browser would drive them,
//! against the in-memory world of the core.

mod api;
mod browser;
mod flows;
mod fuzz;
mod links;
mod security;
