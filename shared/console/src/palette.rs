//! The console's colours, one place for all three outputs.

use crate::history::Status;

/// Fill, stroke and text colour of a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Colours {
    pub fill: &'static str,
    pub stroke: &'static str,
    pub text: &'static str,
}

/// A state drawn without a history.
pub const PLAIN: Colours = Colours {
    fill: "#ffffff",
    stroke: "#879596",
    text: "#16191f",
};

/// The legend of the Step Functions console's graph view.
pub fn colours(status: Status) -> Colours {
    match status {
        Status::Succeeded => Colours {
            fill: "#2bd62e",
            stroke: "#1d8c1f",
            text: "#16191f",
        },
        Status::Failed => Colours {
            fill: "#de322f",
            stroke: "#a31f1d",
            text: "#ffffff",
        },
        Status::Caught => Colours {
            fill: "#ffa500",
            stroke: "#b87400",
            text: "#16191f",
        },
        Status::Running => Colours {
            fill: "#4f93e5",
            stroke: "#2a67b1",
            text: "#ffffff",
        },
        Status::NotReached => Colours {
            fill: "#d5dbdb",
            stroke: "#879596",
            text: "#545b64",
        },
    }
}

/// Every status, in the order the outputs declare their classes.
pub const STATUSES: [Status; 5] = [
    Status::Succeeded,
    Status::Failed,
    Status::Caught,
    Status::Running,
    Status::NotReached,
];
