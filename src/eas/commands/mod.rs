//! Typed requests and responses per command ([MS-ASCMD] 2.2.1), each implementing
//! [`Codec`](super::Codec) in both directions (the server decodes requests and encodes
//! responses; the test client does the opposite).

pub mod folder_sync;
pub mod get_item_estimate;
pub mod item_operations;
pub mod meeting_response;
pub mod move_items;
pub mod ping;
pub mod provision;
pub mod search;
pub mod settings;
pub mod sync;
