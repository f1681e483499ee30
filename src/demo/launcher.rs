//! Private PostgreSQL and Redis instances for `outpost demo` (and for the test script on a
//! machine without shared services), started from the system's own binaries under the data
//! directory and stopped again when the guard is dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// The running private services. Dropping it stops them.
pub struct PrivateServices {
    /// The cluster's superuser, who owns the tables (migrations run as it).
    pub database_url: String,
    pub redis_url: String,
    /// Where PostgreSQL keeps its data (under the data directory unless that is private).
    pub pg_root: PathBuf,
    pg_data: PathBuf,
    pg_options: String,
    run_as: Option<String>,
    redis: Option<Child>,
}

const PG_BIN_DIRS: &str = "/usr/lib/postgresql";

impl PrivateServices {
    /// The same database reached as `outpost_app`, the ordinary role the server and workers
    /// connect as (the migrations create it; the private cluster trusts its own socket).
    pub fn server_url(&self) -> String {
        self.database_url
            .replacen("postgres://postgres@", "postgres://outpost_app@", 1)
    }

    pub fn start(data_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
        let data_dir = data_dir.canonicalize()?;
        let pg_bin = find_pg_bin()?;
        let redis_server = which("redis-server").context("redis-server is not installed: install the Debian package 'redis-server' (sudo apt-get install redis-server)")?;

        // initdb and postgres refuse to run as root; as root we run them as the `postgres`
        // system user that Debian's postgresql package creates.
        let run_as = if unsafe { libc::geteuid() } == 0 {
            Some("postgres".to_string())
        } else {
            None
        };
        let mut pg_root = data_dir.join("postgres");
        std::fs::create_dir_all(pg_root.join("run"))?;
        if let Some(user) = &run_as {
            chown_recursive(&pg_root, user)?;
            if !reachable(&pg_root, user)? {
                // A clone under /root (or any private folder): the `postgres` user cannot get
                // in, so its cluster lives under /var/lib/outpost, named after the data
                // directory so every run of this checkout finds the same data again.
                pg_root = fallback_pg_root(&data_dir);
                std::fs::create_dir_all(pg_root.join("run"))?;
                chown_recursive(&pg_root, user)?;
                if !reachable(&pg_root, user)? {
                    bail!(
                        "the '{user}' system user cannot reach {} either; set OUTPOST_DATA_DIR to a folder it can reach",
                        pg_root.display()
                    );
                }
            }
        }
        let pg_data = pg_root.join("data");
        let socket_dir = pg_root.join("run");

        if !pg_data.join("PG_VERSION").exists() {
            tracing::info!(dir = %pg_data.display(), "initialising a private PostgreSQL cluster");
            run(pg_command(&run_as, &pg_bin.join("initdb"))
                .args(["-D"])
                .arg(&pg_data)
                .args([
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]))?;
        }
        // Unix socket only: no port to collide with, nothing reachable from the network. Fsync
        // and synchronous commit stay on (PostgreSQL's defaults): a site that keeps its data in
        // the demo must not lose it to a power cut.
        let pg_options = format!(
            "-c listen_addresses='' -c unix_socket_directories='{}' -c fsync=on -c synchronous_commit=on",
            socket_dir.display()
        );
        let database_url = format!(
            "postgres://postgres@localhost/postgres?host={}",
            socket_dir.display()
        );

        let redis_dir = data_dir.join("redis");
        std::fs::create_dir_all(&redis_dir)?;
        let port = free_port()?;
        let redis = Command::new(redis_server)
            .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--dir"])
            .arg(&redis_dir)
            // Append-only file: queued jobs survive a restart of the demo.
            .args([
                "--appendonly",
                "yes",
                "--save",
                "",
                "--logfile",
                "redis.log",
                "--protected-mode",
                "yes",
            ])
            .stdout(Stdio::null())
            .spawn()
            .context("cannot start redis-server")?;
        let redis_url = format!("redis://127.0.0.1:{port}");
        let mut services = PrivateServices {
            database_url,
            redis_url,
            pg_root,
            pg_data,
            pg_options,
            run_as,
            redis: Some(redis),
        };
        services.start_postgres()?;
        services.wait_for_redis(port)?;
        Ok(services)
    }

    fn pg_ctl(&self, args: &[&str]) -> Result<std::process::ExitStatus> {
        let mut cmd = pg_command(&self.run_as, &find_pg_bin()?.join("pg_ctl"));
        cmd.arg("-D")
            .arg(&self.pg_data)
            .args(args)
            .stdout(Stdio::null());
        Ok(cmd.status()?)
    }

    fn start_postgres(&self) -> Result<()> {
        let log = self.pg_root.join("postgres.log");
        let status = self.pg_ctl(&[
            "-l",
            &log.display().to_string(),
            "-o",
            &self.pg_options,
            "-w",
            "-t",
            "60",
            "start",
        ])?;
        if !status.success() {
            bail!("PostgreSQL did not start; see {}", log.display());
        }
        Ok(())
    }

    /// Stops PostgreSQL (fast: open sessions are cut), leaves it down for `down_for`, and starts
    /// it again, as an operator's restart or a crash-and-recover would (the fault tests use it).
    pub fn restart_postgres(&self, down_for: std::time::Duration) -> Result<()> {
        self.pg_ctl(&["-m", "fast", "-w", "stop"])?;
        std::thread::sleep(down_for);
        self.start_postgres()
    }

    fn wait_for_redis(&mut self, port: u16) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(());
            }
            if let Some(child) = self.redis.as_mut() {
                if let Some(status) = child.try_wait()? {
                    bail!("redis-server exited at start ({status})");
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!("redis-server did not accept connections on port {port} within 15 s")
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.redis.take() {
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait();
        }
        let _ = self.pg_ctl(&["-m", "fast", "-w", "stop"]);
    }
}

impl Drop for PrivateServices {
    fn drop(&mut self) {
        self.stop();
    }
}

fn find_pg_bin() -> Result<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir(PG_BIN_DIRS)
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .filter(|p| p.join("initdb").exists())
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    versions.pop().context("PostgreSQL server binaries (initdb, pg_ctl) are not installed: install the Debian package 'postgresql' (sudo apt-get install postgresql)")
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(program))
            .find(|p| p.is_file())
    })
}

fn pg_command(run_as: &Option<String>, program: &Path) -> Command {
    match run_as {
        Some(user) => {
            let mut c = Command::new("runuser");
            // From "/": the postgres user may not be allowed into the current folder.
            c.args(["-u", user, "--"]).arg(program).current_dir("/");
            c
        }
        None => Command::new(program),
    }
}

fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn chown_recursive(path: &Path, user: &str) -> Result<()> {
    run(Command::new("chown")
        .args(["-R", &format!("{user}:{user}")])
        .arg(path))
}

/// Whether the postgres user can reach (and write) a folder through every parent folder.
fn reachable(path: &Path, user: &str) -> Result<bool> {
    Ok(Command::new("runuser")
        .args(["-u", user, "--", "test", "-w"])
        .arg(path)
        .current_dir("/")
        .status()?
        .success())
}

/// The PostgreSQL folder used when the data directory is private: one per data directory.
pub fn fallback_pg_root(data_dir: &Path) -> PathBuf {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(data_dir.as_os_str().as_encoded_bytes());
    let name = data_dir
        .parent()
        .and_then(Path::file_name)
        .map(|n| {
            n.to_string_lossy()
                .replace(|c: char| !c.is_ascii_alphanumeric(), "-")
        })
        .unwrap_or_else(|| "outpost".into());
    PathBuf::from("/var/lib/outpost").join(format!("{name}-{}", &hex::encode(digest)[..12]))
}

pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}
