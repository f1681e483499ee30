//! `outpost audit verify [--restored] | seal | public-key`.

use anyhow::{bail, Result};

use crate::audit::checkpoint::{self, Checkpoint};
use crate::audit::checkpoint_store as store;
use crate::config::Settings;

use super::*;

pub(super) async fn audit(settings: Settings, action: AuditAction) -> Result<()> {
    let url = settings.require_database_url()?.to_string();
    match action {
        AuditAction::PublicKey => println!("{}", checkpoint::public_key(&settings)),
        AuditAction::Seal => {
            let state = app_state(settings, false).await?;
            let sealed = blocking(move || {
                let mut conn = crate::db::connect(&url)?;
                let head = crate::audit::seal::seal_all(&mut conn)?;
                Ok((head, store::database(&mut conn)?))
            })
            .await?;
            match sealed {
                (Some(head), database) => {
                    let signed = Checkpoint::sign(&head, &database, &state.settings);
                    store::publish(&state, &signed).await?;
                    println!(
                        "audit chain sealed up to link {} (row {})",
                        head.seq, head.audit_id
                    );
                }
                (None, _) => println!("the audit log is empty; nothing to seal"),
            }
        }
        AuditAction::Verify { restored } => verify(&settings, url, restored).await?,
    }
    Ok(())
}

/// Checks the chain against this database's latest checkpoint (from its folder or Redis). A
/// chain that holds but ends before it is told apart from a broken one: it agrees with an
/// earlier, hourly checkpoint, and the words say what that means.
async fn verify(settings: &Settings, url: String, restored: bool) -> Result<()> {
    let database = {
        let url = url.clone();
        blocking(move || Ok(store::database(&mut crate::db::connect(&url)?)?)).await?
    };
    let dir = store::dir(settings, &database);
    let mut found: Vec<Checkpoint> = Vec::new();
    for read in [
        store::read_file_checked(&dir),
        store::read_redis(settings, &database).await,
    ] {
        found.extend(read.map_err(|why| anyhow::anyhow!("audit checkpoint damaged: {why}"))?);
    }
    let history = store::history(&dir);
    if let Some(other) = found
        .iter()
        .chain(&history)
        .find(|c| c.database != database)
    {
        bail!(
            "audit checkpoint of link {} belongs to database {}, not to this one ({database}): it was copied here",
            other.seq,
            other.database
        );
    }
    if let Some(forged) = found
        .iter()
        .chain(&history)
        .find(|c| !c.is_signed_by(settings))
    {
        bail!(
            "audit checkpoint of link {} is not signed by this server's key (forged, or signed by a server with another OUTPOST_SECRET_KEY)",
            forged.seq
        );
    }
    let latest = found.into_iter().max_by_key(|c| c.seq);
    let check = |cp: Option<Checkpoint>| {
        let url = url.clone();
        blocking(move || {
            Ok(crate::audit::verify(
                &mut crate::db::connect(&url)?,
                cp.as_ref(),
            )?)
        })
    };
    let report = check(latest.clone()).await?;
    let tail = report.unsealed;
    if report.behind_checkpoint {
        let latest = latest.expect("behind a checkpoint there is one");
        let ends = report.last_seq;
        let earlier = history.into_iter().rev().find(|c| c.seq <= ends);
        let agrees = match earlier.clone() {
            Some(cp) => check(Some(cp)).await?.first_broken.is_none(),
            None => false,
        };
        let what = format!(
            "this database's audit chain ends at link {ends}, but its latest checkpoint, signed at {}, covers link {}: \
             the database was restored from a backup taken before then, or its newest rows were removed",
            latest.signed_at.to_rfc3339(),
            latest.seq
        );
        let Some(earlier) = earlier.filter(|_| agrees) else {
            bail!("{what}; no earlier checkpoint confirms the chain up to link {ends}");
        };
        let confirmed = format!(
            "the chain agrees with the checkpoint of link {} signed at {}",
            earlier.seq,
            earlier.signed_at.to_rfc3339()
        );
        if !restored {
            bail!(
                "{what}. Up to link {ends} {confirmed}. If you restored a backup, run `outpost audit verify --restored` to accept it"
            );
        }
        let moved = store::supersede(settings, &database, ends).await?;
        println!(
            "audit chain intact up to the restore: {} row(s) verified; {confirmed}; {moved} checkpoint(s) of the time after it set aside in {}; {tail} row(s) written and waiting to be sealed",
            report.rows_checked,
            dir.join("superseded").display()
        );
        return Ok(());
    }
    if let Some((id, why)) = report.first_broken {
        bail!(
            "audit chain broken at row {id}: {why} ({} row(s) checked)",
            report.rows_checked
        );
    }
    // Sealed rows and no checkpoint: the chain holds, but nothing outside the database says
    // where it ended, so its newest rows could have been cut off unnoticed.
    if report.checkpoint_seq.is_none() && report.rows_checked > 0 {
        bail!(
            "no checkpoint of this database ({database}) was found in {} or in Redis, though {} row(s) are sealed: \
             the chain holds as far as it goes, but the removal of its newest rows cannot be ruled out. \
             Run this with the OUTPOST_AUDIT_CHECKPOINT_DIR and OUTPOST_REDIS_URL the servers use",
            dir.display(),
            report.rows_checked
        );
    }
    println!(
        "audit chain intact: {} row(s) verified; {}; {tail} row(s) written and waiting to be sealed",
        report.rows_checked,
        match report.checkpoint_seq {
            Some(seq) => format!("it reaches the signed checkpoint of link {seq}"),
            None => "nothing is sealed yet".to_string(),
        },
    );
    Ok(())
}
