//! `outpost-station`: the NFC station agent. It runs on the PC beside an ACR122U reader, talks to
//! pcscd for the card and to the Outpost server over HTTP(S) with its station token.

pub mod agent;
pub mod cache;
pub mod card;
pub mod journal;
pub mod reader;
pub mod server;
