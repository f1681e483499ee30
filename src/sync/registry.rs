//! Every kind of operation the server accepts, by name. The pipeline is a floor the features
//! stand on, so it does not name them: the composition root (`crate::kinds`) installs the list
//! at start-up, with the hooks a feature lends the pipeline.

use std::sync::OnceLock;

use diesel::pg::PgConnection;
use diesel::QueryResult;

use super::any_kind::AnyKind;
use super::kind::Form;

/// What a feature holds back over a chunk of operations and the pipeline settles: the ledger's
/// stock increases, applied once at the end of a chunk (or before a kind that reads levels).
pub struct ChunkHooks {
    /// Starts holding back; what it returns stops when dropped.
    pub begin: fn() -> Box<dyn std::any::Any>,
    /// Applies what was held back.
    pub flush: fn(&mut PgConnection) -> QueryResult<()>,
    /// How much is held back now, and forgetting what came after (a refused operation's).
    pub mark: fn() -> usize,
    pub forget_since: fn(usize),
}

/// A feature's part of what a device pulls (`GET /api/v1/sync/pull`).
pub type PullSection = fn(
    &mut PgConnection,
    &crate::config::Settings,
    &crate::auth::principal::Principal,
) -> QueryResult<Option<serde_json::Value>>;

/// What the composition root hands the pipeline.
pub struct Installed {
    pub kinds: &'static [&'static dyn AnyKind],
    pub chunk: ChunkHooks,
    /// The badges and quotas a station or a copy requester pulls.
    pub badges_pull: PullSection,
}

static INSTALLED: OnceLock<&'static Installed> = OnceLock::new();

/// Called once by whatever starts Outpost (server, worker, command, test) before the first
/// operation; later calls keep the first.
pub fn install(installed: &'static Installed) {
    let _ = INSTALLED.set(installed);
}

fn installed() -> &'static Installed {
    INSTALLED
        .get()
        .expect("the kinds are installed (kinds::install) before the first operation")
}

pub fn find(name: &str) -> Option<&'static dyn AnyKind> {
    all().iter().copied().find(|k| k.name() == name)
}

pub fn all() -> &'static [&'static dyn AnyKind] {
    installed().kinds
}

pub fn chunk() -> &'static ChunkHooks {
    &installed().chunk
}

pub fn hooks() -> &'static Installed {
    installed()
}

/// Every offline form, with the kind that declares it.
pub fn forms() -> impl Iterator<Item = (&'static dyn AnyKind, &'static Form)> {
    all()
        .iter()
        .filter_map(|k| k.spec().form.as_ref().map(|f| (*k, f)))
}

/// The addresses a device may queue offline, as the service worker's pattern (a JavaScript
/// regular expression matching the path).
pub fn queueable_pattern() -> String {
    let pattern = |root: bool| -> Vec<String> {
        forms()
            .filter(|(_, form)| form.path.starts_with('/') == root)
            .map(|(_, form)| {
                form.path
                    .trim_start_matches('/')
                    .split('/')
                    .map(|part| match part {
                        "{id}" => "[0-9a-f-]{36}".to_string(),
                        "{action}" => "[a-z_]+".to_string(),
                        literal => literal.replace('.', "\\."),
                    })
                    .collect::<Vec<_>>()
                    .join("\\/")
            })
            .collect()
    };
    let under_hub = format!("\\/hubs\\/\\d+\\/({})", pattern(false).join("|"));
    match pattern(true) {
        root if root.is_empty() => format!("^{under_hub}$"),
        root => format!("^({under_hub}|\\/({}))$", root.join("|")),
    }
}

/// The words for each kind's entries, for the device's own lists (none before `install`).
pub fn entry_word_table() -> std::collections::BTreeMap<&'static str, &'static str> {
    INSTALLED
        .get()
        .map_or(&[][..], |i| i.kinds)
        .iter()
        .map(|k| (k.name(), k.spec().entry))
        .collect()
}

/// The form at an address under a hub (`intakes`, `sales/<uuid>/confirm`), or at a root
/// address (`/warehouse/receive`, with its slash), with the words its `{id}` and `{action}`
/// stood for.
pub fn form_at(path: &str) -> Option<(&'static dyn AnyKind, &'static Form, String, String)> {
    let parts: Vec<&str> = path.split('/').collect();
    forms().find_map(|(kind, form)| {
        let pattern: Vec<&str> = form.path.split('/').collect();
        if pattern.len() != parts.len() {
            return None;
        }
        let (mut id, mut action) = (String::new(), String::new());
        for (want, got) in pattern.iter().zip(&parts) {
            match *want {
                "{id}"
                    if got.len() == 36
                        && got.chars().all(|c| c.is_ascii_hexdigit() || c == '-') =>
                {
                    id = got.to_string()
                }
                "{action}"
                    if !got.is_empty()
                        && got.chars().all(|c| c.is_ascii_lowercase() || c == '_') =>
                {
                    action = got.to_string()
                }
                literal if literal == *got => {}
                _ => return None,
            }
        }
        Some((kind, form, id, action))
    })
}
