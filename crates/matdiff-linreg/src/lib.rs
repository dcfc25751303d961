//! matdiff-linreg: see the crate description.
#![warn(missing_docs)]
