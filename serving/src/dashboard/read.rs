//! Reads the dashboard's keys from Redis: three round trips (the indexes,
//! then the windows and rankings they name, then the ranked values).

use std::collections::VecDeque;

use redis::aio::ConnectionManager;
use tokio::sync::Mutex;

use super::snapshot::Raw;
use crate::keys::KeySpace;
use crate::writer::{RedisTarget, WriteError, connection};

/// How many 1-minute sales windows the chart shows.
pub const SALES_WINDOWS: isize = 30;
/// How many anomalies the page lists.
pub const ANOMALIES: isize = 20;
/// Top N products.
pub const TOP_PRODUCTS: isize = 10;

pub struct Reader {
    target: RedisTarget,
    keys: KeySpace,
    /// Connected on the first request; it reconnects by itself afterwards.
    connection: Mutex<Option<ConnectionManager>>,
}

impl Reader {
    pub fn new(target: RedisTarget, keys: KeySpace) -> Reader {
        Reader {
            target,
            keys,
            connection: Mutex::new(None),
        }
    }

    async fn connection(&self) -> Result<ConnectionManager, WriteError> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Ok(connection.clone());
        }
        let connection = connection(&self.target).await?;
        *slot = Some(connection.clone());
        Ok(connection)
    }

    pub async fn read(&self) -> Result<Raw, WriteError> {
        let mut conn = self.connection().await?;
        let failed = |source| WriteError::Write {
            target: self.target.to_string(),
            writes: 0,
            source,
        };
        let keys = &self.keys;
        let (hours, sales, segments, anomalies): (
            Vec<String>,
            Vec<String>,
            Vec<String>,
            Vec<String>,
        ) = redis::pipe()
            .cmd("ZREVRANGE")
            .arg(keys.windows("hourly"))
            .arg(0)
            .arg(0)
            .cmd("ZREVRANGE")
            .arg(keys.windows("sales"))
            .arg(0)
            .arg(SALES_WINDOWS - 1)
            .cmd("ZREVRANGE")
            .arg(keys.windows("segments"))
            .arg(0)
            .arg(0)
            .cmd("ZREVRANGE")
            .arg(keys.recent_anomalies())
            .arg(0)
            .arg(ANOMALIES - 1)
            .query_async(&mut conn)
            .await
            .map_err(failed)?;
        let hour = hours.into_iter().next();
        let segment_label = segments.into_iter().next();

        let mut second = redis::pipe();
        if let Some(hour) = &hour {
            second
                .cmd("ZREVRANGE")
                .arg(keys.hourly_ranking(hour))
                .arg(0)
                .arg(-1)
                .cmd("ZREVRANGE")
                .arg(keys.top_products_ranking(hour))
                .arg(0)
                .arg(TOP_PRODUCTS - 1);
        }
        for label in &sales {
            second.cmd("HGETALL").arg(keys.sales(label));
        }
        if let Some(label) = &segment_label {
            second.cmd("HGETALL").arg(keys.segments(label));
        }
        let mut replies: VecDeque<redis::Value> =
            if sales.is_empty() && hour.is_none() && segment_label.is_none() {
                Vec::new()
            } else {
                second.query_async(&mut conn).await.map_err(failed)?
            }
            .into_iter()
            .collect();
        // A missing reply reads as an empty one (never a panic).
        let mut next = || replies.pop_front().unwrap_or(redis::Value::Nil);
        let mut raw = Raw {
            hour: hour.clone(),
            anomalies,
            ..Raw::default()
        };
        let (mut categories, mut products) = (Vec::<String>::new(), Vec::<String>::new());
        if hour.is_some() {
            categories = convert(next()).map_err(failed)?;
            products = convert(next()).map_err(failed)?;
        }
        for label in sales {
            let fields: Vec<(String, String)> = convert(next()).map_err(failed)?;
            raw.sales.push((label, fields));
        }
        if let Some(label) = segment_label {
            let fields: Vec<(String, String)> = convert(next()).map_err(failed)?;
            raw.segments = Some((label, fields));
        }
        if let Some(hour) = &hour {
            let mut third = redis::pipe();
            let hourly_keys: Vec<String> =
                categories.iter().map(|c| keys.hourly(hour, c)).collect();
            let product_keys: Vec<String> =
                products.iter().map(|p| keys.top_product(hour, p)).collect();
            if !hourly_keys.is_empty() {
                third.cmd("MGET").arg(&hourly_keys);
            }
            if !product_keys.is_empty() {
                third.cmd("MGET").arg(&product_keys);
            }
            if !hourly_keys.is_empty() || !product_keys.is_empty() {
                let mut values: Vec<Vec<Option<String>>> =
                    third.query_async(&mut conn).await.map_err(failed)?;
                if !product_keys.is_empty() {
                    raw.top_products = values.pop().unwrap_or_default();
                }
                if !hourly_keys.is_empty() {
                    raw.hourly = values.pop().unwrap_or_default();
                }
            }
        }
        Ok(raw)
    }
}

fn convert<T: redis::FromRedisValue>(value: redis::Value) -> redis::RedisResult<T> {
    Ok(redis::from_redis_value(value)?)
}
