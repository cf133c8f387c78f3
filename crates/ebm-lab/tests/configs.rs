//! Configs: every file of `configs/` parses and validates (a broken config fails CI), the
//! README's example too, and bad configs and overrides get errors naming the field and line.

mod common;

use common::{configs_dir, TempDir};
use ebm_contrastive::ObjectiveConfig;
use ebm_lab::sections::LossSection;
use ebm_lab::{ConfigError, ModelConfig, RunConfig, DEMO_CONFIGS};
use rstest::rstest;

fn config_files() -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(configs_dir())
        .expect("configs/ exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_config_parses_validates_and_round_trips() {
    let files = config_files();
    assert!(files.len() >= 14, "only {} configs", files.len());
    for path in &files {
        let config = RunConfig::load(path).unwrap_or_else(|e| panic!("{e}"));
        let stem = path.file_stem().and_then(|s| s.to_str()).expect("a name");
        assert_eq!(
            config.name,
            stem,
            "{}: name should match the file",
            path.display()
        );
        assert_eq!(
            config.threads,
            1,
            "{}: demo configs are deterministic",
            path.display()
        );
        // The resolved form (written to every run folder) reads back to the same config.
        let text = config.to_toml().expect("serialises");
        let back =
            RunConfig::parse(&text).unwrap_or_else(|e| panic!("{}: {e}\n{text}", path.display()));
        assert_eq!(back, config, "{}", path.display());
        // The quick form used by tests and `demo --quick` is valid too.
        let mut quick = config.clone();
        quick.shrink();
        quick
            .check()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

#[test]
fn the_demo_runs_every_architecture_and_method_from_configs() {
    let dir = configs_dir();
    assert!(ebm_lab::demo::missing_configs(&dir).is_empty());
    let mut models = std::collections::BTreeSet::new();
    let mut losses = std::collections::BTreeSet::new();
    for file in DEMO_CONFIGS {
        let config = RunConfig::load(&dir.join(file)).expect("loads");
        models.insert(config.model.kind_name());
        losses.insert(config.loss.kind_name());
    }
    for kind in [
        "regression",
        "implicit_regression",
        "binary",
        "multi_class",
        "latent",
        "siamese",
        "density",
    ] {
        assert!(models.contains(kind), "no demo config for {kind}");
    }
    for kind in [
        "energy",
        "square_square",
        "nll",
        "nt_xent",
        "vicreg",
        "contrastive_divergence",
    ] {
        assert!(losses.contains(kind), "no demo config with the {kind} loss");
    }
    // The collapse experiment: one architecture and data, three losses.
    let collapse: Vec<RunConfig> = ["energy", "square_square", "nll"]
        .iter()
        .map(|l| RunConfig::load(&dir.join(format!("collapse_{l}.toml"))).expect("loads"))
        .collect();
    for c in &collapse[1..] {
        assert_eq!(c.model, collapse[0].model);
        assert_eq!(c.data, collapse[0].data);
        assert_eq!(c.train, collapse[0].train);
        assert_eq!(c.seed, collapse[0].seed);
    }
}

/// The ```toml block after the README's "Configuration" heading.
fn readme_example() -> String {
    let readme = std::fs::read_to_string(configs_dir().join("../README.md")).expect("README");
    let section = &readme[readme
        .find("## Configuration")
        .expect("a Configuration section")..];
    let start = section.find("```toml\n").expect("a toml example") + 8;
    section[start..start + section[start..].find("```").expect("closed")].to_string()
}

#[test]
fn the_readme_example_is_a_valid_config() {
    let config = RunConfig::parse(&readme_example()).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(config.model, ModelConfig::ImplicitRegression(_)));
    // It is said to be configs/implicit_regression.toml without its comments.
    let file = RunConfig::load(&configs_dir().join("implicit_regression.toml")).expect("loads");
    assert_eq!(config, file);
}

#[test]
fn an_mlp_reads_its_spectral_normalisation() {
    let text = base(
        "binary",
        "hinge",
        "[model.g]\nhidden = [8]\nspectral_norm = true\n",
    );
    let config = RunConfig::parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let ModelConfig::Binary(binary) = config.model else {
        panic!("a binary model")
    };
    assert!(binary.0.g.spectral_norm);
    let plain = RunConfig::parse(&base("binary", "hinge", "")).expect("parses");
    let ModelConfig::Binary(binary) = plain.model else {
        panic!("a binary model")
    };
    assert!(!binary.0.g.spectral_norm, "off unless asked for");
}

fn base(model: &str, loss: &str, extra: &str) -> String {
    format!(
        "name = \"bad\"\n[data]\nkind = \"two_moons\"\nn = 50\n[model]\nkind = \"{model}\"\n[loss]\nkind = \"{loss}\"\n{extra}"
    )
}

/// (text, field, line): the error names the field and, where given, the line.
#[rstest]
#[case::unknown_top_level_field("name = \"x\"\nsed = 3\n", "sed", Some(2))]
#[case::syntax_error("name = \"x\"\n[train\n", "", Some(2))]
#[case::missing_name("[data]\nkind = \"sine\"\n", "name", None)]
#[case::unknown_model_field(&base("binary", "hinge", "[model.g]\nhiden = [3]\n"), "model.g.hiden", Some(10))]
#[case::unknown_model_kind(&base("binar", "hinge", ""), "model.kind", Some(6))]
#[case::unknown_loss_kind(&base("binary", "hing", ""), "loss.kind", Some(8))]
#[case::unknown_loss_field(&base("binary", "hinge", "margn = 2\n"), "loss.margn", Some(9))]
#[case::loss_wrong_type(&base("binary", "hinge", "margin = \"big\"\n"), "loss.margin", Some(9))]
#[case::epochs_wrong_type(&base("binary", "hinge", "[train]\nepochs = \"ten\"\n"), "train.epochs", Some(10))]
#[case::lr_wrong_type(&base("binary", "hinge", "[train.optimizer]\nkind = \"adam\"\nlr = \"fast\"\n"), "train.optimizer.lr", Some(11))]
#[case::spectral_norm_wrong_type(&base("binary", "hinge", "[model.g]\nspectral_norm = \"yes\"\n"), "model.g.spectral_norm", Some(10))]
#[case::width_wrong_type(&base("binary", "hinge", "[model.g]\nhidden = [64, \"x\"]\n"), "model.g.hidden", Some(10))]
#[case::negative_count(&base("binary", "hinge", "[train]\nbatch_size = -4\n"), "train.batch_size", Some(10))]
#[case::negative_learning_rate(&base("binary", "hinge", "[train]\noptimizer = { kind = \"adam\", lr = -0.1 }\n"), "train.optimizer.lr", Some(10))]
#[case::zero_epochs(&base("binary", "hinge", "[train]\nepochs = 0\n"), "train.epochs", Some(10))]
#[case::bad_momentum(&base("binary", "hinge", "[train]\noptimizer = { kind = \"sgd\", lr = 0.1, momentum = 1.5 }\n"), "train.optimizer.momentum", Some(10))]
#[case::negative_margin(&base("binary", "hinge", "margin = -1.0\n"), "loss.margin", Some(9))]
#[case::data_field_of_another_kind("name = \"x\"\n[data]\nkind = \"two_moons\"\nclasses = 3\n[model]\nkind = \"binary\"\n[loss]\nkind = \"hinge\"\n", "data.classes", Some(4))]
#[case::test_fraction_out_of_range("name = \"x\"\n[data]\nkind = \"two_moons\"\ntest_fraction = 1.5\n[model]\nkind = \"binary\"\n[loss]\nkind = \"hinge\"\n", "data.test_fraction", Some(4))]
#[case::data_noise_negative("name = \"x\"\n[data]\nkind = \"two_moons\"\nnoise = -1.0\n[model]\nkind = \"binary\"\n[loss]\nkind = \"hinge\"\n", "data.noise", Some(4))]
#[case::model_does_not_fit_the_data(&base("regression", "energy", ""), "model.kind", Some(6))]
#[case::loss_does_not_fit_the_model(&base("binary", "nt_xent", ""), "loss.kind", Some(8))]
#[case::search_restarts_zero("name = \"x\"\n[data]\nkind = \"sine\"\n[model]\nkind = \"implicit_regression\"\nsearch = { restarts = 0 }\n[loss]\nkind = \"nll\"\n", "model.search.restarts", Some(6))]
#[case::dfo_samples_zero("name = \"x\"\n[data]\nkind = \"sine\"\n[model]\nkind = \"implicit_regression\"\nsearch = { kind = \"dfo\", samples = 0 }\n[loss]\nkind = \"nll\"\n", "model.search.samples", Some(6))]
#[case::dfo_shrink_out_of_range("name = \"x\"\n[data]\nkind = \"sine\"\n[model]\nkind = \"implicit_regression\"\nsearch = { kind = \"dfo\", shrink = 1.5 }\n[loss]\nkind = \"nll\"\n", "model.search.shrink", Some(6))]
#[case::search_field_of_another_kind("name = \"x\"\n[data]\nkind = \"sine\"\n[model]\nkind = \"implicit_regression\"\nsearch = { kind = \"dfo\", restarts = 4 }\n[loss]\nkind = \"nll\"\n", "model.search.restarts", Some(6))]
#[case::unknown_search_kind("name = \"x\"\n[data]\nkind = \"sine\"\n[model]\nkind = \"implicit_regression\"\nsearch = { kind = \"annealing\" }\n[loss]\nkind = \"nll\"\n", "model.search.kind", Some(6))]
#[case::langevin_final_descent("name = \"x\"\n[data]\nkind = \"sine\"\n[model]\nkind = \"implicit_regression\"\nsearch = { kind = \"langevin\", descent = { steps = 0 } }\n[loss]\nkind = \"nll\"\n", "model.search.descent.steps", Some(6))]
#[case::no_counter_examples("name = \"x\"\n[data]\nkind = \"sine\"\n[model]\nkind = \"implicit_regression\"\ny_range = { counter_examples = { n = 0 } }\n[loss]\nkind = \"nll\"\n", "model.y_range.counter_examples.n", Some(6))]
#[case::multimodal_too_many_modes("name = \"x\"\n[data]\nkind = \"multimodal\"\ndim = 1\nmodes = 3\n[model]\nkind = \"implicit_regression\"\n[loss]\nkind = \"nll\"\n", "data.modes", Some(5))]
#[case::y_range_inverted("name = \"x\"\n[data]\nkind = \"sine\"\n[model]\nkind = \"regression\"\n[model.y_range]\nlo = 2.0\nhi = 1.0\n[loss]\nkind = \"energy\"\n", "model.y_range.hi", Some(8))]
#[case::latent_beta_negative("name = \"x\"\n[data]\nkind = \"sine\"\n[model]\nkind = \"latent\"\n[model.latent]\nbeta = -1.0\n[loss]\nkind = \"energy\"\n", "model.latent.beta", Some(7))]
#[case::unknown_metric(&base("binary", "hinge", "[eval]\nmetric = \"coverage\"\n"), "eval.metric", Some(10))]
#[case::bad_name("name = \"../up\"\n[data]\nkind = \"sine\"\n[model]\nkind = \"regression\"\n[loss]\nkind = \"energy\"\n", "name", Some(1))]
#[case::no_threads(&format!("threads = 0\n{}", base("binary", "hinge", "")), "threads", Some(1))]
#[case::inline_table_value("name = \"x\"\n[data]\nkind = \"two_moons\"\n[model]\nkind = \"binary\"\ng = { hidden = [8], activation = \"tanhh\" }\n[loss]\nkind = \"hinge\"\n", "model.g.activation", Some(6))]
#[case::inline_table_check("name = \"x\"\n[data]\nkind = \"sine\"\n[model]\nkind = \"implicit_regression\"\ny_range = { lo = -1.0, hi = 1.0, epsilon = -0.5 }\n[loss]\nkind = \"nll\"\n", "model.y_range.epsilon", Some(6))]
#[case::multi_line_array_check("name = \"x\"\n[data]\nkind = \"two_moons\"\n[model]\nkind = \"binary\"\n[model.g]\nactivation = \"relu\"\nhidden = [\n  64,\n  0,\n]\n[loss]\nkind = \"hinge\"\n", "model.g.hidden", Some(8))]
#[case::multi_line_array_type("name = \"x\"\n[data]\nkind = \"two_moons\"\n[model]\nkind = \"binary\"\n[model.g]\nactivation = \"relu\"\nhidden = [\n  64,\n  \"x\",\n]\n[loss]\nkind = \"hinge\"\n", "model.g.hidden", Some(8))]
#[case::multi_line_array_in_inline_table("name = \"x\"\n[data]\nkind = \"two_moons\"\n[model]\nkind = \"binary\"\ng = { activation = \"relu\", hidden = [\n  64,\n  -3,\n] }\n[loss]\nkind = \"hinge\"\n", "model.g.hidden", Some(6))]
#[case::no_test_rows(&base("binary", "hinge", "").replace("n = 50", "n = 50\ntest_fraction = 0.0"), "data.test_fraction", Some(5))]
#[case::too_few_rows_for_a_test_row(&base("binary", "hinge", "").replace("n = 50", "n = 2"), "data.test_fraction", Some(2))]
#[case::one_test_row_for_pairs("name = \"x\"\n[data]\nkind = \"blobs\"\nn = 5\n[model]\nkind = \"siamese\"\n[loss]\nkind = \"nt_xent\"\n[train]\nbatch_size = 4\n", "data.test_fraction", Some(2))]
#[case::threads_too_many(&format!("threads = 1099511627776\n{}", base("binary", "hinge", "")), "threads", Some(1))]
#[case::threads_wrapping(&format!("threads = 4294967297\n{}", base("binary", "hinge", "")), "threads", Some(1))]
#[case::plot_grid_bomb(&base("binary", "hinge", "[eval]\nplot_grid = 100000\n"), "eval.plot_grid", Some(10))]
#[case::hidden_bomb(&base("binary", "hinge", "[model.g]\nhidden = [100000, 100000, 100000]\n"), "model.g.hidden", Some(10))]
#[case::grid_points_bomb("name = \"x\"\n[data]\nkind = \"sine\"\n[model]\nkind = \"implicit_regression\"\ny_range = { grid_points = 100000000000 }\n[loss]\nkind = \"nll\"\n", "model.y_range.grid_points", Some(6))]
#[case::name_too_long(&format!("name = \"{}\"\n[data]\nkind = \"sine\"\n[model]\nkind = \"regression\"\n[loss]\nkind = \"energy\"\n", "n".repeat(256)), "name", Some(1))]
#[case::unknown_device(&format!("device = \"tpu\"\n{}", base("binary", "hinge", "")), "device", Some(1))]
#[case::array_of_train_tables("name = \"x\"\n[[train]]\nepochs = 1\n[data]\nkind = \"sine\"\n[model]\nkind = \"regression\"\n[loss]\nkind = \"energy\"\n", "train", Some(2))]
#[case::nt_xent_batch_too_big("name = \"x\"\n[data]\nkind = \"blobs\"\nn = 10000000\n[model]\nkind = \"siamese\"\n[loss]\nkind = \"nt_xent\"\n[train]\nbatch_size = 5000000\n", "train.batch_size", Some(10))]
fn bad_configs_name_the_field_and_line(
    #[case] text: &str,
    #[case] field: &str,
    #[case] line: Option<usize>,
) {
    let err = RunConfig::parse(text).expect_err("must be rejected");
    let message = err.to_string();
    if !field.is_empty() {
        assert_eq!(err.field(), Some(field), "{message}");
        assert!(message.contains(&format!("`{field}`")), "{message}");
    }
    assert_eq!(err.line(), line, "{message}");
    if let Some(line) = line {
        assert!(message.contains(&format!("line {line}")), "{message}");
    }
}

#[test]
fn errors_in_a_file_name_the_file() {
    let dir = TempDir::new("file");
    let path = dir.file(
        "typo.toml",
        &base("binary", "hinge", "[train]\nepoch = 5\n"),
    );
    let message = RunConfig::load(&path).expect_err("typo").to_string();
    assert!(
        message.starts_with(&path.display().to_string()),
        "{message}"
    );
    assert!(
        message.contains("line 10") && message.contains("`train.epoch`"),
        "{message}"
    );
    assert!(
        message.contains("expected one of"),
        "the valid fields are listed: {message}"
    );
    let missing = RunConfig::load(&dir.path().join("nope.toml")).expect_err("no file");
    assert!(matches!(missing, ConfigError::Io { .. }), "{missing}");
}

fn binary_config() -> RunConfig {
    RunConfig::parse(&base("binary", "hinge", "[train]\nepochs = 3\n")).expect("valid")
}

#[test]
fn overrides_change_values_anywhere_in_the_config() {
    let sets = [
        "train.epochs=7",
        "train.optimizer.lr=0.5",
        "model.g.hidden=[8, 4]",
        "name=renamed",
        "data.n=64",
        "data.test_fraction=0.5",
        "loss={ kind = \"log\" }",
        "eval.plot_grid=10",
    ];
    let config = binary_config()
        .with_overrides(&sets.map(String::from))
        .expect("applies");
    assert_eq!(config.train.epochs, 7);
    assert_eq!(
        config.train.optimizer,
        ebm_arch::OptimizerConfig::Adam {
            lr: 0.5,
            weight_decay: 0.0
        }
    );
    let ModelConfig::Binary(model) = &config.model else {
        panic!("binary")
    };
    assert_eq!(model.0.g.hidden, [8, 4]);
    assert_eq!(config.name, "renamed");
    assert_eq!(config.data.test_fraction, 0.5);
    assert_eq!(config.loss.kind_name(), "log");
    assert_eq!(config.eval.plot_grid, 10);
    // An optional field that the file left out can be set too.
    let csv = RunConfig::load(&configs_dir().join("csv_example.toml"))
        .expect("loads")
        .with_overrides(&["data.features=[\"petal_width\"]".into()])
        .expect("applies");
    let ebm_data::DataConfig::Csv(c) = &csv.data.source else {
        panic!("csv")
    };
    assert_eq!(
        c.features.as_deref(),
        Some(&["petal_width".to_string()][..])
    );
    // A method's loss switches by its table.
    let vicreg = RunConfig::load(&configs_dir().join("ntxent.toml"))
        .expect("loads")
        .with_overrides(&["loss={ kind = \"vicreg\" }".into()])
        .expect("applies");
    assert!(matches!(
        vicreg.loss,
        LossSection::Method(ObjectiveConfig::Vicreg(_))
    ));
}

#[rstest]
#[case::unknown_key("train.epoch=5", "train.epoch", "unknown key")]
#[case::unknown_table("training.epochs=5", "training.epochs", "unknown key")]
#[case::unknown_nested_key("model.g.hiden=[3]", "model.g.hiden", "unknown key")]
#[case::wrong_type("train.epochs=many", "train.epochs", "invalid type")]
#[case::negative_learning_rate(
    "train.optimizer.lr=-1",
    "train.optimizer.lr",
    "must be finite and > 0"
)]
#[case::value_is_not_a_table("seed.x=1", "seed.x", "not a table")]
#[case::no_equals("train.epochs", "", "expected key=value")]
fn bad_overrides_name_the_key(#[case] set: &str, #[case] field: &str, #[case] says: &str) {
    let err = binary_config()
        .with_overrides(&[set.to_string()])
        .expect_err("must be rejected");
    let message = err.to_string();
    assert!(matches!(err, ConfigError::Override { .. }), "{message}");
    assert!(message.starts_with(&format!("--set {set}")), "{message}");
    assert!(message.contains(says), "{message}");
    if !field.is_empty() {
        assert_eq!(err.field(), Some(field), "{message}");
        assert!(message.contains(&format!("`{field}`")), "{message}");
    }
}

#[test]
fn an_unknown_override_key_lists_the_keys_of_its_table() {
    let message = binary_config()
        .with_overrides(&["train.epoch=5".into()])
        .expect_err("typo")
        .to_string();
    for key in ["optimizer", "batch_size", "epochs", "probe_size"] {
        assert!(message.contains(key), "{key} not in: {message}");
    }
}

#[test]
fn cuda_is_a_clear_error_where_there_is_none() {
    // `check` (and so parsing) refuses it before any training, naming the field and line.
    match RunConfig::parse(&format!(
        "device = \"cuda\"\n{}",
        base("binary", "hinge", "")
    )) {
        Ok(config) => {
            assert!(tch::Cuda::is_available());
            config.device.device().expect("a CUDA device");
        }
        Err(e) => {
            assert!(!tch::Cuda::is_available(), "{e}");
            assert_eq!((e.field(), e.line()), (Some("device"), Some(1)));
            let message = e.to_string();
            assert!(
                message.contains("cuda") && message.contains("device = \"cpu\""),
                "{message}"
            );
        }
    }
}

#[test]
fn setting_another_kind_drops_the_old_kinds_fields() {
    let hinge = RunConfig::parse(&base("binary", "hinge", "margin = 2.0\n")).expect("valid");
    let log = hinge
        .clone()
        .with_overrides(&["loss.kind=log".to_string()])
        .expect("a new kind starts afresh");
    assert_eq!(log.loss.kind_name(), "log");
    // The same kind keeps its fields; a field set after the kind applies to it.
    let same = hinge
        .with_overrides(&["loss.kind=hinge".to_string()])
        .expect("same kind");
    assert_eq!(
        same.loss,
        LossSection::Energy(ebm_loss::LossConfig::Hinge { margin: 2.0 })
    );
    let square = same
        .with_overrides(&[
            "loss.kind=square_square".to_string(),
            "loss.margin=0.5".to_string(),
        ])
        .expect("kind, then its field");
    assert_eq!(
        square.loss,
        LossSection::Energy(ebm_loss::LossConfig::SquareSquare { margin: 0.5 })
    );
}
