//! Redis key names. Every key of a pipeline starts with its prefix,
//! `shopstream:<namespace>:<pipeline>:`, so pipelines sharing a Redis never
//! see each other's keys; [`KeySpace::bare`] drops it and gives the
//! original system's names (`hourly:…`, `top_products:…`, `clv:…`) for a
//! Redis that only one pipeline writes and whose readers expect them.
//!
//! Window labels are [`crate::time::window_label`]; product keys are the
//! processor's record-key text of the id (`5`, `P001`, `"5"` for the
//! string `"5"`).

/// The key names of one pipeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySpace {
    prefix: String,
}

impl KeySpace {
    /// `shopstream:<namespace>:<pipeline>:` (Kubernetes names contain no `:`).
    pub fn for_pipeline(namespace: &str, pipeline: &str) -> KeySpace {
        KeySpace {
            prefix: format!("shopstream:{namespace}:{pipeline}:"),
        }
    }

    /// The original's names, unprefixed.
    pub fn bare() -> KeySpace {
        KeySpace {
            prefix: String::new(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn key(&self, rest: std::fmt::Arguments<'_>) -> String {
        format!("{}{rest}", self.prefix)
    }

    /// STRING: one category's sales of an hour, in the original's format.
    /// The original's key was `hourly:<hour>`, which each category of the
    /// hour overwrote.
    pub fn hourly(&self, label: &str, category: &str) -> String {
        self.key(format_args!("hourly:{label}:{category}"))
    }

    /// ZSET: the categories of an hour by total sales.
    pub fn hourly_ranking(&self, label: &str) -> String {
        self.key(format_args!("rank:hourly:{label}"))
    }

    /// STRING: one product of an hour, in the original's format. The
    /// original's key was `top_products:<batch id>`, which every product of
    /// a batch overwrote.
    pub fn top_product(&self, label: &str, product: &str) -> String {
        self.key(format_args!("top_products:{label}:{product}"))
    }

    /// ZSET: the products of an hour by revenue (`ZREVRANGE … 0 9` is the
    /// top 10); members are the product keys of [`Self::top_product`].
    pub fn top_products_ranking(&self, label: &str) -> String {
        self.key(format_args!("rank:top_products:{label}"))
    }

    /// HASH: a 1-minute sales window, field `<category>|<region>`.
    pub fn sales(&self, label: &str) -> String {
        self.key(format_args!("sales:{label}"))
    }

    /// HASH: a segments window, field = the segment.
    pub fn segments(&self, label: &str) -> String {
        self.key(format_args!("segments:{label}"))
    }

    /// ZSET: the latest window labels of an output, scored by the window
    /// start (Unix seconds): how a dashboard finds "now".
    pub fn windows(&self, output: &str) -> String {
        self.key(format_args!("windows:{output}"))
    }

    /// ZSET: the latest anomalies, scored by event time (Unix ms).
    pub fn recent_anomalies(&self) -> String {
        self.key(format_args!("anomalies:recent"))
    }

    /// STRING: a user's CLV (the original's `<prefix>:<user_id>`).
    pub fn clv(&self, user_id: &str) -> String {
        self.key(format_args!("clv:{user_id}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipelines_are_namespaced_and_bare_keys_are_the_originals() {
        let keys = KeySpace::for_pipeline("shop", "orders");
        assert_eq!(keys.clv("user_1"), "shopstream:shop:orders:clv:user_1");
        assert_eq!(
            keys.top_products_ranking("2025-08-12 10:00:00"),
            "shopstream:shop:orders:rank:top_products:2025-08-12 10:00:00"
        );
        assert_eq!(
            KeySpace::bare().hourly("2025-08-12 10:00:00", "food"),
            "hourly:2025-08-12 10:00:00:food"
        );
    }
}
