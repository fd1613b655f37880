//! The error collector shared by both phases: every problem found is kept,
//! and the phase ends with one `syn::Error` that combines them all, each
//! spanned at its own token, so that a user sees every mistake at once.
//!
//! A module of its own so that the parse and check phases both report
//! through it without importing each other.

/// Collects errors and combines them at the end.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    /// Adds one error (which may itself combine several).
    pub(crate) fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    /// `value` when nothing was reported, else every error combined.
    pub(crate) fn finish<T>(self, value: T) -> syn::Result<T> {
        match self.0 {
            Some(e) => Err(e),
            None => Ok(value),
        }
    }

    /// The errors combined, for a caller that has no value to return
    /// because something was reported.
    pub(crate) fn into_error(self) -> Option<syn::Error> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proc_macro2::Span;

    #[test]
    fn every_error_is_kept_in_order() {
        let mut errors = Errors::default();
        assert_eq!(Errors::default().finish(7).unwrap(), 7);
        errors.push(syn::Error::new(Span::call_site(), "first"));
        errors.push(syn::Error::new(Span::call_site(), "second"));
        let all: Vec<String> = errors
            .finish(())
            .unwrap_err()
            .into_iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(all, ["first", "second"]);
    }
}
