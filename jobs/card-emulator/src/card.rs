//! The card and the part of the ACR122U's firmware that turns pseudo-APDUs into MIFARE and
//! NTAG commands, modelled closely enough for the agent's reads, writes and failures.

/// The transport key of a new MIFARE Classic card.
pub const DEFAULT_KEY: [u8; 6] = [0xFF; 6];

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

#[derive(Clone, Debug)]
pub struct Card {
    pub model: CardModel,
    /// MIFARE Classic: 64 blocks of 16 bytes. NTAG: pages of 4 bytes.
    pub memory: Vec<Vec<u8>>,
    /// A "CUID" blank: block 0 (the UID) can be written.
    pub uid_writable: bool,
    loaded_key: Option<[u8; 6]>,
    authenticated: Option<usize>,
}

fn bcc(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0, |a, b| a ^ b)
}

impl Card {
    fn classic(
        uid: [u8; 4],
        key_a: [u8; 6],
        uid_writable: bool,
        fill: impl Fn(usize) -> u8,
    ) -> Card {
        let mut memory = Vec::with_capacity(64);
        for block in 0..64 {
            let b = if block == 0 {
                let mut b = uid.to_vec();
                b.push(bcc(&uid));
                b.extend_from_slice(&[
                    0x08, 0x04, 0x00, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
                ]);
                b
            } else if block % 4 == 3 {
                let mut b = key_a.to_vec();
                b.extend_from_slice(&[0xFF, 0x07, 0x80, 0x69]);
                b.extend_from_slice(&DEFAULT_KEY);
                b
            } else {
                vec![fill(block); 16]
            };
            memory.push(b);
        }
        Card {
            model: CardModel::MifareClassic1k,
            memory,
            uid_writable,
            loaded_key: None,
            authenticated: None,
        }
    }

    /// A customer's MIFARE Classic 1K badge whose sectors open with `key_a`; its data blocks
    /// hold a pattern made from the UID.
    pub fn badge(uid: [u8; 4], key_a: [u8; 6]) -> Card {
        Card::classic(uid, key_a, false, move |block| uid[block % 4] ^ block as u8)
    }

    /// A blank MIFARE Classic 1K with transport keys; `cuid` blanks accept a new UID.
    pub fn blank(uid: [u8; 4], cuid: bool) -> Card {
        Card::classic(uid, DEFAULT_KEY, cuid, |_| 0)
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
        Card {
            model,
            memory,
            uid_writable: false,
            loaded_key: None,
            authenticated: None,
        }
    }

    pub fn uid(&self) -> Vec<u8> {
        match self.model {
            CardModel::MifareClassic1k => self.memory[0][..4].to_vec(),
            _ => [&self.memory[0][..3], &self.memory[1][..]].concat(),
        }
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

    /// Answers one pseudo-APDU.
    pub fn answer(&mut self, apdu: &[u8]) -> Vec<u8> {
        let classic = self.model == CardModel::MifareClassic1k;
        match apdu {
            [0xFF, 0xCA, 0x00, 0x00, ..] => Card::with_ok(self.uid()),
            [0xFF, 0x82, 0x00, _slot, 0x06, key @ ..] if key.len() == 6 => {
                self.loaded_key = key.try_into().ok();
                OK.to_vec()
            }
            [0xFF, 0x86, 0x00, 0x00, 0x05, 0x01, 0x00, block, key_type, _slot] if classic => {
                let block = *block as usize;
                let trailer = &self.memory[(block / 4) * 4 + 3];
                let key = match key_type {
                    0x60 => &trailer[..6],
                    _ => &trailer[10..],
                };
                if block < 64 && self.loaded_key.is_some_and(|k| k == key) {
                    self.authenticated = Some(block / 4);
                    OK.to_vec()
                } else {
                    self.authenticated = None;
                    FAILED.to_vec()
                }
            }
            [0xFF, 0xB0, 0x00, block, le] => {
                let block = *block as usize;
                if classic {
                    if block >= 64 || self.authenticated != Some(block / 4) {
                        return FAILED.to_vec();
                    }
                    let mut data = self.memory[block].clone();
                    if block % 4 == 3 {
                        data[..6].fill(0); // key A never reads back
                    }
                    return Card::with_ok(data);
                }
                let len = if *le == 0 { 16 } else { *le as usize };
                if block >= self.memory.len() {
                    return FAILED.to_vec();
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
                let writable = if classic {
                    data.len() == 16
                        && block < 64
                        && self.authenticated == Some(block / 4)
                        && (block != 0 || self.uid_writable)
                } else {
                    data.len() == 4 && (3..self.memory.len()).contains(&block)
                };
                if !writable {
                    return FAILED.to_vec();
                }
                self.memory[block] = data.to_vec();
                OK.to_vec()
            }
            _ => UNSUPPORTED.to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_badge_reads_only_after_authentication_with_its_key() {
        let mut card = Card::badge([4, 0xAB, 0x12, 0xCD], [1, 2, 3, 4, 5, 6]);
        assert_eq!(
            card.answer(&[0xFF, 0xCA, 0, 0, 0]),
            vec![4, 0xAB, 0x12, 0xCD, 0x90, 0]
        );
        assert_eq!(card.answer(&[0xFF, 0xB0, 0, 4, 16]), FAILED);
        card.answer(&[0xFF, 0x82, 0, 0, 6, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        assert_eq!(
            card.answer(&[0xFF, 0x86, 0, 0, 5, 1, 0, 4, 0x60, 0]),
            FAILED
        );
        card.answer(&[0xFF, 0x82, 0, 0, 6, 1, 2, 3, 4, 5, 6]);
        assert_eq!(card.answer(&[0xFF, 0x86, 0, 0, 5, 1, 0, 4, 0x60, 0]), OK);
        assert_eq!(card.answer(&[0xFF, 0xB0, 0, 4, 16]).len(), 18);
        assert_eq!(&card.answer(&[0xFF, 0xB0, 0, 7, 16])[..6], &[0; 6]);
        assert_eq!(
            card.answer(&[0xFF, 0xB0, 0, 8, 16]),
            FAILED,
            "another sector"
        );
    }

    #[test]
    fn only_a_cuid_blank_takes_a_uid() {
        for cuid in [false, true] {
            let mut card = Card::blank([9, 9, 9, 9], cuid);
            card.answer(&[0xFF, 0x82, 0, 0, 6, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
            card.answer(&[0xFF, 0x86, 0, 0, 5, 1, 0, 0, 0x60, 0]);
            let mut write = vec![0xFF, 0xD6, 0, 0, 16];
            write.extend_from_slice(&[1, 2, 3, 4, 4, 8, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            assert_eq!(card.answer(&write) == OK, cuid);
            assert_eq!(card.uid() == vec![1, 2, 3, 4], cuid);
        }
    }

    #[test]
    fn ntag_pages_read_in_fours_and_the_uid_pages_are_locked() {
        let mut card = Card::ntag(CardModel::Ntag213, [4, 1, 2, 3, 4, 5, 6], b"hello");
        assert_eq!(card.uid(), vec![4, 1, 2, 3, 4, 5, 6]);
        assert_eq!(&card.answer(&[0xFF, 0xB0, 0, 4, 4])[..4], b"hell");
        assert_eq!(card.answer(&[0xFF, 0xD6, 0, 0, 4, 1, 2, 3, 4]), FAILED);
        assert_eq!(card.answer(&[0xFF, 0xD6, 0, 5, 4, 1, 2, 3, 4]), OK);
        assert_eq!(card.answer(&[0xFF, 0xB0, 0, 45, 4]), FAILED);
        assert_eq!(card.atr()[13..15], [0, 3]);
    }
}
