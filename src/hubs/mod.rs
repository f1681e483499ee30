//! The hubs' pages: a hub's stock page, the work waiting at each hub, and the administration
//! of hubs and customers. What a hub is, and who may see it, is `auth::scope`.

pub mod admin;
pub mod customer_admin;
pub mod customer_edit;
pub mod org_settings;
pub mod pages;
pub mod work;
