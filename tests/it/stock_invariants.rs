//! Issue 27: random sequences of every stock operation — intakes, distributions, transfers
//! (short receipts too), serial-numbered receive / reserve / sell / delete, carts (create with
//! bulk and serial lines, cancel, confirm), invoices and credit notes with and without restock,
//! and counts — across three hubs and five users, some captured offline, some sent as
//! concurrent pairs. After every step the server's figures must agree with a model kept here
//! from the answers alone, and with each other:
//! - each level is what the model expects and what its ledger adds up to; none below zero, and
//!   never below the serial-numbered items in stock there (`outpost stock rebuild --check`);
//! - no item is sold twice, no draft sale holds an item that is not RESERVED;
//! - in transit = what dispatched transfers carry (dispatched − received, open transfers only);
//! - invoice and credit-note numbers run without gaps.
//!
//! The seed is printed; `OUTPOST_INVARIANT_SEED=<seed>` replays a run and
//! `OUTPOST_INVARIANT_STEPS` changes its length (2,000 by default).

use std::collections::HashMap;

use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::common::TestApp;
use crate::sales::{customer, stocked};

const HUBS: [&str; 3] = ["KIN-MAIN", "MBJ-SUB", "MAN-SUB"];

#[derive(Clone)]
struct Item {
    id: i64,
    serial: String,
    sku: String,
    hub: &'static str,
    status: &'static str,
}

struct Transfer {
    id: Uuid,
    from: &'static str,
    to: &'static str,
    sku: String,
    quantity: i64,
    status: &'static str,
    /// Serial-numbered items sent on it (indexes in `items`).
    items: Vec<usize>,
}

struct Sale {
    id: Uuid,
    status: &'static str,
    /// (sku, quantity) of the bulk line.
    bulk: (String, i64),
    /// The serial-numbered item on it, if any (its index in `items`).
    item: Option<usize>,
    invoice: Option<Uuid>,
    credited: bool,
}

struct World {
    app: TestApp,
    rng: StdRng,
    tokens: HashMap<&'static str, String>,
    hubs: HashMap<&'static str, i64>,
    skus: Vec<String>,
    /// List prices by SKU, in units (a counter sale names its price).
    prices: HashMap<String, f64>,
    customer: i64,
    /// The level the model expects, by (hub, sku).
    level: HashMap<(&'static str, String), i64>,
    items: Vec<Item>,
    transfers: Vec<Transfer>,
    sales: Vec<Sale>,
    applied: HashMap<String, usize>,
    /// The last refusal of each kind, to say why a kind never took effect.
    refused: HashMap<String, String>,
    step: usize,
}

#[derive(QueryableByName)]
struct LevelRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    hub: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    sku: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    quantity: i64,
}

#[derive(QueryableByName)]
struct ItemRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    serial: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    place: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

impl World {
    fn op(&mut self, kind: &str, payload: Value, base_version: Option<i64>) -> Value {
        // About one entry in five was captured offline a few minutes ago and arrives now.
        let offline = self.rng.random_ratio(1, 5);
        let captured =
            chrono::Utc::now() - chrono::Duration::seconds(if offline { 300 } else { 0 });
        let mut op = json!({ "op_id": Uuid::new_v4(), "kind": kind, "payload": payload, "captured_at": captured });
        if offline {
            op["device_id"] = json!("invariant-device");
            op["offline"] = json!(true);
        }
        if let Some(v) = base_version {
            op["base_version"] = json!(v);
        }
        op
    }

    async fn send(&mut self, user: &str, op: Value) -> bool {
        let kind = op["kind"].as_str().unwrap_or_default().to_string();
        let (status, body) = self
            .app
            .sync(&self.tokens[user], json!({ "operations": [op] }))
            .await;
        assert_eq!(status, 200, "step {}: {kind}: {body}", self.step);
        self.outcome(&kind, &body["results"][0]["result"])
    }

    fn outcome(&mut self, kind: &str, result: &Value) -> bool {
        let status = result["status"].as_str().unwrap_or_default();
        assert!(
            ["applied", "rejected", "conflict", "pending_review"].contains(&status),
            "step {}: {kind} answered {result}",
            self.step
        );
        let reason = result["reason"].as_str().unwrap_or_default();
        assert!(
            !reason.contains("internal") && !reason.contains("database error"),
            "step {}: {kind}: {result}",
            self.step
        );
        if status == "applied" {
            *self.applied.entry(kind.to_string()).or_default() += 1;
        } else {
            self.refused.insert(kind.to_string(), result.to_string());
        }
        status == "applied"
    }

    fn hub(&mut self) -> &'static str {
        HUBS[self.rng.random_range(0..HUBS.len())]
    }

    fn sku(&mut self) -> String {
        self.skus[self.rng.random_range(0..self.skus.len())].clone()
    }

    fn moved(&mut self, hub: &'static str, sku: &str, delta: i64) {
        *self.level.entry((hub, sku.to_string())).or_default() += delta;
    }

    async fn intake(&mut self) {
        let (hub, sku, qty) = (self.hub(), self.sku(), self.rng.random_range(1..=20));
        let op = self.op("intake.create", json!({ "intake_id": Uuid::new_v4(), "hub_id": self.hubs[hub], "donor": "Invariant donor", "lines": [{ "sku": sku, "quantity": qty }] }), None);
        let user = if hub == "KIN-MAIN" && self.rng.random_bool(0.5) {
            "warehouse"
        } else {
            "admin"
        };
        if self.send(user, op).await {
            self.moved(hub, &sku, qty);
        }
    }

    async fn distribution(&mut self) {
        let (hub, sku, qty) = (self.hub(), self.sku(), self.rng.random_range(1..=40));
        let id = Uuid::new_v4();
        let hub_id = self.hubs[hub];
        // Montego Bay's depot manager gives out there as often as the administrator does.
        let user = if hub == "MBJ-SUB" && self.rng.random_bool(0.5) {
            "depot"
        } else {
            "admin"
        };
        let create = self.op("distribution.create", json!({ "distribution_id": id, "hub_id": hub_id, "recipient": "Invariant shelter", "lines": [{ "sku": sku, "quantity": qty }] }), None);
        if !self.send(user, create).await {
            return;
        }
        if self.rng.random_ratio(1, 5) {
            let cancel = self.op(
                "distribution.cancel",
                json!({ "distribution_id": id, "hub_id": hub_id }),
                None,
            );
            self.send("admin", cancel).await;
            return;
        }
        let confirm = self.op(
            "distribution.confirm",
            json!({ "distribution_id": id, "hub_id": hub_id }),
            None,
        );
        if self.send("admin", confirm).await {
            self.moved(hub, &sku, -qty);
        }
    }

    async fn transfer(&mut self) {
        let open: Vec<usize> = (0..self.transfers.len())
            .filter(|i| {
                ["requested", "approved", "dispatched"].contains(&self.transfers[*i].status)
            })
            .collect();
        if open.is_empty() || self.rng.random_ratio(1, 3) {
            let from = self.hub();
            let to = loop {
                let h = self.hub();
                if h != from {
                    break h;
                }
            };
            let (sku, qty) = (self.sku(), self.rng.random_range(1..=15));
            let id = Uuid::new_v4();
            let op = self.op("transfer.request", json!({ "transfer_id": id, "hub_id": self.hubs[to], "from_hub_id": self.hubs[from], "lines": [{ "sku": sku, "quantity": qty }] }), None);
            if self.send("admin", op).await {
                self.transfers.push(Transfer {
                    id,
                    from,
                    to,
                    sku,
                    quantity: qty,
                    status: "requested",
                    items: Vec::new(),
                });
            }
            return;
        }
        let i = open[self.rng.random_range(0..open.len())];
        let (id, from, to, sku, qty, status) = {
            let t = &self.transfers[i];
            (t.id, t.from, t.to, t.sku.clone(), t.quantity, t.status)
        };
        match status {
            "requested" => {
                let op = self.op(
                    "transfer.approve",
                    json!({ "transfer_id": id, "hub_id": self.hubs[from] }),
                    None,
                );
                if self.send("logistics", op).await {
                    self.transfers[i].status = "approved";
                }
            }
            "approved" => {
                // Half the time the dispatcher names serial-numbered items the hub holds
                // (never more than the line's units); the rest of the line goes without.
                let mut sent: Vec<usize> = (0..self.items.len())
                    .filter(|j| {
                        let it = &self.items[*j];
                        it.hub == from && it.sku == sku && it.status == "AVAILABLE"
                    })
                    .collect();
                if self.rng.random_bool(0.25) {
                    sent.clear();
                }
                sent.truncate(self.rng.random_range(0..=qty as usize));
                let serials: Vec<String> =
                    sent.iter().map(|j| self.items[*j].serial.clone()).collect();
                let op = self.op(
                    "transfer.dispatch",
                    json!({ "transfer_id": id, "hub_id": self.hubs[from], "lines": [{ "line_no": 1, "quantity": qty, "serial_numbers": serials }] }),
                    None,
                );
                if self.send("admin", op).await {
                    self.transfers[i].status = "dispatched";
                    self.moved(from, &sku, -qty);
                    // The line's quantity counts the items: they leave the level with it.
                    for j in &sent {
                        self.items[*j].status = "IN_TRANSIT";
                    }
                    if !sent.is_empty() {
                        *self
                            .applied
                            .entry("transfer.dispatch by serial number".into())
                            .or_default() += 1;
                    }
                    self.transfers[i].items = sent;
                }
            }
            _ => {
                // Now and then some of it never arrives: a short receipt, with its note, and
                // the serial numbers of the items that did.
                let sent = self.transfers[i].items.clone();
                let (arrived, got) = if self.rng.random_ratio(1, 3) {
                    let arrived: Vec<usize> = sent
                        .iter()
                        .copied()
                        .filter(|_| self.rng.random_bool(0.5))
                        .collect();
                    let without_serial = qty - sent.len() as i64;
                    let bulk = self.rng.random_range(0..=without_serial);
                    (arrived.clone(), arrived.len() as i64 + bulk)
                } else {
                    (sent.clone(), qty)
                };
                let serials: Vec<String> = arrived
                    .iter()
                    .map(|j| self.items[*j].serial.clone())
                    .collect();
                let op = self.op("transfer.receive", json!({ "transfer_id": id, "hub_id": self.hubs[to], "lines": [{ "line_no": 1, "quantity": got, "serial_numbers": serials }], "note": "counted at the door" }), None);
                if self.send("admin", op).await {
                    self.transfers[i].status = "received";
                    self.moved(to, &sku, got);
                    for j in sent {
                        let came = arrived.contains(&j);
                        self.items[j].status = if came { "AVAILABLE" } else { "MISSING" };
                        if came {
                            self.items[j].hub = to;
                        }
                    }
                }
            }
        }
    }

    async fn receive_serial(&mut self) {
        let hub = if self.rng.random_bool(0.6) {
            "KIN-MAIN"
        } else {
            self.hub()
        };
        let sku = self.sku();
        let serial = format!("SN-INV-{}", self.step);
        let op = self.op("warehouse.receive", json!({ "serial_number": serial, "variant_sku": sku, "location_code": "A1", "hub_id": self.hubs[hub] }), None);
        let user = if hub == "KIN-MAIN" {
            "warehouse"
        } else {
            "admin"
        };
        if self.send(user, op).await {
            let id = self.app.id_of(&format!(
                "SELECT id FROM inventory_items WHERE serial_number = '{serial}'"
            ));
            self.items.push(Item {
                id,
                serial,
                sku: sku.clone(),
                hub,
                status: "AVAILABLE",
            });
            self.moved(hub, &sku, 1);
        }
    }

    fn any_item(&mut self, hub: Option<&str>) -> Option<usize> {
        let candidates: Vec<usize> = (0..self.items.len())
            .filter(|i| {
                self.items[*i].status != "GONE" && hub.is_none_or(|h| self.items[*i].hub == h)
            })
            .collect();
        (!candidates.is_empty()).then(|| candidates[self.rng.random_range(0..candidates.len())])
    }

    async fn warehouse_step(&mut self) {
        let Some(i) = self.any_item(None) else { return };
        let item = self.items[i].clone();
        let (kind, user) = match self.rng.random_range(0..4) {
            0 if item.hub == "KIN-MAIN" => ("warehouse.reserve", "sales"),
            1 if item.hub == "KIN-MAIN" => ("warehouse.sell", "sales"),
            2 => ("warehouse.move", "admin"),
            _ => ("warehouse.delete", "admin"),
        };
        let price = self.prices[&item.sku];
        let payload = if kind == "warehouse.move" {
            json!({ "serial_number": item.serial, "new_location": format!("B{}", self.step % 9) })
        } else {
            json!({ "item_id": item.id, "sale_price": price })
        };
        let op = self.op(kind, payload, None);
        if !self.send(user, op).await {
            return;
        }
        let next = match kind {
            "warehouse.reserve" => "RESERVED",
            "warehouse.sell" => "SOLD",
            // A move changes the shelf, not the status nor the level.
            "warehouse.move" => item.status,
            _ => "GONE",
        };
        self.item_moved(i, next);
    }

    /// The model's side of an item's change of status: in stock (AVAILABLE, RESERVED) it is
    /// part of its hub's level.
    fn item_moved(&mut self, i: usize, next: &'static str) {
        let in_stock = |s: &str| s == "AVAILABLE" || s == "RESERVED";
        let (hub, sku, was) = (
            self.items[i].hub,
            self.items[i].sku.clone(),
            self.items[i].status,
        );
        let delta = i64::from(in_stock(next)) - i64::from(in_stock(was));
        self.moved(hub, &sku, delta);
        self.items[i].status = next;
    }

    async fn new_cart(&mut self) {
        let (sku, qty) = (self.sku(), self.rng.random_range(1..=10));
        let mut lines = vec![json!({ "sku": sku, "quantity": qty })];
        let item = if self.rng.random_bool(0.5) {
            self.any_item(Some("KIN-MAIN"))
        } else {
            None
        };
        if let Some(i) = item {
            lines.push(json!({ "serial": self.items[i].serial }));
        }
        let id = Uuid::new_v4();
        let op = self.op("sale.create", json!({ "sale_id": id, "hub_id": self.hubs["KIN-MAIN"], "customer_id": self.customer, "lines": lines }), None);
        if self.send("sales", op).await {
            if let Some(i) = item {
                self.item_moved(i, "RESERVED");
            }
            self.sales.push(Sale {
                id,
                status: "draft",
                bulk: (sku, qty),
                item,
                invoice: None,
                credited: false,
            });
        }
    }

    async fn sale_step(&mut self) {
        if self.sales.is_empty() || self.rng.random_ratio(1, 3) {
            return self.new_cart().await;
        }
        let s = self.rng.random_range(0..self.sales.len());
        let (id, status, item) = (self.sales[s].id, self.sales[s].status, self.sales[s].item);
        let kin = self.hubs["KIN-MAIN"];
        match status {
            "draft" if self.rng.random_ratio(1, 4) => {
                let op = self.op("sale.cancel", json!({ "sale_id": id, "hub_id": kin }), None);
                if self.send("sales", op).await {
                    self.sales[s].status = "cancelled";
                    if let Some(i) = item {
                        self.item_moved(i, "AVAILABLE");
                    }
                }
            }
            "draft" => {
                let op = self.op(
                    "sale.confirm",
                    json!({ "sale_id": id, "hub_id": kin }),
                    None,
                );
                if self.send("sales", op).await {
                    self.sales[s].status = "confirmed";
                    let (sku, qty) = self.sales[s].bulk.clone();
                    self.moved("KIN-MAIN", &sku, -qty);
                    if let Some(i) = item {
                        self.item_moved(i, "SOLD");
                    }
                }
            }
            "confirmed" if self.sales[s].invoice.is_none() => {
                let invoice = Uuid::new_v4();
                let op = self.op(
                    "invoice.issue",
                    json!({ "invoice_id": invoice, "sale_id": id, "hub_id": kin }),
                    None,
                );
                if self.send("sales", op).await {
                    self.sales[s].invoice = Some(invoice);
                }
            }
            "confirmed" if !self.sales[s].credited => {
                let restock = self.rng.random_bool(0.5);
                let invoice = self.sales[s].invoice;
                let op = self.op("invoice.credit", json!({ "credit_note_id": Uuid::new_v4(), "invoice_id": invoice, "hub_id": kin, "reason": "Invariant return", "restock": restock }), None);
                if self.send("admin", op).await {
                    self.sales[s].credited = true;
                    if restock {
                        let (sku, qty) = self.sales[s].bulk.clone();
                        self.moved("KIN-MAIN", &sku, qty);
                        if let Some(i) = item {
                            self.item_moved(i, "AVAILABLE");
                        }
                    }
                }
            }
            _ => {}
        }
    }

    async fn count(&mut self) {
        let (hub, sku) = (self.hub(), self.sku());
        let seen = self.level.get(&(hub, sku.clone())).copied().unwrap_or(0);
        let counted = (seen + self.rng.random_range(-5..=5)).max(0);
        let op = self.op("stock.adjust", json!({ "adjustment_id": Uuid::new_v4(), "hub_id": self.hubs[hub], "sku": sku, "counted": counted, "reason": "count" }), Some(seen));
        if self.send("admin", op).await {
            self.moved(hub, &sku, counted - seen);
        }
    }

    /// Two people at once: both sell the same item, or both confirm distributions that
    /// together ask for more than the hub holds.
    async fn concurrent_pair(&mut self) {
        if let Some(i) = self
            .any_item(Some("KIN-MAIN"))
            .filter(|_| self.rng.random_bool(0.5))
        {
            let (id, price) = (self.items[i].id, self.prices[&self.items[i].sku]);
            let a = self.op(
                "warehouse.sell",
                json!({ "item_id": id, "sale_price": price }),
                None,
            );
            let b = self.op(
                "warehouse.sell",
                json!({ "item_id": id, "sale_price": price }),
                None,
            );
            let (ta, tb) = (self.tokens["sales"].clone(), self.tokens["admin"].clone());
            let (ra, rb) = tokio::join!(
                self.app.sync(&ta, json!({ "operations": [a] })),
                self.app.sync(&tb, json!({ "operations": [b] }))
            );
            let sold = [ra, rb]
                .iter()
                .filter(|(_, body)| self.outcome("warehouse.sell", &body["results"][0]["result"]))
                .count();
            assert!(sold <= 1, "step {}: one item sold twice at once", self.step);
            if sold == 1 {
                self.item_moved(i, "SOLD");
            }
            return;
        }
        let (hub, sku) = (self.hub(), self.sku());
        let have = self.level.get(&(hub, sku.clone())).copied().unwrap_or(0);
        let qty = (have / 2 + 1).max(1);
        let hub_id = self.hubs[hub];
        let mut ids = Vec::new();
        for _ in 0..2 {
            let id = Uuid::new_v4();
            let create = self.op("distribution.create", json!({ "distribution_id": id, "hub_id": hub_id, "recipient": "Pair", "lines": [{ "sku": sku, "quantity": qty }] }), None);
            if self.send("admin", create).await {
                ids.push(id);
            }
        }
        let ops: Vec<Value> = ids
            .iter()
            .map(|id| {
                self.op(
                    "distribution.confirm",
                    json!({ "distribution_id": id, "hub_id": hub_id }),
                    None,
                )
            })
            .collect();
        let token = self.tokens["admin"].clone();
        let sends = ops
            .into_iter()
            .map(|op| self.app.sync(&token, json!({ "operations": [op] })));
        let answers = futures_util::future::join_all(sends).await;
        for (_, body) in answers {
            if self.outcome("distribution.confirm", &body["results"][0]["result"]) {
                self.moved(hub, &sku, -qty);
            }
        }
    }

    /// Every invariant, after every step.
    fn check(&self) {
        let step = self.step;
        let found = outpost::inventory::check::disagreements(&mut self.app.conn()).unwrap();
        assert!(found.is_empty(), "step {step}: {found:#?}");
        let codes: Vec<String> = HUBS.iter().map(|h| format!("'{h}'")).collect();
        let skus: Vec<String> = self.skus.iter().map(|s| format!("'{s}'")).collect();
        let rows: Vec<LevelRow> = diesel::sql_query(format!(
            "SELECT h.code AS hub, v.full_sku AS sku, coalesce(l.quantity, 0)::int8 AS quantity \
             FROM hubs h CROSS JOIN product_variants v \
             LEFT JOIN stock_levels l ON l.hub_id = h.id AND l.variant_id = v.id \
             WHERE h.code IN ({}) AND v.full_sku IN ({})",
            codes.join(","),
            skus.join(",")
        ))
        .load(&mut self.app.conn())
        .unwrap();
        for r in rows {
            let hub = HUBS.iter().find(|h| **h == r.hub).unwrap();
            let expected = self.level.get(&(*hub, r.sku.clone())).copied().unwrap_or(0);
            assert_eq!(
                r.quantity, expected,
                "step {step}: level of {} at {}",
                r.sku, r.hub
            );
        }
        let in_transit: i64 = self
            .transfers
            .iter()
            .filter(|t| t.status == "dispatched")
            .map(|t| t.quantity)
            .sum();
        let carried = self.one("SELECT coalesce(sum(l.dispatched_qty - l.received_qty), 0)::int8 AS n FROM transfer_lines l JOIN transfers t ON t.id = l.transfer_id WHERE t.status = 'dispatched'");
        assert_eq!(carried, in_transit, "step {step}: in transit");
        // Every item is where the model says, in the status it says.
        let rows: Vec<ItemRow> = diesel::sql_query(
            "SELECT i.serial_number AS serial, i.status || ' ' || h.code AS place FROM inventory_items i \
             JOIN hubs h ON h.id = i.hub_id WHERE i.serial_number LIKE 'SN-INV-%'",
        )
        .load(&mut self.app.conn())
        .unwrap();
        let held: HashMap<String, String> = rows.into_iter().map(|r| (r.serial, r.place)).collect();
        for item in self.items.iter().filter(|i| i.status != "GONE") {
            assert_eq!(
                held.get(&item.serial),
                Some(&format!("{} {}", item.status, item.hub)),
                "step {step}: item {}",
                item.serial
            );
        }
        let gaps = self.one(
            "SELECT count(*) AS n FROM (SELECT organisation_id, kind, year FROM invoices GROUP BY 1, 2, 3 \
             HAVING max(seq) <> count(*) OR count(DISTINCT seq) <> count(*) OR min(seq) <> 1) g",
        );
        assert_eq!(gaps, 0, "step {step}: invoice numbers with a gap");
        // The dashboard's daily figures (kept by triggers) agree with the history they count.
        let drift = self.one(
            "WITH kept AS (SELECT day, hub_id, series, sum(n)::int8 AS n FROM daily_figures \
               WHERE series IN ('ops', 'moves', 'conflicts') GROUP BY 1, 2, 3), \
             counted AS ( \
               SELECT (received_at AT TIME ZONE 'UTC')::date AS day, hub_id, 'ops' AS series, count(*) AS n \
                 FROM operations WHERE hub_id IS NOT NULL GROUP BY 1, 2 \
               UNION ALL SELECT (received_at AT TIME ZONE 'UTC')::date, hub_id, 'conflicts', count(*) \
                 FROM operations WHERE hub_id IS NOT NULL AND status = 'conflict' GROUP BY 1, 2 \
               UNION ALL SELECT (created_at AT TIME ZONE 'UTC')::date, hub_id, 'moves', sum(delta)::int8 \
                 FROM stock_ledger GROUP BY 1, 2) \
             SELECT count(*) AS n FROM ((TABLE kept EXCEPT TABLE counted) \
               UNION ALL (TABLE counted EXCEPT TABLE kept)) d",
        );
        assert_eq!(
            drift, 0,
            "step {step}: daily figures that disagree with the history"
        );
        // The lists' kept totals (by hub and status) agree with their rows.
        let drift = self.one(
            "WITH kept AS (SELECT list, hub_id, status, sum(n)::int8 AS n FROM list_counts \
               GROUP BY 1, 2, 3 HAVING sum(n) <> 0), \
             counted AS ( \
               SELECT 'intakes' AS list, hub_id, '' AS status, count(*) AS n FROM intakes GROUP BY 2 \
               UNION ALL SELECT 'stock_adjustments', hub_id, '', count(*) FROM stock_adjustments GROUP BY 2 \
               UNION ALL SELECT 'distributions', hub_id, status, count(*) FROM distributions GROUP BY 2, 3 \
               UNION ALL SELECT 'needs_lists', hub_id, status, count(*) FROM needs_lists GROUP BY 2, 3 \
               UNION ALL SELECT 'sales', hub_id, status, count(*) FROM sales GROUP BY 2, 3 \
               UNION ALL SELECT 'transfers', hub_id, status, count(*) FROM ( \
                 SELECT from_hub_id AS hub_id, status FROM transfers \
                 UNION ALL SELECT to_hub_id, status FROM transfers) t GROUP BY 2, 3) \
             SELECT count(*) AS n FROM ((TABLE kept EXCEPT TABLE counted) \
               UNION ALL (TABLE counted EXCEPT TABLE kept)) d",
        );
        assert_eq!(
            drift, 0,
            "step {step}: list totals that disagree with the rows"
        );
    }

    fn one(&self, sql: &str) -> i64 {
        diesel::sql_query(sql)
            .get_result::<Count>(&mut self.app.conn())
            .unwrap()
            .n
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_stock_operations_keep_every_figure_in_agreement() {
    let seed: u64 = std::env::var("OUTPOST_INVARIANT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let steps: usize = std::env::var("OUTPOST_INVARIANT_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    eprintln!("stock invariants: seed {seed} (replay: OUTPOST_INVARIANT_SEED={seed})");
    let app = TestApp::builder().with_demo_world().start().await;
    let mut tokens = HashMap::new();
    for user in ["admin", "logistics", "depot", "warehouse", "sales"] {
        tokens.insert(user, app.token(user).await);
    }
    let hubs = HUBS.iter().map(|h| (*h, app.hub_id(h))).collect();
    let stocked = stocked(&app);
    let skus: Vec<String> = stocked.iter().map(|(s, _)| s.clone()).collect();
    let prices = stocked
        .into_iter()
        .map(|(s, p)| (s, p as f64 / 100.0))
        .collect();
    let customer = customer(&app, "TT-SHELTER");
    let mut world = World {
        app,
        rng: StdRng::seed_from_u64(seed),
        tokens,
        hubs,
        skus,
        prices,
        customer,
        level: HashMap::new(),
        items: Vec::new(),
        transfers: Vec::new(),
        sales: Vec::new(),
        applied: HashMap::new(),
        refused: HashMap::new(),
        step: 0,
    };
    // The model starts from the demo world's levels.
    let codes: Vec<String> = HUBS.iter().map(|h| format!("'{h}'")).collect();
    let rows: Vec<LevelRow> = diesel::sql_query(format!(
        "SELECT h.code AS hub, v.full_sku AS sku, l.quantity FROM stock_levels l JOIN hubs h ON h.id = l.hub_id \
         JOIN product_variants v ON v.id = l.variant_id WHERE h.code IN ({})",
        codes.join(",")
    ))
    .load(&mut world.app.conn())
    .unwrap();
    for r in rows {
        let hub = *HUBS.iter().find(|h| **h == r.hub).unwrap();
        world.level.insert((hub, r.sku), r.quantity);
    }
    world.check();
    for step in 1..=steps {
        world.step = step;
        match world.rng.random_range(0..100) {
            0..=14 => world.intake().await,
            15..=27 => world.distribution().await,
            28..=45 => world.transfer().await,
            46..=55 => world.receive_serial().await,
            56..=65 => world.warehouse_step().await,
            66..=87 => world.sale_step().await,
            88..=93 => world.count().await,
            _ => world.concurrent_pair().await,
        }
        world.check();
    }
    let mut applied: Vec<_> = world.applied.iter().collect();
    applied.sort();
    eprintln!("stock invariants: seed {seed}, {steps} steps, applied: {applied:?}");
    // Every kind of step took effect at least once: a run that only refused proves nothing.
    for kind in [
        "intake.create",
        "distribution.confirm",
        "transfer.dispatch",
        "transfer.receive",
        "transfer.dispatch by serial number",
        "warehouse.receive",
        "warehouse.sell",
        "warehouse.move",
        "warehouse.delete",
        "sale.confirm",
        "sale.cancel",
        "invoice.credit",
        "stock.adjust",
    ] {
        assert!(
            world.applied.get(kind).copied().unwrap_or(0) > 0,
            "seed {seed}: no {kind} applied in {steps} steps (last refusal: {:?}): {applied:?}",
            world.refused.get(kind)
        );
    }
}
