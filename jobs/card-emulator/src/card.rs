//! The card and the part of the ACR122U's firmware that turns pseudo-APDUs into MIFARE and
//! NTAG commands, modelled closely enough for the agent's reads, writes and failures.
//!
//! What a real card does and a lenient model would hide: a MIFARE Classic that refuses an
//! authentication, or any card that answers a command with a NAK, goes to the HALT state (NXP
//! MF1S50 datasheet, AN1304; NTAG213/215/216 datasheet) and stays mute until the reader selects
//! it again, which it does when the field is switched off and on or the slot is reset (PC/SC
//! `SCardReconnect`, vpcd's power and reset messages). Tools that try several keys re-select
//! after every failure (libnfc's `nfc-mfclassic`). Meanwhile the reader answers `63 00`.

/// The transport key of a new MIFARE Classic card.
pub const DEFAULT_KEY: [u8; 6] = [0xFF; 6];
/// Key A of the MAD sector (sector 0) of a card formatted per NXP AN10787.
pub const MAD_KEY: [u8; 6] = [0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5];
/// Key A of the NDEF sectors of a MIFARE Classic formatted for NFC (NFC Forum, AN1304).
pub const NFC_KEY: [u8; 6] = [0xD3, 0xF7, 0xD3, 0xF7, 0xD3, 0xF7];

const OK: [u8; 2] = [0x90, 0x00];
/// What the ACR122U answers when the card refused or did not answer.
const FAILED: [u8; 2] = [0x63, 0x00];
const UNSUPPORTED: [u8; 2] = [0x6A, 0x81];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardModel {
    MifareClassic1k,
    Ntag213,
    Ntag215,
    Ntag216,
}

impl CardModel {
    fn ntag_pages(self) -> usize {
        match self {
            CardModel::Ntag213 => 45,
            CardModel::Ntag215 => 135,
            CardModel::Ntag216 => 231,
            CardModel::MifareClassic1k => 0,
        }
    }
    fn ntag_cc_size(self) -> u8 {
        match self {
            CardModel::Ntag213 => 0x12,
            CardModel::Ntag215 => 0x3E,
            _ => 0x6D,
        }
    }
}

/// Where the card is in its life on the reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardState {
    /// Selected by the reader, no sector open.
    Active,
    /// MIFARE Classic: authenticated to this sector.
    Authenticated(usize),
    /// Refused an authentication or NAKed a command: mute until the reader selects it again.
    Halted,
    /// The field is off (vpcd's power off): nothing until it is switched on.
    Unpowered,
    /// Taken off the reader: nothing reaches it any more.
    Gone,
}

#[derive(Clone, Debug)]
pub struct Card {
    pub model: CardModel,
    /// MIFARE Classic: 64 blocks of 16 bytes. NTAG: pages of 4 bytes.
    pub memory: Vec<Vec<u8>>,
    /// A "CUID" blank: block 0 (the UID) can be written.
    pub uid_writable: bool,
    /// The reader's key memory (LOAD KEY): it is the reader's, not the card's.
    loaded_key: Option<[u8; 6]>,
    state: CardState,
    /// The UID the reader got when it last selected the card: GET DATA answers it, so a UID
    /// written to block 0 shows only after the next selection, as on a real reader.
    selected_uid: Vec<u8>,
}

fn bcc(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0, |a, b| a ^ b)
}

/// A sector trailer: key A, access bits and general purpose byte, key B.
fn trailer(key_a: [u8; 6], access: [u8; 4], key_b: [u8; 6]) -> Vec<u8> {
    [&key_a[..], &access[..], &key_b[..]].concat()
}

/// The MAD's CRC-8 (AN10787: polynomial x^8 + x^4 + x^3 + x^2 + 1, preset C7).
fn mad_crc(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0xC7u8, |mut crc, b| {
        crc ^= b;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 {
                (crc << 1) ^ 0x1D
            } else {
                crc << 1
            };
        }
        crc
    })
}

impl Card {
    fn classic(
        uid: [u8; 4],
        uid_writable: bool,
        fill: impl Fn(usize) -> Vec<u8>,
        trailer_of: impl Fn(usize) -> Vec<u8>,
    ) -> Card {
        let mut memory = Vec::with_capacity(64);
        for block in 0..64 {
            memory.push(if block == 0 {
                let mut b = uid.to_vec();
                b.push(bcc(&uid));
                b.extend_from_slice(&[
                    0x08, 0x04, 0x00, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
                ]);
                b
            } else if block % 4 == 3 {
                trailer_of(block / 4)
            } else {
                fill(block)
            });
        }
        Card::new(CardModel::MifareClassic1k, memory, uid_writable)
    }

    fn new(model: CardModel, memory: Vec<Vec<u8>>, uid_writable: bool) -> Card {
        let mut card = Card {
            model,
            memory,
            uid_writable,
            loaded_key: None,
            state: CardState::Active,
            selected_uid: Vec::new(),
        };
        card.selected_uid = card.uid();
        card
    }

    /// A customer's MIFARE Classic 1K badge whose sectors open with `key_a`; its data blocks
    /// hold a pattern made from the UID.
    pub fn badge(uid: [u8; 4], key_a: [u8; 6]) -> Card {
        Card::classic(
            uid,
            false,
            move |block| vec![uid[block % 4] ^ block as u8; 16],
            move |_| trailer(key_a, [0xFF, 0x07, 0x80, 0x69], DEFAULT_KEY),
        )
    }

    /// A MIFARE Classic 1K badge formatted for NFC: a MAD in sector 0 (key A `A0A1A2A3A4A5`,
    /// NXP AN10787) giving every other sector to NDEF (key A `D3F7D3F7D3F7`), and a URI record
    /// in sector 1.
    pub fn mad(uid: [u8; 4]) -> Card {
        // The MAD: CRC, info byte, then the NDEF application id for sectors 1 to 15 (stored
        // 03 E1: application code, then function cluster).
        let mut mad = vec![0x01];
        for _ in 1..16 {
            mad.extend_from_slice(&[0x03, 0xE1]);
        }
        mad.insert(0, mad_crc(&mad));
        let mut ndef = vec![0x03, 0x10, 0xD1, 0x01, 0x0C, 0x55, 0x04];
        ndef.extend_from_slice(b"example.org");
        ndef.push(0xFE);
        ndef.resize(48, 0);
        Card::classic(
            uid,
            false,
            move |block| match block {
                1 | 2 => mad[(block - 1) * 16..block * 16].to_vec(),
                4..=6 => ndef[(block - 4) * 16..(block - 3) * 16].to_vec(),
                _ => vec![0; 16],
            },
            |sector| match sector {
                0 => trailer(MAD_KEY, [0x78, 0x77, 0x88, 0xC1], DEFAULT_KEY),
                _ => trailer(NFC_KEY, [0x7F, 0x07, 0x88, 0x40], DEFAULT_KEY),
            },
        )
    }

    /// A blank MIFARE Classic 1K with transport keys; `cuid` blanks accept a new UID.
    pub fn blank(uid: [u8; 4], cuid: bool) -> Card {
        Card::classic(
            uid,
            cuid,
            |_| vec![0; 16],
            |_| trailer(DEFAULT_KEY, [0xFF, 0x07, 0x80, 0x69], DEFAULT_KEY),
        )
    }

    /// An NTAG21x with a 7-byte UID and `user` bytes in its user memory.
    pub fn ntag(model: CardModel, uid: [u8; 7], user: &[u8]) -> Card {
        let pages = model.ntag_pages();
        let mut memory = vec![vec![0u8; 4]; pages];
        memory[0] = vec![uid[0], uid[1], uid[2], 0x88 ^ bcc(&uid[..3])];
        memory[1] = uid[3..7].to_vec();
        memory[2] = vec![bcc(&uid[3..7]), 0x48, 0x00, 0x00];
        memory[3] = vec![0xE1, 0x10, model.ntag_cc_size(), 0x00];
        for (i, chunk) in user.chunks(4).enumerate().take(pages.saturating_sub(9)) {
            memory[4 + i][..chunk.len()].copy_from_slice(chunk);
        }
        Card::new(model, memory, false)
    }

    pub fn uid(&self) -> Vec<u8> {
        match self.model {
            CardModel::MifareClassic1k => self.memory[0][..4].to_vec(),
            _ => [&self.memory[0][..3], &self.memory[1][..]].concat(),
        }
    }

    pub fn state(&self) -> CardState {
        self.state
    }

    /// The reader selects the card again (field on, or the slot reset): whatever it refused
    /// before, it answers again, with no sector open.
    pub fn activate(&mut self) {
        if self.state != CardState::Gone {
            self.state = CardState::Active;
            self.selected_uid = self.uid();
        }
    }

    /// The card is put on a reader (again, after it was taken off): the reader selects it.
    pub fn put_on(&mut self) {
        self.state = CardState::Active;
        self.selected_uid = self.uid();
    }

    /// The field is switched off.
    pub fn power_off(&mut self) {
        if self.state != CardState::Gone {
            self.state = CardState::Unpowered;
        }
    }

    /// The card leaves the field: a command under way gets no answer from it.
    pub fn lift(&mut self) {
        self.state = CardState::Gone;
    }

    /// The ATR an ACR122U makes up for a contactless card (PC/SC part 3, storage card).
    pub fn atr(&self) -> Vec<u8> {
        let name: [u8; 2] = match self.model {
            CardModel::MifareClassic1k => [0x00, 0x01],
            _ => [0x00, 0x03], // the reader names every NTAG "MIFARE Ultralight"
        };
        let mut atr = vec![
            0x3B, 0x8F, 0x80, 0x01, 0x80, 0x4F, 0x0C, 0xA0, 0x00, 0x00, 0x03, 0x06, 0x03,
        ];
        atr.extend_from_slice(&name);
        atr.extend_from_slice(&[0, 0, 0, 0]);
        atr.push(bcc(&atr[1..]));
        atr
    }

    fn with_ok(mut data: Vec<u8>) -> Vec<u8> {
        data.extend_from_slice(&OK);
        data
    }

    /// The card NAKed or did not answer: the reader says 63 00, and a card that heard the
    /// command (not one that is gone or unpowered) halts.
    fn refuse(&mut self) -> Vec<u8> {
        if matches!(self.state, CardState::Active | CardState::Authenticated(_)) {
            self.state = CardState::Halted;
        }
        FAILED.to_vec()
    }

    /// Answers one pseudo-APDU.
    pub fn answer(&mut self, apdu: &[u8]) -> Vec<u8> {
        let classic = self.model == CardModel::MifareClassic1k;
        let listening = matches!(self.state, CardState::Active | CardState::Authenticated(_));
        match apdu {
            // The reader answers GET DATA from what it learnt selecting the card (even a
            // halted one); with no card in the field there is nothing to tell.
            [0xFF, 0xCA, 0x00, 0x00, ..] => match self.state {
                CardState::Gone | CardState::Unpowered => FAILED.to_vec(),
                _ => Card::with_ok(self.selected_uid.clone()),
            },
            // LOAD KEY fills the reader's memory: no card involved.
            [0xFF, 0x82, 0x00, _slot, 0x06, key @ ..] if key.len() == 6 => {
                self.loaded_key = key.try_into().ok();
                OK.to_vec()
            }
            [0xFF, 0x86, 0x00, 0x00, 0x05, 0x01, 0x00, block, key_type, _slot] if classic => {
                let block = *block as usize;
                if !listening || block >= 64 {
                    return self.refuse();
                }
                let trailer = &self.memory[(block / 4) * 4 + 3];
                let key = match key_type {
                    0x60 => &trailer[..6],
                    _ => &trailer[10..],
                };
                if self.loaded_key.is_some_and(|k| k == key) {
                    self.state = CardState::Authenticated(block / 4);
                    OK.to_vec()
                } else {
                    self.refuse()
                }
            }
            [0xFF, 0xB0, 0x00, block, le] => {
                let block = *block as usize;
                if !listening {
                    return self.refuse();
                }
                if classic {
                    if block >= 64 || self.state != CardState::Authenticated(block / 4) {
                        return self.refuse();
                    }
                    let mut data = self.memory[block].clone();
                    if block % 4 == 3 {
                        data[..6].fill(0); // key A never reads back
                    }
                    return Card::with_ok(data);
                }
                let len = if *le == 0 { 16 } else { *le as usize };
                if block >= self.memory.len() {
                    return self.refuse();
                }
                let bytes: Vec<u8> = self
                    .memory
                    .iter()
                    .cycle()
                    .skip(block)
                    .flatten()
                    .copied()
                    .take(len)
                    .collect();
                Card::with_ok(bytes)
            }
            [0xFF, 0xD6, 0x00, block, lc, data @ ..] if data.len() == *lc as usize => {
                let block = *block as usize;
                let writable = listening
                    && if classic {
                        data.len() == 16
                            && block < 64
                            && self.state == CardState::Authenticated(block / 4)
                            && (block != 0 || self.uid_writable)
                    } else {
                        data.len() == 4 && (3..self.memory.len()).contains(&block)
                    };
                if !writable {
                    return self.refuse();
                }
                self.memory[block] = data.to_vec();
                OK.to_vec()
            }
            _ => UNSUPPORTED.to_vec(),
        }
    }
}

#[cfg(test)]
mod tests;
