//! The emulator over its vpcd connection, with the test playing pcscd's vpcd driver.

use super::*;
use std::net::TcpListener;

/// The vpcd end of a card put on a reader.
struct Vpcd(TcpStream);

impl Vpcd {
    fn insert(card: Card, cut_after: Option<usize>) -> (Vpcd, Inserted) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let inserted = insert(port, card, cut_after).unwrap();
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        (Vpcd(stream), inserted)
    }

    fn send(&mut self, msg: &[u8]) {
        let mut out = (msg.len() as u16).to_be_bytes().to_vec();
        out.extend_from_slice(msg);
        self.0.write_all(&out).unwrap();
    }

    /// Sends a message and reads the answer; `None` when the card left the reader.
    fn ask(&mut self, msg: &[u8]) -> Option<Vec<u8>> {
        self.send(msg);
        read_message(&mut self.0).ok()
    }

    /// Waits until the card leaves; how long that took.
    fn until_gone(&mut self) -> Duration {
        let start = Instant::now();
        let mut byte = [0u8; 1];
        assert_eq!(
            self.0.read(&mut byte).unwrap_or(0),
            0,
            "no message expected"
        );
        start.elapsed()
    }
}

const LOAD: [u8; 11] = [0xFF, 0x82, 0, 0, 6, 1, 2, 3, 4, 5, 6];
const LOAD_FF: [u8; 11] = [0xFF, 0x82, 0, 0, 6, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
const AUTH_4: [u8; 10] = [0xFF, 0x86, 0, 0, 5, 1, 0, 4, 0x60, 0];

fn write_4() -> Vec<u8> {
    [&[0xFF, 0xD6, 0, 4, 16][..], &[9; 16][..]].concat()
}

#[test]
fn power_cycle_and_reset_wake_a_card_mute_after_a_refused_key() {
    let (mut vpcd, inserted) = Vpcd::insert(Card::badge([4, 1, 2, 3], [1, 2, 3, 4, 5, 6]), None);
    for wake in [&[0u8, 1][..], &[2]] {
        assert_eq!(vpcd.ask(&LOAD_FF).unwrap(), [0x90, 0]);
        assert_eq!(vpcd.ask(&AUTH_4).unwrap(), [0x63, 0]);
        assert_eq!(vpcd.ask(&LOAD).unwrap(), [0x90, 0]);
        assert_eq!(vpcd.ask(&AUTH_4).unwrap(), [0x63, 0], "mute");
        // pcscd's presence polls do not select the card: still mute.
        assert_eq!(vpcd.ask(&[4]).unwrap(), inserted.card().atr());
        assert_eq!(vpcd.ask(&AUTH_4).unwrap(), [0x63, 0], "still mute");
        for control in wake {
            vpcd.send(&[*control]);
        }
        assert_eq!(vpcd.ask(&[4]).unwrap(), inserted.card().atr());
        assert_eq!(vpcd.ask(&AUTH_4).unwrap(), [0x90, 0], "woken by {wake:?}");
    }
}

#[test]
fn a_command_cut_by_the_removal_is_answered_63_00_before_the_card_leaves() {
    let (mut vpcd, inserted) = Vpcd::insert(Card::blank([1, 2, 3, 4], true), Some(2));
    assert_eq!(vpcd.ask(&LOAD_FF).unwrap(), [0x90, 0]);
    assert_eq!(vpcd.ask(&AUTH_4).unwrap(), [0x90, 0]);
    // The third command is under way when the card leaves the field.
    assert_eq!(vpcd.ask(&write_4()).unwrap(), [0x63, 0]);
    let since = Instant::now();
    assert_eq!(inserted.card().memory[4], vec![0; 16], "not written");
    assert_eq!(inserted.card().state(), CardState::Gone);
    // pcscd goes on seeing it for a while: a status check right away says "present".
    assert_eq!(vpcd.ask(&[4]).unwrap(), inserted.card().atr());
    assert_eq!(vpcd.ask(&AUTH_4).unwrap(), [0x63, 0]);
    let gone = since.elapsed() + vpcd.until_gone();
    assert!(
        gone >= REMOVAL_SEEN_AFTER - Duration::from_millis(50) && gone < Duration::from_secs(3),
        "seen gone after {gone:?}"
    );
    assert_eq!(inserted.apdus(), 4);
}

#[test]
fn selecting_a_card_taken_off_finds_no_card_at_once() {
    for control in [0u8, 1, 2] {
        let (mut vpcd, _inserted) = Vpcd::insert(Card::blank([1, 2, 3, 4], true), Some(1));
        assert_eq!(vpcd.ask(&LOAD_FF).unwrap(), [0x90, 0]);
        assert_eq!(vpcd.ask(&AUTH_4).unwrap(), [0x63, 0], "interrupted");
        vpcd.send(&[control]);
        assert!(vpcd.until_gone() < REMOVAL_SEEN_AFTER / 2, "{control}");
    }
}
