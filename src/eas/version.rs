//! Protocol versions easbox speaks ([MS-ASHTTP] 2.2.1.1.2.4 `MS-ASProtocolVersion`).

use super::Error;
use core::fmt;

/// A protocol version. Ordered, so `v >= ProtocolVersion::V16_0` reads as "16.x rules".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProtocolVersion {
    V12_1,
    V14_0,
    V14_1,
    V16_0,
    V16_1,
}

impl ProtocolVersion {
    /// Every supported version, ascending: AOSP takes the last entry of the OPTIONS list.
    pub const ALL: [ProtocolVersion; 5] = [
        ProtocolVersion::V12_1,
        ProtocolVersion::V14_0,
        ProtocolVersion::V14_1,
        ProtocolVersion::V16_0,
        ProtocolVersion::V16_1,
    ];

    /// The header form, `14.1`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ProtocolVersion::V12_1 => "12.1",
            ProtocolVersion::V14_0 => "14.0",
            ProtocolVersion::V14_1 => "14.1",
            ProtocolVersion::V16_0 => "16.0",
            ProtocolVersion::V16_1 => "16.1",
        }
    }

    /// The base64 request line form: major × 10 + minor (`141`).
    pub const fn as_byte(self) -> u8 {
        match self {
            ProtocolVersion::V12_1 => 121,
            ProtocolVersion::V14_0 => 140,
            ProtocolVersion::V14_1 => 141,
            ProtocolVersion::V16_0 => 160,
            ProtocolVersion::V16_1 => 161,
        }
    }

    pub fn from_byte(b: u8) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_byte() == b)
            .ok_or(Error::UnsupportedVersion)
    }

    /// The 16.x item rules (no time zone on all-day events, AirSyncBase Location, InstanceId).
    pub const fn is_16(self) -> bool {
        matches!(self, ProtocolVersion::V16_0 | ProtocolVersion::V16_1)
    }

    /// `MS-ASProtocolVersions` header value: `12.1,14.0,14.1,16.0,16.1`.
    pub fn header_list() -> String {
        Self::ALL.map(|v| v.as_str()).join(",")
    }
}

impl core::str::FromStr for ProtocolVersion {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s.trim())
            .ok_or(Error::UnsupportedVersion)
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascending_and_round_trips() {
        assert!(ProtocolVersion::ALL.windows(2).all(|w| w[0] < w[1]));
        for v in ProtocolVersion::ALL {
            assert_eq!(v.as_str().parse::<ProtocolVersion>(), Ok(v));
            assert_eq!(ProtocolVersion::from_byte(v.as_byte()), Ok(v));
        }
        assert_eq!(ProtocolVersion::header_list(), "12.1,14.0,14.1,16.0,16.1");
        assert_eq!(
            "2.5".parse::<ProtocolVersion>(),
            Err(Error::UnsupportedVersion)
        );
        assert_eq!(
            ProtocolVersion::from_byte(25),
            Err(Error::UnsupportedVersion)
        );
        assert!(ProtocolVersion::V16_0.is_16() && !ProtocolVersion::V14_1.is_16());
    }
}
