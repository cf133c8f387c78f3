//! The loss as a TOML config value: parsing, defaults, errors that list the valid names, and
//! validation by `build`.

use ebm_core::EbmError;
use ebm_loss::{LossConfig, Reduction};
use rstest::rstest;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, Serialize, PartialEq)]
struct Run {
    loss: LossConfig,
}

fn parse(text: &str) -> Result<LossConfig, String> {
    toml::from_str::<Run>(text)
        .map(|run| run.loss)
        .map_err(|e| e.to_string())
}

#[rstest]
#[case(r#"loss = { kind = "hinge", margin = 1.0 }"#, LossConfig::Hinge { margin: 1.0 })]
#[case(r#"loss = { kind = "hinge", margin = 2 }"#, LossConfig::Hinge { margin: 2.0 })]
#[case(r#"loss = { kind = "hinge" }"#, LossConfig::Hinge { margin: 1.0 })]
#[case(r#"loss = { kind = "energy" }"#, LossConfig::Energy {})]
#[case(r#"loss = { kind = "perceptron" }"#, LossConfig::Perceptron {})]
#[case(r#"loss = { kind = "log" }"#, LossConfig::Log {})]
#[case(r#"loss = { kind = "lvq2" }"#, LossConfig::Lvq2 { delta: 0.5 })]
#[case(r#"loss = { kind = "lvq2", delta = 0.25 }"#, LossConfig::Lvq2 { delta: 0.25 })]
#[case(r#"loss = { kind = "mce" }"#, LossConfig::Mce {})]
#[case(r#"loss = { kind = "square_square" }"#, LossConfig::SquareSquare { margin: 1.0 })]
#[case(r#"loss = { kind = "square_exponential", gamma = 3.0 }"#, LossConfig::SquareExponential { gamma: 3.0 })]
#[case(r#"loss = { kind = "nll", beta = 0.5 }"#, LossConfig::Nll { beta: 0.5 })]
#[case(r#"loss = { kind = "mee" }"#, LossConfig::Mee { beta: 1.0 })]
#[case("[loss]\nkind = \"nll\"\nbeta = 4.0\n", LossConfig::Nll { beta: 4.0 })]
fn toml_parses(#[case] text: &str, #[case] expected: LossConfig) {
    assert_eq!(parse(text).expect("valid config"), expected);
}

#[test]
fn every_loss_round_trips_through_toml_and_builds_under_its_kind() {
    for config in LossConfig::all_defaults() {
        let text = toml::to_string(&Run {
            loss: config.clone(),
        })
        .expect("serialise");
        assert_eq!(parse(&text).expect("parse back"), config, "{text}");
        let kind: toml::Value = toml::from_str(&text).expect("toml");
        let kind = kind["loss"]["kind"].as_str().expect("kind").to_string();
        assert_eq!(config.build().expect("defaults are valid").name(), kind);
    }
}

const KINDS: [&str; 10] = [
    "energy",
    "perceptron",
    "hinge",
    "log",
    "lvq2",
    "mce",
    "square_square",
    "square_exponential",
    "nll",
    "mee",
];

#[test]
fn an_unknown_kind_lists_the_valid_kinds() {
    let message = parse(r#"loss = { kind = "hing", margin = 1.0 }"#).expect_err("unknown kind");
    assert!(message.contains("unknown variant `hing`"), "{message}");
    for kind in KINDS {
        assert!(
            message.contains(&format!("`{kind}`")),
            "{kind} missing: {message}"
        );
    }
}

#[test]
fn a_missing_kind_is_an_error() {
    let message = parse("loss = { margin = 1.0 }").expect_err("no kind");
    assert!(message.contains("kind"), "{message}");
}

#[rstest]
#[case(r#"loss = { kind = "hinge", margn = 1.0 }"#, "margn", &["margin"])]
#[case(r#"loss = { kind = "nll", beta = 1.0, temperature = 2.0 }"#, "temperature", &["beta"])]
#[case(r#"loss = { kind = "lvq2", margin = 1.0 }"#, "margin", &["delta"])]
#[case(r#"loss = { kind = "square_exponential", margin = 1.0 }"#, "margin", &["gamma"])]
#[case(r#"loss = { kind = "log", margin = 1.0 }"#, "margin", &[])]
#[case(r#"loss = { kind = "energy", beta = 1.0 }"#, "beta", &[])]
fn an_unknown_field_is_an_error_that_lists_the_valid_fields(
    #[case] text: &str,
    #[case] field: &str,
    #[case] valid: &[&str],
) {
    let message = parse(text).expect_err("unknown field");
    assert!(
        message.contains(&format!("unknown field `{field}`")),
        "{message}"
    );
    if valid.is_empty() {
        assert!(message.contains("there are no fields"), "{message}");
    }
    for name in valid {
        assert!(message.contains(&format!("`{name}`")), "{message}");
    }
}

#[rstest]
#[case(LossConfig::Hinge { margin: -1.0 }, "margin")]
#[case(LossConfig::Hinge { margin: 0.0 }, "margin")]
#[case(LossConfig::SquareSquare { margin: f64::NAN }, "margin")]
#[case(LossConfig::Lvq2 { delta: 0.0 }, "delta")]
#[case(LossConfig::SquareExponential { gamma: -2.0 }, "gamma")]
#[case(LossConfig::Nll { beta: 0.0 }, "beta")]
#[case(LossConfig::Nll { beta: f64::INFINITY }, "beta")]
#[case(LossConfig::Mee { beta: f64::NAN }, "beta")]
fn build_rejects_invalid_hyperparameters(#[case] config: LossConfig, #[case] expected: &str) {
    match config.build() {
        Err(EbmError::Hyperparameter { name, .. }) => assert_eq!(name, expected),
        other => panic!("expected a hyperparameter error for {expected}, got {other:?}"),
    }
}

#[test]
fn a_negative_margin_in_toml_parses_then_fails_to_build_with_its_value() {
    let config = parse(r#"loss = { kind = "hinge", margin = -1.0 }"#).expect("parses");
    let message = config.build().expect_err("invalid").to_string();
    assert_eq!(
        message,
        "invalid hyperparameter: margin must be finite and > 0, got -1"
    );
}

#[rstest]
#[case("\"mean\"", Reduction::Mean)]
#[case("\"sum\"", Reduction::Sum)]
#[case("\"none\"", Reduction::None)]
fn reductions_parse_in_snake_case(#[case] value: &str, #[case] expected: Reduction) {
    #[derive(Deserialize)]
    struct R {
        reduction: Reduction,
    }
    let r: R = toml::from_str(&format!("reduction = {value}")).expect("reduction");
    assert_eq!(r.reduction, expected);
    assert_eq!(Reduction::default(), Reduction::Mean);
}

#[test]
fn kinds_are_the_names_of_the_variants_in_order() {
    let names: Vec<&str> = LossConfig::all_defaults()
        .iter()
        .map(LossConfig::kind_name)
        .collect();
    assert_eq!(names, LossConfig::KINDS);
    // The name is the `kind` serde writes.
    for config in LossConfig::all_defaults() {
        let value = toml::Value::try_from(&config).expect("serialises");
        assert_eq!(value["kind"].as_str(), Some(config.kind_name()));
    }
}
