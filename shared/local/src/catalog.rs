//! The catalog port ([`stepwise_engine::catalog::Catalog`]) on SQLite: one
//! table of entries, their JSON bodies and revisions. The store's
//! connection writes it inside its open transaction; reader connections
//! answer the read-only actions.

use rusqlite::{OptionalExtension, params};
use stepwise_engine::catalog::{Catalog, Entry, Key, Kind};
use stepwise_engine::stepper::PortError;

use crate::db::Db;

pub struct SqlCatalog<'a>(pub &'a Db);

fn body(e: &Entry) -> Result<String, PortError> {
    Ok(serde_json::to_string(&e.body)?)
}

fn entry(key: Key, rev: i64, text: &str) -> Result<Entry, PortError> {
    Ok(Entry {
        key,
        rev: rev as u64,
        body: serde_json::from_str(text)?,
    })
}

impl Catalog for SqlCatalog<'_> {
    async fn get(&self, key: &Key) -> Result<Option<Entry>, PortError> {
        let row: Option<(i64, String)> = self
            .0
            .query_row(
                "SELECT rev, body FROM catalog WHERE arn = ?1",
                [&key.arn],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        row.map(|(rev, text)| entry(key.clone(), rev, &text))
            .transpose()
    }

    async fn put(&self, e: &Entry, expected: Option<u64>) -> Result<bool, PortError> {
        let text = body(e)?;
        let changed = match expected {
            None => self.0.execute(
                "INSERT INTO catalog (arn, kind, parent, rev, body) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (arn) DO NOTHING",
                params![e.key.arn, e.key.kind.as_str(), e.key.parent, e.rev as i64, text],
            )?,
            Some(rev) => self.0.execute(
                "UPDATE catalog SET rev = ?2, body = ?3 WHERE arn = ?1 AND rev = ?4",
                params![e.key.arn, e.rev as i64, text, rev as i64],
            )?,
        };
        Ok(changed == 1)
    }

    async fn delete(&self, key: &Key) -> Result<(), PortError> {
        self.0
            .execute("DELETE FROM catalog WHERE arn = ?1", [&key.arn])?;
        Ok(())
    }

    async fn list(&self, kind: Kind, parent: &str) -> Result<Vec<Entry>, PortError> {
        let mut stmt = self
            .0
            .prepare("SELECT arn, rev, body FROM catalog WHERE kind = ?1 AND parent = ?2")?;
        let rows: Vec<(String, i64, String)> = stmt
            .query_map(params![kind.as_str(), parent], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<Result<_, _>>()?;
        rows.into_iter()
            .map(|(arn, rev, text)| {
                let key = Key {
                    kind,
                    parent: parent.to_owned(),
                    arn,
                };
                entry(key, rev, &text)
            })
            .collect()
    }
}
