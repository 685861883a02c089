//! [MS-ASCMD] 2.2.1.11 MeetingResponse: accept, tentatively accept or decline meetings.
//!
//! Request children follow 2.2.3.151 (UserResponse, CollectionId, RequestId, search:LongId,
//! InstanceId, SendResponse); response children follow `MeetingResponseResponse.xsd`
//! (RequestId, Status, CalendarId, InstanceId). InstanceId exists from 16.0 on. Status codes:
//! 2.2.3.177.9. iOS sends the same response twice (EAS-NOTES §3 row 11); the server answers
//! both, so decoding keeps duplicates.

use crate::eas::status::status_enum;
use crate::eas::{Codec, Error, ProtocolVersion, de, en};
use crate::wbxml::{Element, Encoder, OwnedElement, Tag, meeting_response as mr, search};

/// Most Request elements in one request, and Result elements in one response.
pub const MAX_REQUESTS: u32 = 256;

status_enum! {
    /// MeetingResponse status ([MS-ASCMD] 2.2.3.177.9).
    pub enum MeetingResponseStatus with common {
        Success = 1,
        /// The meeting request is invalid or not found.
        InvalidMeetingRequest = 2,
        /// An error in the user's mailbox.
        MailboxError = 3,
        /// A server error; the client retries.
        ServerError = 4,
    }
}

/// The answer to a meeting ([MS-ASCMD] 2.2.3.193).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UserResponse {
    Accepted = 1,
    Tentative = 2,
    Declined = 3,
}

impl UserResponse {
    pub fn from_u8(n: u8) -> Option<UserResponse> {
        [
            UserResponse::Accepted,
            UserResponse::Tentative,
            UserResponse::Declined,
        ]
        .into_iter()
        .find(|r| *r as u8 == n)
    }
}

/// One Request element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeetingRequest {
    pub user_response: UserResponse,
    /// The folder of the meeting request (a mail or calendar folder).
    pub collection_id: Option<String>,
    /// The ServerId of the meeting request or calendar item.
    pub request_id: Option<String>,
    /// A search result's LongId instead of CollectionId and RequestId.
    pub long_id: Option<String>,
    /// 16.0+: the occurrence of a recurring meeting, as its original start time.
    pub instance_id: Option<String>,
    /// 16.0+: SendResponse, kept as sent (the reply mail's body and proposed times).
    pub send_response: Option<OwnedElement>,
}

impl MeetingRequest {
    /// A response to the item `request_id` in folder `collection_id`.
    pub fn new(user_response: UserResponse, collection_id: &str, request_id: &str) -> Self {
        MeetingRequest {
            user_response,
            collection_id: Some(collection_id.to_owned()),
            request_id: Some(request_id.to_owned()),
            long_id: None,
            instance_id: None,
            send_response: None,
        }
    }
}

/// A MeetingResponse request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeetingResponseRequest {
    pub requests: Vec<MeetingRequest>,
}

/// One Result element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeetingResult {
    pub request_id: Option<String>,
    pub status: MeetingResponseStatus,
    /// The ServerId of the calendar item, after an accept or tentative accept.
    pub calendar_id: Option<String>,
    /// 16.0+: the occurrence answered.
    pub instance_id: Option<String>,
}

/// A MeetingResponse response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeetingResponseResponse {
    pub results: Vec<MeetingResult>,
}

fn check_instance(v: ProtocolVersion, id: &Option<String>) -> Result<(), Error> {
    if id.is_some() && !v.is_16() {
        return Err(Error::Unencodable("InstanceId needs 16.0"));
    }
    Ok(())
}

impl Codec for MeetingResponseRequest {
    const ROOT: Tag = mr::MEETING_RESPONSE;

    fn decode(root: &Element<'_>, _v: ProtocolVersion) -> Result<Self, Error> {
        de::expect_root(root, Self::ROOT)?;
        let mut requests = Vec::new();
        for r in root.children_with(mr::REQUEST) {
            de::cap("meeting requests", requests.len() + 1, MAX_REQUESTS)?;
            let n: u8 = de::req_num(r, mr::USER_RESPONSE)?;
            let req = MeetingRequest {
                user_response: UserResponse::from_u8(n).ok_or(Error::BadValue {
                    tag: mr::USER_RESPONSE,
                    why: "user response outside 1-3",
                })?,
                collection_id: de::opt_owned(r, mr::COLLECTION_ID)?,
                request_id: de::opt_owned(r, mr::REQUEST_ID)?,
                long_id: de::opt_owned(r, search::LONG_ID)?,
                instance_id: de::opt_owned(r, mr::INSTANCE_ID)?,
                send_response: r.child(mr::SEND_RESPONSE).map(|s| s.to_owned_element()),
            };
            if req.request_id.is_none() && req.long_id.is_none() {
                return Err(Error::Missing {
                    parent: mr::REQUEST,
                    child: mr::REQUEST_ID,
                });
            }
            requests.push(req);
        }
        if requests.is_empty() {
            return Err(Error::Missing {
                parent: mr::MEETING_RESPONSE,
                child: mr::REQUEST,
            });
        }
        Ok(MeetingResponseRequest { requests })
    }

    fn encode(&self, w: &mut Encoder<'_>, v: ProtocolVersion) -> Result<(), Error> {
        w.start(Self::ROOT)?;
        for r in &self.requests {
            check_instance(v, &r.instance_id)?;
            if r.send_response.is_some() && !v.is_16() {
                return Err(Error::Unencodable("SendResponse needs 16.0"));
            }
            w.start(mr::REQUEST)?;
            w.leaf_int(mr::USER_RESPONSE, r.user_response as u8)?;
            en::opt_leaf(w, mr::COLLECTION_ID, r.collection_id.as_deref())?;
            en::opt_leaf(w, mr::REQUEST_ID, r.request_id.as_deref())?;
            en::opt_leaf(w, search::LONG_ID, r.long_id.as_deref())?;
            en::opt_leaf(w, mr::INSTANCE_ID, r.instance_id.as_deref())?;
            if let Some(s) = &r.send_response {
                if s.tag != mr::SEND_RESPONSE {
                    return Err(Error::Unencodable("send_response must be a SendResponse"));
                }
                w.owned(s)?;
            }
            w.end()?;
        }
        w.end()?;
        Ok(())
    }
}

impl Codec for MeetingResponseResponse {
    const ROOT: Tag = mr::MEETING_RESPONSE;

    fn decode(root: &Element<'_>, _v: ProtocolVersion) -> Result<Self, Error> {
        de::expect_root(root, Self::ROOT)?;
        let mut results = Vec::new();
        for r in root.children_with(mr::RESULT) {
            de::cap("meeting results", results.len() + 1, MAX_REQUESTS)?;
            results.push(MeetingResult {
                request_id: de::opt_owned(r, mr::REQUEST_ID)?,
                status: MeetingResponseStatus::req(r, mr::STATUS)?,
                calendar_id: de::opt_owned(r, mr::CALENDAR_ID)?,
                instance_id: de::opt_owned(r, mr::INSTANCE_ID)?,
            });
        }
        Ok(MeetingResponseResponse { results })
    }

    fn encode(&self, w: &mut Encoder<'_>, v: ProtocolVersion) -> Result<(), Error> {
        if self.results.is_empty() {
            // The schema requires at least one Result.
            return Err(Error::Unencodable("MeetingResponse without a Result"));
        }
        w.start(Self::ROOT)?;
        for r in &self.results {
            check_instance(v, &r.instance_id)?;
            w.start(mr::RESULT)?;
            en::opt_leaf(w, mr::REQUEST_ID, r.request_id.as_deref())?;
            w.leaf_int(mr::STATUS, r.status.as_u8())?;
            en::opt_leaf(w, mr::CALENDAR_ID, r.calendar_id.as_deref())?;
            en::opt_leaf(w, mr::INSTANCE_ID, r.instance_id.as_deref())?;
            w.end()?;
        }
        w.end()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eas::{from_wbxml, to_wbxml};
    use crate::wbxml::{Limits, airsyncbase};

    fn rt<T: Codec + PartialEq + core::fmt::Debug>(x: &T, v: ProtocolVersion) {
        let b = to_wbxml(x, v, 1 << 20).unwrap();
        assert_eq!(&from_wbxml::<T>(&b, v, Limits::DEFAULT).unwrap(), x);
    }

    #[test]
    fn round_trips() {
        let dup = MeetingRequest::new(UserResponse::Accepted, "4", "4:17");
        let req = MeetingResponseRequest {
            requests: vec![dup.clone(), dup],
        };
        rt(&req, ProtocolVersion::V14_1);
        let r16 = MeetingResponseRequest {
            requests: vec![MeetingRequest {
                instance_id: Some("2026-03-02T09:00:00.000Z".into()),
                send_response: Some(
                    OwnedElement::new(mr::SEND_RESPONSE).with(
                        OwnedElement::new(airsyncbase::BODY)
                            .with(OwnedElement::leaf(airsyncbase::TYPE, "1"))
                            .with(OwnedElement::leaf(airsyncbase::DATA, "See you")),
                    ),
                ),
                ..MeetingRequest::new(UserResponse::Declined, "4", "4:18")
            }],
        };
        rt(&r16, ProtocolVersion::V16_1);
        assert!(matches!(
            to_wbxml(&r16, ProtocolVersion::V14_1, 4096),
            Err(Error::Unencodable(_))
        ));
        let by_long_id = MeetingResponseRequest {
            requests: vec![MeetingRequest {
                collection_id: None,
                request_id: None,
                long_id: Some("RgAAAAD".into()),
                ..MeetingRequest::new(UserResponse::Tentative, "", "")
            }],
        };
        rt(&by_long_id, ProtocolVersion::V14_1);
        let resp = MeetingResponseResponse {
            results: vec![
                MeetingResult {
                    request_id: Some("4:17".into()),
                    status: MeetingResponseStatus::Success,
                    calendar_id: Some("2:9".into()),
                    instance_id: None,
                },
                MeetingResult {
                    request_id: Some("4:99".into()),
                    status: MeetingResponseStatus::InvalidMeetingRequest,
                    calendar_id: None,
                    instance_id: None,
                },
            ],
        };
        rt(&resp, ProtocolVersion::V14_1);
    }

    #[test]
    fn requests_cap_and_required_parts() {
        let req = MeetingResponseRequest {
            requests: vec![
                MeetingRequest::new(UserResponse::Accepted, "4", "4:1");
                MAX_REQUESTS as usize + 1
            ],
        };
        let b = to_wbxml(&req, ProtocolVersion::V14_1, 1 << 20).unwrap();
        assert_eq!(
            from_wbxml::<MeetingResponseRequest>(&b, ProtocolVersion::V14_1, Limits::DEFAULT),
            Err(Error::TooMany {
                what: "meeting requests",
                cap: MAX_REQUESTS
            })
        );
        let resp = MeetingResponseResponse {
            results: vec![
                MeetingResult {
                    request_id: None,
                    status: MeetingResponseStatus::Success,
                    calendar_id: None,
                    instance_id: None,
                };
                MAX_REQUESTS as usize + 1
            ],
        };
        let b = to_wbxml(&resp, ProtocolVersion::V14_1, 1 << 20).unwrap();
        assert!(matches!(
            from_wbxml::<MeetingResponseResponse>(&b, ProtocolVersion::V14_1, Limits::DEFAULT),
            Err(Error::TooMany { .. })
        ));
        let none = MeetingResponseRequest { requests: vec![] };
        let b = to_wbxml(&none, ProtocolVersion::V14_1, 1024).unwrap();
        assert!(
            from_wbxml::<MeetingResponseRequest>(&b, ProtocolVersion::V14_1, Limits::DEFAULT)
                .is_err()
        );
        assert!(
            to_wbxml(
                &MeetingResponseResponse { results: vec![] },
                ProtocolVersion::V14_1,
                1024
            )
            .is_err()
        );
    }
}
