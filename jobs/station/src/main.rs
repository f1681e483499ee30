use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use outpost_station::agent::{say, Agent, AgentError, Config};
use outpost_station::{card, reader};

/// Outpost's NFC station agent: copies customers' badges on an ACR122U reader (through pcscd)
/// for the Outpost server, and keeps working when the server cannot be reached.
///
/// Register the station on the server (Admin → NFC stations) to get its code and token, then
/// run `outpost-station run` as a service. Copies made with `outpost-station copy` while the
/// server is unreachable are kept in a journal on disk and sent when it is back.
#[derive(Parser)]
#[command(name = "outpost-station", version)]
struct Cli {
    /// The Outpost server's address.
    #[arg(
        long,
        env = "OUTPOST_STATION_SERVER",
        default_value = "http://127.0.0.1:8080"
    )]
    server: String,
    /// The station's code, as registered (e.g. PARIS_01).
    #[arg(long, env = "OUTPOST_STATION_CODE")]
    code: String,
    /// The station token shown once at registration (ops_…). Prefer the environment variable.
    #[arg(long, env = "OUTPOST_STATION_TOKEN", hide_env_values = true)]
    token: String,
    /// Part of the reader's name as pcscd reports it (see `outpost-station readers`).
    #[arg(long, env = "OUTPOST_STATION_READER", default_value = "ACR122")]
    reader: String,
    /// Where the journal and the last known quotas are kept.
    #[arg(
        long,
        env = "OUTPOST_STATION_STATE_DIR",
        default_value = "/var/lib/outpost-station"
    )]
    state_dir: PathBuf,
    /// MIFARE Classic keys to try on each sector (key A), 12 hex digits each, comma-separated.
    #[arg(
        long,
        env = "OUTPOST_STATION_KEYS",
        default_value = "FFFFFFFFFFFF,A0A1A2A3A4A5,D3F7D3F7D3F7"
    )]
    keys: String,
    /// Who works at the station (recorded with each copy).
    #[arg(long, env = "OUTPOST_STATION_OPERATOR", default_value = "")]
    operator: String,
    /// Seconds to wait for a card to be put on (or taken off) the reader.
    #[arg(long, env = "OUTPOST_STATION_CARD_TIMEOUT", default_value_t = 45)]
    card_timeout: u64,
    /// Milliseconds before the first retry when the server is unreachable (then doubled: 1, 2,
    /// 4, 8, 16 s by default).
    #[arg(long, env = "OUTPOST_STATION_RETRY_BASE_MS", default_value_t = 1000)]
    retry_base_ms: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Wait for copies requested at the server and carry them out (the service).
    Run,
    /// Copy the badge put on the reader now, for a customer of this hub, checked against the
    /// last known quota; journaled and sent to the server when it can be reached.
    Copy,
    /// Send what the journal holds now, then fetch fresh quotas.
    Sync {
        /// Also send again the entries the server refused before.
        #[arg(long)]
        retry_failed: bool,
    },
    /// Show the journal (pending, failed with the reason, synced) and the last known quotas.
    Status,
    /// List the readers pcscd sees.
    Readers,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Readers = cli.command {
        return match reader::list() {
            Ok(names) if names.is_empty() => {
                say("pcscd sees no reader. Is the ACR122U plugged in?");
                ExitCode::from(1)
            }
            Ok(names) => {
                names.iter().for_each(say);
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(1)
            }
        };
    }
    let keys = match card::parse_keys(&cli.keys) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("--keys: {e}");
            return ExitCode::from(2);
        }
    };
    let cfg = Config {
        operator: if cli.operator.trim().is_empty() {
            format!("station {}", cli.code)
        } else {
            cli.operator.trim().to_string()
        },
        server: cli.server,
        code: cli.code,
        token: cli.token,
        reader: cli.reader,
        state_dir: cli.state_dir,
        keys,
        card_timeout: Duration::from_secs(cli.card_timeout),
        retry_base: Duration::from_millis(cli.retry_base_ms),
    };
    let outcome = Agent::new(cfg).and_then(|mut agent| match cli.command {
        Command::Run => agent.run(),
        Command::Copy => agent.copy_here(),
        Command::Sync { retry_failed } => {
            if retry_failed {
                say(format!(
                    "{} failed entr(ies) will be sent again.",
                    agent.retry_failed()?
                ));
            }
            agent.sync_with_retries()
        }
        Command::Status => {
            print!("{}", agent.status());
            Ok(())
        }
        Command::Readers => Ok(()),
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(match e {
                AgentError::Net(_) => 3,
                _ => 1,
            })
        }
    }
}
