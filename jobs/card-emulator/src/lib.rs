//! A badge on an ACR122U, for tests without hardware. Debian's `vsmartcard-vpcd` driver gives
//! pcscd a virtual reader that waits for a card on a TCP port (35963 for "Virtual PCD 00 00");
//! [`insert`] connects a [`Card`] there, so that `pcscd` sees a card put on the reader, and
//! [`Inserted::remove`] takes it off again. With no reader firmware in between, the card itself
//! answers the ACR122U pseudo-APDUs the station agent uses: GET DATA (UID), LOAD KEY,
//! AUTHENTICATE, READ BINARY and UPDATE BINARY, with the reader's status words.
//!
//! vpcd framing: every message is a 2-byte big-endian length, then the payload; a 1-byte payload
//! is a control message (0 power off, 1 power on, 2 reset, 4 "send the ATR"); anything longer is
//! a command APDU, answered with a response APDU. What pcscd sends (pcsc-lite 1.9): it polls
//! presence with 4 every 400 ms; on insertion it powers the card on (1, then 4); a new
//! `SCardConnect` powers on only a card it had powered off (after 5 s unused); `SCardReconnect`
//! with `SCARD_RESET_CARD` sends 4, 2, 4 and with `SCARD_UNPOWER_CARD` 4, 0, 4, 1, 4. Power on
//! and reset select the card again ([`Card::activate`]), which is what wakes a card that went
//! mute after a refused authentication.

mod card;

pub use card::{Card, CardModel, CardState, DEFAULT_KEY, MAD_KEY, NFC_KEY};

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The TCP port of vpcd's first reader ("Virtual PCD 00 00").
pub const VPCD_PORT: u16 = 35963;

/// How long pcscd goes on seeing a card that was taken off in the middle of a command. A real
/// reader answers the unfinished command `63 00` and notices that the card left only at its
/// next poll (pcscd polls every 400 ms), so an agent that asks pcscd at once still hears
/// "present".
pub const REMOVAL_SEEN_AFTER: Duration = Duration::from_millis(500);

/// The least time between a card leaving a reader and the next one put on it. pcscd's poller
/// (every 400 ms) tells a new card only after it saw the reader empty; when the agent's own
/// re-selection was what found the card gone, pcscd marked the reader empty without its poller,
/// which then takes a card put down before its next poll for the old one and never reports it.
/// No hand is that quick anyway.
const SWAP_TIME: Duration = Duration::from_millis(900);

/// When the last card left the reader on each port.
static LEFT: Mutex<Vec<(u16, Instant)>> = Mutex::new(Vec::new());

fn left(port: u16) {
    let mut left = LEFT.lock().unwrap_or_else(|e| e.into_inner());
    left.retain(|(p, _)| *p != port);
    left.push((port, Instant::now()));
}

fn wait_for_the_hand(port: u16) {
    let last = LEFT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|(p, _)| *p == port)
        .map(|(_, at)| *at);
    if let Some(at) = last {
        std::thread::sleep((at + SWAP_TIME).saturating_duration_since(Instant::now()));
    }
}

/// A card lying on the virtual reader.
pub struct Inserted {
    card: Arc<Mutex<Card>>,
    stream: TcpStream,
    apdus: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

/// Puts `card` on the reader at `port`. After `cut_after` APDUs (when given) the card is pulled
/// away mid-conversation, as a hand taking a badge off too early: the next command is
/// interrupted (answered `63 00`, not carried out), and the card leaves the reader
/// [`REMOVAL_SEEN_AFTER`] later, or at once when the reader tries to select it again.
pub fn insert(port: u16, mut card: Card, cut_after: Option<usize>) -> std::io::Result<Inserted> {
    card.put_on();
    wait_for_the_hand(port);
    let deadline = Instant::now() + Duration::from_secs(10);
    let stream = loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => break s,
            // vpcd accepts the next card only once pcscd noticed the last one leave.
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(e),
        }
    };
    stream.set_nodelay(true)?;
    let card = Arc::new(Mutex::new(card));
    let apdus = Arc::new(AtomicUsize::new(0));
    let (c, n, mut s) = (card.clone(), apdus.clone(), stream.try_clone()?);
    let thread = std::thread::spawn(move || {
        let _ = serve(&mut s, &c, &n, cut_after);
        let _ = s.shutdown(Shutdown::Both);
        left(port);
    });
    Ok(Inserted {
        card,
        stream,
        apdus,
        thread: Some(thread),
    })
}

impl Inserted {
    /// Command APDUs the card answered so far.
    pub fn apdus(&self) -> usize {
        self.apdus.load(Ordering::SeqCst)
    }
    /// What the card holds now.
    pub fn card(&self) -> Card {
        self.card
            .lock()
            .map(|c| c.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }
    /// Takes the card off the reader and gives it back.
    pub fn remove(mut self) -> Card {
        let _ = self.stream.shutdown(Shutdown::Both);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.card()
    }
}

impl Drop for Inserted {
    fn drop(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

fn read_message(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 2];
    quick_ack(stream);
    stream.read_exact(&mut len)?;
    let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
    quick_ack(stream);
    stream.read_exact(&mut msg)?;
    Ok(msg)
}

/// Acknowledges vpcd's bytes at once. With Linux's delayed ACK (40 ms) every message from vpcd
/// took 44 ms to arrive (measured; under 1 ms with this), so one copy took half a minute. Linux
/// clears the flag as it goes, so it is set before every read.
fn quick_ack(stream: &TcpStream) {
    #[cfg(target_os = "linux")]
    {
        use std::os::linux::net::TcpStreamExt;
        let _ = stream.set_quickack(true);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = stream;
}

fn serve(
    stream: &mut TcpStream,
    card: &Mutex<Card>,
    apdus: &AtomicUsize,
    cut_after: Option<usize>,
) -> std::io::Result<()> {
    // When the card was taken off (the reader has not noticed yet).
    let mut lifted: Option<Instant> = None;
    loop {
        if let Some(at) = lifted {
            let left = (at + REMOVAL_SEEN_AFTER).saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            stream.set_read_timeout(Some(left))?;
        }
        let msg = match read_message(stream) {
            Ok(m) => m,
            // The reader's next poll: the card is gone.
            Err(e)
                if lifted.is_some()
                    && matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
            {
                return Ok(())
            }
            Err(e) => return Err(e),
        };
        let answer = {
            let mut c = card.lock().unwrap_or_else(|e| e.into_inner());
            match msg.as_slice() {
                // Presence polls, and the ATR after power on or reset.
                [4] => c.atr(),
                // Selecting the card again finds the field empty.
                [0..=2] if lifted.is_some() => return Ok(()),
                [0] => {
                    c.power_off();
                    continue;
                }
                [1 | 2] => {
                    c.activate();
                    continue;
                }
                [_] => continue,
                apdu => {
                    if lifted.is_none()
                        && cut_after.is_some_and(|n| apdus.load(Ordering::SeqCst) >= n)
                    {
                        c.lift();
                        lifted = Some(Instant::now());
                    }
                    apdus.fetch_add(1, Ordering::SeqCst);
                    c.answer(apdu)
                }
            }
        };
        let mut out = (answer.len() as u16).to_be_bytes().to_vec();
        out.extend_from_slice(&answer);
        stream.write_all(&out)?;
    }
}

#[cfg(test)]
mod tests;
