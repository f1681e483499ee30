//! A small WebDriver client for Debian's browsers — Chromium through chromedriver, Firefox ESR
//! through geckodriver (built from crates.io by scripts/test), and WebKitGTK (Safari's engine)
//! through WebKitWebDriver and a small shell with its profile on disk (webkit_shell.py) on a
//! private Xvfb display — and
//! the server as a real child process that can be killed and started again: enough to test
//! offline work for real.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub struct Chrome {
    http: reqwest::Client,
    driver_url: String,
    session: String,
    driver: Child,
    /// The X display WebKit draws on (Chromium and Firefox run headless).
    display: Option<Child>,
    pub app: String,
    engine: Engine,
    /// Taken out by `reopen`, which hands it to the next browser; removed on drop otherwise.
    profile: Option<TempDir>,
    /// A Firefox's or WebKit's turn (see `engine_turn`), held while this browser lives.
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

/// One Firefox or WebKit at a time in the test run. Each runs several processes (WebKit a UI,
/// web, network and service-worker process on its own X display); two of them beside the rest
/// of the suite on a 2-core CI machine starved a service worker until WebKit ended it ("Service
/// Worker context closed") or Firefox's replay outlasted the test's wait, which no device
/// running one browser meets. Chromium, in most browser tests, runs beside them.
async fn engine_turn() -> tokio::sync::OwnedMutexGuard<()> {
    static TURN: std::sync::OnceLock<std::sync::Arc<tokio::sync::Mutex<()>>> =
        std::sync::OnceLock::new();
    TURN.get_or_init(Default::default)
        .clone()
        .lock_owned()
        .await
}

pub struct TempDir(pub std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> u16 {
    outpost::demo::launcher::free_port().unwrap()
}

/// The browser engines the offline scenarios run in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Engine {
    Chromium,
    Firefox,
    WebKit,
}

/// Where a browser's own output (its pages' console among it) is kept, inside its profile.
const CONSOLE_LOG: &str = "outpost-console.log";
/// How a test's step is marked in that log.
const STEP: &str = "-- outpost test step:";

impl Chrome {
    /// A fresh browser of `engine` (a device that never saw Outpost), scripts on. WebKit runs
    /// in a small shell with its profile on disk (tests/it/webkit_shell.py) on its own Xvfb
    /// display; Firefox ESR through geckodriver, headless.
    pub async fn start_in(engine: Engine, app: &str) -> Chrome {
        Self::launch(engine, app, TempDir::fresh(engine), true).await
    }

    /// A fresh Chromium. `javascript: false` runs the same browser with scripts off.
    pub async fn start(app: &str, javascript: bool) -> Chrome {
        Self::launch(
            Engine::Chromium,
            app,
            TempDir::fresh(Engine::Chromium),
            javascript,
        )
        .await
    }

    /// Closes the browser and opens it again on the same profile, as a person does who quits
    /// the browser (or whose phone ended it) and comes back later.
    pub async fn reopen(mut self) -> Chrome {
        let (engine, app) = (self.engine, self.app.clone());
        let profile = self.profile.take().expect("a profile");
        drop(self);
        Self::launch(engine, &app, profile, true).await
    }

    /// Lines of the pages' and service worker's console that tell of a script fault: an
    /// uncaught error, an unhandled rejection, a request refused by access-control checks or
    /// anything the Content Security Policy refused.
    /// A failed request while the server is down is not one, nor a fault of the browser's own
    /// code (Firefox's `resource://` modules). Each comes with the test's last step before it.
    pub fn console_faults(&self) -> Vec<String> {
        let mut step = String::new();
        let mut faults = Vec::new();
        for line in self.console_text().lines() {
            if line.starts_with(STEP) {
                step = line.to_string();
                continue;
            }
            let l = line.to_lowercase();
            let fault = [
                "uncaught",
                "unhandled",
                "javascript error",
                "access control",
                "typeerror",
                "referenceerror",
                "syntaxerror",
                // A style or script the page's policy refused (issue 30, finding 13).
                "content security policy",
                "content-security-policy",
            ]
            .iter()
            .any(|w| l.contains(w));
            if fault && !l.contains("resource://") && !l.contains("chrome://") {
                faults.push(format!("{line}  ({step})"));
            }
        }
        faults
    }

    /// Notes a step of the test in the console log, so a fault can be placed.
    fn step(&self, what: &str) {
        use std::io::Write;
        if let Some(p) = &self.profile {
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .append(true)
                .open(p.0.join(CONSOLE_LOG))
            {
                let _ = writeln!(f, "{STEP} {what}");
            }
        }
    }

    /// All the browser has written (its pages' console among it) since it was first opened.
    pub fn console_text(&self) -> String {
        let log = self.profile.as_ref().map(|p| p.0.join(CONSOLE_LOG));
        log.and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    }

    /// Fails the test when the console tells of a script fault (see `console_faults`).
    pub fn assert_console_clean(&self) {
        let faults = self.console_faults();
        assert!(faults.is_empty(), "{:?} console: {faults:#?}", self.engine);
    }

    async fn launch(engine: Engine, app: &str, profile: TempDir, javascript: bool) -> Chrome {
        std::fs::create_dir_all(&profile.0).unwrap();
        let dir = profile.0.display().to_string();
        let mut turn = None;
        let (driver, caps, display) = match engine {
            Engine::Chromium => {
                let mut args = vec![
                    "--headless".to_string(),
                    "--no-sandbox".into(),
                    "--disable-gpu".into(),
                    "--disable-quic".into(),
                    "--no-first-run".into(),
                    "--disable-background-networking".into(),
                    "--disable-component-update".into(),
                    "--disable-sync".into(),
                    "--window-size=1280,900".into(),
                    "--enable-logging=stderr".into(),
                    format!("--user-data-dir={dir}"),
                ];
                if !javascript {
                    args.push("--blink-settings=scriptEnabled=false".into());
                }
                let caps = json!({ "capabilities": { "alwaysMatch": { "browserName": "chrome", "goog:chromeOptions": { "binary": "/usr/bin/chromium", "args": args } } } });
                let mut driver = Command::new("chromedriver");
                driver.arg("--enable-chrome-logs");
                (driver, caps, None)
            }
            Engine::Firefox => {
                turn = Some(engine_turn().await);
                let caps = json!({ "capabilities": { "alwaysMatch": { "browserName": "firefox", "moz:firefoxOptions": {
                    "binary": "/usr/bin/firefox-esr",
                    "args": ["-headless", "-profile", dir],
                    "prefs": { "browser.shell.checkDefaultBrowser": false, "app.update.enabled": false,
                               "devtools.console.stdout.content": true } } } } });
                (Command::new("geckodriver"), caps, None)
            }
            Engine::WebKit => {
                turn = Some(engine_turn().await);
                let (display, number) = xvfb().await;
                let shell = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/webkit_shell.py");
                let caps = json!({ "capabilities": { "alwaysMatch": { "browserName": "OutpostWebKitShell", "webkitgtk:browserOptions": {
                    "binary": "/usr/bin/python3", "args": [shell] } } } });
                let mut driver = Command::new("WebKitWebDriver");
                driver
                    .env("DISPLAY", format!(":{number}"))
                    .env("OUTPOST_WEBKIT_PROFILE", &dir);
                (driver, caps, Some(display))
            }
        };
        let mut chrome = Self::open(engine, app, driver, caps, display, profile).await;
        chrome._turn = turn;
        chrome
    }

    async fn open(
        engine: Engine,
        app: &str,
        mut driver: Command,
        caps: Value,
        display: Option<Child>,
        profile: TempDir,
    ) -> Chrome {
        let port = free_port();
        let name = driver.get_program().to_string_lossy().to_string();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(profile.0.join(CONSOLE_LOG))
            .unwrap();
        let driver = driver
            .arg(format!("--port={port}"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{name} installed (scripts/test installs it): {e}"));
        let driver_url = format!("http://127.0.0.1:{port}");
        // A WebDriver command that never answers fails the test instead of stalling the run.
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while http
            .get(format!("{driver_url}/status"))
            .send()
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "{name} did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let res: Value = http
            .post(format!("{driver_url}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = res["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {res}"))
            .to_string();
        let chrome = Chrome {
            http,
            driver_url,
            session,
            driver,
            display,
            app: app.to_string(),
            engine,
            profile: Some(profile),
            _turn: None,
        };
        chrome
            .call(
                "POST",
                "/timeouts",
                json!({ "script": 30000, "pageLoad": 30000 }),
            )
            .await;
        chrome
    }

    async fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.driver_url, self.session);
        let req = match method {
            "GET" => self.http.get(url),
            _ => self.http.post(url).json(&body),
        };
        let res: Value = req.send().await.unwrap().json().await.unwrap();
        res["value"].clone()
    }

    /// Opens `path`. A load the browser itself gives up on is loaded again, as a person
    /// presses Reload on the browser's error page, twice at most, and noted in the console
    /// log: WebKit ends a service worker it finds unresponsive on a starved machine, and the
    /// navigation that worker was answering fails with "Service Worker context closed"; the
    /// next load starts a fresh worker. What the page then shows is still the test's to check.
    pub async fn goto(&self, path: &str) {
        self.step(&format!("goto {path}"));
        let url = format!("{}{path}", self.app);
        for _ in 0..2 {
            let answer = self.call("POST", "/url", json!({ "url": url })).await;
            let failed = match answer.get("error") {
                Some(error) => Some(error.to_string()),
                // WebKit may report the load as done and show its own error page: every page
                // of the app (the service worker's own among them) has the site header.
                None if self.engine == Engine::WebKit => {
                    let ours = "return !!document.querySelector('.site-header')";
                    (self.js(ours, json!([])).await != json!(true))
                        .then(|| "the browser's own error page".to_string())
                }
                None => None,
            };
            let Some(error) = failed else {
                return;
            };
            self.step(&format!("goto {path} again, the load failed: {error}"));
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        self.call("POST", "/url", json!({ "url": url })).await;
    }

    pub async fn js(&self, script: &str, args: Value) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            json!({ "script": script, "args": args }),
        )
        .await
    }

    /// Waits until the service worker has stored `path` in its cache. It stores a visited page
    /// after it has answered with it; on a loaded machine that can come after a test's next step
    /// began, and a page opened online must be stored before the server goes away (that is what
    /// the person did). Panics after 20 s.
    pub async fn wait_until_stored(&self, path: &str) {
        let stored = format!(
            "var done = arguments[0]; caches.match('{path}').then(function (r) {{ done(!!r); }}, function () {{ done(false); }});"
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while self.js_async(&stored, serde_json::json!([])).await != serde_json::json!(true) {
            assert!(
                std::time::Instant::now() < deadline,
                "the service worker stored {path}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    /// Runs an async script; it calls `arguments[arguments.length - 1](result)` when done.
    pub async fn js_async(&self, script: &str, args: Value) -> Value {
        self.call(
            "POST",
            "/execute/async",
            json!({ "script": script, "args": args }),
        )
        .await
    }

    pub async fn body_text(&self) -> String {
        self.js(
            "return document.body ? document.body.innerText : ''",
            json!([]),
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    pub async fn path(&self) -> String {
        self.js("return location.pathname", json!([]))
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Waits until a JS expression is truthy.
    pub async fn wait_for(&self, expression: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self
                .js(
                    &format!("try {{ return !!({expression}); }} catch (e) {{ return false; }}"),
                    json!([]),
                )
                .await
                == json!(true)
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    /// Fills named fields of the first form matching `selector` and submits it the way a person
    /// does (clicking its submit button), then waits for the next page.
    pub async fn submit(&self, selector: &str, fields: &[(&str, &str)]) {
        let script = r#"
            const [selector, fields] = arguments;
            const form = document.querySelector(selector);
            if (!form) return 'no form ' + selector;
            const seen = {};
            for (const [name, value] of fields) {
                const all = form.querySelectorAll('[name="' + name + '"]');
                const i = seen[name] || 0; seen[name] = i + 1;
                if (!all[i]) return 'no field ' + name;
                all[i].value = value;
            }
            window.__leaving = true;
            form.querySelector('button[type=submit], button:not([type])').click();
            return 'ok';
        "#;
        self.step(&format!("submit {selector}"));
        let fields: Vec<Value> = fields.iter().map(|(k, v)| json!([k, v])).collect();
        let mut r = self.js(script, json!([selector, fields.clone()])).await;
        if r["error"] == json!("timeout") {
            // The page never finished loading (WebKit, starved, once left the sign-in page
            // loading behind a service worker it had ended): a person reloads it, and so does
            // the test, once.
            eprintln!("{:?}: the page did not answer; reloading it", self.engine);
            let here = self.path().await;
            self.goto(&here).await;
            r = self.js(script, json!([selector, fields])).await;
        }
        assert_eq!(r, json!("ok"), "{selector}");
        self.wait_for(
            "!window.__leaving && document.readyState === 'complete'",
            Duration::from_secs(20),
        )
        .await;
    }

    pub async fn sign_in(&self, username: &str) {
        self.goto("/login").await;
        self.submit(
            "form.stack",
            &[
                ("username", username),
                ("password", outpost::demo::seed::DEMO_PASSWORD),
            ],
        )
        .await;
        // The dashboard's text, once it is there (a loaded machine can still be painting it).
        let welcomed = self
            .wait_for(
                "document.body && document.body.innerText.indexOf('Welcome') >= 0",
                Duration::from_secs(20),
            )
            .await;
        assert!(
            welcomed,
            "signed in as {username}: {} {}",
            self.path().await,
            self.body_text().await
        );
    }

    /// Waits until the service worker controls the page (the first visit only registers it).
    pub async fn wait_for_service_worker(&self) {
        for _ in 0..3 {
            if self
                .wait_for("navigator.serviceWorker.controller", Duration::from_secs(5))
                .await
            {
                return;
            }
            let path = self.path().await;
            self.goto(&path).await;
        }
        panic!("the service worker never took control");
    }
}

impl TempDir {
    fn fresh(engine: Engine) -> TempDir {
        TempDir(std::env::temp_dir().join(format!(
            "outpost-{engine:?}-{}",
            uuid::Uuid::new_v4().simple()
        )))
    }
}

/// A private Xvfb display for a browser that needs one; its number with it.
async fn xvfb() -> (Child, u16) {
    let number = 50 + free_port() % 2000;
    let display = Command::new("Xvfb")
        .args([
            format!(":{number}").as_str(),
            "-screen",
            "0",
            "1280x900x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb installed (scripts/test installs xvfb)");
    let socket = format!("/tmp/.X11-unix/X{number}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::path::Path::new(&socket).exists() {
        assert!(Instant::now() < deadline, "Xvfb did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (display, number)
}

impl Drop for Chrome {
    /// Ends the WebDriver session (which closes the browser and its helper processes), then
    /// stops chromedriver: killing chromedriver alone would leave Chromium running.
    fn drop(&mut self) {
        use std::io::{Read, Write};
        // A failing test shows the end of what the browser logged, service worker included.
        if std::thread::panicking() {
            let text = self.console_text();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(60)..].join("\n");
            eprintln!("--- {:?} console, last lines ---\n{tail}", self.engine);
        }
        let host = self.driver_url.trim_start_matches("http://").to_string();
        if let Ok(mut stream) = std::net::TcpStream::connect(&host) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                self.session
            );
            if stream.write_all(request.as_bytes()).is_ok() {
                let _ = stream.read_to_end(&mut Vec::new());
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        if let Some(display) = &mut self.display {
            let _ = display.kill();
            let _ = display.wait();
        }
    }
}

/// `outpost serve` as a child process on a fixed port, against a test database and Redis.
pub struct Server {
    child: Option<Child>,
    pub port: u16,
    env: Vec<(String, String)>,
    /// Where the server's log goes (appended across restarts); discarded when `None`.
    log: Option<std::path::PathBuf>,
}

impl Server {
    pub fn start(database_url: &str, redis_prefix: &str) -> Server {
        Server::start_with(database_url, redis_prefix, &[])
    }

    /// A server with settings of its own (they replace the defaults of the same name).
    pub fn start_with(database_url: &str, redis_prefix: &str, settings: &[(&str, &str)]) -> Server {
        let port = free_port();
        let mut env = vec![
            // As in production: migrations as the owner, the server as an ordinary role.
            (
                "OUTPOST_DATABASE_URL".to_string(),
                crate::common::as_server_role(database_url),
            ),
            (
                "OUTPOST_DATABASE_OWNER_URL".to_string(),
                database_url.to_string(),
            ),
            ("OUTPOST_REDIS_URL".to_string(), crate::common::redis_url()),
            ("OUTPOST_REDIS_PREFIX".to_string(), redis_prefix.to_string()),
            ("OUTPOST_BIND".to_string(), format!("127.0.0.1:{port}")),
            ("RUST_LOG".to_string(), "warn".to_string()),
        ];
        for (k, v) in settings {
            env.retain(|(name, _)| name != k);
            env.push((k.to_string(), v.to_string()));
        }
        let mut server = Server {
            child: None,
            port,
            env,
            log: None,
        };
        server.restart();
        server
    }

    /// A server whose log (at `RUST_LOG=info`) is kept in `log`, with extra settings.
    pub fn start_logged(
        database_url: &str,
        redis_prefix: &str,
        settings: &[(&str, &str)],
        log: &std::path::Path,
    ) -> Server {
        let mut server = Server::start(database_url, redis_prefix);
        server.kill();
        server.log = Some(log.to_path_buf());
        server.env.retain(|(k, _)| k != "RUST_LOG");
        server.env.push(("RUST_LOG".into(), "info".into()));
        for (k, v) in settings {
            server.env.push((k.to_string(), v.to_string()));
        }
        server.restart();
        server
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The Redis key prefix the server runs with (a worker beside it needs the same).
    pub fn redis_prefix(&self) -> String {
        self.env
            .iter()
            .find(|(k, _)| k == "OUTPOST_REDIS_PREFIX")
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// Stops the process at once, as a crash or a pulled cable would.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends SIGTERM (a graceful stop) and waits up to `within` for the process to exit.
    pub fn terminate(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    pub fn restart(&mut self) {
        self.kill();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_outpost"));
        let log = || match &self.log {
            Some(path) => Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .unwrap(),
            ),
            None => Stdio::null(),
        };
        cmd.arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdout(log())
            .stderr(log());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn().unwrap());
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A reverse proxy process in front of a server (tests/it/proxy.py): 502 while the server is
/// down, and gateway faults on demand.
pub struct Proxy {
    child: Child,
    pub port: u16,
}

impl Proxy {
    pub fn start(upstream: u16) -> Proxy {
        let port = free_port();
        let child = Command::new("python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/proxy.py"))
            .args([port.to_string(), upstream.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs the test proxy");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the proxy did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Proxy { child, port }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The next `count` requests of `method` under `prefix` get `status` from the proxy.
    pub async fn fail(&self, method: &str, prefix: &str, status: u16, count: u32) {
        let url = format!(
            "{}/__proxy/fail?method={method}&prefix={prefix}&status={status}&count={count}",
            self.url()
        );
        assert!(reqwest::get(url).await.unwrap().status().is_success());
    }
}

impl Proxy {
    /// Forwards everything again.
    pub async fn reset(&self) {
        let url = format!("{}/__proxy/reset", self.url());
        assert!(reqwest::get(url).await.unwrap().status().is_success());
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Chrome {
    async fn element(&self, css: &str) -> String {
        let v = self
            .call(
                "POST",
                "/element",
                json!({ "using": "css selector", "value": css }),
            )
            .await;
        v.as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_string()
    }

    /// Types into a field through WebDriver itself (works with page scripts disabled).
    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.call("POST", &format!("/element/{id}/clear"), json!({}))
            .await;
        self.call(
            "POST",
            &format!("/element/{id}/value"),
            json!({ "text": text }),
        )
        .await;
    }

    pub async fn click(&self, css: &str) {
        let id = self.element(css).await;
        self.call("POST", &format!("/element/{id}/click"), json!({}))
            .await;
    }

    /// A Chrome DevTools Protocol command (e.g. clearing an origin's storage as a user would).
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.call(
            "POST",
            "/goog/cdp/execute",
            json!({ "cmd": cmd, "params": params }),
        )
        .await
    }

    /// Signs out through the page's own button, saying yes to the "entries waiting" question.
    pub async fn sign_out(&self) {
        self.step("sign out");
        self.click_sign_out().await;
        // WebKit ends a service worker it finds starved (a loaded 2-core CI machine running
        // the suite beside it) and shows "Service Worker context closed" for the navigation it
        // was answering; a person reloads. So does the test, once, and signs out from a fresh
        // page if the first one did not reach the server. What was queued is checked after.
        if matches!(self.engine, Engine::WebKit)
            && self
                .body_text()
                .await
                .contains("Service Worker context closed")
        {
            eprintln!("WebKit ended its service worker during the sign-out; reloading");
            self.step("reload after the service worker was ended");
            self.goto("/").await;
            if self.path().await != "/login" {
                self.click_sign_out().await;
            }
        }
    }

    async fn click_sign_out(&self) {
        self.js(
            "window.confirm = function () { return true; }; window.__leaving = true; document.querySelector(\"form[action='/logout'] button\").click();",
            json!([]),
        )
        .await;
        self.wait_for(
            "!window.__leaving && document.readyState === 'complete' && (location.pathname === '/login' || document.body.innerText.indexOf('Service Worker context closed') >= 0)",
            Duration::from_secs(20),
        )
        .await;
    }

    /// Clicks "Sign out" while the server is down (the service worker answers).
    pub async fn sign_out_offline(&self) {
        self.step("sign out offline");
        self.js(
            "window.confirm = function () { return true; }; window.__leaving = true; document.querySelector(\"form[action='/logout'] button\").click();",
            json!([]),
        )
        .await;
        self.wait_for(
            "!window.__leaving && document.readyState === 'complete'",
            Duration::from_secs(20),
        )
        .await;
    }

    /// Sets the window to a phone's (390 × 844) or a desktop's size.
    pub async fn resize(&self, width: u32, height: u32) {
        self.call(
            "POST",
            "/window/rect",
            json!({ "width": width, "height": height }),
        )
        .await;
    }

    /// Saves a PNG of the page at a window width (phone 390, desktop 1280).
    pub async fn screenshot(&self, path: &std::path::Path, width: u32) {
        use base64::Engine;
        self.resize(width, 900).await;
        let png = self.call("GET", "/screenshot", json!(null)).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap_or_default())
            .unwrap_or_default();
        std::fs::write(path, bytes).unwrap();
    }

    /// What the service worker says of its own work (entries unsealed since it started).
    pub async fn worker_stats(&self) -> Value {
        self.js_async(
            "const done = arguments[0]; navigator.serviceWorker.addEventListener('message', function h(e) { if (e.data && e.data.type === 'stats') { navigator.serviceWorker.removeEventListener('message', h); done(e.data.stats); } }); navigator.serviceWorker.controller.postMessage({ type: 'stats' });",
            json!([]),
        )
        .await
    }

    /// The service worker's last replay steps, for a failure message (or why there are none).
    pub async fn replay_trace(&self) -> String {
        let v = self
            .js_async(
                "const done = arguments[0]; const c = navigator.serviceWorker && navigator.serviceWorker.controller; if (!c) { done('no service worker controls the page'); return; } const t = setTimeout(() => done('the service worker did not answer within 5 s'), 5000); navigator.serviceWorker.addEventListener('message', function h(e) { if (e.data && e.data.type === 'stats') { clearTimeout(t); navigator.serviceWorker.removeEventListener('message', h); done((e.data.stats.replays || []).join('\\n')); } }); c.postMessage({ type: 'stats' });",
                json!([]),
            )
            .await;
        v.as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string())
    }

    pub async fn source(&self) -> String {
        self.call("GET", "/source", json!(null))
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Everything this origin keeps on the device: Cache Storage (URLs and bodies) and IndexedDB.
    pub async fn device_storage(&self) -> String {
        let script = r#"
            const done = arguments[arguments.length - 1];
            (async () => {
                let out = '';
                for (const name of await caches.keys()) {
                    const c = await caches.open(name);
                    for (const req of await c.keys()) {
                        out += '\nCACHE ' + name + ' ' + req.url + '\n';
                        if (!req.url.endsWith('.js') && !req.url.endsWith('.css') && !req.url.endsWith('.svg')) out += await (await c.match(req)).text();
                    }
                }
                const pending = await OutpostStore.listPending();
                out += '\nIDB pending ' + JSON.stringify(pending.map(p => ({ meta: { hub_id: p.hub_id, kind: p.kind }, secret: p.secret })));
                out += '\nIDB issues ' + JSON.stringify(await OutpostStore.listIssues());
                return out;
            })().then(done, e => done('ERROR ' + e));
        "#;
        self.js_async(script, json!([]))
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}
