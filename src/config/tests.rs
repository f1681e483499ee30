use super::*;

fn parse(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let map: std::collections::HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Settings::from_lookup(|k| map.get(k).cloned())
}

#[test]
fn defaults_are_usable_for_development() {
    let s = parse(&[]).unwrap();
    assert!(s.database_url.is_none());
    assert_eq!(s.bind.port(), 8080);
    assert_eq!(s.db_pool_size, 10);
    assert!(!s.secure_cookies);
    assert_eq!(s.outbox_keep, std::time::Duration::from_secs(24 * 3600));
}

#[test]
fn each_bad_variable_is_named() {
    let cases = [
        ("OUTPOST_DATABASE_URL", "mysql://x"),
        ("OUTPOST_REDIS_URL", "http://x"),
        ("OUTPOST_BIND", "localhost"),
        ("OUTPOST_SECRET_KEY", "short"),
        ("OUTPOST_DB_POOL_SIZE", "0"),
        ("OUTPOST_DB_POOL_SIZE", "ten"),
        ("OUTPOST_REDIS_PREFIX", "a b"),
        ("OUTPOST_LOG_FORMAT", "xml"),
        ("OUTPOST_SECURE_COOKIES", "maybe"),
        ("OUTPOST_ENV", "staging"),
        ("OUTPOST_TRUST_PROXY", "perhaps"),
        ("OUTPOST_SESSION_IDLE_MINUTES", "0"),
        ("OUTPOST_ACCESS_TOKEN_MINUTES", "forever"),
        ("OUTPOST_OUTBOX_KEEP_HOURS", "0"),
        ("OUTPOST_OUTBOX_KEEP_HOURS", "a week"),
    ];
    for (var, value) in cases {
        let e = parse(&[(var, value)]).unwrap_err();
        assert_eq!(e.variable, var, "{var}={value}");
    }
}

#[test]
fn production_requires_a_secret_key_and_secure_cookies() {
    assert_eq!(
        parse(&[("OUTPOST_ENV", "production")])
            .unwrap_err()
            .variable,
        "OUTPOST_SECRET_KEY"
    );
    let s = parse(&[
        ("OUTPOST_ENV", "production"),
        ("OUTPOST_SECRET_KEY", &"k".repeat(40)),
    ])
    .unwrap();
    assert!(s.secure_cookies);
}

#[test]
fn secrets_do_not_print() {
    let s = parse(&[("OUTPOST_DATABASE_URL", "postgres://u:hunter2@h/db")]).unwrap();
    assert!(!format!("{s:?}").contains("hunter2"));
}
