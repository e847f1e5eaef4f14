//! The catalog port ([`stepwise_engine::catalog::Catalog`]) on DynamoDB:
//! an entry is an item under `cat#<kind>#<parent>` (so a machine's
//! versions, or a region's machines, are one query), keyed by its ARN,
//! with its revision in `rev` for conditional writes.

use aws_sdk_dynamodb::types::AttributeValue;
use stepwise_engine::catalog::{Catalog, Entry, Key, Kind};
use stepwise_engine::stepper::PortError;

use super::{DynamoStore, Item, n, s};

fn partition(kind: Kind, parent: &str) -> String {
    format!("cat#{}#{parent}", kind.as_str())
}

fn entry(key: Key, item: &Item) -> Result<Entry, PortError> {
    let rev = match item.get("rev") {
        Some(AttributeValue::N(v)) => v.parse()?,
        _ => return Err(format!("catalog item {} lacks its rev", key.arn).into()),
    };
    let body = match item.get("body") {
        Some(AttributeValue::S(b)) => serde_json::from_str(b)?,
        _ => return Err(format!("catalog item {} lacks its body", key.arn).into()),
    };
    Ok(Entry { key, rev, body })
}

impl Catalog for DynamoStore {
    async fn get(&self, key: &Key) -> Result<Option<Entry>, PortError> {
        let item = DynamoStore::get(self, &partition(key.kind, &key.parent), &key.arn).await?;
        item.map(|i| entry(key.clone(), &i)).transpose()
    }

    async fn put(&self, e: &Entry, expected: Option<u64>) -> Result<bool, PortError> {
        let mut item = Item::new();
        item.insert("pk".into(), s(partition(e.key.kind, &e.key.parent)));
        item.insert("sk".into(), s(&e.key.arn));
        item.insert("rev".into(), n(e.rev as i64));
        item.insert("body".into(), s(serde_json::to_string(&e.body)?));
        let condition = match expected {
            None => ("attribute_not_exists(pk)", None),
            Some(r) => ("rev = :v", Some(n(r as i64))),
        };
        DynamoStore::put(self, item, Some(condition)).await
    }

    async fn delete(&self, key: &Key) -> Result<(), PortError> {
        DynamoStore::delete(self, &partition(key.kind, &key.parent), &key.arn).await
    }

    async fn list(&self, kind: Kind, parent: &str) -> Result<Vec<Entry>, PortError> {
        let mut out = Vec::new();
        for item in self.query(&partition(kind, parent)).await? {
            let Some(AttributeValue::S(arn)) = item.get("sk") else {
                continue;
            };
            let key = Key {
                kind,
                parent: parent.to_owned(),
                arn: arn.clone(),
            };
            out.push(entry(key, &item)?);
        }
        Ok(out)
    }
}
