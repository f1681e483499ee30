//! What the agent does with a card, over any [`Transport`]: read its UID (the ACR122U's GET
//! DATA pseudo-APDU), read all of it for the dump (MIFARE Classic 1K sectors with the configured
//! keys: LOAD KEY, AUTHENTICATE, READ BINARY; NTAG21x pages), write a dump to a blank card
//! (UPDATE BINARY) and verify the copy by reading it back. Every refusal of the card or the
//! reader becomes a [`CardError`] with one of the design's error categories.
//!
//! A card that refuses an authentication or a command goes mute (HALT) until the reader selects
//! it again (NXP AN1304), so every refusal is followed by [`Transport::reactivate`]. That also
//! tells a refusal from a card taken off: a reader answers `63 00` to the command the card left
//! in the middle of, and pcscd hears of the removal only at its next poll; a card that cannot be
//! selected again, or answers with another UID, is gone (`card_removed`).

use serde::{Deserialize, Serialize};

/// The reader's "done" status word.
const SW_OK: [u8; 2] = [0x90, 0x00];
/// GET DATA: the UID the reader got when it selected the card.
const GET_UID: [u8; 5] = [0xFF, 0xCA, 0x00, 0x00, 0x00];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    #[error("no reader: {0}")]
    NoReader(String),
    #[error("no card was put on the reader in time")]
    NoCard,
    #[error("the card was taken off the reader during the copy")]
    CardRemoved,
    #[error("{0}")]
    WrongCard(String),
    #[error("{0}")]
    AuthenticationFailed(String),
    #[error("{0}")]
    WrongCardType(String),
    #[error("{0}")]
    WriteFailed(String),
}

impl CardError {
    /// The category the server records (`badge_copies.error_category`).
    pub fn category(&self) -> &'static str {
        use outpost_station_wire::ErrorCategory as C;
        match self {
            CardError::NoReader(_) => C::NoReader,
            CardError::NoCard => C::NoCard,
            CardError::CardRemoved => C::CardRemoved,
            CardError::WrongCard(_) => C::WrongCard,
            CardError::AuthenticationFailed(_) => C::AuthenticationFailed,
            CardError::WrongCardType(_) => C::WrongCardType,
            CardError::WriteFailed(_) => C::WriteFailed,
        }
        .as_str()
    }
}

/// A card on the reader: the APDU exchange and the ATR the reader reported.
pub trait Transport {
    /// Sends one APDU and returns the whole response, status word included.
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, CardError>;
    fn atr(&self) -> &[u8];
    /// Has the reader select the card again (field off and on), which wakes a card that went
    /// mute and closes any open sector. `CardRemoved` when no card answers.
    fn reactivate(&mut self) -> Result<(), CardError>;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardType {
    MifareClassic1k,
    /// NTAG213/215/216, with its number of pages.
    Ntag(usize),
}

impl CardType {
    pub fn name(&self) -> &'static str {
        match self {
            CardType::MifareClassic1k => "mifare_classic_1k",
            CardType::Ntag(45) => "ntag213",
            CardType::Ntag(135) => "ntag215",
            CardType::Ntag(_) => "ntag216",
        }
    }
}

/// A card's content as the server keeps it. The fields are in alphabetical order so that the
/// JSON text — whose SHA-256 the server checks — is the same whichever way a JSON library
/// orders keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dump {
    pub atr: String,
    pub card_type: String,
    /// MIFARE Classic: 64 blocks of 16 bytes (sector trailers with the key A that opened them).
    /// NTAG: every page of 4 bytes.
    pub data: Vec<String>,
    pub uid: String,
}

impl Dump {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
    /// SHA-256 (hex) of the dump's JSON text.
    pub fn sha256(&self) -> String {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(self.to_json().to_string().as_bytes()))
    }
    fn bytes(&self, index: usize) -> Result<Vec<u8>, CardError> {
        self.data
            .get(index)
            .and_then(|h| hex::decode(h).ok())
            .ok_or_else(|| CardError::WriteFailed(format!("the dump has no valid block {index}")))
    }
}

/// Sends an APDU: its data when the status word is 90 00, else `Err` with the status word.
fn send(t: &mut dyn Transport, apdu: &[u8]) -> Result<Result<Vec<u8>, Vec<u8>>, CardError> {
    let mut res = t.transmit(apdu)?;
    if res.len() < 2 || res[res.len() - 2..] != SW_OK {
        let sw = res.get(res.len().saturating_sub(2)..).unwrap_or(&[]);
        return Ok(Err(sw.to_vec()));
    }
    res.truncate(res.len() - 2);
    Ok(Ok(res))
}

/// Sends an APDU and returns its data when the status word is 90 00; `refused` names the
/// failure otherwise.
fn exchange(
    t: &mut dyn Transport,
    apdu: &[u8],
    refused: impl FnOnce(&[u8]) -> CardError,
) -> Result<Vec<u8>, CardError> {
    send(t, apdu)?.map_err(|sw| refused(&sw))
}

/// After the card refused a command: selects it again and checks it is the same card (one of
/// `uids`: a CUID blank answers with its new UID once block 0 is written). `Ok` means the card is
/// still there and awake, so the refusal was its own; a card that cannot be selected, or
/// answers with another UID, was taken off.
fn still_there(t: &mut dyn Transport, uids: &[String]) -> Result<(), CardError> {
    t.reactivate()?;
    let uid = hex::encode_upper(exchange(t, &GET_UID, |_| CardError::CardRemoved)?);
    if uids.iter().any(|u| u.eq_ignore_ascii_case(&uid)) {
        Ok(())
    } else {
        Err(CardError::CardRemoved)
    }
}

/// [`exchange`] for a command the card itself answers (authenticate, read, write): a refusal
/// counts only once the card has been found still there (and awake again).
fn card_command(
    t: &mut dyn Transport,
    apdu: &[u8],
    uids: &[String],
    refused: impl FnOnce(&[u8]) -> CardError,
) -> Result<Vec<u8>, CardError> {
    match send(t, apdu)? {
        Ok(data) => Ok(data),
        Err(sw) => {
            still_there(t, uids)?;
            Err(refused(&sw))
        }
    }
}

/// The card type from the ATR the ACR122U makes up (PC/SC part 3: 3B 8F 80 01 80 4F 0C A0 00 00
/// 03 06 <standard> <card name (2 bytes)> …); NTAG size from its capability container.
pub fn card_type(t: &mut dyn Transport, uids: &[String]) -> Result<CardType, CardError> {
    let atr = t.atr().to_vec();
    let name =
        (atr.len() >= 15 && atr[..4] == [0x3B, 0x8F, 0x80, 0x01]).then(|| [atr[13], atr[14]]);
    match name {
        Some([0x00, 0x01]) => Ok(CardType::MifareClassic1k),
        Some([0x00, 0x03]) => {
            let cc = card_command(t, &[0xFF, 0xB0, 0x00, 0x03, 0x04], uids, |_| {
                CardError::WrongCardType("the card's capability container cannot be read".into())
            })?;
            match cc.get(2) {
                Some(0x12) => Ok(CardType::Ntag(45)),
                Some(0x3E) => Ok(CardType::Ntag(135)),
                Some(0x6D) => Ok(CardType::Ntag(231)),
                _ => Err(CardError::WrongCardType(
                    "this MIFARE Ultralight card is not an NTAG213, 215 or 216".into(),
                )),
            }
        }
        _ => Err(CardError::WrongCardType(format!(
            "this card is not a MIFARE Classic 1K or NTAG21x badge (ATR {})",
            hex::encode_upper(&atr)
        ))),
    }
}

pub fn read_uid(t: &mut dyn Transport) -> Result<String, CardError> {
    if let Ok(uid) = send(t, &GET_UID)? {
        return Ok(hex::encode_upper(uid));
    }
    // No UID: a card leaving the reader as it was read (which selecting it again tells), or
    // one that has none to give.
    t.reactivate()?;
    exchange(t, &GET_UID, |_| {
        CardError::WrongCardType("the card did not give its UID".into())
    })
    .map(hex::encode_upper)
}

/// Opens a MIFARE Classic sector with the first of `keys` it accepts (as key A). The card is
/// selected again after each key it refuses, or it would refuse the next one unheard.
fn open_sector(
    t: &mut dyn Transport,
    sector: u8,
    keys: &[[u8; 6]],
    uids: &[String],
) -> Result<[u8; 6], CardError> {
    for key in keys {
        let mut load = vec![0xFF, 0x82, 0x00, 0x00, 0x06];
        load.extend_from_slice(key);
        exchange(t, &load, |sw| {
            CardError::NoReader(format!(
                "the reader refused to load a key (status {})",
                hex::encode_upper(sw)
            ))
        })?;
        let auth = [
            0xFF,
            0x86,
            0x00,
            0x00,
            0x05,
            0x01,
            0x00,
            sector * 4,
            0x60,
            0x00,
        ];
        match card_command(t, &auth, uids, |_| {
            CardError::AuthenticationFailed(String::new())
        }) {
            Ok(_) => return Ok(*key),
            // The card said no to this key (and is awake again): try the next one.
            Err(CardError::AuthenticationFailed(_)) => {}
            // The card went away, or the reader: no key will help.
            Err(other) => return Err(other),
        }
    }
    Err(CardError::AuthenticationFailed(format!(
        "sector {sector} does not open with any of the {} configured keys",
        keys.len()
    )))
}

fn read_block(
    t: &mut dyn Transport,
    block: u8,
    len: u8,
    uids: &[String],
) -> Result<Vec<u8>, CardError> {
    card_command(t, &[0xFF, 0xB0, 0x00, block, len], uids, |sw| {
        CardError::AuthenticationFailed(format!(
            "block {block} cannot be read (status {})",
            hex::encode_upper(sw)
        ))
    })
}

/// Parses keys written as 12 hex digits, separated by commas.
pub fn parse_keys(text: &str) -> Result<Vec<[u8; 6]>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(|k| {
            hex::decode(k)
                .ok()
                .and_then(|b| <[u8; 6]>::try_from(b).ok())
                .ok_or_else(|| format!("'{k}' is not a MIFARE key (12 hexadecimal digits)"))
        })
        .collect::<Result<Vec<_>, _>>()
        .and_then(|keys| {
            if keys.is_empty() {
                Err("no MIFARE key given".into())
            } else {
                Ok(keys)
            }
        })
}

mod dump;
pub use dump::{read_dump, verify_copy, write_copy};

#[cfg(test)]
mod tests;
