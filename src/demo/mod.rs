//! `outpost demo`: private services, the demo world, and everything in one process.

pub mod catalog;
pub mod launcher;
pub mod seed;
pub mod showcase;
pub mod world;
