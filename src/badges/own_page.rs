//! `GET /badges`: a customer user's own badges, quotas and the stations a copy can be made
//! at. The page says, before anything is asked for, what a copy would come to: a station
//! that is offline (or never connected) keeps the copy waiting with its quota taken, and at 0
//! copies left (or no quota) there is nothing to ask for until the quota is full again.

use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::{Badge, Quota};
use crate::auth::extract::Authorized;
use crate::auth::permissions::perm;
use crate::error::AppError;
use crate::schema::{badge_quotas, badges, customers, nfc_stations};
use crate::state::AppState;
use crate::sync::forms::OpMeta;
use crate::ui::layout::{render, Layout};
use crate::ui::page::Page;

/// One customer account on the badges page, with what a copy can be asked for at.
pub struct Account {
    pub customer_id: i64,
    pub name: String,
    pub badges: Vec<(Badge, Option<OpMeta>)>,
    pub quota: Option<Quota>,
    /// Active stations at the customer's hub.
    pub stations: Vec<StationChoice>,
}

impl Account {
    /// Why no copy can be asked for now, in words; `None` when one can.
    pub fn no_copies(&self) -> Option<String> {
        match &self.quota {
            None => Some(
                "No copy quota has been set for this account, so no copy can be made yet.".into(),
            ),
            Some(q) if q.remaining <= 0 => Some(format!(
                "No copies left {}: the quota is full again on {}.",
                q.period_label(),
                q.next_reset_at.format("%Y-%m-%d %H:%M UTC")
            )),
            Some(_) => None,
        }
    }

    /// Whether some station of the account's hub is offline now.
    pub fn some_station_offline(&self) -> bool {
        self.stations.iter().any(|s| !s.online())
    }
}

/// A station a copy can be asked for at, and when the server last heard from it.
pub struct StationChoice {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub last_seen: Option<DateTime<Utc>>,
}

impl StationChoice {
    pub fn online(&self) -> bool {
        super::stations::online(self.last_seen)
    }

    /// "online", "offline since 2026-12-07 10:42 UTC", "never connected".
    pub fn state_words(&self) -> String {
        super::stations::state_words(self.last_seen)
    }
}

#[derive(Template)]
#[template(path = "badges/own.html")]
struct OwnPage {
    layout: Layout,
    accounts: Vec<Account>,
}

/// `GET /badges`: a customer user's own badges and quotas.
pub(super) async fn own(
    user: Authorized<perm::BadgeCopyRequest>,
    page: Page,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let ids = user.scope.customer_ids.clone();
    let (who, settings) = (user.user.0.clone(), state.settings.clone());
    let accounts = crate::db::run(&state.db, move |conn| {
        // Four statements whatever the number of accounts: customers, their quotas, their
        // badges and the stations of their hubs.
        let names: Vec<(i64, String, i64)> = customers::table
            .filter(customers::id.eq_any(&ids))
            .order(customers::name)
            .limit(200)
            .select((customers::id, customers::name, customers::hub_id))
            .load(conn)?;
        let ids: Vec<i64> = names.iter().map(|n| n.0).collect();
        let hub_ids: Vec<i64> = names.iter().map(|n| n.2).collect();
        let mut quotas: std::collections::HashMap<i64, Quota> = badge_quotas::table
            .filter(badge_quotas::customer_id.eq_any(&ids))
            .select((badge_quotas::customer_id, Quota::as_select()))
            .load::<(i64, Quota)>(conn)?
            .into_iter()
            .collect();
        let all_badges: Vec<Badge> = badges::table
            .filter(badges::customer_id.eq_any(&ids))
            .order((badges::active.desc(), badges::uid))
            .select(Badge::as_select())
            .load(conn)?;
        type StationRow = (i64, i64, String, String, Option<DateTime<Utc>>);
        let stations: Vec<StationRow> = nfc_stations::table
            .filter(nfc_stations::hub_id.eq_any(&hub_ids))
            .filter(nfc_stations::active.eq(true))
            .order(nfc_stations::code)
            .select((
                nfc_stations::hub_id,
                nfc_stations::id,
                nfc_stations::code,
                nfc_stations::name,
                nfc_stations::last_seen_at,
            ))
            .load(conn)?;
        let mut out = Vec::new();
        for (id, name, hub_id) in names {
            let badges = all_badges
                .iter()
                .filter(|b| b.customer_id == id)
                .map(|b| {
                    let meta = b.active.then(|| {
                        OpMeta::new(&settings, &who, "badge.copy_request", hub_id, None, None)
                    });
                    (b.clone(), meta)
                })
                .collect();
            out.push(Account {
                customer_id: id,
                name,
                badges,
                quota: quotas.remove(&id),
                stations: stations
                    .iter()
                    .filter(|s| s.0 == hub_id)
                    .map(|s| StationChoice {
                        id: s.1,
                        code: s.2.clone(),
                        name: s.3.clone(),
                        last_seen: s.4,
                    })
                    .collect(),
            });
        }
        Ok(out)
    })
    .await?;
    render(&OwnPage {
        layout: page.layout("Badges"),
        accounts,
    })
}
