//! Every kind of operation the server accepts, by name.

use super::kind::Kind;
use crate::badges::{copies, recorded};
use crate::catalog::kinds as catalog;
use crate::inventory::{adjust, distribution, intake, needs, transfer};
use crate::sales::{cart, invoices};
use crate::warehouse::kinds as warehouse;

static KINDS: &[&dyn Kind] = &[
    &intake::CreateIntake,
    &distribution::CreateDistribution,
    &distribution::UpdateDistribution,
    &distribution::ConfirmDistribution,
    &distribution::CancelDistribution,
    &needs::CreateNeedsList,
    &needs::SubmitNeedsList,
    &needs::DecideNeedsList,
    &transfer::RequestTransfer,
    &transfer::ApproveTransfer,
    &transfer::DispatchTransfer,
    &transfer::ReceiveTransfer,
    &adjust::AdjustStock,
    &adjust::SetReorderLevels,
    &catalog::CreateFamily,
    &catalog::RenameFamily,
    &catalog::CreateIdentity,
    &catalog::CreateVariant,
    &catalog::UpdateVariant,
    &warehouse::Receive,
    &warehouse::Move,
    &warehouse::Update,
    &warehouse::RESERVE,
    &warehouse::SELL,
    &warehouse::DELETE,
    &cart::CreateSale,
    &cart::UpdateSale,
    &cart::ConfirmSale,
    &cart::CancelSale,
    &invoices::IssueInvoice,
    &invoices::CreditInvoice,
    &copies::RequestCopy,
    &recorded::RecordCopy,
];

pub fn find(name: &str) -> Option<&'static dyn Kind> {
    KINDS.iter().copied().find(|k| k.name() == name)
}

pub fn all() -> &'static [&'static dyn Kind] {
    KINDS
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_unique_and_look_like_audit_actions() {
        let mut names: Vec<_> = super::all().iter().map(|k| k.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), super::all().len());
        assert!(names.iter().all(|n| n.split('.').count() == 2
            && n.chars()
                .all(|c| c.is_ascii_lowercase() || c == '.' || c == '_')));
    }

    #[test]
    fn approvals_and_cross_hub_kinds_are_not_finalised_offline() {
        for name in [
            "needs_list.decide",
            "transfer.request",
            "transfer.approve",
            "transfer.dispatch",
            "transfer.receive",
        ] {
            assert!(!super::find(name).unwrap().finalisable_offline(), "{name}");
        }
        for name in [
            "intake.create",
            "distribution.create",
            "distribution.confirm",
            "needs_list.create",
        ] {
            assert!(super::find(name).unwrap().finalisable_offline(), "{name}");
        }
    }
}
