//! The step queue on SQS: a standard queue. Messages are sent in batches of
//! up to ten with a per-message `DelaySeconds` (at most 900; a longer wait is
//! delivered early and sent on again by the stepper). As an [`Inbox`] it
//! receives, deletes and releases (visibility 0) as Lambda's event source does.
//! A message over SQS's 256 KiB is kept aside in the table and a pointer to
//! it is sent instead ([`Aside`]); reading a body follows the pointer.

use std::sync::Arc;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
    SendMessageBatchRequestEntry,
};
use stepwise_asl::timestamp::Millis;
use stepwise_engine::stepper::{Delivery, Envelope, Inbox, PortError, Queue};

use crate::DynamoStore;
use crate::meter::Meter;

/// SQS's longest delay.
pub const MAX_DELAY_SECONDS: i64 = 900;
/// SQS's largest message (and batch).
const MAX_BYTES: usize = 256 * 1024;

fn port(e: impl std::error::Error + Send + Sync + 'static) -> PortError {
    format!("{}", DisplayErrorContext(&e)).into()
}

#[derive(Clone)]
pub struct SqsQueue {
    pub client: Client,
    pub url: String,
    /// Send everything without delay: the poller's virtual clock decides
    /// when a message is due (`--fast-forward`).
    pub virtual_time: bool,
    pub meter: Arc<Meter>,
    /// Where messages too large for SQS are kept while their pointer travels.
    pub aside: DynamoStore,
}

/// What travels in place of a message kept aside: its key (the SHA-256 of
/// its text).
#[derive(serde::Serialize, serde::Deserialize)]
struct Aside {
    aside: String,
}

impl SqsQueue {
    /// The queue named `name`, created when `create` is set and it is
    /// missing; large messages are kept aside in `aside`'s table.
    pub async fn open(
        client: Client,
        name: &str,
        create: bool,
        aside: DynamoStore,
    ) -> Result<SqsQueue, PortError> {
        let url = if create {
            let out = client
                .create_queue()
                .queue_name(name)
                .send()
                .await
                .map_err(port)?;
            out.queue_url
        } else {
            let out = client
                .get_queue_url()
                .queue_name(name)
                .send()
                .await
                .map_err(port)?;
            out.queue_url
        };
        let url = url.ok_or("SQS returned no queue URL")?;
        Ok(SqsQueue::from_url(client, url, aside))
    }

    /// The queue at `url` (what the SAM template hands the functions).
    pub fn from_url(client: Client, url: impl Into<String>, aside: DynamoStore) -> SqsQueue {
        SqsQueue {
            client,
            url: url.into(),
            virtual_time: false,
            meter: Arc::new(Meter::default()),
            aside,
        }
    }

    async fn send_batch(&self, batch: Vec<(String, i32)>) -> Result<(), PortError> {
        let bytes: usize = batch.iter().map(|(b, _)| b.len()).sum();
        let count = batch.len();
        let entries = batch
            .into_iter()
            .enumerate()
            .map(|(i, (body, delay))| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body)
                    .delay_seconds(delay)
                    .build()
                    .map_err(port)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .client
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(port)?;
        self.meter.sqs(count, bytes);
        if let Some(f) = out.failed.first() {
            return Err(format!(
                "SQS refused a message: {} {}",
                f.code,
                f.message.as_deref().unwrap_or("")
            )
            .into());
        }
        Ok(())
    }
}

impl Queue for SqsQueue {
    async fn send(&self, messages: &[Envelope], now: Millis) -> Result<(), PortError> {
        let mut batch: Vec<(String, i32)> = Vec::new();
        let mut bytes = 0;
        for m in messages {
            let mut body = serde_json::to_string(m)?;
            if body.len() > MAX_BYTES {
                let key = stepwise_engine::stepper::token_hash(&body);
                self.aside.put_aside(&key, m).await?;
                body = serde_json::to_string(&Aside { aside: key })?;
            }
            let delay = if self.virtual_time {
                0
            } else {
                ((m.at - now).max(0) + 999) / 1000
            };
            if batch.len() == 10 || bytes + body.len() > MAX_BYTES {
                self.send_batch(std::mem::take(&mut batch)).await?;
                bytes = 0;
            }
            bytes += body.len();
            batch.push((body, delay.min(MAX_DELAY_SECONDS) as i32));
        }
        if !batch.is_empty() {
            self.send_batch(batch).await?;
        }
        Ok(())
    }

    async fn read(&self, body: &str) -> Result<Envelope, PortError> {
        self.message(body)
            .await?
            .ok_or_else(|| "not a step message (or one kept aside that is gone)".into())
    }
}

impl SqsQueue {
    /// The message `body` holds or points to; `None`: it never will be one
    /// (not ours, or kept aside and expired). An error is the table's: the
    /// body may be read again later.
    async fn message(&self, body: &str) -> Result<Option<Envelope>, PortError> {
        match serde_json::from_str::<Aside>(body) {
            Ok(pointer) => self.aside.aside(&pointer.aside).await,
            Err(_) => Ok(serde_json::from_str(body).ok()),
        }
    }
}

impl Inbox for SqsQueue {
    type Handle = String;

    async fn receive(&self, wait: bool) -> Result<Vec<Delivery<String>>, PortError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(10)
            .wait_time_seconds(if wait { 1 } else { 0 })
            .message_system_attribute_names(
                aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount,
            )
            .send()
            .await
            .map_err(port)?;
        let messages = out.messages.unwrap_or_default();
        let bytes = messages
            .iter()
            .map(|m| m.body.as_deref().map_or(0, str::len))
            .sum();
        self.meter.sqs(0, bytes);
        let mut deliveries = Vec::with_capacity(messages.len());
        let mut foreign = Vec::new();
        for m in messages {
            let receives = m
                .attributes
                .as_ref()
                .and_then(|a| {
                    a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
                })
                .and_then(|n| n.parse().ok())
                .unwrap_or(1);
            let (Some(handle), Some(body)) = (m.receipt_handle, m.body) else {
                continue;
            };
            match self.message(&body).await {
                Ok(Some(envelope)) => deliveries.push(Delivery {
                    handle,
                    envelope,
                    receives,
                }),
                // Not ours: it would come back for ever and hold up the rest.
                Ok(None) => foreign.push(handle),
                // It comes back once its visibility timeout passes.
                Err(_) => {}
            }
        }
        if !foreign.is_empty() {
            self.delete(&foreign).await?;
        }
        Ok(deliveries)
    }

    async fn delete(&self, handles: &[String]) -> Result<(), PortError> {
        for chunk in handles.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(h)
                        .build()
                        .map_err(port)
                })
                .collect::<Result<Vec<_>, _>>()?;
            self.client
                .delete_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(port)?;
            self.meter.sqs(0, 0);
        }
        Ok(())
    }

    async fn release(&self, handles: &[String]) -> Result<(), PortError> {
        for chunk in handles.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(h)
                        .visibility_timeout(0)
                        .build()
                        .map_err(port)
                })
                .collect::<Result<Vec<_>, _>>()?;
            self.client
                .change_message_visibility_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(port)?;
            self.meter.sqs(0, 0);
        }
        Ok(())
    }
}
