//! The operation pipeline and everything around it: capture envelopes, the kinds of operation,
//! the sync API, and the review queue.

pub mod any_kind;
pub mod api;
pub mod checks;
pub mod claim;
pub mod devices;
pub mod envelope;
pub mod form_flow;
pub mod form_parts;
pub mod form_routes;
pub mod forms;
pub mod kind;
pub mod operation;
pub mod pipeline;
pub mod pull;
pub mod refusal;
pub mod registry;
pub mod rest;
pub mod review;
pub mod set_aside;
pub mod settle;
