//! Issue 11: the sale from cart to invoice PDF. Carts are operations (sync API, page forms,
//! htmx), prices obey the user's flags at apply time, confirming moves stock once, invoices are
//! numbered without gaps and rendered to PDF by the worker, and only the people of that sale
//! (and that customer) can open them.

use diesel::prelude::*;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::common::TestApp;

pub fn op(kind: &str, payload: Value) -> Value {
    json!({ "op_id": Uuid::new_v4(), "kind": kind, "payload": payload, "captured_at": chrono::Utc::now() })
}

/// Sends one operation; returns its result.
pub async fn send(app: &TestApp, token: &str, op: Value) -> Value {
    let (status, body) = app.sync(token, json!({ "operations": [op] })).await;
    assert_eq!(status, 200, "{body}");
    body["results"][0]["result"].clone()
}

#[derive(QueryableByName)]
struct Text {
    #[diesel(sql_type = diesel::sql_types::Text)]
    t: String,
}

pub fn texts(app: &TestApp, sql: &str) -> Vec<String> {
    diesel::sql_query(sql)
        .load::<Text>(&mut app.conn())
        .unwrap()
        .into_iter()
        .map(|r| r.t)
        .collect()
}

pub fn set_flags(app: &TestApp, username: &str, flags: Value) {
    diesel::sql_query(format!(
        "UPDATE users SET permission_flags = '{flags}' WHERE username = '{username}'"
    ))
    .execute(&mut app.conn())
    .unwrap();
}

/// Three SKUs Kingston holds plenty of, with their list prices in cents.
pub fn stocked(app: &TestApp) -> Vec<(String, i64)> {
    texts(
        app,
        "SELECT v.full_sku || ' ' || v.listing_price_cents AS t FROM stock_levels l JOIN hubs h ON h.id = l.hub_id \
         JOIN product_variants v ON v.id = l.variant_id WHERE h.code = 'KIN-MAIN' AND l.quantity >= 50 \
         AND v.listing_price_cents > 100 ORDER BY v.id LIMIT 3",
    )
    .into_iter()
    .map(|t| {
        let (sku, price) = t.split_once(' ').unwrap();
        (sku.to_string(), price.parse().unwrap())
    })
    .collect()
}

pub fn customer(app: &TestApp, code: &str) -> i64 {
    app.id_of(&format!("SELECT id FROM customers WHERE code = '{code}'"))
}

/// The text of a PDF, through poppler's pdftotext (one page, or all).
pub fn pdf_text(pdf: &[u8], page: Option<usize>) -> String {
    use std::io::Write;
    let mut cmd = std::process::Command::new("pdftotext");
    cmd.arg("-layout");
    if let Some(p) = page {
        cmd.args(["-f", &p.to_string(), "-l", &p.to_string()]);
    }
    let mut child = cmd
        .args(["-", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("pdftotext (poppler-utils) is installed");
    child.stdin.take().unwrap().write_all(pdf).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Starts a cart for the shelter at Kingston with the given lines; returns its id.
pub async fn cart(app: &TestApp, token: &str, lines: Value) -> (Uuid, Value) {
    let kin = app.hub_id("KIN-MAIN");
    let sale = Uuid::new_v4();
    let r = send(app, token, op("sale.create", json!({ "sale_id": sale, "hub_id": kin, "customer_id": customer(app, "TT-SHELTER"), "lines": lines }))).await;
    (sale, r)
}

pub async fn confirm(app: &TestApp, token: &str, sale: Uuid) -> Value {
    send(
        app,
        token,
        op(
            "sale.confirm",
            json!({ "sale_id": sale, "hub_id": app.hub_id("KIN-MAIN") }),
        ),
    )
    .await
}

/// Issues the invoice of a sale and renders it as the worker does; returns (id, number).
pub async fn invoice(app: &TestApp, token: &str, sale: Uuid) -> (Uuid, String) {
    let id = Uuid::new_v4();
    let r = send(
        app,
        token,
        op(
            "invoice.issue",
            json!({ "invoice_id": id, "sale_id": sale, "hub_id": app.hub_id("KIN-MAIN") }),
        ),
    )
    .await;
    assert_eq!(r["status"], "applied", "{r}");
    outpost::sales::render::render_invoice(&app.state, id)
        .await
        .unwrap();
    let number = texts(
        app,
        &format!("SELECT number AS t FROM invoices WHERE id = '{id}'"),
    )
    .remove(0);
    (id, number)
}

#[tokio::test]
async fn a_sale_goes_from_cart_to_a_pdf_invoice_with_every_line_and_the_totals() {
    let app = TestApp::builder().with_demo_world().start().await;
    let token = app.token("sales").await;
    let items = stocked(&app);
    let before: Vec<i64> = items
        .iter()
        .map(|(sku, _)| app.stock("KIN-MAIN", sku))
        .collect();
    // A cart at list prices, a second line added, the first line's quantity changed.
    let (sale, r) = cart(&app, &token, json!([{ "sku": items[0].0, "quantity": 2 }])).await;
    assert_eq!(r["status"], "applied", "{r}");
    let kin = app.hub_id("KIN-MAIN");
    let add = op(
        "sale.update",
        json!({ "sale_id": sale, "hub_id": kin, "add_lines": [{ "sku": items[1].0, "quantity": 3 }] }),
    );
    let mut add = add;
    add["base_version"] = json!(1);
    assert_eq!(send(&app, &token, add).await["status"], "applied");
    let mut edit = op(
        "sale.update",
        json!({ "sale_id": sale, "hub_id": kin, "edit_lines": [{ "line_no": 1, "quantity": 5 }] }),
    );
    edit["base_version"] = json!(2);
    assert_eq!(send(&app, &token, edit).await["status"], "applied");
    // Nothing moved yet; confirming moves it once.
    assert_eq!(app.stock("KIN-MAIN", &items[0].0), before[0]);
    assert_eq!(confirm(&app, &token, sale).await["status"], "applied");
    assert_eq!(app.stock("KIN-MAIN", &items[0].0), before[0] - 5);
    assert_eq!(app.stock("KIN-MAIN", &items[1].0), before[1] - 3);
    assert!(app.ledger_agrees());
    // Irreversible: no second confirmation, no edit, no cancel.
    assert_eq!(confirm(&app, &token, sale).await["status"], "rejected");
    let r = send(
        &app,
        &token,
        op("sale.cancel", json!({ "sale_id": sale, "hub_id": kin })),
    )
    .await;
    assert_eq!(r["status"], "rejected", "{r}");
    assert_eq!(app.stock("KIN-MAIN", &items[0].0), before[0] - 5);

    let (id, number) = invoice(&app, &token, sale).await;
    let year = chrono::Utc::now().format("%Y").to_string();
    assert_eq!(number, format!("INV-{year}-000001"));
    // The rep opens it.
    let rep = app.signed_in("sales").await;
    let res = rep.get(&format!("/invoices/{id}.pdf")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let pdf = res.bytes().await.unwrap();
    let text = pdf_text(&pdf, None);
    let names: Vec<String> = outpost::sales::lines(&mut app.conn(), sale)
        .unwrap()
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert!(
        text.contains(&number) && text.contains("Trench Town Community Shelter"),
        "{text}"
    );
    for ((sku, _), name) in items.iter().take(2).zip(&names) {
        assert!(text.contains(sku.as_str()), "{sku} missing: {text}");
        assert!(
            text.contains(name.split_whitespace().next().unwrap()),
            "{name} missing: {text}"
        );
    }
    // Totals: 15 % tax (the demo organisation's rate) on the net, in JMD.
    let subtotal = 5 * items[0].1 + 3 * items[1].1;
    let tax = (subtotal * 1500 + 5000) / 10000;
    let fmt = outpost_jobs::invoice::format_cents;
    assert!(
        text.contains(&fmt(subtotal)),
        "subtotal {}: {text}",
        fmt(subtotal)
    );
    assert!(
        text.contains(&fmt(subtotal + tax)) && text.contains("Total (JMD)"),
        "{text}"
    );
    assert!(text.contains("Page 1 of 1"), "{text}");
    // The seller with address and tax ID, the terms and due date, the sale's own number.
    let sale_number = texts(
        &app,
        &format!("SELECT number AS t FROM sales WHERE id = '{sale}'"),
    );
    let due = (chrono::Utc::now().date_naive() + chrono::Duration::days(30))
        .format("%Y-%m-%d")
        .to_string();
    for expected in [
        "2–4 Haining Road",
        "Kingston 5",
        "Tax ID TRN 000-412-718",
        "Payment terms",
        "30 days",
        "Due date",
        due.as_str(),
        sale_number[0].as_str(),
    ] {
        assert!(text.contains(expected), "{expected} missing: {text}");
    }
    assert!(
        sale_number[0].starts_with("S-") && sale_number[0].len() == 8,
        "{sale_number:?}"
    );
    // The tax column adds up to the tax total, to the cent.
    assert_eq!(
        app.count(&format!("SELECT (SELECT sum((l->>'tax_cents')::bigint) FROM jsonb_array_elements(document->'lines') l) - (document->>'tax_cents')::bigint AS n FROM invoices WHERE id = '{id}'")),
        0
    );
    // A second invoice of the same sale is refused; the number series is untouched.
    let r = send(
        &app,
        &token,
        op(
            "invoice.issue",
            json!({ "invoice_id": Uuid::new_v4(), "sale_id": sale, "hub_id": kin }),
        ),
    )
    .await;
    assert_eq!(r["status"], "rejected");
    assert!(r["reason"].as_str().unwrap().contains(&number), "{r}");
    app.shutdown().await;
}

#[tokio::test]
async fn issued_invoices_never_change_and_a_credit_note_has_its_own_series() {
    let app = TestApp::builder().with_demo_world().start().await;
    let token = app.token("sales").await;
    let items = stocked(&app);
    let (sale, _) = cart(&app, &token, json!([{ "sku": items[0].0, "quantity": 1 }])).await;
    confirm(&app, &token, sale).await;
    let (id, number) = invoice(&app, &token, sale).await;
    for sql in [
        format!("UPDATE invoices SET total_cents = 1 WHERE id = '{id}'"),
        format!("UPDATE invoices SET pdf = 'x' WHERE id = '{id}'"),
        format!("DELETE FROM invoices WHERE id = '{id}'"),
    ] {
        let e = diesel::sql_query(&sql)
            .execute(&mut app.conn())
            .unwrap_err();
        assert!(e.to_string().contains("cannot be"), "{sql}: {e}");
    }
    let kin = app.hub_id("KIN-MAIN");
    let credit = Uuid::new_v4();
    let r = send(&app, &token, op("invoice.credit", json!({ "credit_note_id": credit, "invoice_id": id, "hub_id": kin, "reason": "Goods returned damaged" }))).await;
    assert_eq!(r["status"], "applied", "{r}");
    outpost::sales::render::render_invoice(&app.state, credit)
        .await
        .unwrap();
    let year = chrono::Utc::now().format("%Y").to_string();
    let cn = texts(
        &app,
        &format!("SELECT number || ' ' || total_cents AS t FROM invoices WHERE id = '{credit}'"),
    )
    .remove(0);
    let total: i64 = app.count(&format!(
        "SELECT total_cents AS n FROM invoices WHERE id = '{id}'"
    ));
    assert_eq!(cn, format!("CN-{year}-000001 {}", -total));
    let pdf = app.browser();
    drop(pdf);
    let rep = app.signed_in("sales").await;
    let bytes = rep
        .get(&format!("/invoices/{credit}.pdf"))
        .await
        .bytes()
        .await
        .unwrap();
    let text = pdf_text(&bytes, None);
    assert!(
        text.contains("Credit note")
            && text.contains(&number)
            && text.contains("Goods returned damaged"),
        "{text}"
    );
    // Only once.
    let r = send(&app, &token, op("invoice.credit", json!({ "credit_note_id": Uuid::new_v4(), "invoice_id": id, "hub_id": kin, "reason": "again" }))).await;
    assert_eq!(r["status"], "rejected", "{r}");
    app.shutdown().await;
}

#[tokio::test]
async fn only_the_sales_people_and_the_customers_own_users_open_an_invoice() {
    let app = TestApp::builder().with_demo_world().start().await;
    let token = app.token("sales").await;
    let items = stocked(&app);
    let (sale, _) = cart(&app, &token, json!([{ "sku": items[0].0, "quantity": 1 }])).await;
    confirm(&app, &token, sale).await;
    let (id, _) = invoice(&app, &token, sale).await;
    // A sale to the clinic: not the customer user's account.
    let kin = app.hub_id("KIN-MAIN");
    let clinic_sale = Uuid::new_v4();
    let r = send(&app, &token, op("sale.create", json!({ "sale_id": clinic_sale, "hub_id": kin, "customer_id": customer(&app, "STA-CLINIC"), "lines": [{ "sku": items[0].0, "quantity": 1 }] }))).await;
    assert_eq!(r["status"], "applied", "{r}");
    confirm(&app, &token, clinic_sale).await;
    let (clinic_invoice, _) = invoice(&app, &token, clinic_sale).await;

    let customer = app.signed_in("customer").await;
    assert_eq!(
        customer.get(&format!("/invoices/{id}.pdf")).await.status(),
        200
    );
    assert_eq!(customer.get(&format!("/orders/{sale}")).await.status(), 200);
    let orders = customer.text("/orders").await;
    assert!(
        orders.contains(&sale.to_string()) && !orders.contains(&clinic_sale.to_string()),
        "{orders}"
    );
    for path in [
        format!("/invoices/{clinic_invoice}.pdf"),
        format!("/orders/{clinic_sale}"),
        format!("/hubs/{kin}/sales/{clinic_sale}/invoice-status"),
    ] {
        assert_eq!(customer.get(&path).await.status(), 404, "{path}");
    }
    // The staff pages of a hub are closed to customer users as a whole.
    assert_eq!(
        customer
            .get(&format!("/hubs/{kin}/sales/{clinic_sale}"))
            .await
            .status(),
        403
    );
    for user in ["warehouse", "driver", "agency"] {
        let b = app.signed_in(user).await;
        assert_eq!(
            b.get(&format!("/invoices/{id}.pdf")).await.status(),
            404,
            "{user}"
        );
    }
    assert_eq!(
        app.signed_in("admin")
            .await
            .get(&format!("/invoices/{id}.pdf"))
            .await
            .status(),
        200
    );
    // An auditor reads the sales, the sale and its invoice, and can change nothing there.
    let auditor = app.signed_in("auditor").await;
    assert_eq!(
        auditor.get(&format!("/invoices/{id}.pdf")).await.status(),
        200
    );
    let list = auditor.text("/sales").await;
    assert!(
        list.contains(&format!("/hubs/{kin}/sales/{sale}")),
        "{list}"
    );
    assert!(
        !list.contains("New sale"),
        "an auditor does not sell: {list}"
    );
    let page = auditor.get(&format!("/hubs/{kin}/sales/{sale}")).await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains(&format!("/invoices/{id}.pdf")), "{page}");
    assert!(!page.contains("name=\"op_id\""), "read only: {page}");
    // Unknown and malformed ids are 404 too.
    for path in [
        "/invoices/nothing.pdf".to_string(),
        format!("/invoices/{}.pdf", Uuid::new_v4()),
    ] {
        assert_eq!(customer.get(&path).await.status(), 404);
    }
    app.shutdown().await;
}

#[tokio::test]
async fn invoice_numbers_stay_gapless_under_eight_concurrent_generations() {
    let app = TestApp::builder().with_demo_world().start().await;
    let token = app.token("sales").await;
    let items = stocked(&app);
    let mut sales = Vec::new();
    for _ in 0..8 {
        let (sale, _) = cart(&app, &token, json!([{ "sku": items[0].0, "quantity": 1 }])).await;
        confirm(&app, &token, sale).await;
        sales.push(sale);
    }
    let kin = app.hub_id("KIN-MAIN");
    // Eight generations at once, plus eight that must fail (a second invoice of the same sale)
    // and so must not take a number.
    let mut tasks = Vec::new();
    for (i, sale) in sales.iter().enumerate() {
        for _ in 0..2 {
            let (app_url, client, token, sale) = (
                app.url("/api/v1/sync"),
                app.client.clone(),
                token.clone(),
                *sale,
            );
            tasks.push(tokio::spawn(async move {
                let body = json!({ "operations": [op("invoice.issue", json!({ "invoice_id": Uuid::new_v4(), "sale_id": sale, "hub_id": kin }))] });
                let res = client.post(app_url).bearer_auth(token).json(&body).send().await.unwrap();
                (i, res.json::<Value>().await.unwrap())
            }));
        }
    }
    let mut applied = 0;
    for t in tasks {
        let (_, body) = t.await.unwrap();
        if body["results"][0]["result"]["status"] == "applied" {
            applied += 1;
        }
    }
    assert_eq!(applied, 8);
    let mut seqs: Vec<i64> = texts(
        &app,
        "SELECT seq::text AS t FROM invoices WHERE kind = 'invoice'",
    )
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    seqs.sort();
    assert_eq!(seqs, (1..=8).collect::<Vec<_>>());
    app.shutdown().await;
}

#[tokio::test]
async fn a_300_line_invoice_paginates_with_the_header_on_every_page_and_renders_identically() {
    use outpost_jobs::invoice::{render, DocLine, InvoiceDocument, Party};
    let doc = InvoiceDocument {
        kind: "invoice".into(),
        number: "INV-2026-000300".into(),
        issued_on: "2026-11-25".into(),
        currency: "JMD".into(),
        issuer: Party {
            name: "Office of Disaster Preparedness".into(),
            lines: vec!["Kingston Main Warehouse".into()],
        },
        customer: Party {
            name: "Trench Town <Community> #Shelter *".into(),
            lines: vec!["Customer TT-SHELTER".into()],
        },
        reference: "S-000300".into(),
        due_on: Some("2026-12-25".into()),
        terms: "30 days".into(),
        lines: (1..=300)
            .map(|i| DocLine {
                item: format!("Item number {i} $x$ _y_"),
                sku: format!("SKU-{i:05}"),
                serial: None,
                quantity: i,
                unit_cents: 1999,
                discount_bp: if i % 7 == 0 { 1000 } else { 0 },
                foc: i % 50 == 0,
                tax_cents: 300,
                net_cents: 1999 * i,
            })
            .collect(),
        tax_bp: 1500,
        subtotal_cents: 123_456_789,
        discount_cents: 0,
        tax_cents: 18_518_518,
        total_cents: 141_975_307,
        ..Default::default()
    };
    let pdf = render(&doc).unwrap();
    assert_eq!(
        pdf,
        render(&doc).unwrap(),
        "the same document gives the same bytes"
    );
    let all = pdf_text(&pdf, None);
    let pages = all.matches("Page ").count();
    assert!(
        pages >= 5,
        "300 lines take several pages, got {pages}: {all}"
    );
    for p in 1..=pages {
        let text = pdf_text(&pdf, Some(p));
        assert!(
            text.contains("Unit price") && text.contains("Amount"),
            "page {p} has no table header: {text}"
        );
        assert!(
            text.contains(&format!("Page {p} of {pages}")),
            "page {p}: {text}"
        );
    }
    for i in [1, 150, 300] {
        assert!(all.contains(&format!("SKU-{i:05}")), "line {i}");
    }
    // Markup characters in the data are printed, never interpreted.
    assert!(
        all.contains("Trench Town <Community> #Shelter *") && all.contains("$x$ _y_"),
        "{all}"
    );
    assert!(all.contains("1,419,753.07") && all.contains("FREE OF CHARGE"));
}

#[tokio::test]
async fn a_failed_render_is_recorded_tried_again_after_its_backoff_and_retried_from_admin_jobs() {
    let app = TestApp::builder().with_demo_world().start().await;
    let token = app.token("sales").await;
    let items = stocked(&app);
    let (sale, _) = cart(&app, &token, json!([{ "sku": items[0].0, "quantity": 1 }])).await;
    confirm(&app, &token, sale).await;
    // A stored document the renderer cannot read (as a damaged row would be).
    let id = Uuid::new_v4();
    diesel::sql_query(format!(
        "INSERT INTO invoices (id, organisation_id, hub_id, customer_id, sale_id, kind, number, year, seq, total_cents, document, issued_by) \
         SELECT '{id}', organisation_id, hub_id, customer_id, id, 'invoice', 'INV-1999-000001', 1999, 1, 0, '{{\"broken\": true}}', created_by FROM sales WHERE id = '{sale}'"
    ))
    .execute(&mut app.conn())
    .unwrap();
    outpost::sales::render::render_invoice(&app.state, id)
        .await
        .unwrap();
    let state = |app: &TestApp| {
        texts(app, &format!("SELECT render_status || ' ' || render_attempts || ' ' || (next_render_at > now()) AS t FROM invoices WHERE id = '{id}'")).remove(0)
    };
    assert_eq!(state(&app), "failed 1 true");
    assert_eq!(
        outpost::sales::render::sweep(&app.state).await.unwrap(),
        0,
        "not before its backoff"
    );
    diesel::sql_query(format!(
        "UPDATE invoices SET next_render_at = now() - interval '1 second' WHERE id = '{id}'"
    ))
    .execute(&mut app.conn())
    .unwrap();
    assert_eq!(outpost::sales::render::sweep(&app.state).await.unwrap(), 1);
    // An administrator sees it with its error and retries it.
    let admin = app.signed_in("admin").await;
    let page = admin.text("/admin/jobs").await;
    assert!(
        page.contains("INV-1999-000001") && page.contains("missing field"),
        "{page}"
    );
    let res = admin
        .post_form(
            "/admin/jobs/retry-invoice",
            &[("invoice_id", &id.to_string())],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(texts(&app, &format!("SELECT render_status || ' ' || render_attempts AS t FROM invoices WHERE id = '{id}'")), vec!["pending 0"]);
    assert_eq!(app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'job.retried' AND object_type = 'invoice'"), 1);
    app.shutdown().await;
}

#[tokio::test]
async fn the_tax_rate_and_currency_are_set_per_organisation_and_new_carts_take_them() {
    let app = TestApp::builder().with_demo_world().start().await;
    let admin = app.signed_in("admin").await;
    let gov = app.id_of("SELECT organisation_id AS id FROM hubs WHERE code = 'KIN-MAIN'");
    let res = admin
        .post_form(
            &format!("/admin/organisations/{gov}/sales"),
            &[
                ("tax_percent", "7.5"),
                ("currency", "usd"),
                ("payment_terms_days", "14"),
                ("tax_id", "TRN 999"),
                ("address", "1 Main Street\r\n\r\nMay Pen"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        texts(&app, &format!("SELECT payment_terms_days || '|' || tax_id || '|' || address AS t FROM organisations WHERE id = {gov}")),
        vec!["14|TRN 999|1 Main Street\nMay Pen"],
        "blank lines are left out"
    );
    for (field, bad) in [
        ("payment_terms_days", "400"),
        ("payment_terms_days", "-1"),
        ("address", "1\n2\n3\n4\n5\n6"),
        ("address", "May\u{0} Pen"),
        ("tax_id", "TRN\u{202E}999"),
    ] {
        let res = admin
            .post_form(
                &format!("/admin/organisations/{gov}/sales"),
                &[("tax_percent", "7.5"), ("currency", "USD"), (field, bad)],
            )
            .await;
        assert_eq!(res.status(), 303);
    }
    assert_eq!(
        texts(
            &app,
            &format!("SELECT payment_terms_days::text AS t FROM organisations WHERE id = {gov}")
        ),
        vec!["14"],
        "a refused form saves nothing"
    );
    assert_eq!(
        texts(
            &app,
            &format!(
                "SELECT sales_tax_bp || ' ' || currency AS t FROM organisations WHERE id = {gov}"
            )
        ),
        vec!["750 USD"]
    );
    for (tax, currency) in [
        ("abc", "USD"),
        ("101", "USD"),
        ("5", "US"),
        ("5", "U\u{0}D"),
    ] {
        admin
            .post_form(
                &format!("/admin/organisations/{gov}/sales"),
                &[("tax_percent", tax), ("currency", currency)],
            )
            .await;
    }
    assert_eq!(
        texts(
            &app,
            &format!(
                "SELECT sales_tax_bp || ' ' || currency AS t FROM organisations WHERE id = {gov}"
            )
        ),
        vec!["750 USD"]
    );
    let token = app.token("sales").await;
    let (sale, _) = cart(&app, &token, json!([])).await;
    assert_eq!(
        app.count(&format!(
            "SELECT tax_rate_bp::bigint AS n FROM sales WHERE id = '{sale}'"
        )),
        750
    );
    // The agency's administrator cannot change the government's settings.
    let other = app.signed_in("agency").await;
    let res = other
        .post_form(
            &format!("/admin/organisations/{gov}/sales"),
            &[("tax_percent", "1"), ("currency", "EUR")],
        )
        .await;
    assert_ne!(res.status(), 303);
    app.shutdown().await;
}

#[tokio::test]
async fn a_credit_note_for_returned_goods_puts_them_back_in_stock_once() {
    let app = TestApp::builder().with_demo_world().start().await;
    let warehouse = crate::warehouse_api::as_user(&app, "warehouse").await;
    let (s, body) = warehouse
        .call("POST", "/api/v1/inventory/receive", Some(json!({ "serial_number": "SN-RETURN-1", "variant_sku": "00101-P-1-NA-N", "location_code": "A1" })))
        .await;
    assert_eq!(s, 201, "{body}");
    let token = app.token("sales").await;
    let (sku, _) = stocked(&app)[0].clone();
    let before = app.stock("KIN-MAIN", &sku);
    let (sale, _) = cart(
        &app,
        &token,
        json!([{ "sku": sku, "quantity": 4 }, { "serial": "SN-RETURN-1" }]),
    )
    .await;
    confirm(&app, &token, sale).await;
    // The serial-numbered item is part of its SKU's level too (issue 27).
    let serial_here = i64::from(sku == "00101-P-1-NA-N");
    assert_eq!(app.stock("KIN-MAIN", &sku), before - 4 - serial_here);
    let (id, _) = invoice(&app, &token, sale).await;
    let kin = app.hub_id("KIN-MAIN");
    let credit = op(
        "invoice.credit",
        json!({ "credit_note_id": Uuid::new_v4(), "invoice_id": id, "hub_id": kin, "reason": "Returned unopened", "restock": true }),
    );
    assert_eq!(
        send(&app, &token, credit.clone()).await["status"],
        "applied"
    );
    // The same report again is a duplicate: nothing comes back twice.
    assert_eq!(send(&app, &token, credit).await["status"], "duplicate");
    assert_eq!(app.stock("KIN-MAIN", &sku), before);
    assert_eq!(
        texts(
            &app,
            "SELECT status AS t FROM inventory_items WHERE serial_number = 'SN-RETURN-1'"
        ),
        vec!["AVAILABLE"]
    );
    assert!(app.ledger_agrees());
    app.shutdown().await;
}
