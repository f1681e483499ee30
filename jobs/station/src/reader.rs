//! The reader over PC/SC: find it by name, wait for a card to be put on it or taken off, and
//! exchange APDUs with the card. pcscd's errors become [`CardError`]s.

use std::ffi::CString;
use std::time::{Duration, Instant};

use pcsc::{Context, Disposition, Protocols, ReaderState, Scope, ShareMode, State};

use crate::card::{CardError, Transport};

pub struct Reader {
    ctx: Context,
    name: CString,
}

fn lost(e: pcsc::Error) -> CardError {
    match e {
        // A contactless card that leaves the field mid-exchange shows up as a failed
        // transaction or a communication error as often as a removal.
        pcsc::Error::RemovedCard
        | pcsc::Error::ResetCard
        | pcsc::Error::NoSmartcard
        | pcsc::Error::NotTransacted
        | pcsc::Error::CommError => CardError::CardRemoved,
        pcsc::Error::UnpoweredCard | pcsc::Error::UnresponsiveCard => {
            CardError::WrongCardType(format!("the card does not answer the reader ({e})"))
        }
        other => CardError::NoReader(format!("{other}")),
    }
}

/// The names of the readers pcscd sees.
pub fn list() -> Result<Vec<String>, CardError> {
    let ctx = Context::establish(Scope::User)
        .map_err(|e| CardError::NoReader(format!("pcscd is not reachable ({e})")))?;
    Ok(ctx
        .list_readers_owned()
        .map_err(|e| CardError::NoReader(e.to_string()))?
        .into_iter()
        .map(|n| n.to_string_lossy().into_owned())
        .collect())
}

impl Reader {
    /// The first reader whose name contains `wanted` (case-insensitive).
    pub fn open(wanted: &str) -> Result<Reader, CardError> {
        let ctx = Context::establish(Scope::User)
            .map_err(|e| CardError::NoReader(format!("pcscd is not reachable ({e})")))?;
        let readers = match ctx.list_readers_owned() {
            Ok(r) => r,
            Err(pcsc::Error::NoReadersAvailable) => Vec::new(),
            Err(e) => return Err(CardError::NoReader(e.to_string())),
        };
        let want = wanted.to_lowercase();
        let name = readers
            .into_iter()
            .find(|n| n.to_string_lossy().to_lowercase().contains(&want))
            .ok_or_else(|| {
                CardError::NoReader(format!("no reader named like '{wanted}' is connected"))
            })?;
        Ok(Reader { ctx, name })
    }

    pub fn name(&self) -> String {
        self.name.to_string_lossy().into_owned()
    }

    /// Waits until the reader's state has (or lacks) a card, for at most `timeout`.
    fn wait_until(&self, present: bool, timeout: Duration) -> Result<(), CardError> {
        let deadline = Instant::now() + timeout;
        let mut states = [ReaderState::new(self.name.clone(), State::UNAWARE)];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.ctx.get_status_change(left, &mut states) {
                Ok(()) => {}
                Err(pcsc::Error::Timeout) => {
                    return Err(if present {
                        CardError::NoCard
                    } else {
                        CardError::CardRemoved
                    })
                }
                Err(e) => return Err(CardError::NoReader(e.to_string())),
            }
            let state = states[0].event_state();
            if state.intersects(State::UNKNOWN | State::UNAVAILABLE) {
                return Err(CardError::NoReader(format!("{} went away", self.name())));
            }
            if state.contains(State::PRESENT) == present && !state.contains(State::MUTE) {
                return Ok(());
            }
            states[0].sync_current_state();
            if left.is_zero() {
                return Err(if present {
                    CardError::NoCard
                } else {
                    CardError::CardRemoved
                });
            }
        }
    }

    /// Waits for a card and connects to it.
    pub fn wait_for_card(&self, timeout: Duration) -> Result<OnReader, CardError> {
        self.wait_until(true, timeout)?;
        let card = self
            .ctx
            .connect(&self.name, ShareMode::Shared, Protocols::ANY)
            .map_err(lost)?;
        let atr = card.status2_owned().map_err(lost)?.atr().to_vec();
        Ok(OnReader { card, atr })
    }

    /// Waits until the card is taken off. A card left on past `timeout` is `CardRemoved`'s
    /// opposite, so it is told apart by the caller's message.
    pub fn wait_for_removal(&self, timeout: Duration) -> Result<(), CardError> {
        self.wait_until(false, timeout).map_err(|e| match e {
            CardError::CardRemoved => CardError::NoCard,
            other => other,
        })
    }
}

/// A card connected through pcscd.
pub struct OnReader {
    card: pcsc::Card,
    atr: Vec<u8>,
}

impl OnReader {
    /// Lets go of the card as it is (no reset), before the person takes it off.
    pub fn release(self) {
        let _ = self.card.disconnect(pcsc::Disposition::LeaveCard);
    }
}

impl Transport for OnReader {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, CardError> {
        let mut buf = [0u8; pcsc::MAX_BUFFER_SIZE];
        let res = self.card.transmit(apdu, &mut buf).map_err(lost)?.to_vec();
        if res.len() < 2 {
            // Every answer ends in a status word; none at all means nobody answered.
            return Err(CardError::CardRemoved);
        }
        // A refusal (63 00) may also be a card that left mid-command, which pcscd learns only
        // at its next poll: `card` tells them apart by selecting the card again.
        Ok(res)
    }
    fn atr(&self) -> &[u8] {
        &self.atr
    }
    fn reactivate(&mut self) -> Result<(), CardError> {
        // SCARD_UNPOWER_CARD: pcscd powers the slot off and on; an ACR122U switches its field
        // off and on, so the card restarts and is selected anew, whatever state it was in (a
        // reset alone is a warm reset that a reader may carry out without touching the field).
        self.card
            .reconnect(ShareMode::Shared, Protocols::ANY, Disposition::UnpowerCard)
            .map_err(not_selected)?;
        self.atr = self
            .card
            .status2_owned()
            .map_err(not_selected)?
            .atr()
            .to_vec();
        Ok(())
    }
}

/// A card the reader cannot select again is gone, however pcscd words it: if the reader does
/// not know yet, powering the slot fails (not transacted, unresponsive), else there is no card.
fn not_selected(e: pcsc::Error) -> CardError {
    match e {
        pcsc::Error::UnpoweredCard | pcsc::Error::UnresponsiveCard => CardError::CardRemoved,
        other => lost(other),
    }
}
