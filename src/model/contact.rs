//! A contact: the full element set of [MS-ASCNTC] 2.2.2 (Contacts code page 1 and Contacts2
//! code page 12), free of any wire format.
//!
//! Every field is an `Option`: `None` means "not said" (a client's Change that leaves the
//! field out, or a CRM record without it), `Some("")` means "said, and empty". The sync layer
//! needs that difference for ghosting ([MS-ASCMD] 2.2.3.179 Supported) and for iOS, which sends
//! an empty `Picture` on every edit without meaning to delete it (EAS-NOTES §3 row 11).

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// Most children a contact keeps (the `Child` maxOccurs of Microsoft's Contacts.xsd).
pub const MAX_CHILDREN: u32 = 300;

/// Most categories a contact keeps (the `Category` maxOccurs of Microsoft's Contacts.xsd).
pub const MAX_CATEGORIES: u32 = 300;

/// Largest picture kept, in bytes of image data. [MS-ASCNTC] 2.2.2.58 limits a picture to
/// 48 KB of base64 text, but phones send more (Z-Push accepts 5 MB); 1 MiB keeps any phone
/// photo without letting one contact fill a small box's store.
pub const MAX_PICTURE_BYTES: u32 = 1024 * 1024;

/// One postal address (business, home or other).
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Address {
    pub street: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
}

impl Address {
    /// True when no part of the address is said.
    pub fn is_unset(&self) -> bool {
        self.street.is_none()
            && self.city.is_none()
            && self.state.is_none()
            && self.postal_code.is_none()
            && self.country.is_none()
    }
}

/// A contact.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Contact {
    // Names.
    /// Honorific before the name ("Dr.").
    pub title: Option<String>,
    pub first_name: Option<String>,
    pub middle_name: Option<String>,
    pub last_name: Option<String>,
    /// Generation or degree after the name ("Jr.").
    pub suffix: Option<String>,
    /// Phonetic first name (Japanese Yomi).
    pub yomi_first_name: Option<String>,
    pub yomi_last_name: Option<String>,
    pub yomi_company_name: Option<String>,
    pub nickname: Option<String>,
    /// How the contact is filed and sorted ("Last, First").
    pub file_as: Option<String>,

    // Work.
    pub company_name: Option<String>,
    pub department: Option<String>,
    pub job_title: Option<String>,
    pub office_location: Option<String>,
    pub assistant_name: Option<String>,
    pub manager_name: Option<String>,

    // Electronic addresses.
    /// Email1Address, Email2Address, Email3Address, as the client wrote them (they may carry a
    /// display name: `"Ann" <ann@example.com>`).
    pub email: [Option<String>; 3],
    /// IMAddress, IMAddress2, IMAddress3.
    pub im_address: [Option<String>; 3],
    pub web_page: Option<String>,

    // Phones.
    pub business_phone: Option<String>,
    pub business2_phone: Option<String>,
    pub home_phone: Option<String>,
    pub home2_phone: Option<String>,
    pub mobile_phone: Option<String>,
    pub car_phone: Option<String>,
    pub pager: Option<String>,
    pub radio_phone: Option<String>,
    pub business_fax: Option<String>,
    pub home_fax: Option<String>,
    pub company_main_phone: Option<String>,
    pub assistant_phone: Option<String>,
    /// Number for multimedia messages.
    pub mms: Option<String>,

    // Addresses.
    pub business_address: Address,
    pub home_address: Address,
    pub other_address: Address,

    // Personal.
    /// A calendar date: a birthday has no time of day and no zone.
    pub birthday: Option<Date>,
    pub anniversary: Option<Date>,
    pub spouse: Option<String>,
    /// At most [`MAX_CHILDREN`]; `Some(vec![])` clears the list.
    pub children: Option<Vec<String>>,
    /// At most [`MAX_CATEGORIES`]; `Some(vec![])` clears the list.
    pub categories: Option<Vec<String>>,
    /// Image data (usually JPEG), at most [`MAX_PICTURE_BYTES`]. `Some(vec![])` means an empty
    /// Picture element was sent: iOS does that on every edit, so it is not by itself a delete.
    pub picture: Option<Vec<u8>>,
    /// Notes as plain text.
    pub notes: Option<String>,

    // Identifiers.
    pub customer_id: Option<String>,
    pub government_id: Option<String>,
    pub account_name: Option<String>,

    // Recipient information cache only ([MS-ASCNTC] 2.2.2.2, 2.2.2.64; 14.0+).
    pub alias: Option<String>,
    /// Higher ranks come first in auto-completion.
    pub weighted_rank: Option<i32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_differs_from_empty() {
        let absent = Contact::default();
        let empty = Contact {
            first_name: Some(String::new()),
            picture: Some(Vec::new()),
            ..Contact::default()
        };
        assert_ne!(absent, empty);
        assert!(absent.business_address.is_unset());
        let a = Address {
            city: Some(String::new()),
            ..Address::default()
        };
        assert!(!a.is_unset());
    }
}
