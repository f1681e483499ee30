//! `outpost audit verify | seal | public-key`.

use anyhow::{bail, Result};

use crate::config::Settings;

use super::*;

pub(super) async fn audit(settings: Settings, action: AuditAction) -> Result<()> {
    use crate::audit::checkpoint;
    let url = settings.require_database_url()?.to_string();
    match action {
        AuditAction::PublicKey => println!("{}", checkpoint::public_key(&settings)),
        AuditAction::Seal => {
            let state = app_state(settings, false).await?;
            let head = blocking(move || {
                Ok(crate::audit::seal::seal_all(&mut crate::db::connect(
                    &url,
                )?)?)
            })
            .await?;
            match head {
                Some(head) => {
                    let signed = checkpoint::Checkpoint::sign(&head, &state.settings);
                    checkpoint::publish(&state, &signed).await?;
                    println!(
                        "audit chain sealed up to link {} (row {})",
                        head.seq, head.audit_id
                    );
                }
                None => println!("the audit log is empty; nothing to seal"),
            }
        }
        AuditAction::Verify => {
            // The newest checkpoint this server signed, from the directory or Redis.
            let mut found = checkpoint::read_file(&checkpoint::dir(&settings))
                .into_iter()
                .collect::<Vec<_>>();
            found.extend(checkpoint::read_redis(&settings).await);
            if let Some(forged) = found.iter().find(|c| !c.is_signed_by(&settings)) {
                bail!(
                    "audit checkpoint of link {} is not signed by this server's key (forged or from another server)",
                    forged.seq
                );
            }
            let latest = found.into_iter().max_by_key(|c| c.seq);
            let report = blocking(move || {
                Ok(crate::audit::verify(
                    &mut crate::db::connect(&url)?,
                    latest.as_ref(),
                )?)
            })
            .await?;
            if let Some((id, why)) = report.first_broken {
                bail!(
                    "audit chain broken at row {id}: {why} ({} row(s) checked)",
                    report.rows_checked
                );
            }
            println!(
                "audit chain intact: {} row(s) verified; {}; {} row(s) written and waiting to be sealed",
                report.rows_checked,
                match report.checkpoint_seq {
                    Some(seq) => format!("it reaches the signed checkpoint of link {seq}"),
                    None => "no checkpoint found to compare with".to_string(),
                },
                report.unsealed
            );
        }
    }
    Ok(())
}
