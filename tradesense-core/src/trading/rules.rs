//! A portfolio's accounting rules: whether it may go short, and which cost
//! a closing trade realizes against. The fold (`fold.rs`) applies them; a
//! portfolio stores them (`allow_short`, `cost_basis`).

use serde::{Deserialize, Serialize};

/// How a closing trade picks the cost it realizes against.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum CostBasis {
    /// The running average cost of the whole position.
    #[default]
    Average,
    /// The oldest lots first.
    Fifo,
    /// The newest lots first.
    Lifo,
}

impl CostBasis {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Average => "average",
            Self::Fifo => "fifo",
            Self::Lifo => "lifo",
        }
    }
}

impl std::str::FromStr for CostBasis {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "average" => Ok(Self::Average),
            "fifo" => Ok(Self::Fifo),
            "lifo" => Ok(Self::Lifo),
            _ => Err("must be `average`, `fifo` or `lifo`".to_owned()),
        }
    }
}

/// A portfolio's accounting rules. The default (no shorts, average cost)
/// is also the rule of trades without a portfolio.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Rules {
    /// Whether a sell beyond the held quantity opens a short.
    pub allow_short: bool,
    /// How closing trades realize.
    pub cost_basis: CostBasis,
}
