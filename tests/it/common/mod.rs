//! `TestApp`: each test gets its own freshly migrated database (a copy of a template database
//! migrated once), its own Redis key prefix, and the real application on a random port.
#![allow(dead_code)]

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::OnceLock;

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use outpost::config::Settings;
use outpost::startup::{Application, ExtraRoutes};
use outpost::state::AppState;

pub fn admin_database_url() -> String {
    std::env::var("OUTPOST_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn redis_url() -> String {
    std::env::var("OUTPOST_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// The URL of database `name` on the test server.
pub fn database_url_for(name: &str) -> String {
    let admin = admin_database_url();
    let (base, query) = admin
        .split_once('?')
        .map(|(b, q)| (b.to_string(), format!("?{q}")))
        .unwrap_or((admin.clone(), String::new()));
    let slash = base.rfind('/').expect("database URL has a path");
    format!("{}/{name}{query}", &base[..slash])
}

/// The same database as `url`, reached as `outpost_app`: the ordinary role the server and
/// workers connect as in production (it owns nothing; the migrations made by the owner grant
/// it reads and writes).
pub fn as_server_role(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("database URL has a scheme");
    let host = rest.split_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://outpost_app@{host}")
}

fn init_logs() {
    if std::env::var_os("TEST_LOG").is_some() {
        outpost::telemetry::init(outpost::config::LogFormat::Pretty);
    }
}

/// The template's name carries a hash of the migrations, so a schema change gets a new one.
fn template_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        let mut hasher = DefaultHasher::new();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut entries: Vec<_> = walk(&dir);
        entries.sort();
        for path in entries {
            path.hash(&mut hasher);
            std::fs::read(&path).unwrap().hash(&mut hasher);
        }
        format!("outpost_tmpl_{:016x}", hasher.finish())
    })
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Creates the migrated template once. Test processes may run at the same time (nextest runs
/// one process per test), so creation happens under an advisory lock.
fn ensure_template() -> &'static str {
    static READY: OnceLock<()> = OnceLock::new();
    let name = template_name();
    READY.get_or_init(|| {
        let mut admin = PgConnection::establish(&admin_database_url())
            .expect("test PostgreSQL reachable (OUTPOST_TEST_DATABASE_URL)");
        diesel::sql_query("SELECT pg_advisory_lock(4242)")
            .execute(&mut admin)
            .unwrap();
        let exists = database_exists(&mut admin, name);
        if !exists {
            let building = format!("{name}_building");
            diesel::sql_query(format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
                .execute(&mut admin)
                .unwrap();
            diesel::sql_query(format!("CREATE DATABASE {building}"))
                .execute(&mut admin)
                .unwrap();
            {
                let mut conn = PgConnection::establish(&database_url_for(&building)).unwrap();
                outpost::db::migrate(&mut conn).unwrap();
            }
            diesel::sql_query(format!("ALTER DATABASE {building} RENAME TO {name}"))
                .execute(&mut admin)
                .unwrap();
        }
        diesel::sql_query("SELECT pg_advisory_unlock(4242)")
            .execute(&mut admin)
            .unwrap();
    });
    name
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn database_exists(conn: &mut PgConnection, name: &str) -> bool {
    diesel::sql_query("SELECT count(*) AS n FROM pg_database WHERE datname = $1")
        .bind::<diesel::sql_types::Text, _>(name)
        .get_result::<Count>(conn)
        .unwrap()
        .n
        > 0
}

/// A database of its own for one test, dropped with it.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    /// A copy of the migrated template.
    pub fn migrated() -> Self {
        let template = ensure_template();
        Self::create(Some(template))
    }

    /// An empty database, for tests of migration itself.
    pub fn empty() -> Self {
        Self::create(None)
    }

    fn create(template: Option<&str>) -> Self {
        let name = format!("outpost_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::establish(&admin_database_url()).unwrap();
        let sql = match template {
            Some(t) => format!("CREATE DATABASE {name} TEMPLATE {t}"),
            None => format!("CREATE DATABASE {name}"),
        };
        diesel::sql_query(sql).execute(&mut admin).unwrap();
        let url = database_url_for(&name);
        TestDb { name, url }
    }

    pub fn conn(&self) -> PgConnection {
        PgConnection::establish(&self.url).unwrap()
    }

    /// Runs a `SELECT count(*) AS n …` query.
    pub fn count(&self, sql: &str) -> i64 {
        diesel::sql_query(sql)
            .get_result::<Count>(&mut self.conn())
            .unwrap()
            .n
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = PgConnection::establish(&admin_database_url()) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin);
        }
    }
}

pub struct TestAppBuilder {
    settings: Vec<(&'static str, String)>,
    database_url: Option<String>,
    database_port: Option<u16>,
    extra: Option<ExtraRoutes>,
    seed_demo: bool,
}

impl TestAppBuilder {
    /// Point the app at another database URL (for example one that cannot be reached).
    pub fn database_url(mut self, url: &str) -> Self {
        self.database_url = Some(url.to_string());
        self
    }

    /// Overrides one `OUTPOST_*` setting for this app.
    pub fn setting(mut self, name: &'static str, value: &str) -> Self {
        self.settings.push((name, value.to_string()));
        self
    }

    /// Reach the test database through another port of the same host (a pooler in front).
    pub fn database_port(mut self, port: u16) -> Self {
        self.database_port = Some(port);
        self
    }

    pub fn extra_routes(mut self, extra: ExtraRoutes) -> Self {
        self.extra = Some(extra);
        self
    }

    pub fn with_demo_world(mut self) -> Self {
        self.seed_demo = true;
        self
    }

    pub async fn start(self) -> TestApp {
        init_logs();
        let db = TestDb::migrated();
        if self.seed_demo {
            let url = db.url.clone();
            tokio::task::spawn_blocking(move || {
                outpost::demo::seed::seed(&mut PgConnection::establish(&url).unwrap()).unwrap()
            })
            .await
            .unwrap();
        }
        let prefix = format!("test-{}", uuid::Uuid::new_v4().simple());
        let mut database_url = self.database_url.unwrap_or_else(|| as_server_role(&db.url));
        if let Some(port) = self.database_port {
            let (head, rest) = database_url.rsplit_once('@').expect("a user in the URL");
            let (host, path) = rest.split_once('/').expect("a database in the URL");
            let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
            database_url = format!("{head}@{host}:{port}/{path}");
        }
        let mut vars = vec![
            ("OUTPOST_DATABASE_URL", database_url),
            ("OUTPOST_REDIS_URL", redis_url()),
            ("OUTPOST_BIND", "127.0.0.1:0".to_string()),
            ("OUTPOST_REDIS_PREFIX", prefix.clone()),
            ("OUTPOST_DB_POOL_SIZE", "4".to_string()),
            ("OUTPOST_COUNT_QUERIES", "1".to_string()),
            (
                "OUTPOST_AUDIT_CHECKPOINT_DIR",
                std::env::temp_dir()
                    .join(format!("outpost-{prefix}"))
                    .display()
                    .to_string(),
            ),
        ];
        vars.extend(self.settings.iter().cloned());
        let settings = Settings::from_lookup(|k| {
            vars.iter()
                .rev()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.clone())
        })
        .unwrap();
        let redis = outpost::redis_conn::connect(&redis_url())
            .await
            .expect("test Redis reachable (OUTPOST_TEST_REDIS_URL)");
        let pool =
            outpost::db::build_pool(settings.database_url.as_ref().unwrap().expose(), &settings);
        let pool_size = settings.db_pool_size;
        outpost::kinds::install();
        let state = AppState {
            settings,
            db: pool,
            redis: redis.clone(),
            demo_mode: false,
            services: Default::default(),
            caches: Default::default(),
            ingest: outpost::state::IngestSlots::for_pool(pool_size),
        };
        // As in `serve`: the sequencer seals audit rows into the chain while the app runs.
        tokio::spawn(outpost::audit::seal::run(
            state.clone(),
            std::future::pending(),
        ));
        let app = Application::build(state.clone(), self.extra).expect("bind test server");
        let port = app.port();
        let server = app.into_server();
        let handle = server.handle();
        tokio::spawn(server);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .unwrap();
        TestApp {
            address: format!("http://127.0.0.1:{port}"),
            db,
            state,
            client,
            handle: Some(handle),
            prefix,
            redis,
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub db: TestDb,
    pub state: AppState,
    pub client: reqwest::Client,
    pub prefix: String,
    handle: Option<actix_web::dev::ServerHandle>,
    redis: redis::aio::ConnectionManager,
}

impl TestApp {
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            settings: Vec::new(),
            database_url: None,
            database_port: None,
            extra: None,
            seed_demo: false,
        }
    }

    pub async fn start() -> TestApp {
        Self::builder().start().await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn get_accept(&self, path: &str, accept: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .header("Accept", accept)
            .send()
            .await
            .unwrap()
    }

    /// Removes this test's Redis keys and stops the server.
    pub async fn shutdown(mut self) {
        let mut conn = self.redis.clone();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:*", self.prefix))
            .query_async(&mut conn)
            .await
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<(), _> = redis::cmd("DEL").arg(keys).query_async(&mut conn).await;
        }
        if let Some(h) = self.handle.take() {
            h.stop(false).await;
        }
    }
}

/// A browser of its own (cookie jar) for one person.
pub struct Browser {
    pub client: reqwest::Client,
    pub base: String,
    pub jar: std::sync::Arc<reqwest::cookie::Jar>,
}

/// The CSRF token embedded in a page.
pub fn csrf_in(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html
        .find(marker)
        .map(|i| i + marker.len())
        .expect("page has a csrf_token field");
    html[start..].split('"').next().unwrap().to_string()
}

impl Browser {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn text(&self, path: &str) -> String {
        self.get(path).await.text().await.unwrap()
    }

    /// A CSRF token valid for this browser (taken from the sign-in page).
    pub async fn csrf(&self) -> String {
        // The sign-in page for visitors; any page with a form (the sign-out button) once signed in.
        let login = self.get("/login").await;
        if login.status() == 200 {
            return csrf_in(&login.text().await.unwrap());
        }
        csrf_in(&self.text("/").await)
    }

    /// Posts a form with this browser's CSRF token added.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let token = self.csrf().await;
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf_token", &token));
        self.client
            .post(self.url(path))
            .form(&all)
            .send()
            .await
            .unwrap()
    }

    /// Posts a form exactly as given (no CSRF token added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .form(fields)
            .send()
            .await
            .unwrap()
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        use reqwest::cookie::CookieStore;
        let header = self.jar.cookies(&self.base.parse().unwrap())?;
        header
            .to_str()
            .ok()?
            .split("; ")
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")).map(str::to_string))
    }

    pub async fn sign_in(&self, username: &str, password: &str) -> reqwest::Response {
        self.post_form("/login", &[("username", username), ("password", password)])
            .await
    }
}

impl TestApp {
    pub fn browser(&self) -> Browser {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_provider(jar.clone())
            .build()
            .unwrap();
        Browser {
            client,
            base: self.address.clone(),
            jar,
        }
    }

    /// A fresh browser holding exactly the given cookie.
    pub fn browser_with_cookie(&self, name: &str, value: &str) -> Browser {
        let b = self.browser();
        b.jar.add_cookie_str(
            &format!("{name}={value}; Path=/"),
            &self.address.parse().unwrap(),
        );
        b
    }

    /// A browser signed in as one of the demo users (needs `with_demo_world`).
    pub async fn signed_in(&self, username: &str) -> Browser {
        let b = self.browser();
        let res = b
            .sign_in(username, outpost::demo::seed::DEMO_PASSWORD)
            .await;
        assert_eq!(
            res.status(),
            303,
            "sign-in of {username} failed: {}",
            res.text().await.unwrap_or_default()
        );
        b
    }

    pub fn conn(&self) -> PgConnection {
        self.db.conn()
    }

    /// The URL the test server connects with (as `outpost_app`).
    pub fn server_database_url(&self) -> String {
        self.state
            .settings
            .database_url
            .as_ref()
            .expect("a database URL")
            .expose()
            .to_string()
    }

    /// Runs a `SELECT count(*) AS n …` query.
    pub fn count(&self, sql: &str) -> i64 {
        diesel::sql_query(sql)
            .get_result::<Count>(&mut self.conn())
            .unwrap()
            .n
    }

    pub fn id_of(&self, sql: &str) -> i64 {
        #[derive(QueryableByName)]
        struct Id {
            #[diesel(sql_type = BigInt)]
            id: i64,
        }
        diesel::sql_query(sql)
            .get_result::<Id>(&mut self.conn())
            .unwrap()
            .id
    }

    pub fn hub_id(&self, code: &str) -> i64 {
        self.id_of(&format!("SELECT id FROM hubs WHERE code = '{code}'"))
    }

    /// The first hub (by id) a user is assigned to.
    pub fn first_hub_of(&self, username: &str) -> i64 {
        self.id_of(&format!(
            "SELECT uh.hub_id AS id FROM user_hubs uh JOIN users u ON u.id = uh.user_id \
             WHERE u.username = '{username}' ORDER BY 1 LIMIT 1"
        ))
    }
}

/// A number as the pages show it ("1,200").
pub fn grouped(n: i64) -> String {
    outpost::ui::chart::grouped(n)
}

/// A hidden field's value in a page.
pub fn hidden_in(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .map(|i| i + marker.len())
        .unwrap_or_else(|| panic!("page has a {name} field"));
    html[start..].split('"').next().unwrap().to_string()
}

impl TestApp {
    /// An API access token for a demo user.
    pub async fn token(&self, username: &str) -> String {
        let res = self
            .client
            .post(self.url("/api/v1/token"))
            .form(&[
                ("grant_type", "password"),
                ("username", username),
                ("password", outpost::demo::seed::DEMO_PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.json::<serde_json::Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// How many results of a `/api/v1/sync` answer were applied.
    pub fn applied(body: &serde_json::Value) -> usize {
        body["results"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["result"]["status"] == "applied")
            .count()
    }

    /// Pushes operations to `/api/v1/sync`; returns the HTTP status and the body.
    pub async fn sync(&self, token: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        let res = self
            .client
            .post(self.url("/api/v1/sync"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or_default())
    }

    /// A signed capture envelope as a form served to `username` would carry.
    pub fn envelope(&self, username: &str, kind: &str, hub_id: i64, age_secs: i64) -> String {
        let user_id = self.id_of(&format!(
            "SELECT id FROM users WHERE username = '{username}'"
        ));
        #[derive(QueryableByName)]
        struct Role {
            #[diesel(sql_type = diesel::sql_types::Text)]
            role: String,
        }
        let role: Role = diesel::sql_query(format!("SELECT role FROM users WHERE id = {user_id}"))
            .get_result(&mut self.conn())
            .unwrap();
        let env = outpost::sync::envelope::Envelope {
            user_id,
            role: role.role,
            hub_id: Some(hub_id),
            kind: kind.into(),
            schema: 1,
            base_version: None,
            issued_at: chrono::Utc::now().timestamp() - age_secs,
        };
        outpost::sync::envelope::sign(self.state.settings.secret_key.expose(), &env)
    }

    /// The stock level of a SKU at a hub.
    pub fn stock(&self, hub: &str, sku: &str) -> i64 {
        #[derive(QueryableByName)]
        struct Q {
            #[diesel(sql_type = BigInt)]
            q: i64,
        }
        diesel::sql_query(format!(
            "SELECT coalesce((SELECT quantity FROM stock_levels l JOIN hubs h ON h.id = l.hub_id JOIN product_variants v ON v.id = l.variant_id WHERE h.code = '{hub}' AND v.full_sku = '{sku}'), 0) AS q"
        ))
        .get_result::<Q>(&mut self.conn())
        .unwrap()
        .q
    }

    /// Whether every stock figure agrees (`outpost stock rebuild --check`); what disagrees is
    /// printed.
    pub fn ledger_agrees(&self) -> bool {
        let found = outpost::inventory::check::disagreements(&mut self.conn()).unwrap();
        for line in &found {
            eprintln!("stock check: {line}");
        }
        found.is_empty()
    }
}

impl TestApp {
    pub fn id_of_uuid(&self, sql: &str) -> uuid::Uuid {
        #[derive(QueryableByName)]
        struct Id {
            #[diesel(sql_type = diesel::sql_types::Uuid)]
            id: uuid::Uuid,
        }
        diesel::sql_query(sql)
            .get_result::<Id>(&mut self.conn())
            .unwrap()
            .id
    }
}

/// An `outpost worker` process on a test's database and Redis prefix, killed when dropped.
pub struct WorkerProcess(std::process::Child);

impl WorkerProcess {
    pub fn start(database_url: &str, redis_prefix: &str) -> WorkerProcess {
        Self::start_with_redis(database_url, &redis_url(), redis_prefix)
    }

    pub fn start_with_redis(database_url: &str, redis: &str, redis_prefix: &str) -> WorkerProcess {
        use std::process::{Command, Stdio};
        let child = Command::new(env!("CARGO_BIN_EXE_outpost"))
            .arg("worker")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("OUTPOST_DATABASE_URL", as_server_role(database_url))
            .env("OUTPOST_DATABASE_OWNER_URL", database_url)
            .env("OUTPOST_REDIS_URL", redis)
            .env("OUTPOST_REDIS_PREFIX", redis_prefix)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        WorkerProcess(child)
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
