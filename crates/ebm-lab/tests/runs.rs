//! End-to-end runs, shrunk to a second or so each: the report files, determinism, a CSV
//! file, failures that leave nothing behind, and the quick demo.

mod common;

use common::{configs_dir, run_in, tiny, TempDir};
use ebm_arch::Architecture;
use ebm_lab::{demo, DemoOptions, Metrics, ProgressMode, RunConfig, RunError};
use std::path::Path;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn files_of(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .expect("a report folder")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    files
}

#[test]
fn tiny_runs_write_every_report_file() {
    let runs = TempDir::new("report");
    // (config, its plot, labels.json, predictions.csv, calibration.png)
    for (file, plot, labels, predictions, calibration) in [
        (
            "binary.toml",
            Some("decision_regions.png"),
            true,
            true,
            true,
        ),
        (
            "implicit_regression.toml",
            Some("energy_landscape.png"),
            false,
            true,
            false,
        ),
        (
            "contrastive_divergence.toml",
            Some("density.png"),
            false,
            false,
            false,
        ),
        ("ntxent.toml", None, true, false, false),
    ] {
        let loaded = tiny(file, &[]);
        let outcome = run_in(&loaded, runs.path()).unwrap_or_else(|e| panic!("{file}: {e}"));
        let mut expected = vec![
            "config.toml",
            "curves.png",
            "history.csv",
            "metrics.json",
            "model.safetensors",
            "optimizer.safetensors",
            "run.json",
            "scaler.json",
        ];
        expected.extend(plot);
        for (present, name) in [
            (labels, "labels.json"),
            (predictions, "predictions.csv"),
            (calibration, "calibration.png"),
        ] {
            if present {
                expected.push(name);
            }
        }
        expected.sort();
        assert_eq!(files_of(&outcome.dir), expected, "{file}");
        assert_eq!(outcome.files, expected, "{file}");
        assert_eq!(
            outcome.dir.parent(),
            Some(runs.path().join(&loaded.config.name).as_path())
        );

        let text = read(&outcome.dir.join("metrics.json"));
        let metrics: Metrics = serde_json::from_str(&text).expect("metrics.json holds the metrics");
        let written = serde_json::to_string_pretty(&outcome.metrics).expect("json") + "\n";
        assert_eq!(text, written);
        assert_eq!(metrics.epochs, loaded.config.train.epochs);
        assert!(metrics.value.is_finite(), "{file}: {metrics:?}");
        assert!(metrics.metrics.contains_key(&metrics.metric), "{file}");

        let history = read(&outcome.dir.join("history.csv"));
        let mut lines = history.lines();
        assert_eq!(
            lines.next(),
            Some("epoch,loss,gap,spread_std,spread_range,sample_gap,sample_grad_norm")
        );
        assert_eq!(lines.count(), loaded.config.train.epochs, "{file}");

        // The resolved config is a valid config, and the same one.
        let resolved = RunConfig::parse(&read(&outcome.dir.join("config.toml")))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(resolved, loaded.config, "{file}");

        let info: serde_json::Value =
            serde_json::from_str(&read(&outcome.dir.join("run.json"))).expect("json");
        assert!(info["wall_seconds"].as_f64().is_some_and(|s| s >= 0.0));
        for png in expected.iter().filter(|f| f.ends_with(".png")) {
            let bytes = std::fs::read(outcome.dir.join(png)).expect("png");
            assert!(bytes.starts_with(b"\x89PNG"), "{file}: {png} is not a PNG");
        }
        // No temporary folder is left beside the report.
        let siblings = files_of(outcome.dir.parent().expect("parent"));
        assert!(
            siblings.iter().all(|s| !s.starts_with(".tmp")),
            "{siblings:?}"
        );
    }
}

#[test]
fn the_checkpoint_loads_into_a_fresh_model() {
    let runs = TempDir::new("checkpoint");
    let loaded = tiny("binary.toml", &[]);
    let outcome = run_in(&loaded, runs.path()).expect("runs");
    let data = loaded.config.data.source.generate(0).expect("data");
    let ebm_lab::ModelConfig::Binary(config) = &loaded.config.model else {
        panic!("binary.toml is a binary model")
    };
    let mut model = config
        .0
        .build_binary(data.x_dim(), tch::Device::Cpu)
        .expect("model");
    ebm_arch::load_checkpoint(
        model.var_store_mut(),
        &outcome.dir.join("model.safetensors"),
    )
    .expect("the checkpoint fits the architecture of its config");
}

#[test]
fn the_same_config_and_seed_give_an_identical_metrics_file() {
    let runs = TempDir::new("determinism");
    // Random restarts, a jittered grid and Langevin chains: every source of randomness.
    for file in ["implicit_regression.toml", "contrastive_divergence.toml"] {
        let loaded = tiny(file, &["train.epochs=3"]);
        let first = run_in(&loaded, runs.path()).expect("first run");
        let second = run_in(&loaded, runs.path()).expect("second run");
        assert_ne!(first.dir, second.dir, "a rerun never overwrites a report");
        for name in ["metrics.json", "history.csv"] {
            assert_eq!(
                read(&first.dir.join(name)),
                read(&second.dir.join(name)),
                "{file}: {name} differs between two runs of the same config"
            );
        }
        // The comparison can fail: another seed gives other numbers.
        let reseeded = tiny(file, &["train.epochs=3", "seed=99"]);
        let third = run_in(&reseeded, runs.path()).expect("third run");
        assert_ne!(
            read(&first.dir.join("history.csv")),
            read(&third.dir.join("history.csv")),
            "{file}"
        );
    }
}

#[test]
fn a_csv_config_runs_end_to_end() {
    let runs = TempDir::new("csv");
    let outcome = run_in(&tiny("csv_example.toml", &[]), runs.path()).expect("runs");
    // 150 rows: 30 test rows (10 of each species), 12 of the other 120 calibrate β.
    assert_eq!((outcome.metrics.n_train, outcome.metrics.n_test), (108, 30));
    assert_eq!(outcome.metrics.n_calibration, Some(12));
    assert_eq!(outcome.metrics.data, "csv");
    assert!(outcome.files.contains(&"decision_regions.png".to_string()));

    // A user's own file beside their config, with a relative path and string labels.
    let mine = TempDir::new("csv-own");
    let mut csv = String::from("u,v,label\n");
    for i in 0..40 {
        let (u, v) = ((i % 8) as f64 * 0.1, (i / 8) as f64 * 0.2);
        csv.push_str(&format!(
            "{u},{v},{}\n",
            if u + v > 0.8 { "high" } else { "low" }
        ));
    }
    mine.file("points.csv", &csv);
    let config = mine.file(
        "mine.toml",
        "name = \"mine\"\n[data]\nkind = \"csv\"\npath = \"points.csv\"\ntarget = \"label\"\ntask = \"binary\"\n[model]\nkind = \"binary\"\n[loss]\nkind = \"log\"\n[train]\nepochs = 2\nbatch_size = 8\n",
    );
    let loaded = RunConfig::load_with(&config, &[]).expect("loads");
    let outcome = run_in(&loaded, runs.path()).expect("runs");
    let calibration = outcome.metrics.n_calibration.unwrap_or(0) as i64;
    assert_eq!(
        outcome.metrics.n_train + calibration + outcome.metrics.n_test,
        40
    );
}

#[test]
fn integer_class_labels_are_classes_not_indices() {
    // Years as labels: two classes (not 2021), stored with the run in the model's order.
    let runs = TempDir::new("years");
    let mine = TempDir::new("years-own");
    let mut csv = String::from("u,v,year\n");
    for i in 0..60 {
        let (u, v) = ((i % 10) as f64 * 0.1, (i / 10) as f64 * 0.2);
        csv.push_str(&format!("{u},{v},{}\n", if u > 0.45 { 2020 } else { 2019 }));
    }
    mine.file("years.csv", &csv);
    let config = mine.file(
        "years.toml",
        "name = \"years\"\n[data]\nkind = \"csv\"\npath = \"years.csv\"\ntarget = \"year\"\ntask = \"classification\"\n[model]\nkind = \"multi_class\"\n[loss]\nkind = \"log\"\n[train]\nepochs = 60\nbatch_size = 16\n",
    );
    let loaded = RunConfig::load_with(&config, &[]).expect("loads");
    let outcome = run_in(&loaded, runs.path()).expect("runs");
    assert_eq!(outcome.metrics.n_classes, Some(2));
    let labels: serde_json::Value =
        serde_json::from_str(&read(&outcome.dir.join("labels.json"))).expect("json");
    assert_eq!(labels["classes"], serde_json::json!(["2019", "2020"]));
    assert_eq!(labels["kind"], "classes");
    // A split of u at 0.45 is learnt, far from the 0.0 the raw-index model reported.
    let accuracy = outcome.metrics.metrics["train_accuracy"];
    assert!(accuracy > 0.9, "train accuracy {accuracy}");
}

#[test]
fn a_failing_run_leaves_no_folder_behind() {
    let runs = TempDir::new("failing");
    // A missing CSV file is refused by the config's check, before any run.
    let loaded = RunConfig::load_with(&configs_dir().join("csv_example.toml"), &[]).expect("loads");
    let err = loaded
        .config
        .with_overrides(&["data.path=\"/nonexistent/flowers.csv\"".to_string()])
        .expect_err("no file");
    assert_eq!(err.field(), Some("data.path"), "{err}");
    assert!(
        err.to_string().contains("/nonexistent/flowers.csv"),
        "{err}"
    );

    // The data cannot be read: a cell of the CSV file is not a number.
    let bad = TempDir::new("failing-csv");
    let path = bad.file(
        "flowers.csv",
        "petal_length,petal_width,species\n1.0,0.2,setosa\n4.5,wide,versicolor\n",
    );
    let broken = tiny(
        "csv_example.toml",
        &[&format!("data.path={:?}", path.display().to_string())],
    );
    let err = run_in(&broken, runs.path()).expect_err("a bad cell");
    assert!(matches!(err, RunError::Data(_)), "{err}");
    assert!(err.to_string().contains("line 3"), "{err}");
    assert_eq!(runs.tree(), Vec::<String>::new());

    // Training diverges: an absurd learning rate makes the loss infinite.
    let diverging = tiny(
        "regression.toml",
        &["train.optimizer.lr=1e30", "train.epochs=5"],
    );
    let err = run_in(&diverging, runs.path()).expect_err("diverges");
    assert!(
        matches!(
            err,
            RunError::Model(ebm_core::EbmError::Diverged { epoch: 1, .. })
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("train.optimizer.lr (now 1e30)"),
        "{err}"
    );
    assert_eq!(runs.tree(), Vec::<String>::new());

    // Earlier reports of the same config are kept.
    let good = tiny("regression.toml", &[]);
    let kept = run_in(&good, runs.path()).expect("runs").dir;
    run_in(&diverging, runs.path()).expect_err("diverges");
    assert_eq!(files_of(kept.parent().expect("parent")).len(), 1);
}

#[test]
fn the_quick_demo_runs_the_whole_suite() {
    let runs = TempDir::new("demo");
    let report = demo(&DemoOptions {
        configs_dir: configs_dir(),
        runs_dir: runs.path().to_path_buf(),
        quick: true,
        full: true,
        progress: ProgressMode::Quiet,
    })
    .expect("the demo runs");
    for row in &report.rows {
        assert!(row.outcome.is_ok(), "{}: {:?}", row.config, row.outcome);
    }
    assert_eq!(
        report.rows.len(),
        ebm_lab::DEMO_CONFIGS.len() + ebm_lab::FULL_CONFIGS.len()
    );
    let dir = &report.dir;
    assert_eq!(files_of(dir), ["collapse.png", "summary.md"]);
    let summary = read(&dir.join("summary.md"));
    for file in ebm_lab::DEMO_CONFIGS {
        assert!(summary.contains(file.trim_end_matches(".toml")), "{file}");
    }
    let table = ebm_lab::demo::summary_table(&report.rows);
    for column in [
        "config",
        "architecture",
        "loss",
        "metric",
        "value",
        "collapsed",
    ] {
        assert!(
            table.lines().next().is_some_and(|h| h.contains(column)),
            "{table}"
        );
    }
}

/// A run stopped by SIGTERM or SIGINT removes its unfinished folder and dies of the signal.
#[test]
fn a_signalled_run_leaves_nothing_behind() {
    use std::os::unix::process::ExitStatusExt;
    for (signal, number) in [("-TERM", 15), ("-INT", 2)] {
        let runs = TempDir::new("signal");
        let config = configs_dir().join("regression.toml");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ebm-lab"))
            .args([
                "run",
                &config.display().to_string(),
                "--quiet",
                "--runs-dir",
            ])
            .arg(runs.path())
            .args(["--set", "train.epochs=100000"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("ebm-lab starts");
        // Wait for the unfinished folder to appear.
        let parent = runs.path().join("regression");
        let started = std::time::Instant::now();
        let unfinished = || {
            std::fs::read_dir(&parent).is_ok_and(|entries| {
                entries
                    .flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
            })
        };
        while !unfinished() {
            assert!(
                started.elapsed().as_secs() < 60,
                "no run folder appeared: {:?}",
                child.try_wait()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let status = std::process::Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let exit = child.wait().expect("it stops");
        assert_eq!(exit.signal(), Some(number), "{signal}: {exit:?}");
        assert_eq!(
            runs.tree(),
            Vec::<String>::new(),
            "{signal}: something was left"
        );
    }
}
