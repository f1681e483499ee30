//! The roles a user can hold. Stored as text in `users.role` (a CHECK constraint lists them).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Role {
    SuperAdmin,
    Admin,
    LogisticsManager,
    DepotManager,
    WarehouseOp,
    SalesRep,
    Driver,
    Auditor,
    CustomerUser,
    SystemBot,
    /// The account an NFC station acts through (never signs in; its station token speaks for it).
    NfcStation,
}

impl Role {
    pub const ALL: [Role; 11] = [
        Role::SuperAdmin,
        Role::Admin,
        Role::LogisticsManager,
        Role::DepotManager,
        Role::WarehouseOp,
        Role::SalesRep,
        Role::Driver,
        Role::Auditor,
        Role::CustomerUser,
        Role::SystemBot,
        Role::NfcStation,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Role::SuperAdmin => "SuperAdmin",
            Role::Admin => "Admin",
            Role::LogisticsManager => "LogisticsManager",
            Role::DepotManager => "DepotManager",
            Role::WarehouseOp => "WarehouseOp",
            Role::SalesRep => "SalesRep",
            Role::Driver => "Driver",
            Role::Auditor => "Auditor",
            Role::CustomerUser => "CustomerUser",
            Role::SystemBot => "SystemBot",
            Role::NfcStation => "NfcStation",
        }
    }

    /// How the role is named to people.
    pub fn label(&self) -> &'static str {
        match self {
            Role::SuperAdmin => "Super admin",
            Role::Admin => "Admin",
            Role::LogisticsManager => "Logistics manager",
            Role::DepotManager => "Depot manager",
            Role::WarehouseOp => "Warehouse operator",
            Role::SalesRep => "Sales rep",
            Role::Driver => "Driver",
            Role::Auditor => "Auditor",
            Role::CustomerUser => "Customer",
            Role::SystemBot => "System bot",
            Role::NfcStation => "NFC station",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown role '{0}' (expected one of: SuperAdmin, Admin, LogisticsManager, DepotManager, WarehouseOp, SalesRep, Driver, Auditor, CustomerUser, SystemBot, NfcStation)")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownRole(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn every_role_round_trips_through_text() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert!("root".parse::<Role>().is_err());
    }
}
