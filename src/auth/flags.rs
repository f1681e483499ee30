//! Per-user permission flags from the sales design. Defensive by construction: only an explicit
//! JSON `true` grants a flag; a missing key, `null`, a string, or an unreadable document is NO.

use serde::Serialize;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PermissionFlags {
    pub can_change_price: bool,
    pub can_sell_below_cost: bool,
    pub can_add_foc: bool,
    pub can_see_cost: bool,
}

impl PermissionFlags {
    pub const NAMES: [(&'static str, &'static str); 4] = [
        ("can_change_price", "Change prices on sales"),
        ("can_sell_below_cost", "Sell below cost"),
        ("can_add_foc", "Add free-of-charge items"),
        ("can_see_cost", "See cost prices"),
    ];

    pub fn from_json(value: &serde_json::Value) -> Self {
        let flag = |name: &str| value.get(name).and_then(serde_json::Value::as_bool) == Some(true);
        PermissionFlags {
            can_change_price: flag("can_change_price"),
            can_sell_below_cost: flag("can_sell_below_cost"),
            can_add_foc: flag("can_add_foc"),
            can_see_cost: flag("can_see_cost"),
        }
    }

    pub fn to_json(self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    pub fn get(&self, name: &str) -> bool {
        match name {
            "can_change_price" => self.can_change_price,
            "can_sell_below_cost" => self.can_sell_below_cost,
            "can_add_foc" => self.can_add_foc,
            "can_see_cost" => self.can_see_cost,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_an_explicit_true_grants_a_flag() {
        assert_eq!(
            PermissionFlags::from_json(&json!({})),
            PermissionFlags::default()
        );
        assert_eq!(
            PermissionFlags::from_json(&json!(null)),
            PermissionFlags::default()
        );
        assert_eq!(
            PermissionFlags::from_json(&json!("garbage")),
            PermissionFlags::default()
        );
        let f = PermissionFlags::from_json(
            &json!({"can_change_price": null, "can_sell_below_cost": "yes", "can_add_foc": 1, "can_see_cost": true}),
        );
        assert!(!f.can_change_price && !f.can_sell_below_cost && !f.can_add_foc);
        assert!(f.can_see_cost);
        assert!(!f.get("unknown_flag"));
    }
}
