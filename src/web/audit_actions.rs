//! The audit log's Action filter in the words its table shows. The table says "Signed in"
//! where the log holds `auth.login.succeeded`; a filter that took only codes made a person
//! guess them. The filter offers the actions by name (every operation kind, and the sign-in
//! actions) and reads what is typed as words or as the start of a code.

/// (code, words) of the actions offered by name.
pub fn named() -> Vec<(&'static str, String)> {
    let kinds = crate::sync::registry::all().iter().map(|k| k.name());
    let mut named: Vec<(&'static str, String)> = kinds
        .chain(crate::audit::words::NAMED.iter().map(|(code, _)| *code))
        .map(|code| (code, crate::audit::words::action_words(code)))
        .collect();
    named.sort_by(|a, b| a.1.cmp(&b.1));
    named.dedup_by(|a, b| a.0 == b.0);
    named
}

/// The codes whose words begin with `typed` (any case): "signed" → the sign-in and sign-out
/// actions. Empty when `typed` names none.
pub fn codes_named(typed: &str) -> Vec<String> {
    let typed = typed.trim().to_lowercase();
    if typed.is_empty() {
        return Vec::new();
    }
    named()
        .into_iter()
        .filter(|(_, words)| words.to_lowercase().starts_with(&typed))
        .map(|(code, _)| code.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_found_by_their_words() {
        crate::kinds::install();
        assert_eq!(codes_named("Signed in"), vec!["auth.login.succeeded"]);
        let mut signed = codes_named("signed");
        signed.sort();
        assert_eq!(signed, vec!["auth.login.succeeded", "auth.logout"]);
        assert!(codes_named("Intake recorded").contains(&"intake.create".to_string()));
        assert!(codes_named("auth.login").is_empty(), "a code is not words");
        assert!(named()
            .iter()
            .all(|(code, words)| !code.is_empty() && !words.is_empty()));
    }
}
