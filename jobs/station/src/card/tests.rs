use super::*;
use outpost_card_emulator::{Card, CardModel, CardState, DEFAULT_KEY, MAD_KEY, NFC_KEY};

/// A card lying on a reader, without pcscd: the emulator's card answers the APDUs. With
/// `lift_at`, the card leaves the field as that APDU (counted from 0) is sent.
struct OnTable {
    card: Card,
    atr: Vec<u8>,
    lift_at: Option<usize>,
    sent: usize,
}

impl Transport for OnTable {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, CardError> {
        if self.lift_at == Some(self.sent) {
            self.card.lift();
        }
        self.sent += 1;
        Ok(self.card.answer(apdu))
    }
    fn atr(&self) -> &[u8] {
        &self.atr
    }
    fn reactivate(&mut self) -> Result<(), CardError> {
        self.card.activate();
        match self.card.state() {
            CardState::Gone => Err(CardError::CardRemoved),
            _ => Ok(()),
        }
    }
}

fn on_table(card: Card) -> OnTable {
    let atr = card.atr();
    OnTable {
        card,
        atr,
        lift_at: None,
        sent: 0,
    }
}

/// The station's default keys, in their order.
const KEYS: [[u8; 6]; 3] = [DEFAULT_KEY, MAD_KEY, NFC_KEY];
const BADGE_KEY: [u8; 6] = MAD_KEY;

fn cuid_blank() -> Card {
    Card::blank([1, 2, 3, 4], true)
}

#[test]
fn a_classic_badge_is_copied_onto_a_cuid_blank_and_verified() {
    let mut badge = on_table(Card::badge([0x04, 0xAB, 0x12, 0xCD], BADGE_KEY));
    let dump = read_dump(&mut badge, &[DEFAULT_KEY, BADGE_KEY]).unwrap();
    assert_eq!(dump.uid, "04AB12CD");
    assert_eq!(dump.data.len(), 64);
    assert!(dump.data[3].starts_with("A0A1A2A3A4A5"));
    let mut blank = on_table(cuid_blank());
    write_copy(&mut blank, &dump, &[DEFAULT_KEY]).unwrap();
    verify_copy(&mut blank, &dump).unwrap();
    assert_eq!(blank.card.memory, badge.card.memory, "a faithful clone");
}

#[test]
fn badges_keyed_with_any_configured_key_and_mad_cards_are_copied() {
    let badges = [
        ("second key", Card::badge([4, 2, 2, 2], MAD_KEY)),
        ("third key", Card::badge([4, 3, 3, 3], NFC_KEY)),
        ("MAD", Card::mad([4, 4, 4, 4])),
    ];
    for (what, badge) in badges {
        let mut badge = on_table(badge);
        let dump = read_dump(&mut badge, &KEYS).unwrap_or_else(|e| panic!("{what}: {e}"));
        let mut blank = on_table(cuid_blank());
        write_copy(&mut blank, &dump, &KEYS).unwrap_or_else(|e| panic!("{what}: {e}"));
        verify_copy(&mut blank, &dump).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(blank.card.memory, badge.card.memory, "{what}");
    }
}

#[test]
fn a_card_written_before_takes_another_copy() {
    // The copy of a MAD card: sector 0 opens with the MAD key, the others with the NFC key.
    let mut mad = on_table(Card::mad([4, 4, 4, 4]));
    let mad_dump = read_dump(&mut mad, &KEYS).unwrap();
    let mut card = on_table(cuid_blank());
    write_copy(&mut card, &mad_dump, &KEYS).unwrap();
    verify_copy(&mut card, &mad_dump).unwrap();
    // Taken off, and put on again for another copy.
    card.card.put_on();
    let mut badge = on_table(Card::badge([4, 3, 3, 3], NFC_KEY));
    let dump = read_dump(&mut badge, &KEYS).unwrap();
    write_copy(&mut card, &dump, &KEYS).unwrap();
    verify_copy(&mut card, &dump).unwrap();
    assert_eq!(card.card.memory, badge.card.memory);
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
        write_copy(&mut locked, &dump, &KEYS)
            .unwrap_err()
            .category(),
        "authentication_failed"
    );
    let mut odd = on_table(cuid_blank());
    odd.atr = vec![0x3B, 0x00];
    assert_eq!(
        read_dump(&mut odd, &[DEFAULT_KEY]).unwrap_err().category(),
        "wrong_card_type"
    );
}

/// Something the agent does with the card on the reader.
type Work<'a> = &'a dyn Fn(&mut OnTable) -> Result<(), CardError>;

/// How many APDUs `work` sends to a card that stays on the reader.
fn apdus(card: Card, work: Work) -> usize {
    let mut t = on_table(card);
    work(&mut t).unwrap();
    t.sent
}

#[test]
fn a_card_taken_off_at_any_point_of_a_read_or_write_is_card_removed() {
    let mad = Card::mad([4, 4, 4, 4]);
    let dump = read_dump(&mut on_table(mad.clone()), &KEYS).unwrap();
    let read = |t: &mut OnTable| read_dump(t, &KEYS).map(|_| ());
    let write = |t: &mut OnTable| {
        write_copy(t, &dump, &KEYS)?;
        verify_copy(t, &dump)
    };
    let cases: [(&str, Card, Work); 2] = [("read", mad, &read), ("write", cuid_blank(), &write)];
    for (what, card, work) in cases {
        for lift_at in 0..apdus(card.clone(), work) {
            let mut t = on_table(card.clone());
            t.lift_at = Some(lift_at);
            let err = work(&mut t).expect_err("a lifted card");
            assert_eq!(
                err,
                CardError::CardRemoved,
                "{what}, lifted at APDU {lift_at}"
            );
        }
    }
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
    assert_eq!(blank.card.memory[4..40], tag.card.memory[4..40]);
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
