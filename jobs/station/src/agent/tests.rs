//! The agent against a stand-in server (a few lines of HTTP): which answers end a report or a
//! copy for good, which keep it for later.

use super::*;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

type Answer = dyn Fn(&str, usize) -> (u16, String) + Send + Sync;

/// A server answering `answer(request line, times this request line was seen before)`.
struct Fake {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Fake {
    fn start(answer: Box<Answer>) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                let request = line.split(" HTTP/").next().unwrap_or_default().to_string();
                let mut length = 0;
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                        break;
                    }
                    if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let before = log
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|r| **r == request)
                    .count();
                log.lock().unwrap().push(request.clone());
                let (code, text) = answer(&request, before);
                let out = format!("HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}", text.len());
                let _ = reader.get_mut().write_all(out.as_bytes());
            }
        });
        Fake { url, seen }
    }

    fn times(&self, request: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|r| *r == request)
            .count()
    }
}

fn agent(server: &str, dir: &std::path::Path) -> Agent {
    Agent::new(Config {
        server: server.into(),
        code: "KIN-BADGE-1".into(),
        token: "ops_test".into(),
        reader: "none".into(),
        state_dir: dir.to_path_buf(),
        keys: vec![[0xFF; 6]],
        operator: "Desk clerk".into(),
        card_timeout: Duration::from_secs(1),
        retry_base: Duration::from_millis(1),
    })
    .unwrap()
}

fn temp_dir() -> PathBuf {
    std::env::temp_dir().join(format!("outpost-station-agent-{}", Uuid::new_v4()))
}

fn report(copy_id: Uuid) -> Item {
    Item::Report {
        copy_id,
        body: json!({ "status": "failed", "error_category": "no_card", "error": "x" }),
    }
}

fn status_of(agent: &Agent, key: Uuid) -> (Status, Option<String>) {
    let e = agent
        .journal
        .entries()
        .iter()
        .find(|e| e.item.key() == key)
        .unwrap()
        .clone();
    (e.status, e.reason)
}

const PULL: &str = "GET /api/v1/sync/pull?since=0&limit=0";

#[test]
fn a_report_the_server_refuses_as_invalid_is_final_and_never_sent_again() {
    let (refused, accepted) = (Uuid::new_v4(), Uuid::new_v4());
    let bad = format!("POST /api/v1/stations/copies/{refused}/result");
    let good = format!("POST /api/v1/stations/copies/{accepted}/result");
    let bad_path = bad.clone();
    let fake = Fake::start(Box::new(move |request, _| match request {
        r if r == bad_path => (
            422,
            r#"{"detail":"the dump's UID is not the copy's badge"}"#.into(),
        ),
        PULL => (200, r#"{"badges":{}}"#.into()),
        _ => (200, "{}".into()),
    }));
    let dir = temp_dir();
    let mut agent = agent(&fake.url, &dir);
    agent.journal.add(report(refused)).unwrap();
    agent.journal.add(report(accepted)).unwrap();
    agent.sync_once().unwrap();
    let (status, reason) = status_of(&agent, refused);
    assert_eq!(status, Status::Failed);
    let reason = reason.unwrap();
    assert!(
        reason.contains("422") && reason.contains("not the copy's badge"),
        "{reason}"
    );
    assert_eq!(status_of(&agent, accepted).0, Status::Synced);
    // Later syncs, and a new agent process, leave it alone.
    agent.sync_once().unwrap();
    agent.sync_with_retries().unwrap();
    let mut again = self::agent(&fake.url, &dir);
    again.sync_with_retries().unwrap();
    assert_eq!(status_of(&again, refused).0, Status::Failed);
    assert_eq!((fake.times(&bad), fake.times(&good)), (1, 1));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn server_errors_throttling_and_no_server_keep_the_report_for_later() {
    let copy = Uuid::new_v4();
    let path = format!("POST /api/v1/stations/copies/{copy}/result");
    let p = path.clone();
    let fake = Fake::start(Box::new(move |request, before| match request {
        r if r == p => match before {
            0 => (500, r#"{"detail":"jsonb"}"#.into()),
            1 => (503, String::new()),
            2 => (429, r#"{"detail":"slow down"}"#.into()),
            _ => (200, "{}".into()),
        },
        _ => (200, r#"{"badges":{}}"#.into()),
    }));
    let dir = temp_dir();
    // Nobody listening at first.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut offline = agent(&nowhere, &dir);
    offline.journal.add(report(copy)).unwrap();
    assert!(matches!(
        offline.sync_once(),
        Err(AgentError::Net(NetError::Unreachable(_)))
    ));
    drop(offline);
    let mut agent = agent(&fake.url, &dir);
    for _ in 0..3 {
        assert!(matches!(
            agent.sync_once(),
            Err(AgentError::Net(NetError::Unreachable(_)))
        ));
        assert_eq!(status_of(&agent, copy).0, Status::Pending);
    }
    agent.sync_once().unwrap();
    assert_eq!(status_of(&agent, copy).0, Status::Synced);
    assert_eq!(fake.times(&path), 4);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_batch_of_recorded_copies_refused_for_good_is_kept_failed_not_resent() {
    let fake = Fake::start(Box::new(|request, _| match request {
        "POST /api/v1/sync" => (400, r#"{"detail":"operations is not a list"}"#.into()),
        _ => (200, r#"{"badges":{}}"#.into()),
    }));
    let dir = temp_dir();
    let mut agent = agent(&fake.url, &dir);
    let op = Uuid::new_v4();
    agent
        .journal
        .add(Item::Copy {
            op_id: op,
            captured_at: Utc::now(),
            payload: json!({}),
        })
        .unwrap();
    agent.sync_once().unwrap();
    agent.sync_once().unwrap();
    let (status, reason) = status_of(&agent, op);
    assert_eq!(status, Status::Failed);
    assert!(reason.unwrap().contains("(400)"));
    assert_eq!(fake.times("POST /api/v1/sync"), 1);
    assert_eq!(fake.times(PULL), 2, "the rest of the sync goes on");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn reports_carry_no_control_characters() {
    let dir = temp_dir();
    let mut cfg = agent("http://127.0.0.1:9", &dir).cfg;
    cfg.operator = "Desk\u{1b}[31m clerk\n".into();
    let agent = Agent::new(cfg).unwrap();
    let texts = |body: &Value| -> Vec<String> {
        fn walk(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::String(s) => out.push(s.clone()),
                Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
                Value::Object(o) => o.values().for_each(|v| walk(v, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        walk(body, &mut out);
        out
    };
    let failed: Result<Dump, CardError> = Err(CardError::NoReader(format!(
        "pcscd said \u{0}{}\r\nand more",
        "x".repeat(600)
    )));
    let dump = Dump {
        atr: "3B8F".into(),
        card_type: "mifare_classic_1k".into(),
        data: vec!["00".repeat(16)],
        uid: "04AB12CD".into(),
    };
    for body in [agent.report_body(&failed), agent.report_body(&Ok(dump))] {
        for text in texts(&body) {
            assert!(!text.chars().any(char::is_control), "{text:?}");
            assert!(text.chars().count() <= 500);
        }
        assert_eq!(body["recorded_by"], "Desk [31m clerk");
    }
    std::fs::remove_dir_all(dir).unwrap();
}
