//! Sortable columns: `?sort=quantity` (ascending) or `?sort=-quantity` (descending), limited to
//! the columns a list offers; the header links say which way each column would sort next and
//! the current one carries `aria-sort`. The list's own query turns the key into an ORDER BY.

/// The order a list was asked for, already checked against the columns it offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sort {
    pub key: &'static str,
    pub descending: bool,
}

impl Sort {
    pub const fn ascending(key: &'static str) -> Sort {
        Sort {
            key,
            descending: false,
        }
    }

    pub const fn descending(key: &'static str) -> Sort {
        Sort {
            key,
            descending: true,
        }
    }

    /// Reads `?sort=`; anything not offered falls back to the list's `default`.
    pub fn parse(text: &str, offered: &[&'static str], default: Sort) -> Sort {
        let (descending, name) = match text.trim().strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.trim()),
        };
        match offered.iter().find(|k| **k == name) {
            Some(key) => Sort { key, descending },
            None => default,
        }
    }

    /// The `?sort=` a list's links carry: nothing for the list's default order.
    pub fn param_unless(&self, default: Sort) -> String {
        if *self == default {
            String::new()
        } else {
            self.param()
        }
    }

    /// The `?sort=` value that asks for this order.
    pub fn param(&self) -> String {
        if self.descending {
            format!("-{}", self.key)
        } else {
            self.key.to_string()
        }
    }

    /// A column header: its link sorts by the column, or the other way when it is the current.
    pub fn header(&self, key: &'static str, label: &'static str, base: &str) -> Header {
        let current = self.key == key;
        let next = Sort {
            key,
            descending: current && !self.descending,
        };
        let sep = if base.contains('?') { '&' } else { '?' };
        Header {
            label,
            href: format!("{base}{sep}sort={}", next.param()),
            aria_sort: match (current, self.descending) {
                (false, _) => "none",
                (true, false) => "ascending",
                (true, true) => "descending",
            },
            arrow: match (current, self.descending) {
                (false, _) => "",
                (true, false) => "▲",
                (true, true) => "▼",
            },
        }
    }
}

/// A sortable column's header as a template draws it.
#[derive(Clone, Debug)]
pub struct Header {
    pub label: &'static str,
    pub href: String,
    pub aria_sort: &'static str,
    pub arrow: &'static str,
}

#[cfg(test)]
mod tests {
    use super::Sort;

    #[test]
    fn only_offered_columns_sort_and_the_current_one_turns_around() {
        let offered = ["name", "quantity"];
        assert_eq!(
            Sort::parse("-quantity", &offered, Sort::ascending("name")),
            Sort {
                key: "quantity",
                descending: true
            }
        );
        assert_eq!(
            Sort::parse("password; drop", &offered, Sort::ascending("name")),
            Sort {
                key: "name",
                descending: false
            }
        );
        let s = Sort::parse("quantity", &offered, Sort::ascending("name"));
        assert_eq!(s.param_unless(Sort::ascending("quantity")), "");
        let h = s.header("quantity", "On hand", "/hubs/1?q=rice");
        assert_eq!(
            (h.href.as_str(), h.aria_sort),
            ("/hubs/1?q=rice&sort=-quantity", "ascending")
        );
        let other = s.header("name", "Item", "/hubs/1");
        assert_eq!(
            (other.href.as_str(), other.aria_sort, other.arrow),
            ("/hubs/1?sort=name", "none", "")
        );
    }
}
