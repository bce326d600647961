//! The host's implementation of each capability interface of
//! `wit/worlds.wit` (`imports`), one file per interface. Capability faults
//! become the interface's `error` variant, never a trap.

mod audit;
mod config;
mod directory;
mod hashing;
mod mail;
mod storage;
