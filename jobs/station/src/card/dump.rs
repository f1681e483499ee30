//! A whole card: read into a dump, written block by block to a blank card (UPDATE BINARY),
//! and read back to verify the copy.

use super::*;

fn write_block(
    t: &mut dyn Transport,
    block: u8,
    data: &[u8],
    uids: &[String],
) -> Result<(), CardError> {
    let mut apdu = vec![0xFF, 0xD6, 0x00, block, data.len() as u8];
    apdu.extend_from_slice(data);
    card_command(t, &apdu, uids, |sw| {
        CardError::WriteFailed(format!(
            "block {block} was not written (status {})",
            hex::encode_upper(sw)
        ))
    })
    .map(|_| ())
}

/// Reads the whole card.
pub fn read_dump(t: &mut dyn Transport, keys: &[[u8; 6]]) -> Result<Dump, CardError> {
    let uid = read_uid(t)?;
    let uids = [uid.clone()];
    let kind = card_type(t, &uids)?;
    let mut data = Vec::new();
    match kind {
        CardType::MifareClassic1k => {
            for sector in 0..16u8 {
                let key = open_sector(t, sector, keys, &uids)?;
                for b in 0..4u8 {
                    let mut block = read_block(t, sector * 4 + b, 16, &uids)?;
                    if b == 3 && block.len() == 16 {
                        block[..6].copy_from_slice(&key); // key A never reads back
                    }
                    data.push(hex::encode_upper(block));
                }
            }
        }
        CardType::Ntag(pages) => {
            for page in 0..pages {
                data.push(hex::encode_upper(read_block(t, page as u8, 4, &uids)?));
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
    // Once block 0 is written, the blank answers a new selection with the badge's UID.
    let uids = [read_uid(t)?, dump.uid.clone()];
    let kind = card_type(t, &uids)?;
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
                open_sector(t, sector, keys, &uids).map_err(|e| match e {
                    CardError::AuthenticationFailed(_) => CardError::AuthenticationFailed(format!(
                        "the blank card's sector {sector} does not open with the configured keys"
                    )),
                    other => other,
                })?;
                for b in [0u8, 1, 2, 3] {
                    let block = sector * 4 + b;
                    let data = dump.bytes(block as usize)?;
                    match write_block(t, block, &data, &uids) {
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
                write_block(t, page as u8, &dump.bytes(page)?, &uids)?;
            }
        }
    }
    Ok(())
}

/// Reads the copy back and compares it with the dump. The card is selected afresh first: the
/// reader tells the UID it got when it selected the card, so a UID written to block 0 shows only
/// then — as the next reader will see the copy.
pub fn verify_copy(t: &mut dyn Transport, dump: &Dump) -> Result<(), CardError> {
    let differs =
        |what: String| CardError::WriteFailed(format!("the copy reads back different: {what}"));
    t.reactivate()?;
    // The card was written a moment ago: one that gives no UID now has been taken off.
    let uid = read_uid(t).map_err(|e| match e {
        CardError::WrongCardType(_) => CardError::CardRemoved,
        other => other,
    })?;
    let uids = [uid.clone()];
    match card_type(t, &uids)? {
        CardType::MifareClassic1k => {
            if uid != dump.uid {
                return Err(differs("UID".into()));
            }
            for sector in 0..16u8 {
                let trailer = dump.bytes(sector as usize * 4 + 3)?;
                let key: [u8; 6] = trailer[..6]
                    .try_into()
                    .map_err(|_| differs(format!("sector {sector} key")))?;
                open_sector(t, sector, &[key], &uids).map_err(|e| match e {
                    CardError::AuthenticationFailed(_) => differs(format!(
                        "sector {sector} does not open with the badge's key"
                    )),
                    other => other,
                })?;
                for b in 0..4u8 {
                    let block = sector * 4 + b;
                    let read = read_block(t, block, 16, &uids)?;
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
                if read_block(t, page as u8, 4, &uids)? != dump.bytes(page)? {
                    return Err(differs(format!("page {page}")));
                }
            }
        }
    }
    Ok(())
}
