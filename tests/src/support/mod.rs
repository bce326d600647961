pub mod argon2_command;
pub mod browser;
pub mod node;
pub mod relay;
pub mod serve_process;
pub mod smtp;
pub mod spin_app;
pub mod walks;
