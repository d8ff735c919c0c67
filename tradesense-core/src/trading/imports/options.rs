//! The request's reading options: the `format` parameter (a layout or
//! `auto`), `decimal`, `date_format`, `fee_sign`, and the zone of local
//! times.

use super::ImportFormat;
use chrono_tz::Tz;

/// The `format` parameter: a layout, or `auto` (recognised from the header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestedFormat {
    /// Recognise the layout from the header row.
    Auto,
    /// This layout.
    Exactly(ImportFormat),
}

impl std::str::FromStr for RequestedFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            _ => s.parse().map(Self::Exactly),
        }
    }
}

/// What a `.` and a `,` mean in the file's numbers (`decimal=`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DecimalMark {
    /// `1234.5` (`,` may group thousands where it cannot be a decimal comma).
    #[default]
    Point,
    /// `1234,5` (`.` groups thousands: `1.234,5`).
    Comma,
}

impl std::str::FromStr for DecimalMark {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "point" => Ok(Self::Point),
            "comma" => Ok(Self::Comma),
            _ => Err("must be `point` or `comma`".to_owned()),
        }
    }
}

/// The order of day and month in a generic file's dates (`date_format=`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DateFormat {
    /// `YYYY-MM-DD[ HH:MM:SS]` or RFC 3339.
    #[default]
    Iso,
    /// `MM/DD/YYYY [HH:MM[:SS]]` (also `M/D/YY`, `-` for `/`).
    Us,
    /// `DD/MM/YYYY [HH:MM[:SS]]` (also `.` or `-` for `/`).
    Eu,
}

impl std::str::FromStr for DateFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "iso" => Ok(Self::Iso),
            "us" => Ok(Self::Us),
            "eu" => Ok(Self::Eu),
            _ => Err("must be `iso`, `us` or `eu`".to_owned()),
        }
    }
}

/// How a generic file's `fees` sign reads (`fee_sign=`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FeeSign {
    /// Brokers write costs negative or positive: the sign is ignored.
    #[default]
    Ignore,
    /// A negative fee is a rebate.
    Signed,
}

impl std::str::FromStr for FeeSign {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ignore" => Ok(Self::Ignore),
            "signed" => Ok(Self::Signed),
            _ => Err("must be `ignore` or `signed`".to_owned()),
        }
    }
}

/// How to read a file: the zone of times without an offset and the
/// parameters of the request. `date_format` and `fee_sign` are the generic
/// layout's; a broker's layout fixes both, so naming them for another
/// layout is an error rather than a parameter silently ignored.
#[derive(Debug, Clone, Copy)]
pub struct ReadOptions {
    /// Zone of local times.
    pub tz: Tz,
    /// The decimal mark.
    pub decimal: DecimalMark,
    /// Day/month order (generic only).
    pub date_format: Option<DateFormat>,
    /// Fee sign (generic only).
    pub fee_sign: Option<FeeSign>,
}

impl ReadOptions {
    /// Times in `tz`, every other parameter at its default.
    pub fn in_zone(tz: Tz) -> Self {
        Self {
            tz,
            decimal: DecimalMark::Point,
            date_format: None,
            fee_sign: None,
        }
    }
}
