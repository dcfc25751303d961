//! Numeric backend of matdiff on faer.
#![warn(missing_docs)]
