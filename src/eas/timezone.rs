//! PLACEHOLDER: TIME_ZONE_INFORMATION blob, replaced by the items work.
