//! matdiff-nn: see the crate description.
#![warn(missing_docs)]
