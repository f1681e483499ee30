//! A list's "from … to" dates, as a person types them. A range that ends before it starts
//! matched nothing, silently; it is read the right way round instead, and the page says so.

use chrono::NaiveDate;

/// Puts `from` and `to` (each `YYYY-MM-DD` or anything else, left as it is) in order. When
/// they were the wrong way round, says so, in words for the page.
pub fn in_order(from: &mut String, to: &mut String) -> Option<String> {
    let read = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok();
    let (start, end) = (read(from)?, read(to)?);
    if end >= start {
        return None;
    }
    std::mem::swap(from, to);
    Some(format!(
        "The dates were the wrong way round: showing {end} to {start}."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_that_ends_before_it_starts_is_turned_round_and_said() {
        let (mut from, mut to) = ("2026-12-05".to_string(), "2026-12-01".to_string());
        let said = in_order(&mut from, &mut to);
        assert_eq!((from.as_str(), to.as_str()), ("2026-12-01", "2026-12-05"));
        assert_eq!(
            said.as_deref(),
            Some("The dates were the wrong way round: showing 2026-12-01 to 2026-12-05.")
        );
        for (f, t) in [
            ("2026-12-01", "2026-12-01"),
            ("", "2026-12-01"),
            ("nope", "2026-01-01"),
        ] {
            let (mut from, mut to) = (f.to_string(), t.to_string());
            assert_eq!(in_order(&mut from, &mut to), None);
            assert_eq!((from.as_str(), to.as_str()), (f, t));
        }
    }
}
