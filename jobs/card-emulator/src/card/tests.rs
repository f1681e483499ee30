use super::*;

const LOAD_FF: [u8; 11] = [0xFF, 0x82, 0, 0, 6, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];

fn load(key: [u8; 6]) -> Vec<u8> {
    [&[0xFF, 0x82, 0, 0, 6][..], &key[..]].concat()
}

fn auth(block: u8) -> [u8; 10] {
    [0xFF, 0x86, 0, 0, 5, 1, 0, block, 0x60, 0]
}

fn write(block: u8, data: [u8; 16]) -> Vec<u8> {
    [&[0xFF, 0xD6, 0, block, 16][..], &data[..]].concat()
}

#[test]
fn a_badge_reads_only_after_authentication_with_its_key() {
    let mut card = Card::badge([4, 0xAB, 0x12, 0xCD], [1, 2, 3, 4, 5, 6]);
    assert_eq!(
        card.answer(&[0xFF, 0xCA, 0, 0, 0]),
        vec![4, 0xAB, 0x12, 0xCD, 0x90, 0]
    );
    card.answer(&load([1, 2, 3, 4, 5, 6]));
    assert_eq!(card.answer(&auth(4)), OK);
    assert_eq!(card.answer(&[0xFF, 0xB0, 0, 4, 16]).len(), 18);
    assert_eq!(&card.answer(&[0xFF, 0xB0, 0, 7, 16])[..6], &[0; 6]);
    assert_eq!(
        card.answer(&[0xFF, 0xB0, 0, 8, 16]),
        FAILED,
        "another sector"
    );
}

#[test]
fn a_failed_authentication_leaves_the_card_mute_until_it_is_selected_again() {
    let key = [1, 2, 3, 4, 5, 6];
    let mut card = Card::badge([4, 1, 2, 3], key);
    card.answer(&LOAD_FF);
    assert_eq!(card.answer(&auth(4)), FAILED);
    assert_eq!(card.state(), CardState::Halted);
    // The right key now, and every other command: the card no longer listens.
    card.answer(&load(key));
    assert_eq!(card.answer(&auth(4)), FAILED, "mute: even the right key");
    assert_eq!(card.answer(&[0xFF, 0xB0, 0, 4, 16]), FAILED);
    assert_eq!(card.answer(&write(4, [7; 16])), FAILED);
    assert_eq!(card.memory[4], vec![4 ^ 4; 16], "nothing written");
    // The reader still tells the UID it selected.
    assert_eq!(card.answer(&[0xFF, 0xCA, 0, 0, 0])[..4], [4, 1, 2, 3]);
    // Selected again (field off and on, or a reset): it answers, the loaded key kept.
    card.power_off();
    assert_eq!(card.answer(&auth(4)), FAILED, "no field");
    card.activate();
    assert_eq!(card.answer(&auth(4)), OK);
    assert_eq!(card.answer(&write(4, [7; 16])), OK);
    // A refused read (another sector) halts it too.
    assert_eq!(card.answer(&[0xFF, 0xB0, 0, 8, 16]), FAILED);
    assert_eq!(card.answer(&[0xFF, 0xB0, 0, 4, 16]), FAILED);
    card.activate();
    assert_eq!(
        card.answer(&[0xFF, 0xB0, 0, 4, 16]),
        FAILED,
        "no sector open"
    );
}

#[test]
fn a_card_taken_off_answers_nothing_and_cannot_be_selected_again() {
    let mut card = Card::blank([1, 2, 3, 4], true);
    card.answer(&LOAD_FF);
    assert_eq!(card.answer(&auth(4)), OK);
    card.lift();
    assert_eq!(card.answer(&write(4, [9; 16])), FAILED);
    assert_eq!(card.memory[4], vec![0; 16]);
    assert_eq!(card.answer(&[0xFF, 0xCA, 0, 0, 0]), FAILED);
    assert_eq!(card.answer(&LOAD_FF), OK, "the reader's own memory");
    card.activate();
    assert_eq!(card.state(), CardState::Gone);
    card.put_on();
    assert_eq!(card.answer(&[0xFF, 0xCA, 0, 0, 0])[..4], [1, 2, 3, 4]);
}

#[test]
fn a_mad_card_opens_sector_0_with_the_mad_key_and_the_rest_with_the_nfc_key() {
    let mut card = Card::mad([4, 5, 6, 7]);
    for (sector, key) in [(0u8, MAD_KEY), (1, NFC_KEY), (15, NFC_KEY)] {
        card.answer(&load(key));
        assert_eq!(card.answer(&auth(sector * 4)), OK, "sector {sector}");
    }
    assert_eq!(card.memory[1][1], 0x01, "MAD info byte");
    // As NFC-formatted cards read: 14 01 03 E1 03 E1 … (CRC, info byte, NDEF sectors).
    assert_eq!(card.memory[1][..4], [0x14, 0x01, 0x03, 0xE1]);
    assert_eq!(card.memory[2], [0x03, 0xE1].repeat(8));
    assert_eq!(card.memory[4][..2], [0x03, 0x10], "an NDEF message TLV");
}

#[test]
fn a_uid_written_to_block_0_shows_at_the_next_selection() {
    for cuid in [false, true] {
        let mut card = Card::blank([9, 9, 9, 9], cuid);
        card.answer(&LOAD_FF);
        card.answer(&auth(0));
        let block0 = [1, 2, 3, 4, 4, 8, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(card.answer(&write(0, block0)) == OK, cuid);
        assert_eq!(card.uid() == vec![1, 2, 3, 4], cuid);
        assert_eq!(card.answer(&[0xFF, 0xCA, 0, 0, 0])[..4], [9, 9, 9, 9]);
        card.activate();
        let selected = if cuid { [1, 2, 3, 4] } else { [9, 9, 9, 9] };
        assert_eq!(card.answer(&[0xFF, 0xCA, 0, 0, 0])[..4], selected);
    }
}

#[test]
fn ntag_pages_read_in_fours_and_a_nak_mutes_the_tag() {
    let mut card = Card::ntag(CardModel::Ntag213, [4, 1, 2, 3, 4, 5, 6], b"hello");
    assert_eq!(card.uid(), vec![4, 1, 2, 3, 4, 5, 6]);
    assert_eq!(&card.answer(&[0xFF, 0xB0, 0, 4, 4])[..4], b"hell");
    assert_eq!(card.answer(&[0xFF, 0xD6, 0, 5, 4, 1, 2, 3, 4]), OK);
    // The UID pages are locked: NAK, and the tag halts.
    assert_eq!(card.answer(&[0xFF, 0xD6, 0, 0, 4, 1, 2, 3, 4]), FAILED);
    assert_eq!(card.answer(&[0xFF, 0xB0, 0, 4, 4]), FAILED);
    card.activate();
    assert_eq!(card.answer(&[0xFF, 0xB0, 0, 45, 4]), FAILED);
    card.activate();
    assert_eq!(&card.answer(&[0xFF, 0xB0, 0, 5, 4])[..4], [1, 2, 3, 4]);
    assert_eq!(card.atr()[13..15], [0, 3]);
}
