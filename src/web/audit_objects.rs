//! An audit row's object in words ("Intake 3f2a9c1e"), linked to its page where it has one
//! the viewer may open (issue 30, finding 9): records of a hub in the viewer's scope, users and
//! customers for those who manage them, and serialized items.

use crate::auth::permissions::Permission;
use crate::auth::principal::Principal;

pub struct ObjectLink {
    pub words: String,
    pub href: Option<String>,
}

/// Which of the pages behind audit objects the viewer may open.
#[derive(Clone, Copy, Default)]
pub struct Openable {
    users: bool,
    customers: bool,
    items: bool,
}

impl Openable {
    pub fn for_viewer(viewer: &Principal) -> Self {
        Openable {
            users: viewer.can(Permission::UsersManage),
            customers: viewer.can(Permission::HubsManage),
            items: viewer.can(Permission::InventoryRead),
        }
    }

    pub fn link(
        &self,
        viewer_hubs: &[i64],
        object_type: &Option<String>,
        object_id: &Option<String>,
        hub_id: Option<i64>,
    ) -> Option<ObjectLink> {
        let kind = object_type.as_deref()?;
        let id = object_id.as_deref().unwrap_or("");
        let (noun, under_hub) = match kind {
            "intake" => ("Intake", Some("intakes")),
            "distribution" => ("Distribution", Some("distributions")),
            "needs_list" => ("Needs list", Some("needs-lists")),
            "transfer" => ("Transfer", Some("transfers")),
            "sale" => ("Sale", Some("sales")),
            "user" => ("User", None),
            "customer" => ("Customer", None),
            "hub" => ("Hub", None),
            "inventory_item" => ("Item", None),
            "product_variant" => ("Catalog item", None),
            "badge_copy" => ("Badge copy", None),
            "nfc_station" => ("NFC station", None),
            "operation" => ("Entry", None),
            "route" => ("Page", None),
            other => (other, None),
        };
        // A UUID is told by its first eight characters; anything else is shown whole.
        let short = if id.len() == 36 && id.chars().nth(8) == Some('-') {
            &id[..8]
        } else {
            id
        };
        let words = match (noun, short) {
            (noun, "") => noun.replace('_', " "),
            (noun, short) => format!("{} {short}", noun.replace('_', " ")),
        };
        let in_scope = hub_id.filter(|h| viewer_hubs.contains(h));
        let href = match (kind, under_hub, in_scope) {
            (_, Some(list), Some(hub)) if !id.is_empty() => {
                Some(format!("/hubs/{hub}/{list}/{id}"))
            }
            ("hub", _, _) if viewer_hubs.iter().any(|h| h.to_string() == id) => {
                Some(format!("/hubs/{id}"))
            }
            ("user", _, _) if self.users && !id.is_empty() => Some(format!("/admin/users/{id}")),
            ("customer", _, _) if self.customers && !id.is_empty() => {
                Some(format!("/admin/customers/{id}"))
            }
            ("inventory_item", _, _) if self.items && !id.is_empty() => {
                Some(format!("/warehouse/items/{id}"))
            }
            _ => None,
        };
        Some(ObjectLink { words, href })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_of_a_hub_in_scope_link_to_their_page_and_others_are_words() {
        let all = Openable {
            users: true,
            customers: true,
            items: true,
        };
        let t = |s: &str| Some(s.to_string());
        let uuid = "3f2a9c1e-1111-4222-8333-944455556666";
        let intake = all.link(&[1], &t("intake"), &t(uuid), Some(1)).unwrap();
        assert_eq!(intake.words, "Intake 3f2a9c1e");
        assert_eq!(
            intake.href.as_deref(),
            Some(&*format!("/hubs/1/intakes/{uuid}"))
        );
        // Another hub's record is named, not linked.
        assert_eq!(
            all.link(&[2], &t("intake"), &t(uuid), Some(1))
                .unwrap()
                .href,
            None
        );
        assert_eq!(
            all.link(&[], &t("user"), &t("7"), None)
                .unwrap()
                .href
                .as_deref(),
            Some("/admin/users/7")
        );
        let none = Openable::default();
        assert_eq!(
            none.link(&[], &t("user"), &t("7"), None).unwrap().href,
            None
        );
        assert_eq!(
            none.link(&[], &t("route"), &t("/admin/users"), None)
                .unwrap()
                .words,
            "Page /admin/users"
        );
        assert!(none.link(&[], &None, &None, None).is_none());
    }
}
