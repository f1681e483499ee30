//! The binary explains itself (and cargo builds it for the server's end-to-end NFC tests).

#[test]
fn help_names_the_commands_and_settings() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_outpost-station"))
        .arg("--help")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for word in [
        "run",
        "copy",
        "sync",
        "status",
        "readers",
        "OUTPOST_STATION_TOKEN",
        "--reader",
        "--keys",
    ] {
        assert!(text.contains(word), "{word} missing from:\n{text}");
    }
}

#[test]
fn bad_keys_are_refused_before_anything_happens() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_outpost-station"))
        .args(["--code", "X_01", "--token", "t", "--keys", "FFFF", "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a MIFARE key"));
}
