//! Identifiers: raw request paths are turned into typed, canonical identifiers here, once, at the edge.

pub mod did_web;
pub mod gs1;
pub mod pattern;
