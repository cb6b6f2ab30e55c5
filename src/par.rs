//! The one module that names rayon. With the `parallel` feature off, the same calls run
//! serially; results never depend on the thread count because every element is computed
//! independently and collected in index order.

/// Maps `f` over `0..n` (in parallel when enabled) and collects in order, stopping at the
/// first error.
pub(crate) fn try_map<T, E, F>(n: usize, f: F) -> Result<Vec<T>, E>
where
    T: Send,
    E: Send,
    F: Fn(usize) -> Result<T, E> + Sync + Send,
{
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        (0..n).into_par_iter().map(f).collect()
    }
    #[cfg(not(feature = "parallel"))]
    {
        (0..n).map(f).collect()
    }
}
