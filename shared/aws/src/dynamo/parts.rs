//! A body too large for one item (DynamoDB takes 400 KB): the item keeps
//! its first part and names the rest (`parts = "<set>:<count>"`), written
//! first to part items `x#<sort key>#<set>#<i>`. A thread record holding
//! several copies of a payload near 256 KiB (its input, the pages of
//! history not yet moved out, the messages of its outbox) would not fit
//! otherwise. A record's set is fresh for every save (its sequence number
//! and a random part), so a writer that loses the conditional write never
//! overwrites the winner's parts; the winner then deletes the sets of
//! earlier sequence numbers only, never those of a writer that saves after
//! it. A page's set is fixed: a page is written again only with the same
//! events.

use stepwise_engine::stepper::PortError;

use super::{DynamoStore, Item, b, n, s};

/// The most of a body one item holds, clear of the other attributes.
const PART: usize = 350 * 1024;
/// The most parts a body is split into (5.6 MB).
const MAX_PARTS: usize = 16;

fn part_key(sk: &str, set: &str, i: usize) -> String {
    format!("x#{sk}#{set}#{i}")
}

impl DynamoStore {
    /// What the item keyed `sk` keeps of `body`, with the `parts` it names
    /// when the rest went to part items; `None`: too large even so.
    pub(super) async fn split_body(
        &self,
        pk: &str,
        sk: &str,
        set: &str,
        mut body: Vec<u8>,
        ttl: i64,
    ) -> Result<Option<(Vec<u8>, Option<String>)>, PortError> {
        if body.len() <= PART {
            return Ok(Some((body, None)));
        }
        let count = body.len().div_ceil(PART);
        if count > MAX_PARTS {
            return Ok(None);
        }
        for i in 1..count {
            let part = body[i * PART..((i + 1) * PART).min(body.len())].to_vec();
            let mut item = Item::new();
            item.insert("pk".into(), s(pk));
            item.insert("sk".into(), s(part_key(sk, set, i)));
            item.insert("body".into(), b(part));
            item.insert("ttl".into(), n(ttl));
            self.put(item, None).await?;
        }
        body.truncate(PART);
        Ok(Some((body, Some(format!("{set}:{count}")))))
    }

    /// The whole `body` of `item`, its parts read back when it was split.
    pub(super) async fn whole_body(&self, item: &Item) -> Result<Vec<u8>, PortError> {
        let mut body = super::bytes(item, "body")?.to_vec();
        let Some(aws_sdk_dynamodb::types::AttributeValue::S(parts)) = item.get("parts") else {
            return Ok(body);
        };
        let (set, count) = parts.rsplit_once(':').ok_or("a malformed `parts`")?;
        let count: usize = count.parse()?;
        let (pk, sk) = (key(item, "pk")?, key(item, "sk")?);
        for i in 1..count {
            let Some(part) = self.get(pk, &part_key(sk, set, i)).await? else {
                return Err(format!("part {i} of {pk} / {sk} is missing").into());
            };
            body.extend_from_slice(super::bytes(&part, "body")?);
        }
        Ok(body)
    }

    /// The set of a record saved with sequence number `seq`.
    pub(super) fn record_set(seq: u64) -> String {
        format!("{seq:012}-{:08x}", stepwise_engine::entropy() as u32)
    }

    /// Deletes the part items of `sk` in sets of records saved before
    /// sequence number `seq`.
    pub(super) async fn drop_parts(&self, pk: &str, sk: &str, seq: u64) -> Result<(), PortError> {
        let prefix = format!("x#{sk}#");
        for item in self.query_prefix(pk, &prefix).await? {
            let part = key(&item, "sk")?;
            let set_seq = part.strip_prefix(&prefix).and_then(|r| r.split('-').next());
            if set_seq
                .and_then(|s| s.parse::<u64>().ok())
                .is_some_and(|s| s < seq)
            {
                self.delete(pk, part).await?;
            }
        }
        Ok(())
    }
}

fn key<'a>(item: &'a Item, name: &str) -> Result<&'a str, PortError> {
    match item.get(name) {
        Some(aws_sdk_dynamodb::types::AttributeValue::S(v)) => Ok(v),
        _ => Err(format!("stored item lacks its `{name}`").into()),
    }
}
