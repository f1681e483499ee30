//! Issue 31: Outpost behind PgBouncer in transaction pooling — Debian 12's 1.18, which cannot
//! keep protocol-level prepared statements: each transaction may run on any server connection,
//! so a statement prepared on one is missing (or is another statement) on the next. With
//! `OUTPOST_DB_PREPARED_STATEMENTS=false`, eight devices syncing at once through two server
//! connections get every operation applied exactly once, and the pages answer.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::json;
use uuid::Uuid;

use crate::common::{admin_database_url, TestApp};

const WATER: &str = "00101-P-1-NA-N";

struct Bouncer {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Bouncer {
    /// PgBouncer in front of the test PostgreSQL, transaction pooling, two server connections
    /// per database and user. Run as `postgres` when the tests run as root (it refuses root).
    fn start() -> Bouncer {
        let admin = admin_database_url();
        let after_at = admin.rsplit_once('@').map_or(admin.as_str(), |(_, r)| r);
        let host_port = after_at.split('/').next().unwrap();
        let (host, pg_port) = host_port.rsplit_once(':').unwrap_or((host_port, "5432"));
        let port = outpost::demo::launcher::free_port().unwrap();
        let dir = std::env::temp_dir().join(format!("outpost-pgbouncer-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        std::fs::write(
            dir.join("users.txt"),
            "\"outpost_app\" \"\"\n\"postgres\" \"\"\n",
        )
        .unwrap();
        let ini = format!(
            "[databases]\n* = host={host} port={pg_port}\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\n\
             unix_socket_dir =\nauth_type = trust\nauth_file = {d}/users.txt\npool_mode = transaction\n\
             default_pool_size = 2\nmax_client_conn = 200\nlogfile = {d}/pgbouncer.log\npidfile = {d}/pgbouncer.pid\n",
            d = dir.display()
        );
        std::fs::write(dir.join("pgbouncer.ini"), ini).unwrap();
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        let mut cmd = if root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", "/usr/sbin/pgbouncer"]);
            c
        } else {
            Command::new("/usr/sbin/pgbouncer")
        };
        let mut child = cmd
            .arg(dir.join("pgbouncer.ini"))
            .current_dir("/")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pgbouncer installed (scripts/test installs it)");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Bouncer { child, port, dir };
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "pgbouncer did not listen: {}",
            std::fs::read_to_string(dir.join("pgbouncer.log")).unwrap_or_default()
        );
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        // It runs as another user when started through runuser: stop it by its pid file.
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("pgbouncer.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_pgbouncer_in_transaction_pooling_every_operation_applies_once() {
    let bouncer = Bouncer::start();
    let app = TestApp::builder()
        .with_demo_world()
        .database_port(bouncer.port)
        .setting("OUTPOST_DB_PREPARED_STATEMENTS", "false")
        .setting("OUTPOST_DB_POOL_SIZE", "8")
        .start()
        .await;
    let kin = app.hub_id("KIN-MAIN");
    let token = app.token("warehouse").await;
    let before = app.count(&format!("SELECT coalesce(sum(l.quantity), 0)::bigint AS n FROM stock_levels l JOIN product_variants v ON v.id = l.variant_id WHERE l.hub_id = {kin} AND v.full_sku = '{WATER}'"));
    let devices = (0..8).map(|device| {
        let (app_url, token) = (app.url("/api/v1/sync"), token.clone());
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut applied = 0;
            for batch in 0..6 {
                let ops: Vec<_> = (0..5).map(|i| json!({ "op_id": Uuid::new_v4(), "kind": "intake.create", "captured_at": chrono::Utc::now(),
                    "payload": { "intake_id": Uuid::new_v4(), "hub_id": kin, "donor": format!("Pooler {device}-{batch}-{i}"), "lines": [{ "sku": WATER, "quantity": 1 }] } })).collect();
                let r: serde_json::Value = client
                    .post(&app_url)
                    .bearer_auth(&token)
                    .json(&json!({ "operations": ops }))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                applied += r["results"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{r}"))
                    .iter()
                    .filter(|x| x["result"]["status"] == "applied")
                    .count();
            }
            applied
        })
    });
    let mut applied = 0;
    for d in devices {
        applied += d.await.unwrap();
    }
    assert_eq!(applied, 8 * 6 * 5);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM intakes WHERE donor LIKE 'Pooler %'"),
        240
    );
    let after = app.count(&format!("SELECT coalesce(sum(l.quantity), 0)::bigint AS n FROM stock_levels l JOIN product_variants v ON v.id = l.variant_id WHERE l.hub_id = {kin} AND v.full_sku = '{WATER}'"));
    assert_eq!(after - before, 240);
    // Pages (the account cache, the dashboard's statements) answer through the pooler too.
    let b = app.signed_in("warehouse").await;
    for path in [
        "/".to_string(),
        format!("/hubs/{kin}/intakes"),
        format!("/hubs/{kin}"),
    ] {
        let res = b.get(&path).await;
        assert_eq!(res.status(), 200, "{path}");
    }
    app.shutdown().await;
    drop(bouncer);
}
