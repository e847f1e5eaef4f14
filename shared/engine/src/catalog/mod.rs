//! The control plane, written once for every backend: state machines, their
//! versions and aliases, activities and the tags on them.
//!
//! Each API action of these families is one function here over the
//! [`Catalog`] port, a small store of typed entries with conditional writes.
//! SQLite (`stepwise serve`), DynamoDB (the serverless API) and memory (unit
//! tests) implement the port and nothing else: no API rule lives in an
//! adapter, so the backends cannot drift apart.
//!
//! ```
//! use serde_json::json;
//! use stepwise_engine::block_on;
//! use stepwise_engine::catalog::{self, MemoryCatalog, Scope};
//!
//! let cat = MemoryCatalog::default();
//! let scope = Scope::default();
//! let def = r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#;
//! let created = block_on(catalog::call(&cat, &scope, "CreateStateMachine", &json!({
//!     "name": "m", "definition": def, "roleArn": "arn:aws:iam::123456789012:role/r"
//! }))).unwrap().unwrap();
//! assert_eq!(created["stateMachineArn"], "arn:aws:states:us-east-1:123456789012:stateMachine:m");
//! ```

mod activities;
mod aliases;
mod machines;
mod memory;
mod resolve;
mod tags;
mod versions;

use std::future::Future;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use activities::existing as existing_activity;
pub use activities::exists as activity_exists;
pub(crate) use machines::check_definition;
pub use machines::{Target, describe_for_execution, load as machine, target};
pub use memory::MemoryCatalog;
pub use resolve::{Resolved, resolve};

use crate::api::{ApiError, validate};
use crate::stepper::PortError;

/// What an entry is; with its parent it says where the entry is listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Kind {
    Machine,
    Version,
    Alias,
    Activity,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Machine => "machine",
            Kind::Version => "version",
            Kind::Alias => "alias",
            Kind::Activity => "activity",
        }
    }
}

/// Where an entry lives: machines and activities under their region's
/// scope (`arn:aws:states:<region>:<account>`), versions and aliases under
/// their machine's ARN.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Key {
    pub kind: Kind,
    pub parent: String,
    pub arn: String,
}

/// One stored entry. `rev` counts its writes: a put names the `rev` it
/// read, so two writers cannot both win.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub key: Key,
    pub rev: u64,
    pub body: Resource,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Resource {
    Machine(Machine),
    Version(Version),
    Alias(Alias),
    Activity(Activity),
}

/// The settings a state machine (or a version of it) runs with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub definition: String,
    pub role_arn: String,
    pub logging: Value,
    pub tracing: Value,
    pub encryption: Value,
    /// `None` until the first update that changes something; AWS only
    /// reports a `revisionId` from then on.
    pub revision_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub name: String,
    /// `STANDARD` or `EXPRESS`.
    pub kind: String,
    pub settings: Settings,
    pub description: Option<String>,
    pub created: i64,
    pub next_version: u64,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Version {
    pub machine: String,
    pub number: u64,
    pub name: String,
    pub kind: String,
    pub settings: Settings,
    pub description: Option<String>,
    pub created: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Route {
    pub version: String,
    pub weight: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alias {
    pub machine: String,
    pub name: String,
    pub description: Option<String>,
    pub routing: Vec<Route>,
    pub created: i64,
    pub updated: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    pub name: String,
    pub created: i64,
    pub encryption: Value,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

/// The port: entries by key, conditional on their revision.
pub trait Catalog {
    fn get(&self, key: &Key) -> impl Future<Output = Result<Option<Entry>, PortError>>;
    /// Writes `entry` (whose `rev` is the new revision) if the stored one
    /// has revision `expected` (`None`: if there is none); false otherwise.
    fn put(
        &self,
        entry: &Entry,
        expected: Option<u64>,
    ) -> impl Future<Output = Result<bool, PortError>>;
    fn delete(&self, key: &Key) -> impl Future<Output = Result<(), PortError>>;
    /// Every entry of `kind` under `parent`, in no particular order.
    fn list(&self, kind: Kind, parent: &str)
    -> impl Future<Output = Result<Vec<Entry>, PortError>>;
}

impl<C: Catalog> Catalog for &C {
    fn get(&self, key: &Key) -> impl Future<Output = Result<Option<Entry>, PortError>> {
        (*self).get(key)
    }
    fn put(
        &self,
        entry: &Entry,
        expected: Option<u64>,
    ) -> impl Future<Output = Result<bool, PortError>> {
        (*self).put(entry, expected)
    }
    fn delete(&self, key: &Key) -> impl Future<Output = Result<(), PortError>> {
        (*self).delete(key)
    }
    fn list(
        &self,
        kind: Kind,
        parent: &str,
    ) -> impl Future<Output = Result<Vec<Entry>, PortError>> {
        (*self).list(kind, parent)
    }
}

/// The partition, region and account a request is answered in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub partition: String,
    pub region: String,
    pub account: String,
}

impl Default for Scope {
    fn default() -> Scope {
        Scope {
            partition: "aws".into(),
            region: "us-east-1".into(),
            account: "123456789012".into(),
        }
    }
}

impl Scope {
    /// The scope of `region` in its partition, as AWS's endpoint rules
    /// name them (`cn-…` is `aws-cn`, `us-gov-…` `aws-us-gov`, the isolated
    /// regions `aws-iso`, `aws-iso-b`, `aws-iso-e`, `aws-iso-f`, the
    /// European sovereign cloud `aws-eusc`).
    pub fn in_region(region: &str, account: &str) -> Scope {
        const PARTITIONS: [(&str, &str); 7] = [
            ("cn-", "aws-cn"),
            ("us-gov-", "aws-us-gov"),
            ("us-iso-", "aws-iso"),
            ("us-isob-", "aws-iso-b"),
            ("eu-isoe-", "aws-iso-e"),
            ("us-isof-", "aws-iso-f"),
            ("eusc-", "aws-eusc"),
        ];
        let partition = (PARTITIONS.iter())
            .find(|(prefix, _)| region.starts_with(prefix))
            .map_or("aws", |(_, p)| p);
        Scope {
            partition: partition.into(),
            region: region.into(),
            account: account.into(),
        }
    }

    /// A server's own scope: `AWS_REGION` and [`Scope::account_from_env`]
    /// (the SAM template sets both), else us-east-1.
    pub fn from_env() -> Scope {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let default = Scope::default();
        Scope::in_region(
            &var("AWS_REGION").unwrap_or(default.region),
            &Scope::account_from_env(),
        )
    }

    /// The account of local ARNs: `STEPWISE_ACCOUNT_ID`, else
    /// `AWS_ACCOUNT_ID` (as Step Functions Local reads it, so suites
    /// written for it find their ARNs), else 123456789012.
    pub fn account_from_env() -> String {
        ["STEPWISE_ACCOUNT_ID", "AWS_ACCOUNT_ID"]
            .iter()
            .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
            .unwrap_or_else(|| Scope::default().account)
    }

    /// Where a request is answered: the region it was signed for (its
    /// SigV4 scope) when it names one, else this scope's, in this account.
    pub fn for_request(&self, region: Option<&str>) -> Scope {
        match region {
            Some(r) => Scope::in_region(r, &self.account),
            None => self.clone(),
        }
    }

    /// `arn:<partition>:states:<region>:<account>`: the parent of machines
    /// and activities.
    pub fn root(&self) -> String {
        format!(
            "arn:{}:states:{}:{}",
            self.partition, self.region, self.account
        )
    }

    pub fn arn(&self, kind: &str, name: &str) -> String {
        format!("{}:{kind}:{name}", self.root())
    }
}

pub(crate) type Res = Result<Value, ApiError>;

pub(crate) fn internal(e: PortError) -> ApiError {
    ApiError::internal(e.to_string())
}

pub(crate) fn now() -> i64 {
    crate::memory::wall_clock()
}

/// The scope (`arn:…:states:<region>:<account>`) an ARN belongs to.
pub(crate) fn scope_of(arn: &str) -> String {
    arn.split(':').take(5).collect::<Vec<_>>().join(":")
}

/// The actions this module answers; `None` for any other.
pub async fn call<C: Catalog>(cat: &C, scope: &Scope, action: &str, body: &Value) -> Option<Res> {
    Some(match action {
        "CreateStateMachine" => machines::create(cat, scope, body).await,
        "DescribeStateMachine" => machines::describe(cat, body).await,
        "UpdateStateMachine" => machines::update(cat, body).await,
        "DeleteStateMachine" => machines::delete(cat, body).await,
        "ListStateMachines" => machines::list(cat, scope, body).await,
        "PublishStateMachineVersion" => versions::publish(cat, body).await,
        "ListStateMachineVersions" => versions::list(cat, body).await,
        "DeleteStateMachineVersion" => versions::delete(cat, body).await,
        "CreateStateMachineAlias" => aliases::create(cat, body).await,
        "DescribeStateMachineAlias" => aliases::describe(cat, body).await,
        "UpdateStateMachineAlias" => aliases::update(cat, body).await,
        "DeleteStateMachineAlias" => aliases::delete(cat, body).await,
        "ListStateMachineAliases" => aliases::list(cat, body).await,
        "CreateActivity" => activities::create(cat, scope, body).await,
        "DescribeActivity" => activities::describe(cat, body).await,
        "ListActivities" => activities::list(cat, scope, body).await,
        "DeleteActivity" => activities::delete(cat, body).await,
        "TagResource" => tags::tag(cat, body).await,
        "UntagResource" => tags::untag(cat, body).await,
        "ListTagsForResource" => tags::list(cat, body).await,
        "ValidateStateMachineDefinition" => crate::console::validate_definition(body),
        _ => return None,
    })
}

/// Actions of this module that only read.
pub const READS: &[&str] = &[
    "DescribeStateMachine",
    "ListStateMachines",
    "ListStateMachineVersions",
    "DescribeStateMachineAlias",
    "ListStateMachineAliases",
    "DescribeActivity",
    "ListActivities",
    "ListTagsForResource",
    "ValidateStateMachineDefinition",
];

/// Reads an entry and hands its body to `change`; writes the result if no
/// other writer came first, else tries again with what that writer wrote.
pub(crate) async fn modify<C: Catalog, T>(
    cat: &C,
    key: &Key,
    missing: impl Fn() -> ApiError,
    mut change: impl FnMut(&mut Resource) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    for _ in 0..8 {
        let mut entry = cat.get(key).await.map_err(internal)?.ok_or_else(&missing)?;
        let out = change(&mut entry.body)?;
        let read = entry.rev;
        entry.rev += 1;
        if cat.put(&entry, Some(read)).await.map_err(internal)? {
            return Ok(out);
        }
    }
    Err(ApiError::conflict(
        "The resource was changed by another request at the same time; try again",
    ))
}

/// A page of `items` (already in order) as `member`, with `nextToken`.
pub(crate) fn page(body: &Value, member: &str, items: Vec<Value>) -> Res {
    let (max, offset) = validate::page(body)?;
    let total = items.len();
    let mut out = serde_json::json!({
        member: items.into_iter().skip(offset).take(max).collect::<Vec<_>>()
    });
    if let Some(t) = validate::next_token(offset, max, total) {
        out["nextToken"] = t.into();
    }
    Ok(out)
}
