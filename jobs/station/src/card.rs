//! What the agent does with a card, over any [`Transport`]: read its UID (the ACR122U's GET
//! DATA pseudo-APDU), read all of it for the dump (MIFARE Classic 1K sectors with the configured
//! keys: LOAD KEY, AUTHENTICATE, READ BINARY; NTAG21x pages), write a dump to a blank card
//! (UPDATE BINARY) and verify the copy by reading it back. Every refusal of the card or the
//! reader becomes a [`CardError`] with one of the design's error categories.

use serde::{Deserialize, Serialize};

/// The reader's "done" and "the card refused or did not answer" status words.
const SW_OK: [u8; 2] = [0x90, 0x00];

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
        match self {
            CardError::NoReader(_) => "no_reader",
            CardError::NoCard => "no_card",
            CardError::CardRemoved => "card_removed",
            CardError::WrongCard(_) => "wrong_card",
            CardError::AuthenticationFailed(_) => "authentication_failed",
            CardError::WrongCardType(_) => "wrong_card_type",
            CardError::WriteFailed(_) => "write_failed",
        }
    }
}

/// A card on the reader: the APDU exchange and the ATR the reader reported.
pub trait Transport {
    /// Sends one APDU and returns the whole response, status word included.
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, CardError>;
    fn atr(&self) -> &[u8];
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

/// Sends an APDU and returns its data when the status word is 90 00; `refused` names the
/// failure otherwise.
fn exchange(
    t: &mut dyn Transport,
    apdu: &[u8],
    refused: impl FnOnce(&[u8]) -> CardError,
) -> Result<Vec<u8>, CardError> {
    let mut res = t.transmit(apdu)?;
    if res.len() < 2 || res[res.len() - 2..] != SW_OK {
        let sw = res
            .get(res.len().saturating_sub(2)..)
            .unwrap_or(&[])
            .to_vec();
        return Err(refused(&sw));
    }
    res.truncate(res.len() - 2);
    Ok(res)
}

/// The card type from the ATR the ACR122U makes up (PC/SC part 3: 3B 8F 80 01 80 4F 0C A0 00 00
/// 03 06 <standard> <card name (2 bytes)> …); NTAG size from its capability container.
pub fn card_type(t: &mut dyn Transport) -> Result<CardType, CardError> {
    let atr = t.atr().to_vec();
    let name =
        (atr.len() >= 15 && atr[..4] == [0x3B, 0x8F, 0x80, 0x01]).then(|| [atr[13], atr[14]]);
    match name {
        Some([0x00, 0x01]) => Ok(CardType::MifareClassic1k),
        Some([0x00, 0x03]) => {
            let cc = exchange(t, &[0xFF, 0xB0, 0x00, 0x03, 0x04], |_| {
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
    exchange(t, &[0xFF, 0xCA, 0x00, 0x00, 0x00], |_| {
        CardError::WrongCardType("the card did not give its UID".into())
    })
    .map(hex::encode_upper)
}

/// Opens a MIFARE Classic sector with the first of `keys` it accepts (as key A).
fn open_sector(t: &mut dyn Transport, sector: u8, keys: &[[u8; 6]]) -> Result<[u8; 6], CardError> {
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
        match exchange(t, &auth, |_| CardError::AuthenticationFailed(String::new())) {
            Ok(_) => return Ok(*key),
            // The card said no to this key: try the next one.
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

fn read_block(t: &mut dyn Transport, block: u8, len: u8) -> Result<Vec<u8>, CardError> {
    exchange(t, &[0xFF, 0xB0, 0x00, block, len], |sw| {
        CardError::AuthenticationFailed(format!(
            "block {block} cannot be read (status {})",
            hex::encode_upper(sw)
        ))
    })
}

fn write_block(t: &mut dyn Transport, block: u8, data: &[u8]) -> Result<(), CardError> {
    let mut apdu = vec![0xFF, 0xD6, 0x00, block, data.len() as u8];
    apdu.extend_from_slice(data);
    exchange(t, &apdu, |sw| {
        CardError::WriteFailed(format!(
            "block {block} was not written (status {})",
            hex::encode_upper(sw)
        ))
    })
    .map(|_| ())
}

/// Reads the whole card.
pub fn read_dump(t: &mut dyn Transport, keys: &[[u8; 6]]) -> Result<Dump, CardError> {
    let kind = card_type(t)?;
    let uid = read_uid(t)?;
    let mut data = Vec::new();
    match kind {
        CardType::MifareClassic1k => {
            for sector in 0..16u8 {
                let key = open_sector(t, sector, keys)?;
                for b in 0..4u8 {
                    let mut block = read_block(t, sector * 4 + b, 16)?;
                    if b == 3 && block.len() == 16 {
                        block[..6].copy_from_slice(&key); // key A never reads back
                    }
                    data.push(hex::encode_upper(block));
                }
            }
        }
        CardType::Ntag(pages) => {
            for page in 0..pages {
                data.push(hex::encode_upper(read_block(t, page as u8, 4)?));
            }
        }
    }
    Ok(Dump {
        atr: hex::encode_upper(t.atr()),
        card_type: kind.name().into(),
        data,
        uid,
    })
}

/// Writes `dump` onto the blank card on the reader. MIFARE Classic: every block, the UID block
/// first (a "CUID" blank is needed) and each sector trailer last, so the sector takes the
/// badge's keys only once its data is in. NTAG: the user pages (the UID of an NTAG is fixed).
pub fn write_copy(t: &mut dyn Transport, dump: &Dump, keys: &[[u8; 6]]) -> Result<(), CardError> {
    let kind = card_type(t)?;
    if kind.name() != dump.card_type {
        return Err(CardError::WrongCardType(format!(
            "the blank card is a {}, the badge a {}",
            kind.name(),
            dump.card_type
        )));
    }
    match kind {
        CardType::MifareClassic1k => {
            for sector in 0..16u8 {
                open_sector(t, sector, keys).map_err(|e| match e {
                    CardError::AuthenticationFailed(_) => CardError::AuthenticationFailed(format!(
                        "the blank card's sector {sector} does not open with the configured keys"
                    )),
                    other => other,
                })?;
                for b in [0u8, 1, 2, 3] {
                    let block = sector * 4 + b;
                    let data = dump.bytes(block as usize)?;
                    match write_block(t, block, &data) {
                        Err(CardError::WriteFailed(_)) if block == 0 => {
                            return Err(CardError::WrongCardType(
                                "the blank card does not take the badge's UID: use a CUID (UID-writable) MIFARE Classic card".into(),
                            ))
                        }
                        other => other?,
                    }
                }
            }
        }
        CardType::Ntag(pages) => {
            // Pages 4 to the last user page; the configuration pages stay as they are.
            for page in 4..pages - 5 {
                write_block(t, page as u8, &dump.bytes(page)?)?;
            }
        }
    }
    Ok(())
}

/// Reads the copy back and compares it with the dump.
pub fn verify_copy(t: &mut dyn Transport, dump: &Dump) -> Result<(), CardError> {
    let differs =
        |what: String| CardError::WriteFailed(format!("the copy reads back different: {what}"));
    match card_type(t)? {
        CardType::MifareClassic1k => {
            if read_uid(t)? != dump.uid {
                return Err(differs("UID".into()));
            }
            for sector in 0..16u8 {
                let trailer = dump.bytes(sector as usize * 4 + 3)?;
                let key: [u8; 6] = trailer[..6]
                    .try_into()
                    .map_err(|_| differs(format!("sector {sector} key")))?;
                open_sector(t, sector, &[key]).map_err(|e| match e {
                    CardError::AuthenticationFailed(_) => differs(format!(
                        "sector {sector} does not open with the badge's key"
                    )),
                    other => other,
                })?;
                for b in 0..4u8 {
                    let block = sector * 4 + b;
                    let read = read_block(t, block, 16)?;
                    let want = dump.bytes(block as usize)?;
                    // A trailer's key A never reads back: compare the access bits and key B.
                    let from = if b == 3 { 6 } else { 0 };
                    if read.get(from..) != want.get(from..) {
                        return Err(differs(format!("block {block}")));
                    }
                }
            }
        }
        CardType::Ntag(pages) => {
            for page in 4..pages - 5 {
                if read_block(t, page as u8, 4)? != dump.bytes(page)? {
                    return Err(differs(format!("page {page}")));
                }
            }
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use outpost_card_emulator::{Card, CardModel, DEFAULT_KEY};

    struct OnTable(Card, Vec<u8>);
    impl Transport for OnTable {
        fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, CardError> {
            Ok(self.0.answer(apdu))
        }
        fn atr(&self) -> &[u8] {
            &self.1
        }
    }
    fn on_table(card: Card) -> OnTable {
        let atr = card.atr();
        OnTable(card, atr)
    }
    const BADGE_KEY: [u8; 6] = [0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5];

    #[test]
    fn a_classic_badge_is_copied_onto_a_cuid_blank_and_verified() {
        let mut badge = on_table(Card::badge([0x04, 0xAB, 0x12, 0xCD], BADGE_KEY));
        let dump = read_dump(&mut badge, &[DEFAULT_KEY, BADGE_KEY]).unwrap();
        assert_eq!(dump.uid, "04AB12CD");
        assert_eq!(dump.data.len(), 64);
        assert!(dump.data[3].starts_with("A0A1A2A3A4A5"));
        let mut blank = on_table(Card::blank([1, 2, 3, 4], true));
        write_copy(&mut blank, &dump, &[DEFAULT_KEY]).unwrap();
        verify_copy(&mut blank, &dump).unwrap();
        assert_eq!(blank.0.memory, badge.0.memory, "a faithful clone");
    }

    #[test]
    fn each_failure_has_its_category() {
        let mut badge = on_table(Card::badge([4, 1, 2, 3], BADGE_KEY));
        let err = read_dump(&mut badge, &[DEFAULT_KEY]).unwrap_err();
        assert_eq!(err.category(), "authentication_failed");
        let dump = read_dump(&mut badge, &[BADGE_KEY]).unwrap();
        let mut plain = on_table(Card::blank([1, 2, 3, 4], false));
        let err = write_copy(&mut plain, &dump, &[DEFAULT_KEY]).unwrap_err();
        assert_eq!(err.category(), "wrong_card_type", "{err}");
        let mut ntag = on_table(Card::ntag(CardModel::Ntag213, [4, 1, 2, 3, 4, 5, 6], b"x"));
        assert_eq!(
            write_copy(&mut ntag, &dump, &[DEFAULT_KEY])
                .unwrap_err()
                .category(),
            "wrong_card_type"
        );
        let mut locked = on_table(Card::badge([9, 9, 9, 9], [1, 1, 1, 1, 1, 1]));
        assert_eq!(
            write_copy(&mut locked, &dump, &[DEFAULT_KEY])
                .unwrap_err()
                .category(),
            "authentication_failed"
        );
        let mut odd = OnTable(Card::blank([1, 2, 3, 4], true), vec![0x3B, 0x00]);
        assert_eq!(
            read_dump(&mut odd, &[DEFAULT_KEY]).unwrap_err().category(),
            "wrong_card_type"
        );
    }

    #[test]
    fn an_ntag_copy_carries_the_user_pages() {
        let mut tag = on_table(Card::ntag(
            CardModel::Ntag213,
            [4, 1, 2, 3, 4, 5, 6],
            b"https://example.org/badge/42",
        ));
        let dump = read_dump(&mut tag, &[DEFAULT_KEY]).unwrap();
        assert_eq!((dump.card_type.as_str(), dump.data.len()), ("ntag213", 45));
        let mut blank = on_table(Card::ntag(CardModel::Ntag213, [4, 9, 9, 9, 9, 9, 9], b""));
        write_copy(&mut blank, &dump, &[DEFAULT_KEY]).unwrap();
        verify_copy(&mut blank, &dump).unwrap();
        assert_eq!(blank.0.memory[4..40], tag.0.memory[4..40]);
    }

    #[test]
    fn the_dump_digest_is_of_its_json_text() {
        let dump = Dump {
            atr: "3B".into(),
            card_type: "ntag213".into(),
            data: vec!["00".into()],
            uid: "04".into(),
        };
        assert_eq!(
            dump.to_json().to_string(),
            r#"{"atr":"3B","card_type":"ntag213","data":["00"],"uid":"04"}"#
        );
        assert_eq!(dump.sha256().len(), 64);
        assert_eq!(parse_keys("FFFFFFFFFFFF, a0a1a2a3a4a5").unwrap().len(), 2);
        assert!(parse_keys("FFFF").is_err());
    }
}
