//! Action names in words, for people: the dashboard's activity and the review queue show
//! "Transfer received", not `transfer.receive` (the code stays where it is useful: the audit
//! log's filter and export).

/// The words of the operation kinds (done, entry), which each kind declares in its `Spec`; the
/// composition root installs the lookup (`crate::kinds::install`), since the audit log stands
/// below the features.
type KindWords = fn(&str) -> Option<(&'static str, &'static str)>;

static KIND_WORDS: std::sync::OnceLock<KindWords> = std::sync::OnceLock::new();

pub fn install(kind_words: KindWords) {
    let _ = KIND_WORDS.set(kind_words);
}

fn kind_words(action: &str) -> Option<(&'static str, &'static str)> {
    KIND_WORDS.get().and_then(|lookup| lookup(action))
}

/// The words for an audit action or operation kind; an action without words of its own is
/// spelled out from its code ("job.retried" → "Job retried").
pub fn action_words(action: &str) -> String {
    if let Some((done, _)) = kind_words(action) {
        return done.to_string();
    }
    match NAMED.iter().find(|(code, _)| *code == action) {
        Some((_, words)) => words.to_string(),
        None => spelled_out(action),
    }
}

/// Actions that are not operation kinds and have words of their own.
pub const NAMED: [(&str, &str); 5] = [
    ("auth.login.succeeded", "Signed in"),
    ("auth.login.failed", "Sign-in failed"),
    ("auth.logout", "Signed out"),
    ("review.resolved", "Sync issue resolved"),
    ("auth.permission.denied", "Access refused"),
];

/// A code spelled out for people: "job.retried" → "Job retried", "received_on" → "Received on".
pub fn spelled_out(code: &str) -> String {
    let spelled = code.replace(['.', '_'], " ");
    let mut chars = spelled.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// An operation as an entry someone made ("Intake", "Sale confirmation"): for lists of entries
/// that may not have been applied, where "Intake recorded" would say otherwise. The same words
/// as the device's own lists (assets/offline.js, filled from the same `Spec`s).
pub fn entry_words(kind: &str) -> String {
    match kind_words(kind) {
        Some((_, entry)) => entry.to_string(),
        None => action_words(kind),
    }
}

#[cfg(test)]
mod tests {
    use super::action_words;

    #[test]
    fn actions_read_as_words() {
        assert_eq!(action_words("job.retried"), "Job retried");
        assert_eq!(action_words("customer.created"), "Customer created");
        assert_eq!(action_words(""), "");
    }
}
