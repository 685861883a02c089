//! PLACEHOLDER: request line, replaced by the request-line work.
