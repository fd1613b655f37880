//! How many OpenMP threads a helper's kernels get.
//!
//! On a VE, VEOS gives a VE program `OMP_NUM_THREADS` from the VH's
//! `VE_OMP_NUM_THREADS`, and OpenMP uses a whole core group (8 cores) when
//! it is unset. The helper is started with `OMP_NUM_THREADS` set the same
//! way, so that libgomp reads it when it initialises in the helper, before
//! any kernel runs; the VH's own `OMP_NUM_THREADS` is for VH code and is not
//! passed on.

use crate::error::{Error, Result};
use crate::proc::DEFAULT_OMP_THREADS;

/// The variable the VH sets for its VE programs.
pub(crate) const ENV: &str = "VE_OMP_NUM_THREADS";

/// The thread count for a helper: `chosen` (a builder's), else
/// [`ENV`], else [`DEFAULT_OMP_THREADS`]; zero or junk is an error.
pub(crate) fn threads(chosen: Option<u32>) -> Result<u32> {
    if let Some(n) = chosen {
        return positive(n, "ProcBuilder::omp_threads");
    }
    match std::env::var_os(ENV) {
        None => Ok(DEFAULT_OMP_THREADS),
        Some(v) => parse(&v.to_string_lossy()),
    }
}

fn parse(value: &str) -> Result<u32> {
    match value.trim().parse::<u32>() {
        Ok(n) => positive(n, ENV),
        Err(_) => Err(Error::InvalidArgument(format!(
            "{ENV}={value:?} is not a number of threads"
        ))),
    }
}

fn positive(n: u32, from: &str) -> Result<u32> {
    if n == 0 {
        Err(Error::InvalidArgument(format!(
            "{from}: 0 OpenMP threads; at least 1 is needed"
        )))
    } else {
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn omp_thread_counts_are_positive_numbers() {
        assert_eq!(threads(Some(3)).unwrap(), 3);
        assert!(matches!(threads(Some(0)), Err(Error::InvalidArgument(_))));
        assert_eq!(parse(" 5 ").unwrap(), 5);
        for bad in ["", "x", "-1", "0"] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.contains(ENV) || e.contains("0 OpenMP"), "{bad:?}: {e}");
        }
    }
}
