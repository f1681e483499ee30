//! The templates' own filters: a module that declares a template brings them in with
//! `use crate::ui::filters;` and the template writes `{{ total|grouped }}`. Templates name
//! filters and their struct's fields and methods, never a Rust module path.

use askama::{Result, Values};

/// A count, however many references a template's loop put around it.
pub trait Count {
    fn count(&self) -> i64;
}

impl Count for i64 {
    fn count(&self) -> i64 {
        *self
    }
}

impl<T: Count + ?Sized> Count for &T {
    fn count(&self) -> i64 {
        (**self).count()
    }
}

/// A count with thousands separators: 48745 → "48,745".
#[askama::filter_fn]
pub fn grouped<T: Count>(n: T, _: &dyn Values) -> Result<String> {
    Ok(super::chart::grouped(n.count()))
}
