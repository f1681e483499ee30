//! `outpost-jobs`: what a job is and what talks to the outside world, without a database.
//! The server crate wires these to its service layer; this crate never depends on it.

pub mod queues;
