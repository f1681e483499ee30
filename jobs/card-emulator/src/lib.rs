//! A badge on an ACR122U, for tests without hardware. Debian's `vsmartcard-vpcd` driver gives
//! pcscd a virtual reader that waits for a card on a TCP port (35963 for "Virtual PCD 00 00");
//! [`insert`] connects a [`Card`] there, so that `pcscd` sees a card put on the reader, and
//! [`Inserted::remove`] takes it off again. With no reader firmware in between, the card itself
//! answers the ACR122U pseudo-APDUs the station agent uses: GET DATA (UID), LOAD KEY,
//! AUTHENTICATE, READ BINARY and UPDATE BINARY, with the reader's status words.
//!
//! vpcd framing: every message is a 2-byte big-endian length, then the payload; a 1-byte payload
//! is a control message (0 power off, 1 power on, 2 reset, 4 "send the ATR"); anything longer is
//! a command APDU, answered with a response APDU.

mod card;

pub use card::{Card, CardModel, DEFAULT_KEY};

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The TCP port of vpcd's first reader ("Virtual PCD 00 00").
pub const VPCD_PORT: u16 = 35963;

/// A card lying on the virtual reader.
pub struct Inserted {
    card: Arc<Mutex<Card>>,
    stream: TcpStream,
    apdus: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

/// Puts `card` on the reader at `port`; after `cut_after` APDUs (when given) the card is
/// pulled away mid-conversation, as a hand taking a badge off too early.
pub fn insert(port: u16, card: Card, cut_after: Option<usize>) -> std::io::Result<Inserted> {
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

fn serve(
    stream: &mut TcpStream,
    card: &Mutex<Card>,
    apdus: &AtomicUsize,
    cut_after: Option<usize>,
) -> std::io::Result<()> {
    loop {
        let mut len = [0u8; 2];
        stream.read_exact(&mut len)?;
        let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
        stream.read_exact(&mut msg)?;
        let answer = match msg.as_slice() {
            [4] => card.lock().map(|c| c.atr()).unwrap_or_default(),
            [_] => continue, // power on/off, reset: nothing to answer
            apdu => {
                if cut_after.is_some_and(|n| apdus.load(Ordering::SeqCst) >= n) {
                    return Ok(());
                }
                apdus.fetch_add(1, Ordering::SeqCst);
                match card.lock() {
                    Ok(mut c) => c.answer(apdu),
                    Err(_) => return Ok(()),
                }
            }
        };
        let mut out = (answer.len() as u16).to_be_bytes().to_vec();
        out.extend_from_slice(&answer);
        stream.write_all(&out)?;
    }
}
