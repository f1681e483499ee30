//! The permission matrix: which role may do what. This table is the only place that answers
//! the question; `/admin/roles` shows it read-only.

use std::fmt;

use super::roles::Role;

macro_rules! permissions {
    ($($variant:ident => $name:literal, $label:literal;)+) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Permission { $($variant),+ }

        impl Permission {
            pub const ALL: &'static [Permission] = &[$(Permission::$variant),+];
            pub fn as_str(&self) -> &'static str {
                match self { $(Permission::$variant => $name),+ }
            }
            pub fn label(&self) -> &'static str {
                match self { $(Permission::$variant => $label),+ }
            }
        }

        /// Zero-sized markers so a handler can name its permission in its signature:
        /// `Authorized<perm::AuditRead>`.
        pub mod perm {
            pub trait Marker { const PERMISSION: super::Permission; }
            $(
                pub struct $variant;
                impl Marker for $variant { const PERMISSION: super::Permission = super::Permission::$variant; }
            )+
        }
    };
}

permissions! {
    DashboardView => "dashboard.view", "See the dashboard of their hubs";
    InventoryRead => "inventory.read", "See stock at their hubs";
    IntakeCreate => "inventory.intake.create", "Record intakes (stock in)";
    DistributionCreate => "inventory.distribution.create", "Record distributions (draft)";
    DistributionConfirm => "inventory.distribution.confirm", "Confirm distributions (stock out)";
    StockAdjust => "inventory.adjust", "Adjust stock levels";
    NeedsListCreate => "needs_list.create", "Create and submit needs lists";
    NeedsListApprove => "needs_list.approve", "Approve, reject or adjust needs lists";
    TransferRequest => "transfer.request", "Request transfers between hubs";
    TransferApprove => "transfer.approve", "Approve transfers";
    TransferDispatch => "transfer.dispatch", "Dispatch and receive transfers";
    ReviewResolve => "review.resolve", "Resolve sync conflicts of their hubs";
    CatalogRead => "catalog.read", "Browse the catalog";
    FamilyCreate => "catalog.family.create", "Create product families";
    IdentityCreate => "catalog.identity.create", "Create product identities (immutable layer)";
    VariantCreate => "catalog.variant.create", "Create sellable variants";
    VariantPriceEdit => "variant.price.edit", "Edit variant prices and descriptions";
    WarehouseReceive => "warehouse.receive", "Receive and move serialized items";
    WarehouseItemEdit => "warehouse.item.edit", "Edit serialized items";
    WarehouseItemDelete => "warehouse.item.delete", "Delete serialized items";
    WarehouseSell => "warehouse.sell", "Reserve and sell serialized items";
    WarehouseValue => "warehouse.value.read", "See the total inventory value";
    SalesCreate => "sales.transaction.create", "Record sales to customers";
    SalesRead => "sales.read", "See the sales, invoices and credit notes of their hubs";
    OwnOrdersView => "sales.orders.own", "See their own customer account's orders and invoices";
    BadgeCopyRequest => "badges.copy.request", "Request badge copies";
    BadgeCopiesRead => "badges.copies.read", "See the badge copy history of their customers";
    BadgeCopyRecord => "badges.copy.record", "Record copies made at an NFC station (the station itself)";
    StationsManage => "stations.manage", "Manage NFC stations and their tokens";
    ZohoSyncWrite => "zoho.sync.write", "Write Zoho sync status (sync worker)";
    AuditRead => "audit.read", "Read and export the audit log";
    UsersManage => "users.manage", "Manage users, roles, hubs and flags";
    HubsManage => "hubs.manage", "Manage organisations and hubs";
    RolesView => "roles.view", "See the permission matrix";
    JobsManage => "jobs.manage", "See, retry and discard background jobs";
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Role {
    /// Whether this role may perform `permission` (hub and customer scope are checked apart).
    pub fn allows(&self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            // Everything but acting as the sync worker or as a station.
            Role::SuperAdmin => {
                !matches!(permission, ZohoSyncWrite | OwnOrdersView | BadgeCopyRecord)
            }
            Role::Admin => !matches!(permission, ZohoSyncWrite | OwnOrdersView | BadgeCopyRecord),
            Role::LogisticsManager => matches!(
                permission,
                DashboardView
                    | InventoryRead
                    | IntakeCreate
                    | DistributionCreate
                    | DistributionConfirm
                    | StockAdjust
                    | NeedsListCreate
                    | NeedsListApprove
                    | TransferRequest
                    | TransferApprove
                    | TransferDispatch
                    | ReviewResolve
                    | CatalogRead
                    | SalesCreate
                    | SalesRead
            ),
            Role::DepotManager => matches!(
                permission,
                DashboardView
                    | InventoryRead
                    | IntakeCreate
                    | DistributionCreate
                    | DistributionConfirm
                    | StockAdjust
                    | NeedsListCreate
                    | TransferRequest
                    | TransferDispatch
                    | ReviewResolve
                    | CatalogRead
                    | WarehouseReceive
                    | SalesCreate
                    | SalesRead
            ),
            Role::WarehouseOp => matches!(
                permission,
                DashboardView
                    | InventoryRead
                    | IntakeCreate
                    | DistributionCreate
                    | TransferDispatch
                    | CatalogRead
                    | WarehouseReceive
                    | WarehouseItemEdit
                    // The USAV seed: a warehouse operator audits physical inventory (a count).
                    | StockAdjust
            ),
            Role::SalesRep => matches!(
                permission,
                DashboardView
                    | InventoryRead
                    | CatalogRead
                    | VariantCreate
                    | VariantPriceEdit
                    | WarehouseSell
                    | SalesCreate
                    | SalesRead
            ),
            Role::Driver => matches!(
                permission,
                DashboardView | InventoryRead | DistributionCreate | CatalogRead
            ),
            // An auditor reads what the organisation did, sales and badge copies among it.
            Role::Auditor => matches!(
                permission,
                DashboardView
                    | InventoryRead
                    | CatalogRead
                    | AuditRead
                    | RolesView
                    | SalesRead
                    | BadgeCopiesRead
            ),
            Role::CustomerUser => matches!(
                permission,
                CatalogRead | BadgeCopyRequest | BadgeCopiesRead | OwnOrdersView
            ),
            Role::SystemBot => matches!(permission, CatalogRead | ZohoSyncWrite),
            Role::NfcStation => permission == BadgeCopyRecord,
        }
    }

    /// Roles that see every hub of their own organisation without being assigned to each.
    pub fn sees_whole_organisation(&self) -> bool {
        matches!(self, Role::SuperAdmin | Role::Admin | Role::Auditor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_dotted() {
        let mut names: Vec<_> = Permission::ALL.iter().map(|p| p.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Permission::ALL.len());
        assert!(names.iter().all(|n| n.contains('.')));
    }

    #[test]
    fn the_seed_rules_hold() {
        // USAV: identities are ADMIN-only; the sync bot may only write sync state.
        assert!(Role::Admin.allows(Permission::IdentityCreate));
        for role in Role::ALL
            .iter()
            .filter(|r| !matches!(r, Role::Admin | Role::SuperAdmin))
        {
            assert!(!role.allows(Permission::IdentityCreate), "{role}");
        }
        assert!(Role::SystemBot.allows(Permission::ZohoSyncWrite));
        assert!(!Role::SystemBot.allows(Permission::VariantPriceEdit));
        assert!(!Role::Admin.allows(Permission::ZohoSyncWrite));
        // DRIMS: only logistics managers (and admins) approve needs lists.
        assert!(Role::LogisticsManager.allows(Permission::NeedsListApprove));
        assert!(!Role::DepotManager.allows(Permission::NeedsListApprove));
        // Auditors read, never write.
        assert!(Role::Auditor.allows(Permission::AuditRead));
        assert!(!Role::Auditor.allows(Permission::IntakeCreate));
    }
}
