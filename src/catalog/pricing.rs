//! The sales design's price flags, as one rule used wherever a price is applied (cart lines,
//! the warehouse's sell and reserve): missing flag ⇒ NO. The wording is the seed's, so the
//! page, the API and a replayed offline entry all say the same thing.

use crate::auth::flags::PermissionFlags;

pub const NO_PRICE_EDIT: &str = "You do not have permission to edit prices";
pub const NO_FOC: &str = "You do not have permission to add free-of-charge items";
pub const NO_BELOW_COST: &str = "You do not have permission to sell below cost";

/// One priced line as the rules see it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Priced {
    pub list_cents: i64,
    /// The item's cost, when known (a serialized item's cost basis, else the variant's cost).
    pub cost_cents: Option<i64>,
    pub unit_cents: i64,
    /// Discount on the line in basis points (10 % = 1000).
    pub discount_bp: i32,
    pub foc: bool,
}

impl Priced {
    /// Given away: marked free of charge, or priced at nothing (a zero unit price or a 100 %
    /// discount) for an item that has a list price. Every path asks this one question, so a
    /// cart line at 0.00 needs `can_add_foc` as a REST sale at 0.00 does (issue 27).
    pub fn free_of_charge(&self) -> bool {
        self.foc || (self.list_cents > 0 && (self.unit_cents == 0 || self.discount_bp >= 10_000))
    }

    /// Below cost after the discount: unit × (1 − discount) < cost, in exact integers.
    pub fn below_cost(&self) -> bool {
        !self.free_of_charge()
            && self.cost_cents.is_some_and(|cost| {
                i128::from(self.unit_cents) * i128::from(10_000 - self.discount_bp)
                    < i128::from(cost) * 10_000
            })
    }

    /// Changed away from the list price (a different unit price, or a discount).
    pub fn price_changed(&self) -> bool {
        !self.free_of_charge() && (self.unit_cents != self.list_cents || self.discount_bp > 0)
    }

    /// Whether any flag guards this line: an offline confirmation of a cart with such a line
    /// waits for a manager.
    pub fn guarded(&self) -> bool {
        self.free_of_charge() || self.price_changed() || self.below_cost()
    }

    /// The reason the user may not apply this line, if any.
    pub fn refusal(&self, flags: &PermissionFlags) -> Option<&'static str> {
        if self.free_of_charge() && !flags.can_add_foc {
            Some(NO_FOC)
        } else if self.price_changed() && !flags.can_change_price {
            Some(NO_PRICE_EDIT)
        } else if self.below_cost() && !flags.can_sell_below_cost {
            Some(NO_BELOW_COST)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_price_or_a_full_discount_is_free_of_charge() {
        let none = PermissionFlags::default();
        let zero = Priced {
            list_cents: 1000,
            cost_cents: Some(600),
            unit_cents: 0,
            ..Default::default()
        };
        assert_eq!(zero.refusal(&none), Some(NO_FOC));
        let full = Priced {
            unit_cents: 1000,
            discount_bp: 10_000,
            ..zero
        };
        assert_eq!(full.refusal(&none), Some(NO_FOC));
        assert_eq!(full.refusal(&flags(false, false, true)), None);
        // An item whose list price is nothing is not given away at nothing.
        let free_item = Priced {
            list_cents: 0,
            cost_cents: None,
            unit_cents: 0,
            ..Default::default()
        };
        assert_eq!(free_item.refusal(&none), None);
    }

    fn flags(change: bool, below: bool, foc: bool) -> PermissionFlags {
        PermissionFlags {
            can_change_price: change,
            can_sell_below_cost: below,
            can_add_foc: foc,
            can_see_cost: false,
        }
    }

    #[test]
    fn the_list_price_needs_no_flag() {
        let line = Priced {
            list_cents: 1000,
            cost_cents: Some(600),
            unit_cents: 1000,
            ..Default::default()
        };
        assert!(!line.guarded());
        assert_eq!(line.refusal(&PermissionFlags::default()), None);
    }

    #[test]
    fn each_flag_guards_its_own_change() {
        let none = PermissionFlags::default();
        let changed = Priced {
            list_cents: 1000,
            cost_cents: Some(600),
            unit_cents: 1500,
            ..Default::default()
        };
        assert_eq!(changed.refusal(&none), Some(NO_PRICE_EDIT));
        assert_eq!(changed.refusal(&flags(true, false, false)), None);
        let discounted = Priced {
            discount_bp: 1000,
            ..changed
        };
        assert_eq!(
            Priced {
                unit_cents: 1000,
                ..discounted
            }
            .refusal(&none),
            Some(NO_PRICE_EDIT)
        );
        let below = Priced {
            unit_cents: 500,
            ..changed
        };
        assert_eq!(
            below.refusal(&flags(true, false, false)),
            Some(NO_BELOW_COST)
        );
        assert_eq!(below.refusal(&flags(true, true, false)), None);
        // A discount can take a list price below cost: 1000 − 45 % = 550 < 600.
        let deep = Priced {
            unit_cents: 1000,
            discount_bp: 4500,
            ..changed
        };
        assert!(deep.below_cost());
        assert_eq!(
            deep.refusal(&flags(true, false, false)),
            Some(NO_BELOW_COST)
        );
        let foc = Priced {
            foc: true,
            ..changed
        };
        assert_eq!(foc.refusal(&flags(true, true, false)), Some(NO_FOC));
        assert_eq!(
            foc.refusal(&flags(false, false, true)),
            None,
            "FOC is its own flag"
        );
        assert!(foc.guarded());
    }

    #[test]
    fn exactly_at_cost_is_not_below_cost() {
        let line = Priced {
            list_cents: 1000,
            cost_cents: Some(900),
            unit_cents: 1000,
            discount_bp: 1000,
            foc: false,
        };
        assert!(!line.below_cost());
    }
}
