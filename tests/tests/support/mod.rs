pub mod browser;
pub mod relay;
pub mod spin_app;
pub mod walks;
