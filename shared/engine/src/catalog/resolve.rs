//! What StartExecution (and StartSyncExecution, and a nested
//! `states:startExecution` task) runs for a machine, version or alias ARN.

use super::machines::{self, Target, target};
use super::{Catalog, Settings, aliases, versions};
use crate::api::ApiError;

/// A resolved start: the machine, the version (given, or picked by an
/// alias's routing) and the settings that run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Resolved {
    pub machine_arn: String,
    pub version_arn: Option<String>,
    pub alias_arn: Option<String>,
    pub name: String,
    pub express: bool,
    pub settings: Settings,
}

/// Resolves `arn`; `pick` is a uniform sample in 0..100 that chooses among
/// an alias's weighted versions.
pub async fn resolve<C: Catalog>(cat: &C, arn: &str, pick: u64) -> Result<Resolved, ApiError> {
    let t = target(arn)?;
    let machine_arn = t.machine().to_owned();
    let (version_arn, alias_arn) = match &t {
        Target::Machine(_) => (None, None),
        Target::Version(_) => (Some(arn.to_owned()), None),
        Target::Alias(_) => {
            let alias = aliases::load(cat, arn)
                .await
                .map_err(|_| machines::not_found(arn))?;
            let mut acc = 0;
            let mut chosen = None;
            for r in &alias.routing {
                acc += r.weight;
                chosen = Some(r.version.clone());
                if pick % 100 < acc {
                    break;
                }
            }
            (chosen, Some(arn.to_owned()))
        }
    };
    let (name, kind, settings) = match &version_arn {
        Some(v) => {
            let v = versions::load(cat, v)
                .await
                .map_err(|_| machines::not_found(arn))?;
            (v.name, v.kind, v.settings)
        }
        None => {
            let m = machines::load(cat, &machine_arn, arn).await?;
            (m.name, m.kind, m.settings)
        }
    };
    Ok(Resolved {
        machine_arn,
        version_arn,
        alias_arn,
        name,
        express: kind == "EXPRESS",
        settings,
    })
}
