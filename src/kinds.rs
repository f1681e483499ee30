//! The composition root of the operation kinds: every kind the server accepts, one line each,
//! handed to the pipeline (`sync::registry`) with the hooks a feature lends it. Everything else
//! about a kind — its words, its offline form and pages, where a refused entry is entered again —
//! is in its `Spec`, beside its rules.

use crate::badges::{copies, recorded};
use crate::catalog::kinds as catalog;
use crate::inventory::{
    adjust, distribution, distribution_close, intake, ledger, needs, needs_decide, transfer,
    transfer_steps,
};
use crate::sales::{cart_close, cart_open, invoice_kinds};
use crate::sync::any_kind::AnyKind;
use crate::sync::registry::{self, ChunkHooks, Installed};
use crate::warehouse::item_steps;
use crate::warehouse::kinds as warehouse;

static KINDS: &[&dyn AnyKind] = &[
    &intake::CreateIntake,
    &distribution::CreateDistribution,
    &distribution::UpdateDistribution,
    &distribution_close::ConfirmDistribution,
    &distribution_close::CancelDistribution,
    &needs::CreateNeedsList,
    &needs::SubmitNeedsList,
    &needs_decide::DecideNeedsList,
    &transfer::RequestTransfer,
    &transfer_steps::ApproveTransfer,
    &transfer_steps::DispatchTransfer,
    &transfer_steps::ReceiveTransfer,
    &adjust::AdjustStock,
    &adjust::SetReorderLevels,
    &catalog::CreateFamily,
    &catalog::RenameFamily,
    &crate::catalog::variant_kinds::CreateIdentity,
    &crate::catalog::variant_kinds::CreateVariant,
    &crate::catalog::variant_kinds::UpdateVariant,
    &warehouse::Receive,
    &warehouse::Move,
    &item_steps::Update,
    &item_steps::RESERVE,
    &item_steps::SELL,
    &item_steps::DELETE,
    &crate::warehouse::count::CountLocation,
    &cart_open::CreateSale,
    &cart_open::UpdateSale,
    &cart_close::ConfirmSale,
    &cart_close::CancelSale,
    &invoice_kinds::IssueInvoice,
    &invoice_kinds::CreditInvoice,
    &copies::RequestCopy,
    &recorded::RecordCopy,
];

static INSTALLED: Installed = Installed {
    kinds: KINDS,
    // The ledger holds stock increases back over a chunk (`Kind::defers_stock`).
    chunk: ChunkHooks {
        begin: || Box::new(ledger::Deferral::begin()),
        flush: ledger::flush_deferred,
        mark: ledger::deferred_mark,
        forget_since: ledger::forget_deferred_since,
    },
    badges_pull: recorded::pull_section,
};

/// Hands the kinds to the pipeline and their words to the audit log. Idempotent; every entry
/// point (server, worker, command, test harness) calls it first.
pub fn install() {
    registry::install(&INSTALLED);
    crate::audit::words::install(|action| {
        registry::find(action).map(|k| (k.spec().done, k.spec().entry))
    });
    crate::ui::assets::set_kind_words(
        serde_json::to_string(&registry::entry_word_table()).unwrap_or_default(),
    );
}

#[cfg(test)]
mod tests {
    use crate::sync::registry;

    #[test]
    fn names_are_unique_and_look_like_audit_actions() {
        super::install();
        let mut names: Vec<_> = registry::all().iter().map(|k| k.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), registry::all().len());
        assert!(names.iter().all(|n| n.split('.').count() == 2
            && n.chars()
                .all(|c| c.is_ascii_lowercase() || c == '.' || c == '_')));
    }

    #[test]
    fn approvals_and_cross_hub_kinds_are_not_finalised_offline() {
        super::install();
        for name in [
            "needs_list.decide",
            "transfer.request",
            "transfer.approve",
            "transfer.dispatch",
            "transfer.receive",
        ] {
            assert!(
                !registry::find(name).unwrap().finalisable_offline(),
                "{name}"
            );
        }
        for name in [
            "intake.create",
            "distribution.create",
            "distribution.confirm",
            "needs_list.create",
        ] {
            assert!(
                registry::find(name).unwrap().finalisable_offline(),
                "{name}"
            );
        }
    }

    #[test]
    fn kinds_read_as_their_words() {
        super::install();
        use crate::audit::words::{action_words, entry_words};
        assert_eq!(action_words("transfer.receive"), "Transfer received");
        assert_eq!(entry_words("transfer.receive"), "Transfer receipt");
        assert_eq!(
            entry_words("catalog.family_create"),
            "Product family created"
        );
    }

    #[test]
    fn each_offline_address_reads_as_its_own_form() {
        super::install();
        let pattern = registry::queueable_pattern();
        assert!(pattern.contains("intakes|"), "{pattern}");
        assert!(
            pattern.contains("actions\\/transfer\\.approve"),
            "{pattern}"
        );
        let (kind, _, id, action) =
            registry::form_at("sales/0b7e3f4a-1111-4222-8333-944455556666/confirm").unwrap();
        assert_eq!(kind.name(), "sale.update");
        assert_eq!((id.len(), action.as_str()), (36, "confirm"));
        assert_eq!(
            registry::form_at("intakes").unwrap().0.name(),
            "intake.create"
        );
        assert!(registry::form_at("sales/not-a-uuid/confirm").is_none());
        assert!(registry::form_at("actions/warehouse.sell").is_none());
    }
}
