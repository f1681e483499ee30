//! The `outpost` binary: configuration errors stop it with one clear line and exit code 2;
//! migrate, seed-demo and user management work end to end.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::common::TestDb;

pub(crate) fn outpost(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_outpost"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn each_malformed_variable_stops_start_up_with_exit_code_2_and_names_it() {
    let cases = [
        ("OUTPOST_DATABASE_URL", "mysql://localhost/outpost"),
        ("OUTPOST_REDIS_URL", "localhost:6379"),
        ("OUTPOST_BIND", "everywhere"),
        ("OUTPOST_SECRET_KEY", "too-short"),
        ("OUTPOST_DB_POOL_SIZE", "-3"),
        ("OUTPOST_LOG_FORMAT", "yaml"),
        ("OUTPOST_SECURE_COOKIES", "sometimes"),
        ("OUTPOST_ENV", "prod"),
        ("OUTPOST_REDIS_PREFIX", "has spaces"),
    ];
    for (var, value) in cases {
        let out = outpost(&["serve"], &[(var, value)], None);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{var}={value}: {}",
            stderr(&out)
        );
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "one line for {var}: {err}");
        assert!(err.contains(var), "{var} named in: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn serve_without_a_database_url_is_a_configuration_error() {
    let out = outpost(&["serve"], &[], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("OUTPOST_DATABASE_URL"));
}

#[test]
fn help_lists_every_command() {
    let out = outpost(&["--help"], &[], None);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for cmd in ["serve", "worker", "migrate", "seed-demo", "demo", "user"] {
        assert!(help.contains(cmd), "{cmd} in help");
    }
}

#[test]
fn migrate_seed_and_manage_users_from_the_command_line() {
    let db = TestDb::empty();
    let env = [("OUTPOST_DATABASE_URL", db.url.as_str())];

    let out = outpost(&["migrate"], &env, None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("applied"));
    let out = outpost(&["migrate"], &env, None);
    assert!(String::from_utf8_lossy(&out.stdout).contains("up to date"));

    let out = outpost(&["seed-demo"], &env, None);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("demo world loaded"),
        "{}",
        stderr(&out)
    );
    let out = outpost(&["seed-demo"], &env, None);
    assert!(String::from_utf8_lossy(&out.stdout).contains("already loaded"));
    // For people trying it: the customers' badges and quotas, once however often it runs.
    assert_eq!(db.count("SELECT count(*) AS n FROM badges"), 3);
    assert_eq!(
        db.count("SELECT count(*) AS n FROM badge_quotas q JOIN customers c ON c.id = q.customer_id WHERE c.code = 'TT-SHELTER' AND q.copy_limit = 10 AND q.remaining = 10"),
        1
    );

    let add = [
        "user",
        "add",
        "--username",
        "nkemi",
        "--name",
        "Nkemi Lewis",
        "--role",
        "WarehouseOp",
        "--organisation",
        "National Emergency Management Office",
        "--hub",
        "MBJ-SUB",
    ];
    let out = outpost(&add, &env, Some("a long enough password\n"));
    assert!(out.status.success(), "{}", stderr(&out));
    let mut conn = db.conn();
    let user = outpost::auth::users::find_by_username(&mut conn, "nkemi")
        .unwrap()
        .unwrap();
    assert_eq!(user.role, "WarehouseOp");
    assert!(outpost::auth::password::verify(
        "a long enough password",
        &user.password_hash
    ));

    // Same username again: refused with a message, no panic.
    let out = outpost(&add, &env, Some("a long enough password\n"));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("already exists"));
    // A hub of another organisation is refused.
    let out = outpost(
        &[
            "user",
            "add",
            "--username",
            "x1",
            "--name",
            "X",
            "--role",
            "Driver",
            "--organisation",
            "National Emergency Management Office",
            "--hub",
            "HRA-PORT",
        ],
        &env,
        Some("a long enough password\n"),
    );
    assert!(
        stderr(&out).contains("no hub with code"),
        "{}",
        stderr(&out)
    );
    // A short password is refused.
    let out = outpost(&["user", "passwd", "nkemi"], &env, Some("short\n"));
    assert!(stderr(&out).contains("at least"), "{}", stderr(&out));

    let out = outpost(
        &["user", "passwd", "nkemi"],
        &env,
        Some("another long password\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let user = outpost::auth::users::find_by_username(&mut conn, "nkemi")
        .unwrap()
        .unwrap();
    assert!(outpost::auth::password::verify(
        "another long password",
        &user.password_hash
    ));

    let out = outpost(&["user", "disable", "nkemi"], &env, None);
    assert!(out.status.success());
    assert!(
        !outpost::auth::users::find_by_username(&mut conn, "nkemi")
            .unwrap()
            .unwrap()
            .active
    );
    let out = outpost(&["user", "disable", "nobody"], &env, None);
    assert!(stderr(&out).contains("no user named"));
}

/// The pool starts connecting (libpq over OpenSSL, on threads of its own) before the listener
/// is bound; leaving then must be a plain exit 1, not a crash of those threads in OpenSSL's
/// exit handler (it was SIGSEGV about one start in five).
#[test]
fn serve_with_its_address_taken_exits_with_1_every_time() {
    let db = TestDb::migrated();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let bind = taken.local_addr().unwrap().to_string();
    let redis = crate::common::redis_url();
    let data = std::env::temp_dir().join(format!("outpost-taken-{}", uuid::Uuid::new_v4()));
    let env = [
        ("OUTPOST_DATABASE_URL", db.url.as_str()),
        ("OUTPOST_REDIS_URL", redis.as_str()),
        ("OUTPOST_REDIS_PREFIX", "taken-address"),
        ("OUTPOST_BIND", bind.as_str()),
        ("OUTPOST_DATA_DIR", data.to_str().unwrap()),
    ];
    for _ in 0..20 {
        let out = outpost(&["serve"], &env, None);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{:?}: {}",
            out.status,
            stderr(&out)
        );
        assert!(stderr(&out).contains("OUTPOST_BIND"), "{}", stderr(&out));
    }
    let _ = std::fs::remove_dir_all(&data);
}
