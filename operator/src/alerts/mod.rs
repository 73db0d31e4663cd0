//! The pipeline's alerts topic (`<namespace>.<pipeline>.alerts`): what the
//! operator tells a pipeline's users besides Events, in the format of the
//! original system's `system-alerts` topic (docs/alerts.md). [`record`]
//! builds the records (pure); [`outbox`] keeps them until Kafka took them;
//! [`restarts`] judges processor restarts and crash loops (pure);
//! [`processor_alerts`] turns the alerts the processor writes into Events.

pub mod outbox;
pub mod processor_alerts;
pub mod record;
pub mod restarts;

pub use outbox::{AlertOutbox, write};
pub use processor_alerts::AlertTail;
pub use record::{Alert, Severity};
