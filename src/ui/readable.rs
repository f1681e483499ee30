//! Recorded changes in words: a JSON payload or audit change as a list of named fields, for
//! people (the review queue, the audit log). Internal ids and empty values are left out; lines
//! of items read "SKU × quantity". The raw JSON stays available behind a toggle.

use serde_json::Value;

/// One field: its name in words and its value as text.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub key: String,
    pub label: String,
    pub value: String,
}

/// The fields of a JSON object, by name; anything else is one field, "Value".
pub fn fields(value: &Value) -> Vec<Field> {
    match value {
        Value::Object(map) => map
            .iter()
            .filter(|(key, v)| shown(key, v))
            .map(|(key, v)| Field {
                key: key.clone(),
                label: label(key),
                value: text(v),
            })
            .collect(),
        Value::Null => Vec::new(),
        other => vec![Field {
            key: String::new(),
            label: "Value".into(),
            value: text(other),
        }],
    }
}

/// A row of a comparison: the device's value and the server's, for the same field.
#[derive(Clone, Debug)]
pub struct Compared {
    pub label: String,
    pub ours: String,
    pub theirs: String,
}

impl Compared {
    /// Both sides have the field, with different values (a field only one side has is context,
    /// not a difference).
    pub fn differs(&self) -> bool {
        !self.ours.is_empty() && !self.theirs.is_empty() && self.ours != self.theirs
    }
}

/// The fields of two versions side by side: the first version's, then those only the second
/// has.
pub fn compare(ours: &Value, theirs: &Value) -> Vec<Compared> {
    let (a, b) = (fields(ours), fields(theirs));
    let mut rows: Vec<Compared> = a
        .iter()
        .map(|f| Compared {
            label: f.label.clone(),
            ours: f.value.clone(),
            theirs: b
                .iter()
                .find(|g| g.key == f.key)
                .map(|g| g.value.clone())
                .unwrap_or_default(),
        })
        .collect();
    rows.extend(
        b.iter()
            .filter(|g| !a.iter().any(|f| f.key == g.key))
            .map(|g| Compared {
                label: g.label.clone(),
                ours: String::new(),
                theirs: g.value.clone(),
            }),
    );
    rows
}

/// Ids are for machines; versions are bookkeeping; empty values say nothing.
fn shown(key: &str, value: &Value) -> bool {
    let is_id = key == "id" || key.ends_with("_id") || key.ends_with("_ids");
    let empty = match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    };
    !is_id && !empty && key != "version"
}

fn label(key: &str) -> String {
    let words = match key {
        "on_hand" => "On hand",
        "reorder_level" => "Reorder level",
        "unit_price_cents" => "Unit price (cents)",
        "discount_bp" => "Discount (basis points)",
        "foc" => "Free of charge",
        "sku" => "Item",
        "add_lines" => "Lines added",
        "edit_lines" => "Lines changed",
        _ => "",
    };
    if !words.is_empty() {
        return words.into();
    }
    crate::audit::words::spelled_out(key)
}

fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(item).collect::<Vec<_>>().join("; "),
        Value::Object(_) => fields(value)
            .into_iter()
            .map(|f| format!("{}: {}", f.label, f.value))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// An element of a list: a line of items reads "SKU × quantity"; anything else its fields.
fn item(value: &Value) -> String {
    let name = value
        .get("sku")
        .or_else(|| value.get("full_sku"))
        .and_then(Value::as_str);
    let quantity = value
        .get("quantity")
        .or_else(|| value.get("approved_qty"))
        .and_then(Value::as_i64);
    match (name, quantity) {
        (Some(name), Some(q)) => format!("{name} × {q}"),
        _ => text(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_leave_out_ids_and_empties_and_read_lines_as_items() {
        let got = fields(&json!({
            "distribution_id": "0b6c…", "hub_id": 3, "recipient": "Shelter", "notes": null,
            "lines": [{ "sku": "00101-P-1-NA-N", "quantity": 4 }, { "variant_id": 7, "quantity": 2 }],
            "restock": true, "reason": ""
        }));
        let shown: Vec<(&str, &str)> = got
            .iter()
            .map(|f| (f.label.as_str(), f.value.as_str()))
            .collect();
        assert_eq!(
            shown,
            [
                ("Lines", "00101-P-1-NA-N × 4; Quantity: 2"),
                ("Recipient", "Shelter"),
                ("Restock", "yes"),
            ]
        );
    }

    #[test]
    fn a_comparison_pairs_fields_by_name() {
        let rows = compare(
            &json!({ "notes": "mine", "recipient": "A" }),
            &json!({ "notes": "theirs", "recipient": "A", "status": "draft", "version": 4 }),
        );
        let got: Vec<(&str, &str, &str, bool)> = rows
            .iter()
            .map(|r| {
                (
                    r.label.as_str(),
                    r.ours.as_str(),
                    r.theirs.as_str(),
                    r.differs(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("Notes", "mine", "theirs", true),
                ("Recipient", "A", "A", false),
                ("Status", "", "draft", false),
            ]
        );
    }
}
