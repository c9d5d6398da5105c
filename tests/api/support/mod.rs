#![allow(dead_code)]
//! Helpers shared by the integration tests (`mod support;` in a test file).

pub mod app;
pub mod browser;
pub mod client;
pub mod delete_race;
pub mod did_host;
pub mod redis;
pub mod schema;
pub mod server;
