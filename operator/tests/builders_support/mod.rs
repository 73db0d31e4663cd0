//! What the builders' fixture tests share: a rendered object compared with
//! its YAML fixture (`UPDATE_FIXTURES=1` rewrites it), and a validated
//! pipeline from YAML with the default images.
#![allow(dead_code)] // each test crate uses a different subset

use std::path::PathBuf;

use operator::crd::AnalyticsPipeline;
use operator::model::{DefaultImages, ValidatedPipeline};
use operator::reconcile::validate::validate;
use serde::Serialize;

pub fn assert_matches_fixture<T: Serialize>(name: &str, object: &T) {
    let actual = serde_yaml::to_string(object).expect("object serializes");
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    if std::env::var_os("UPDATE_FIXTURES").is_some() {
        std::fs::write(&path, &actual).expect("write fixture");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; create it with UPDATE_FIXTURES=1",
            path.display()
        )
    });
    assert!(
        actual == expected,
        "{name} differs from the fixture.\n--- expected\n{expected}\n--- actual\n{actual}"
    );
}

pub fn validated(yaml: &str) -> ValidatedPipeline {
    let pipeline: AnalyticsPipeline = serde_yaml::from_str(yaml).expect("pipeline parses");
    validate(
        &pipeline,
        &DefaultImages {
            generator: "shopstream/generator:0.1.0".into(),
            processor: "shopstream/processor:0.1.0".into(),
            serving: "shopstream/serving:0.1.0".into(),
            redis: "redis:7.4".into(),
        },
    )
    .expect("valid pipeline")
}
