//! Queue messages too large for SQS (256 KiB), kept aside in the table
//! (`pk = "aside#<key>"`, the envelope deflated) while a pointer to them
//! travels in the queue. The key is the SHA-256 of the message's text:
//! message ids are unique within an execution only, and a message sent
//! again writes the same item. Kept until their `ttl`, past SQS's longest
//! retention (14 days).

use stepwise_engine::stepper::{Envelope, PortError};

use super::{DAY, DynamoStore, ITEM_LIMIT, Item, b, bytes, n, now_secs, s};
use crate::codec::{pack, unpack};

const SK: &str = "aside";

fn partition(key: &str) -> String {
    format!("aside#{key}")
}

impl DynamoStore {
    /// Keeps `envelope` aside, to be read back by `key`.
    pub(crate) async fn put_aside(&self, key: &str, envelope: &Envelope) -> Result<(), PortError> {
        let body = pack(envelope);
        if body.len() > ITEM_LIMIT {
            return Err(format!(
                "a step message of {} bytes (deflated) exceeds what the table can keep aside",
                body.len()
            )
            .into());
        }
        let mut item = Item::new();
        item.insert("pk".into(), s(partition(key)));
        item.insert("sk".into(), s(SK));
        item.insert("body".into(), b(body));
        item.insert("ttl".into(), n(now_secs() + 15 * DAY));
        self.put(item, None).await?;
        Ok(())
    }

    /// The message kept aside under `key`, if it is still there.
    pub(crate) async fn aside(&self, key: &str) -> Result<Option<Envelope>, PortError> {
        match self.get(&partition(key), SK).await? {
            Some(item) => Ok(Some(unpack(bytes(&item, "body")?)?)),
            None => Ok(None),
        }
    }
}
