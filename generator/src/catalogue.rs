//! What the shop sells and who buys: products, regions, user segments and
//! their behaviour, device and payment mix. Built in (see
//! `default_catalogue.yaml`) or read from a YAML/JSON file of the same shape,
//! where every top-level section is optional.

use std::path::Path;

use serde::{Deserialize, Serialize};

pub use super::sampling::{Catalogue, DEVICES, PAYMENT_METHODS, WeightedIndex};
use purchase_event::UserSegment;

/// The built-in catalogue, also the reference example of the file format.
pub const DEFAULT_CATALOGUE_YAML: &str = include_str!("default_catalogue.yaml");

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Product {
    pub id: String,
    pub name: String,
    pub category: String,
    /// Price of one item, in yen.
    pub unit_price: f64,
    pub weight: f64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Region {
    pub name: String,
    pub weight: f64,
}

/// How one segment buys: its share of users, the quantity range (whole items)
/// and the discount range (0.0–1.0, drawn in whole percents), both inclusive.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SegmentBehaviour {
    pub weight: f64,
    pub min_quantity: u32,
    pub max_quantity: u32,
    pub min_discount: f64,
    pub max_discount: f64,
}

impl SegmentBehaviour {
    /// The whole-percent discount range `[low, high]` inside the bounds.
    pub fn discount_percent_range(&self) -> (u32, u32) {
        // The small epsilon keeps 0.05 * 100 = 5.000000000000001 at 5.
        let low = (self.min_discount * 100.0 - 1e-9).ceil().max(0.0) as u32;
        let high = (self.max_discount * 100.0 + 1e-9).floor().max(0.0) as u32;
        (low, high)
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Segments {
    pub premium: SegmentBehaviour,
    pub regular: SegmentBehaviour,
    pub new: SegmentBehaviour,
}

impl Segments {
    pub fn get(&self, segment: UserSegment) -> &SegmentBehaviour {
        match segment {
            UserSegment::Premium => &self.premium,
            UserSegment::Regular => &self.regular,
            UserSegment::New => &self.new,
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DeviceWeights {
    pub web: f64,
    pub mobile: f64,
    pub tablet: f64,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PaymentWeights {
    pub credit_card: f64,
    pub bank_transfer: f64,
    pub digital_wallet: f64,
}

/// The file format: each section optional, missing ones come from the
/// built-in catalogue.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    users: Option<u32>,
    products: Option<Vec<Product>>,
    regions: Option<Vec<Region>>,
    segments: Option<Segments>,
    devices: Option<DeviceWeights>,
    payment_methods: Option<PaymentWeights>,
}

/// Fully specified, validated catalogue.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct CatalogueSpec {
    pub users: u32,
    pub products: Vec<Product>,
    pub regions: Vec<Region>,
    pub segments: Segments,
    pub devices: DeviceWeights,
    pub payment_methods: PaymentWeights,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("cannot read catalogue {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot parse catalogue {path}: {message}")]
    Parse { path: String, message: String },
    #[error("invalid catalogue: {0}")]
    Invalid(String),
}

impl CatalogueSpec {
    pub fn builtin() -> Self {
        // The embedded file is covered by a unit test; failing here is a
        // build defect, not an input error.
        Self::from_yaml_str(DEFAULT_CATALOGUE_YAML, "built-in catalogue")
            .expect("the built-in catalogue is valid")
    }

    /// Reads a catalogue file: `.json` as JSON, anything else as YAML (which
    /// also accepts JSON).
    pub fn from_path(path: &Path) -> Result<Self, CatalogueError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| CatalogueError::Read {
            path: shown.clone(),
            source,
        })?;
        let is_json = path
            .extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case("json"));
        if is_json {
            let file: CatalogueFile =
                serde_json::from_str(&text).map_err(|e| CatalogueError::Parse {
                    path: shown,
                    message: e.to_string(),
                })?;
            Self::merge(file)
        } else {
            Self::from_yaml_str(&text, &shown)
        }
    }

    pub fn from_yaml_str(text: &str, origin: &str) -> Result<Self, CatalogueError> {
        let file: CatalogueFile =
            serde_yaml::from_str(text).map_err(|e| CatalogueError::Parse {
                path: origin.to_string(),
                message: e.to_string(),
            })?;
        Self::merge(file)
    }

    /// Fills the sections missing from `file` from the built-in catalogue.
    fn merge(file: CatalogueFile) -> Result<Self, CatalogueError> {
        let base: CatalogueFile =
            serde_yaml::from_str(DEFAULT_CATALOGUE_YAML).map_err(|e| CatalogueError::Parse {
                path: "built-in catalogue".into(),
                message: e.to_string(),
            })?;
        let missing =
            |what: &str| CatalogueError::Invalid(format!("built-in catalogue lacks {what}"));
        let spec = Self {
            users: file.users.or(base.users).ok_or_else(|| missing("users"))?,
            products: file
                .products
                .or(base.products)
                .ok_or_else(|| missing("products"))?,
            regions: file
                .regions
                .or(base.regions)
                .ok_or_else(|| missing("regions"))?,
            segments: file
                .segments
                .or(base.segments)
                .ok_or_else(|| missing("segments"))?,
            devices: file
                .devices
                .or(base.devices)
                .ok_or_else(|| missing("devices"))?,
            payment_methods: file
                .payment_methods
                .or(base.payment_methods)
                .ok_or_else(|| missing("payment_methods"))?,
        };
        spec.validate()?;
        Ok(spec)
    }

    pub fn validate(&self) -> Result<(), CatalogueError> {
        let invalid = |m: String| Err(CatalogueError::Invalid(m));
        if self.users == 0 {
            return invalid("users must be at least 1".into());
        }
        if self.products.is_empty() {
            return invalid("at least one product is needed".into());
        }
        for p in &self.products {
            if !(p.unit_price.is_finite() && p.unit_price >= 0.0) {
                return invalid(format!("product {}: unit_price must be >= 0", p.id));
            }
        }
        check_weights("products", self.products.iter().map(|p| p.weight))?;
        if self.regions.is_empty() {
            return invalid("at least one region is needed".into());
        }
        check_weights("regions", self.regions.iter().map(|r| r.weight))?;
        let s = &self.segments;
        check_weights(
            "segments",
            [s.premium.weight, s.regular.weight, s.new.weight],
        )?;
        for segment in UserSegment::ALL {
            let b = s.get(segment);
            let name = segment.as_str();
            if b.min_quantity == 0 || b.min_quantity > b.max_quantity {
                return invalid(format!(
                    "segment {name}: need 1 <= min_quantity <= max_quantity"
                ));
            }
            let in_unit = |x: f64| (0.0..=1.0).contains(&x);
            if !(in_unit(b.min_discount) && in_unit(b.max_discount)) {
                return invalid(format!("segment {name}: discounts must lie in 0.0..=1.0"));
            }
            let (low, high) = b.discount_percent_range();
            if low > high {
                return invalid(format!(
                    "segment {name}: the discount range holds no whole percent"
                ));
            }
        }
        let d = &self.devices;
        check_weights("devices", [d.web, d.mobile, d.tablet])?;
        let p = &self.payment_methods;
        check_weights(
            "payment_methods",
            [p.credit_card, p.bank_transfer, p.digital_wallet],
        )?;
        Ok(())
    }
}

fn check_weights(what: &str, weights: impl IntoIterator<Item = f64>) -> Result<(), CatalogueError> {
    let mut total = 0.0;
    for w in weights {
        if !(w.is_finite() && w >= 0.0) {
            return Err(CatalogueError::Invalid(format!(
                "{what}: weights must be finite and >= 0"
            )));
        }
        total += w;
    }
    if total <= 0.0 {
        return Err(CatalogueError::Invalid(format!(
            "{what}: at least one weight must be > 0"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_matches_the_issue() {
        let spec = CatalogueSpec::builtin();
        assert_eq!(spec.users, 10_000);
        let prices: Vec<(&str, f64)> = spec
            .products
            .iter()
            .map(|p| (p.name.as_str(), p.unit_price))
            .collect();
        assert_eq!(
            prices,
            [
                ("ノートPC", 89800.0),
                ("ワイヤレスマウス", 2980.0),
                ("コーヒー豆", 1200.0),
                ("ビジネス書", 1680.0),
                ("スマートフォン", 78900.0),
                ("ヘッドフォン", 15800.0),
                ("グリーンティー", 980.0),
                ("プログラミング本", 3200.0),
            ]
        );
        let regions: Vec<&str> = spec.regions.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(regions, ["Tokyo", "Osaka", "Nagoya", "Fukuoka", "Sapporo"]);
        assert_eq!(spec.segments.premium.discount_percent_range(), (5, 15));
        assert_eq!(spec.segments.regular.discount_percent_range(), (0, 10));
        assert_eq!(spec.segments.new.discount_percent_range(), (10, 20));
        assert_eq!(
            (
                spec.segments.new.min_quantity,
                spec.segments.new.max_quantity
            ),
            (1, 1)
        );
    }

    #[test]
    fn partial_file_falls_back_to_builtin() {
        let yaml = "users: 50\nregions:\n  - { name: Kyoto, weight: 1 }\n";
        let spec = CatalogueSpec::from_yaml_str(yaml, "test").expect("valid");
        assert_eq!(spec.users, 50);
        assert_eq!(spec.regions.len(), 1);
        assert_eq!(spec.products.len(), 8);
    }

    #[test]
    fn json_file_is_read() {
        let dir = std::env::temp_dir().join(format!("catalogue-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("shop.json");
        std::fs::write(
            &path,
            r#"{"products":[{"id":"X1","name":"傘","category":"goods","unit_price":1500,"weight":1}]}"#,
        )
        .expect("write");
        let spec = CatalogueSpec::from_path(&path).expect("valid");
        assert_eq!(spec.products[0].name, "傘");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn invalid_files_are_rejected() {
        for bad in [
            "users: 0",
            "products: []",
            "unknown_section: 1",
            "regions: [{ name: A, weight: 0 }]",
            "segments: { premium: { weight: 1, min_quantity: 3, max_quantity: 2, min_discount: 0, max_discount: 0 }, regular: { weight: 1, min_quantity: 1, max_quantity: 1, min_discount: 0, max_discount: 0 }, new: { weight: 1, min_quantity: 1, max_quantity: 1, min_discount: 0, max_discount: 0 } }",
            "segments: { premium: { weight: 1, min_quantity: 1, max_quantity: 2, min_discount: 0.051, max_discount: 0.059 }, regular: { weight: 1, min_quantity: 1, max_quantity: 1, min_discount: 0, max_discount: 0 }, new: { weight: 1, min_quantity: 1, max_quantity: 1, min_discount: 0, max_discount: 0 } }",
        ] {
            assert!(CatalogueSpec::from_yaml_str(bad, "test").is_err(), "{bad}");
        }
        assert!(CatalogueSpec::from_path(Path::new("/nonexistent/shop.yaml")).is_err());
    }
}
