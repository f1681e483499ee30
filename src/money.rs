//! Money in integer cents, shared by the catalog, sales and the warehouse: reading and printing
//! amounts, and line and cart totals. Discounts and tax round half away from zero, once
//! per line and once per cart, so the printed invoice adds up.

/// A line's amounts: gross (unit × quantity), the discount taken off, and the net charged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LineAmounts {
    pub gross: i64,
    pub discount: i64,
    pub net: i64,
}

pub fn line(unit_cents: i64, quantity: i64, discount_bp: i32, foc: bool) -> LineAmounts {
    let gross = unit_cents.saturating_mul(quantity);
    if foc {
        return LineAmounts {
            gross,
            discount: gross,
            net: 0,
        };
    }
    let discount = share(gross, discount_bp);
    LineAmounts {
        gross,
        discount,
        net: gross - discount,
    }
}

/// `amount × bp / 10 000`, rounded half away from zero.
pub fn share(amount: i64, bp: i32) -> i64 {
    let scaled = i128::from(amount) * i128::from(bp);
    let rounded = (scaled.abs() + 5_000) / 10_000 * scaled.signum();
    i64::try_from(rounded).unwrap_or(i64::MAX)
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub subtotal: i64,
    pub discount: i64,
    pub tax: i64,
    pub total: i64,
}

/// The largest figure a sale may reach, 999,999,999,999.99: lines each within their limits can
/// add up past what the arithmetic holds, and a sale beyond this is refused (issue 27: such a
/// cart showed Total = Subtotal beside a tax, the sums having stopped at the largest number).
pub const MAX_TOTAL_CENTS: i64 = 99_999_999_999_999;

impl Totals {
    /// Whether every figure is a true sum: the gross (net plus discounts) and the total within
    /// `MAX_TOTAL_CENTS` (a saturated sum is far beyond it).
    pub fn within_limits(&self) -> bool {
        self.subtotal.saturating_add(self.discount) <= MAX_TOTAL_CENTS
            && self.total <= MAX_TOTAL_CENTS
    }
}

pub fn totals(lines: impl IntoIterator<Item = LineAmounts>, tax_bp: i32) -> Totals {
    let (mut subtotal, mut discount) = (0i64, 0i64);
    for l in lines {
        subtotal = subtotal.saturating_add(l.net);
        discount = discount.saturating_add(l.discount);
    }
    let tax = share(subtotal, tax_bp);
    Totals {
        subtotal,
        discount,
        tax,
        total: subtotal.saturating_add(tax),
    }
}

/// Amounts as the invoice prints them ("1,234.50"): one formatter for pages and PDFs.
pub use outpost_jobs::invoice::format_cents;

/// Shares `total` out in proportion to `weights` (non-negative), in whole cents that add up to
/// `total` exactly: each gets its rounded-down share, and the cents left over go to the largest
/// remainders (the first line on a tie).
pub fn allocate(total: i64, weights: &[i64]) -> Vec<i64> {
    let sum: i128 = weights.iter().map(|w| i128::from((*w).max(0))).sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let exact: Vec<(i128, i128)> = weights
        .iter()
        .map(|w| {
            let scaled = i128::from(total) * i128::from((*w).max(0));
            (scaled / sum, scaled % sum)
        })
        .collect();
    let mut shares: Vec<i64> = exact
        .iter()
        .map(|(q, _)| i64::try_from(*q).unwrap_or(0))
        .collect();
    let left = total - shares.iter().sum::<i64>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|a, b| exact[*b].1.cmp(&exact[*a].1).then(a.cmp(b)));
    for i in order
        .into_iter()
        .take(usize::try_from(left.max(0)).unwrap_or(0))
    {
        shares[i] += 1;
    }
    shares
}

/// "1450.00": an amount as a form field holds it (no separators).
pub fn plain_cents(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!(
        "{sign}{}.{:02}",
        cents.unsigned_abs() / 100,
        cents.unsigned_abs() % 100
    )
}

/// Parses "12", "12.5", "1,234.50" into cents; `None` for anything else (negative included).
pub fn parse_cents(text: &str) -> Option<i64> {
    let t: String = text.trim().chars().filter(|c| *c != ',').collect();
    let (units, frac) = t.split_once('.').unwrap_or((&t, ""));
    if units.is_empty() && frac.is_empty()
        || !units.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
        || frac.len() > 2
        || units.len() > 10
    {
        return None;
    }
    let units: i64 = if units.is_empty() {
        0
    } else {
        units.parse().ok()?
    };
    let frac: i64 = format!("{frac:0<2}").parse().ok()?;
    Some(units * 100 + frac)
}

/// Parses a percentage such as "10" or "2.5" into basis points (0–100 %).
pub fn parse_percent_bp(text: &str) -> Option<i32> {
    let t = text.trim();
    if t.is_empty() {
        return Some(0);
    }
    let cents = parse_cents(t)?; // the same two-decimal grammar: 2.5 → 250
    (0..=10_000).contains(&cents).then_some(cents as i32)
}

pub fn cents_to_units(cents: i64) -> f64 {
    cents as f64 / 100.0
}

/// A money amount from JSON (150.00) in cents; `None` for negative, absurd or non-finite input.
pub fn units_to_cents(units: f64) -> Option<i64> {
    (units.is_finite() && (0.0..=1_000_000_000.0).contains(&units))
        .then(|| (units * 100.0).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_totals_add_up() {
        let a = line(1999, 3, 1000, false); // 59.97 − 6.00 (5.997 rounds up)
        assert_eq!(
            a,
            LineAmounts {
                gross: 5997,
                discount: 600,
                net: 5397
            }
        );
        let f = line(500, 2, 0, true);
        assert_eq!(f.net, 0);
        let t = totals([a, f], 750);
        assert_eq!(t.subtotal, 5397);
        assert_eq!(t.tax, 405); // 404.775
        assert_eq!(t.total, 5802);
    }

    #[test]
    fn a_total_is_shared_out_to_the_cent() {
        // The invoice of the screenshot: 4,350 + 1,950 + 15,660 at 15 % is a tax of 3,294,
        // while rounding each line (653 + 293 + 2,349) would print 3,295.
        let shares = allocate(3294, &[4350, 1950, 15660]);
        assert_eq!(shares.iter().sum::<i64>(), 3294);
        assert_eq!(shares, vec![653, 292, 2349]);
        assert_eq!(allocate(0, &[1, 2]), vec![0, 0]);
        assert_eq!(allocate(5, &[0, 0]), vec![0, 0]);
        assert_eq!(allocate(3, &[1, 1, 1, 0]), vec![1, 1, 1, 0]);
    }

    #[test]
    fn totals_past_the_limit_are_not_within_it() {
        let big = line(100_000_000_000, 1_000_000, 0, false);
        let many = totals(std::iter::repeat_n(big, 200), 1500);
        assert!(!many.within_limits(), "{many:?}");
        let free = totals(
            std::iter::repeat_n(line(100_000_000_000, 1_000_000, 0, true), 2),
            0,
        );
        assert!(!free.within_limits(), "the gross counts: {free:?}");
        let fine = totals([line(MAX_TOTAL_CENTS, 1, 0, false)], 0);
        assert!(fine.within_limits());
        assert!(!totals([line(MAX_TOTAL_CENTS, 1, 0, false)], 1).within_limits());
    }

    #[test]
    fn amounts_format_and_parse() {
        assert_eq!(format_cents(123456789), "1,234,567.89");
        assert_eq!(format_cents(-5), "-0.05");
        assert_eq!(format_cents(100000), "1,000.00");
        assert_eq!(parse_cents("1,234.5"), Some(123450));
        assert_eq!(parse_cents("12"), Some(1200));
        assert_eq!(parse_cents(".5"), Some(50));
        for bad in ["", "-1", "1.234", "abc", "1e5", ".", "99999999999"] {
            assert_eq!(parse_cents(bad), None, "{bad}");
        }
        assert_eq!(parse_percent_bp("2.5"), Some(250));
        assert_eq!(parse_percent_bp("101"), None);
        assert_eq!(parse_percent_bp(""), Some(0));
    }
}
