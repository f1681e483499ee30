//! Action names in words, for people: the dashboard's activity and the review queue show
//! "Transfer received", not `transfer.receive` (the code stays where it is useful: the audit
//! log's filter and export).

/// The words for an audit action or operation kind; an action without words of its own is
/// spelled out from its code ("job.retried" → "Job retried").
pub fn action_words(action: &str) -> String {
    let known = match action {
        "intake.create" => "Intake recorded",
        "distribution.create" => "Distribution drafted",
        "distribution.update" => "Distribution changed",
        "distribution.confirm" => "Distribution confirmed",
        "distribution.cancel" => "Distribution cancelled",
        "needs_list.create" => "Needs list drafted",
        "needs_list.submit" => "Needs list submitted",
        "needs_list.decide" => "Needs list decided",
        "transfer.request" => "Transfer requested",
        "transfer.approve" => "Transfer approved",
        "transfer.dispatch" => "Transfer dispatched",
        "transfer.receive" => "Transfer received",
        "stock.adjust" => "Stock adjusted",
        "stock.reorder_levels" => "Reorder levels changed",
        "catalog.family_create" => "Product family created",
        "catalog.family_rename" => "Product family renamed",
        "catalog.identity_create" => "Product identity created",
        "catalog.variant_create" => "Variant created",
        "catalog.variant_update" => "Variant changed",
        "warehouse.receive" => "Item received",
        "warehouse.move" => "Item moved",
        "warehouse.update" => "Item changed",
        "warehouse.reserve" => "Item reserved",
        "warehouse.sell" => "Item sold",
        "warehouse.delete" => "Item deleted",
        "sale.create" => "Sale started",
        "sale.update" => "Sale changed",
        "sale.confirm" => "Sale confirmed",
        "sale.cancel" => "Sale cancelled",
        "invoice.issue" => "Invoice issued",
        "invoice.credit" => "Credit note issued",
        "auth.login.succeeded" => "Signed in",
        "auth.login.failed" => "Sign-in failed",
        "auth.logout" => "Signed out",
        "review.resolved" => "Sync issue resolved",
        "auth.permission.denied" => "Access refused",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_string();
    }
    spelled_out(action)
}

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
/// as the device's own lists (assets/offline.js).
pub fn entry_words(kind: &str) -> String {
    let known = match kind {
        "intake.create" => "Intake",
        "distribution.create" => "Distribution",
        "distribution.update" => "Distribution change",
        "distribution.confirm" => "Distribution confirmation",
        "distribution.cancel" => "Distribution cancellation",
        "needs_list.create" => "Needs list",
        "needs_list.submit" => "Needs list submission",
        "needs_list.decide" => "Needs list decision",
        "transfer.request" => "Transfer request",
        "transfer.approve" => "Transfer approval",
        "transfer.dispatch" => "Transfer dispatch",
        "transfer.receive" => "Transfer receipt",
        "stock.adjust" => "Stock adjustment",
        "stock.reorder_levels" => "Reorder levels",
        "sale.create" => "Sale",
        "sale.update" => "Sale change",
        "sale.confirm" => "Sale confirmation",
        "sale.cancel" => "Sale cancellation",
        "invoice.issue" => "Invoice",
        "invoice.credit" => "Credit note",
        _ => return action_words(kind),
    };
    known.to_string()
}

#[cfg(test)]
mod tests {
    use super::action_words;

    #[test]
    fn actions_read_as_words() {
        assert_eq!(action_words("transfer.receive"), "Transfer received");
        assert_eq!(action_words("job.retried"), "Job retried");
        assert_eq!(action_words("customer.created"), "Customer created");
        assert_eq!(action_words(""), "");
    }
}
