//! One module per state type: each reads its own fields and runs itself
//! through the [`Step`](crate::exec::Step) it is given.

mod batcher;
pub mod choice;
pub mod fail;
pub mod map;
mod map_io;
pub mod parallel;
pub mod pass;
pub mod succeed;
pub mod task;
pub mod wait;

use crate::definition::Builder;
use crate::definition::fields::Fields;
use crate::definition::problem::Problems;
use crate::exec::EventType;

#[derive(Debug, Clone)]
pub enum Kind {
    Pass(pass::Pass),
    Task(Box<task::Task>),
    Choice(choice::Choice),
    Wait(wait::Wait),
    Succeed,
    Fail(fail::Fail),
    Parallel(parallel::Parallel),
    Map(Box<map::Map>),
}

/// Which shared data-flow fields a state type has.
pub struct DataFields {
    pub input_output: bool,
    pub parameters: bool,
    pub result_selector: bool,
    pub result_path: bool,
}

pub fn parse(
    type_name: &str,
    name: &str,
    f: &mut Fields<'_>,
    b: &mut Builder,
    p: &mut Problems,
) -> Option<Kind> {
    let _ = name;
    Some(match type_name {
        "Pass" => Kind::Pass(pass::Pass::parse(f, b, p)),
        "Task" => Kind::Task(Box::new(task::Task::parse(f, b, p)?)),
        "Choice" => Kind::Choice(choice::Choice::parse(f, b, p)?),
        "Wait" => Kind::Wait(wait::Wait::parse(f, b, p)?),
        "Succeed" => Kind::Succeed,
        "Fail" => Kind::Fail(fail::Fail::parse(f, b, p)),
        "Parallel" => Kind::Parallel(parallel::Parallel::parse(f, b, p)?),
        "Map" => Kind::Map(Box::new(map::Map::parse(f, b, p)?)),
        _ => {
            p.schema(
                &f.ptr("Type"),
                // AWS's words (LocalStack's AWS-recorded
                // test_state_name_invalid_state_definition).
                "The field 'Type' should have one of these values: [Task, Wait, Pass, Succeed, Fail, Choice, Parallel, Map]",
            );
            return None;
        }
    })
}

impl Kind {
    pub fn handles_errors(&self) -> bool {
        matches!(self, Kind::Task(_) | Kind::Parallel(_) | Kind::Map(_))
    }

    /// Choice, Succeed and Fail take neither `Next` nor `End`.
    pub fn is_terminal_type(&self) -> bool {
        matches!(self, Kind::Choice(_) | Kind::Succeed | Kind::Fail(_))
    }

    pub fn data_fields(&self) -> DataFields {
        let all = |parameters| DataFields {
            input_output: true,
            parameters,
            result_selector: true,
            result_path: true,
        };
        match self {
            Kind::Pass(_) => DataFields {
                input_output: true,
                parameters: true,
                result_selector: false,
                result_path: true,
            },
            Kind::Task(_) | Kind::Parallel(_) => all(true),
            Kind::Map(_) => all(false),
            Kind::Choice(_) | Kind::Wait(_) | Kind::Succeed => DataFields {
                input_output: true,
                parameters: false,
                result_selector: false,
                result_path: false,
            },
            Kind::Fail(_) => DataFields {
                input_output: false,
                parameters: false,
                result_selector: false,
                result_path: false,
            },
        }
    }

    pub fn reads_context(&self) -> bool {
        match self {
            Kind::Choice(c) => c.reads_context(),
            Kind::Fail(f) => f.reads_context(),
            Kind::Map(m) => m.reads_context(),
            Kind::Task(_) | Kind::Wait(_) => true,
            _ => false,
        }
    }

    pub fn entered(&self) -> EventType {
        match self {
            Kind::Pass(_) => EventType::PassStateEntered,
            Kind::Task(_) => EventType::TaskStateEntered,
            Kind::Choice(_) => EventType::ChoiceStateEntered,
            Kind::Wait(_) => EventType::WaitStateEntered,
            Kind::Succeed => EventType::SucceedStateEntered,
            Kind::Fail(_) => EventType::FailStateEntered,
            Kind::Parallel(_) => EventType::ParallelStateEntered,
            Kind::Map(_) => EventType::MapStateEntered,
        }
    }

    pub fn exited(&self) -> Option<EventType> {
        Some(match self {
            Kind::Pass(_) => EventType::PassStateExited,
            Kind::Task(_) => EventType::TaskStateExited,
            Kind::Choice(_) => EventType::ChoiceStateExited,
            Kind::Wait(_) => EventType::WaitStateExited,
            Kind::Succeed => EventType::SucceedStateExited,
            Kind::Fail(_) => return None,
            Kind::Parallel(_) => EventType::ParallelStateExited,
            Kind::Map(_) => EventType::MapStateExited,
        })
    }
}
