//! PLACEHOLDER: common status codes, replaced by the commands work.
