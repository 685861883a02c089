//! PLACEHOLDER: replaced by the commands work.
