//! matdiff-rewrite: see the crate description.
#![warn(missing_docs)]
