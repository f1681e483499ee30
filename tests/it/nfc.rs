//! Issue 12 end to end on a real pcscd: the station agent (`outpost-station`, a child process)
//! talks PC/SC to pcscd, whose vpcd driver plays a virtual reader; the card on it is the test's
//! emulated ACR122U + MIFARE Classic badge (`outpost-card-emulator`), put on and taken off as a
//! person at the station would, following the agent's prompts. The server is the real `outpost
//! serve` process. Tests using the reader take turns (there is one reader).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use outpost_card_emulator::{insert, Card, Inserted, DEFAULT_KEY, NFC_KEY, VPCD_PORT};

use crate::browser::Chrome;
use crate::offline::World;

pub const UID: &str = "04AB12CD";
const UID_BYTES: [u8; 4] = [0x04, 0xAB, 0x12, 0xCD];
/// The station's second default key (after the transport key FF…FF): a badge keyed with it
/// opens only if the agent selects the card again after the first key is refused.
const BADGE_KEY: [u8; 6] = [0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5];
const READER: &str = "Virtual PCD 00 00";

/// One reader, so one test at a time uses it.
static READER_TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// pcscd with the vpcd driver, started when not running (scripts/test installs the packages).
fn pcscd() {
    assert!(
        std::path::Path::new("/usr/lib/pcsc/drivers/serial/libifdvpcd.so").exists(),
        "the NFC tests need Debian's pcscd and vsmartcard-vpcd (scripts/test installs them)"
    );
    let running = Command::new("pgrep")
        .arg("-x")
        .arg("pcscd")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !running {
        let _ = Command::new("pcscd").status();
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn station_binary() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_BIN_EXE_outpost")).with_file_name("outpost-station");
    if !path.exists() {
        // `cargo test --workspace` builds it; a lone `cargo test --test it` may not have.
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let ok = Command::new(cargo)
            .args(["build", "-p", "outpost-station"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "building outpost-station failed");
    }
    path
}

/// The station: its token, its state directory, and a way to run the agent.
pub struct Station {
    pub server: String,
    pub token: String,
    pub dir: PathBuf,
}

impl Station {
    pub fn new(world: &World) -> Station {
        let token = outpost::auth::tokens::issue_station_token(&mut world.db.conn(), "KIN-BADGE-1")
            .unwrap();
        Station {
            server: world.server.url(),
            token,
            dir: std::env::temp_dir().join(format!("outpost-station-{}", uuid::Uuid::new_v4())),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(station_binary());
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("OUTPOST_STATION_SERVER", &self.server)
            .env("OUTPOST_STATION_CODE", "KIN-BADGE-1")
            .env("OUTPOST_STATION_TOKEN", &self.token)
            .env("OUTPOST_STATION_READER", READER)
            .env("OUTPOST_STATION_STATE_DIR", &self.dir)
            .env("OUTPOST_STATION_OPERATOR", "Desk clerk")
            .env("OUTPOST_STATION_CARD_TIMEOUT", "20")
            .env("OUTPOST_STATION_RETRY_BASE_MS", "50")
            .args(args);
        cmd
    }

    /// Runs a command to its end; its exit code and what it printed.
    pub fn run(&self, args: &[&str]) -> (i32, String) {
        let out = self.command(args).output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), text)
    }

    /// Starts a command and follows what it tells the person at the station.
    pub fn spawn(&self, args: &[&str]) -> Agent {
        let mut child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Agent {
            child,
            lines: rx,
            seen: Vec::new(),
        }
    }

    pub fn cleanup(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub struct Agent {
    child: Child,
    lines: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl Agent {
    /// Waits for a line containing `text`; panics with everything said so far otherwise.
    pub fn expect(&mut self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(40);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => break,
            }
        }
        panic!(
            "the agent never said {text:?}; it said:\n{}",
            self.seen.join("\n")
        );
    }

    /// Waits for the process to end (a one-off command).
    pub fn finish(mut self) -> (i32, Vec<String>) {
        let code = self.child.wait().unwrap().code().unwrap_or(-1);
        self.seen.extend(self.lines.try_iter());
        (code, std::mem::take(&mut self.seen))
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A badge of the shelter (registered with `UID`) with a quota of `limit`; its customer id.
pub fn badge_and_quota(world: &World, limit: i32) -> i64 {
    let shelter = world.count("SELECT id AS n FROM customers WHERE code = 'TT-SHELTER'");
    crate::badge_copies::badge_with_quota(&mut world.db.conn(), shelter, UID, limit);
    shelter
}

pub fn the_badge() -> Card {
    Card::badge(UID_BYTES, BADGE_KEY)
}

pub fn blank() -> Card {
    Card::blank([0x11, 0x22, 0x33, 0x44], true)
}

/// Puts a card on the reader.
pub fn put(card: Card) -> Inserted {
    insert(VPCD_PORT, card, None)
        .expect("vpcd takes a card on 127.0.0.1:35963 (is pcscd running with vsmartcard-vpcd?)")
}

/// The person at the station: badge on, badge off, blank on, blank off, following the prompts.
/// Returns the blank as it left the reader.
pub fn copy_at_the_desk(agent: &mut Agent, blank_card: Card, cut_after: Option<usize>) -> Card {
    agent.expect("on the reader");
    let original = put(the_badge());
    agent.expect("Take it off and put a blank card");
    original.remove();
    let blank = insert(VPCD_PORT, blank_card, cut_after).unwrap();
    match cut_after {
        None => {
            agent.expect("written and verified");
        }
        Some(_) => {
            agent.expect("Copy failed");
        }
    }
    blank.remove()
}

fn status_of(world: &World, copy: &str) -> String {
    world
        .text(&format!(
            "SELECT status AS t FROM badge_copies WHERE id = '{copy}'"
        ))
        .unwrap_or_default()
}

async fn request_copy(world: &World, station_id: i64, customer: i64) -> String {
    let token = crate::live::token(&world.server.url(), "customer").await;
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/badges/copies", world.server.url()))
        .bearer_auth(token)
        .json(&serde_json::json!({ "customer_id": customer, "badge_uid": UID, "station_id": station_id }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body: serde_json::Value = res.json().await.unwrap();
    body["id"].as_str().unwrap().to_string()
}

fn station_id(world: &World) -> i64 {
    world.count("SELECT id AS n FROM nfc_stations WHERE code = 'KIN-BADGE-1'")
}

fn remaining(world: &World) -> i64 {
    world.count("SELECT remaining::bigint AS n FROM badge_quotas")
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requested_copy_is_made_on_the_reader_verified_and_reported_once() {
    let _turn = READER_TURN.lock().await;
    pcscd();
    let world = World::start();
    let customer = badge_and_quota(&world, 3);
    let copy = request_copy(&world, station_id(&world), customer).await;
    assert_eq!(remaining(&world), 2);
    let station = Station::new(&world);
    let mut agent = station.spawn(&["run"]);
    agent.expect("ready on reader Virtual PCD 00 00");
    agent.expect(&format!("Put badge {UID} on the reader"));
    let original = put(the_badge());
    agent.expect("Take it off and put a blank card");
    let badge = original.remove();
    let made = put(blank());
    agent.expect("written and verified");
    let clone = made.remove();
    assert_eq!(
        clone.memory, badge.memory,
        "the blank is now a faithful copy of the badge"
    );
    assert_eq!(clone.uid(), UID_BYTES);
    agent.expect(&format!("Reported copy {copy}: completed."));
    wait_until("the copy to be completed", || {
        status_of(&world, &copy) == "completed"
    });
    drop(agent);
    // The dump is kept with its digest; the quota stays taken; one audit row of the result.
    let sha = world
        .text(&format!(
            "SELECT sha256 AS t FROM badge_dumps WHERE copy_id = '{copy}'"
        ))
        .unwrap();
    let data = world
        .text(&format!(
            "SELECT data::text AS t FROM badge_dumps WHERE copy_id = '{copy}'"
        ))
        .unwrap();
    assert_eq!(sha.len(), 64);
    assert!(
        data.contains("A0A1A2A3A4A5"),
        "sector trailers keep the key that opened them: {data}"
    );
    assert_eq!(remaining(&world), 2);
    assert_eq!(world.count(&format!("SELECT count(*) AS n FROM audit_log WHERE action = 'badge.copy_completed' AND object_id = '{copy}'")), 1);
    assert_eq!(
        world
            .text(&format!(
                "SELECT recorded_by AS t FROM badge_copies WHERE id = '{copy}'"
            ))
            .as_deref(),
        Some("Desk clerk")
    );
    // The journal says it was reported.
    let (code, status) = station.run(&["status"]);
    assert_eq!(code, 0, "{status}");
    assert!(
        status.contains("Pending: 0") && status.contains("Synced: 1"),
        "{status}"
    );
    station.cleanup();
}

fn category_of(world: &World, copy: &str) -> (Option<String>, Option<String>) {
    let field = |f: &str| {
        world.text(&format!(
            "SELECT {f} AS t FROM badge_copies WHERE id = '{copy}'"
        ))
    };
    (field("error_category"), field("error"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_and_a_card_taken_off_mid_copy_fail_with_their_category_and_give_the_quota_back(
) {
    let _turn = READER_TURN.lock().await;
    pcscd();
    let world = World::start();
    let customer = badge_and_quota(&world, 4);
    let mut copies = Vec::new();
    for _ in 0..4 {
        copies.push(request_copy(&world, station_id(&world), customer).await);
    }
    let [first, second, third, fourth] = copies.try_into().unwrap();
    assert_eq!(remaining(&world), 0);
    let station = Station::new(&world);
    let mut agent = station.spawn(&["run"]);
    // 1. A badge whose sectors open with none of the station's keys.
    agent.expect(&format!("Put badge {UID} on the reader"));
    let locked = put(Card::badge(UID_BYTES, [0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC]));
    let said = agent.expect("Copy failed");
    assert!(said.contains("authentication_failed"), "{said}");
    locked.remove();
    wait_until("the first copy to fail", || {
        status_of(&world, &first) == "failed"
    });
    assert_eq!(remaining(&world), 1, "a failed copy gives its quota back");
    // 2. The blank is taken off in the middle of a write (the 13th command: sector 1's
    // trailer). The reader answers that write 63 00 while pcscd still sees the card.
    let half_written = copy_at_the_desk(&mut agent, blank(), Some(12));
    assert_ne!(
        half_written.memory,
        the_badge().memory,
        "a half-written card"
    );
    wait_until("the second copy to fail", || {
        status_of(&world, &second) == "failed"
    });
    let (category, error) = category_of(&world, &second);
    assert_eq!(category.as_deref(), Some("card_removed"), "{error:?}");
    // 3. The badge is taken off while it is read (a read in sector 1 is cut).
    agent.expect(&format!("Put badge {UID} on the reader"));
    let lifted = insert(VPCD_PORT, the_badge(), Some(18)).unwrap();
    let said = agent.expect("Copy failed");
    assert!(said.contains("card_removed"), "{said}");
    lifted.remove();
    wait_until("the third copy to fail", || {
        status_of(&world, &third) == "failed"
    });
    let (category, error) = category_of(&world, &third);
    assert_eq!(category.as_deref(), Some("card_removed"), "{error:?}");
    assert_eq!(remaining(&world), 3, "failed copies gave their quota back");
    // 4. The half-written card is used again: sector 0 already opens with the badge's key
    // (the station's second), the others still with the transport key.
    let copy = copy_at_the_desk(&mut agent, half_written, None);
    assert_eq!(copy.memory, the_badge().memory);
    wait_until("the fourth copy to complete", || {
        status_of(&world, &fourth) == "completed"
    });
    drop(agent);
    assert_eq!(remaining(&world), 3);
    // The station's first key opens a blank.
    assert_eq!(DEFAULT_KEY, [0xFF; 6]);
    station.cleanup();
}

/// Issue 26: a real MIFARE Classic goes mute after refusing a key until it is selected again,
/// so badges that open only with the station's second or third key, and cards formatted for NFC
/// (MAD sector 0 with A0A1A2A3A4A5, the others with D3F7D3F7D3F7), are copied only by an agent
/// that re-selects the card after each refused key. Each copy is written onto the card the
/// previous one was written on, whose sectors no longer open with the transport key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn badges_opening_with_the_second_or_third_key_and_a_mad_card_are_copied() {
    let _turn = READER_TURN.lock().await;
    pcscd();
    let world = World::start();
    let customer = badge_and_quota(&world, 3);
    let station = Station::new(&world);
    let mut agent = station.spawn(&["run"]);
    agent.expect("ready on reader");
    let badges = [
        ("third key", Card::badge(UID_BYTES, NFC_KEY)),
        ("MAD", Card::mad(UID_BYTES)),
        ("second key", the_badge()),
    ];
    let mut card = blank();
    for (what, badge) in badges {
        let copy = request_copy(&world, station_id(&world), customer).await;
        agent.expect(&format!("Put badge {UID} on the reader"));
        let original = put(badge);
        agent.expect("Take it off and put a blank card");
        let badge = original.remove();
        let made = put(card);
        agent.expect("written and verified");
        card = made.remove();
        assert_eq!(card.memory, badge.memory, "{what}: a faithful copy");
        agent.expect(&format!("Reported copy {copy}: completed."));
        wait_until("the copy to be completed", || {
            status_of(&world, &copy) == "completed"
        });
    }
    drop(agent);
    let mad = world
        .text("SELECT data::text AS t FROM badge_dumps ORDER BY id LIMIT 1 OFFSET 1")
        .unwrap();
    assert!(
        mad.contains("A0A1A2A3A4A5") && mad.contains("D3F7D3F7D3F7"),
        "the MAD card's trailers keep the keys that opened them: {mad}"
    );
    assert_eq!(remaining(&world), 0);
    station.cleanup();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_made_offline_are_journaled_survive_restarts_and_sync_with_a_quota_refusal() {
    let _turn = READER_TURN.lock().await;
    pcscd();
    let mut world = World::start();
    let customer = badge_and_quota(&world, 2);
    let station = Station::new(&world);
    // Never synced: the station does not know the badges and refuses to guess.
    let (code, said) = station.run(&["copy"]);
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("run `outpost-station sync` once"), "{said}");
    let (code, said) = station.run(&["sync"]);
    assert_eq!(code, 0, "{said}");
    // The server goes away; two copies are made at the desk anyway.
    world.server.kill();
    for _ in 0..2 {
        let mut agent = station.spawn(&["copy"]);
        copy_at_the_desk(&mut agent, blank(), None);
        agent.expect("Saved locally, will sync when online.");
        let (code, said) = agent.finish();
        assert_eq!(code, 0, "{}", said.join("\n"));
        assert!(
            said.iter().any(|l| l.contains("kept in the journal")),
            "{said:?}"
        );
    }
    let (_, status) = station.run(&["status"]);
    assert!(status.contains("Pending: 2"), "{status}");
    assert!(
        status.contains("0 of 2 left"),
        "the local quota went down: {status}"
    );
    // Meanwhile the customer used a copy elsewhere: the server has one left, not two.
    {
        use diesel::RunQueryDsl;
        diesel::sql_query("UPDATE badge_quotas SET remaining = 1")
            .execute(&mut world.db.conn())
            .unwrap();
    }
    // The third copy is refused by the station itself (its quota says none are left).
    let (code, said) = station.run(&["copy"]);
    assert!(code != 0 || said.contains("Insufficient quota"), "{said}");
    world.server.restart();
    // A new agent process (the old ones are gone): the journal came through the restarts.
    let (code, said) = station.run(&["sync"]);
    assert_eq!(code, 0, "{said}");
    assert_eq!(said.matches("Synced copy").count(), 1, "{said}");
    assert!(
        said.contains("failed at the server: Insufficient quota"),
        "{said}"
    );
    assert_eq!(world.count("SELECT count(*) AS n FROM badge_copies WHERE status = 'completed' AND recorded_offline"), 1);
    assert_eq!(world.count("SELECT count(*) AS n FROM badge_dumps"), 1);
    assert_eq!(world.count("SELECT count(*) AS n FROM audit_log WHERE action = 'badge.copy_record' AND outcome = 'rejected'"), 1);
    assert_eq!(remaining(&world), 0);
    // The quotas were pulled afresh, and the refused copy is kept for a manual retry.
    let (_, status) = station.run(&["status"]);
    assert!(
        status.contains("Pending: 0")
            && status.contains("Failed: 1")
            && status.contains("Synced: 1"),
        "{status}"
    );
    assert!(
        status.contains("Insufficient quota") && status.contains("0 of 2 left"),
        "{status}"
    );
    // Sending it again changes nothing until the quota allows it; once reset, it goes through.
    {
        use diesel::RunQueryDsl;
        diesel::sql_query("UPDATE badge_quotas SET remaining = 2")
            .execute(&mut world.db.conn())
            .unwrap();
    }
    let (code, said) = station.run(&["sync", "--retry-failed"]);
    assert_eq!(code, 0, "{said}");
    assert_eq!(said.matches("Synced copy").count(), 1, "{said}");
    assert_eq!(
        world.count("SELECT count(*) AS n FROM badge_copies WHERE recorded_offline"),
        2
    );
    assert_eq!(remaining(&world), 1);
    let _ = customer;
    station.cleanup();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_asked_for_in_the_browser_is_made_at_the_station_and_shows_completed() {
    let _turn = READER_TURN.lock().await;
    pcscd();
    let world = World::start();
    badge_and_quota(&world, 3);
    let station = Station::new(&world);
    let mut agent = station.spawn(&["run"]);
    agent.expect("ready on reader");
    let chrome = Chrome::start(&world.server.url(), true).await;
    chrome.sign_in("customer").await;
    chrome.goto("/badges").await;
    chrome.submit("form[action='/badges/copies']", &[]).await;
    assert!(
        chrome
            .wait_for(
                "document.body.innerText.includes('Copy queued')",
                Duration::from_secs(10)
            )
            .await,
        "{}\n{}",
        chrome.path().await,
        chrome.body_text().await
    );
    let made = tokio::task::spawn_blocking(move || {
        let clone = copy_at_the_desk(&mut agent, blank(), None);
        (clone, agent)
    })
    .await
    .unwrap();
    assert_eq!(made.0.uid(), UID_BYTES);
    let mut shown = false;
    for _ in 0..50 {
        chrome.goto("/badges/copies").await;
        let rows = chrome
            .js(
                "return document.querySelector('tbody').innerText",
                serde_json::json!([]),
            )
            .await;
        if rows.as_str().unwrap_or_default().contains("Completed") {
            shown = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(shown, "{}", chrome.body_text().await);
    let text = chrome.body_text().await;
    assert!(text.contains(UID) && text.contains("Desk clerk"), "{text}");
    station.cleanup();
}

/// Issue 26, the station's side of item 5: a result the server refuses as invalid (422: here a
/// dump holding a NUL, as a journal written by an older agent could) is the server's final
/// word. The agent says so once, keeps the entry as failed, and does not send it again; the
/// copy stays leased for the server to offer again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_the_server_refuses_as_invalid_is_kept_failed_and_never_sent_again() {
    use sha2::{Digest, Sha256};
    let world = World::start();
    let customer = badge_and_quota(&world, 1);
    let copy = request_copy(&world, station_id(&world), customer).await;
    let station = Station::new(&world);
    let leased = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/stations/jobs/next?wait=0",
            station.server
        ))
        .bearer_auth(&station.token)
        .header("X-Station-Code", "KIN-BADGE-1")
        .send()
        .await
        .unwrap();
    assert_eq!(leased.status(), 200);
    let dump = serde_json::json!({ "atr": "3B8F\u{0}", "card_type": "mifare_classic_1k", "data": [], "uid": UID });
    let sha = hex::encode(Sha256::digest(dump.to_string().as_bytes()));
    let body = serde_json::json!({ "status": "completed", "dump": dump, "dump_sha256": sha, "recorded_by": "Desk clerk" });
    let line = serde_json::json!({ "add": { "type": "report", "copy_id": copy, "body": body } });
    std::fs::create_dir_all(&station.dir).unwrap();
    std::fs::write(station.dir.join("journal.jsonl"), format!("{line}\n")).unwrap();
    let (code, said) = station.run(&["sync"]);
    assert_eq!(code, 0, "{said}");
    assert!(
        said.contains(&format!("refused the report of copy {copy} (422)"))
            && said.contains("will not be sent again"),
        "{said}"
    );
    for _ in 0..2 {
        let (code, said) = station.run(&["sync"]);
        assert_eq!(code, 0, "{said}");
        assert!(!said.contains("refused"), "sent again: {said}");
    }
    let (_, status) = station.run(&["status"]);
    assert!(
        status.contains("Pending: 0") && status.contains("Failed: 1") && status.contains("(422)"),
        "{status}"
    );
    assert_eq!(status_of(&world, &copy), "leased");
    station.cleanup();
}
