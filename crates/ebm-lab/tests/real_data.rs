//! Real-data features end to end: scaling fitted on the training rows only, predict and eval
//! from a run folder, broken run folders, resume, missing values, stratified splits, sweeps.

mod common;

use common::{run_in, TempDir};
use ebm_arch::OptimizerState;
use ebm_lab::{Resume, RunConfig, RunError, RunOptions, TrainedRun};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A CSV of two features and a three-class label, classes by the sign pattern of the
/// features, with the test rows (by seed) free to be anything: values are spread widely so
/// that the scaler's mean depends on which rows it sees.
fn classes_csv(n: usize) -> String {
    let mut csv = String::from("u,v,kind\n");
    for i in 0..n {
        let u = (i as f64 * 0.37).sin() * 10.0 + (i % 7) as f64;
        let v = (i as f64 * 0.11).cos() * 3.0 - 50.0;
        let label = if u > 2.0 {
            "big"
        } else if v > -50.0 {
            "tall"
        } else {
            "small"
        };
        csv.push_str(&format!("{u},{v},{label}\n"));
    }
    csv
}

fn regression_csv(n: usize) -> String {
    let mut csv = String::from("a,b,target\n");
    for i in 0..n {
        let a = (i as f64 * 0.61).sin() * 4.0 + 100.0;
        let b = (i as f64 * 0.23).cos();
        csv.push_str(&format!(
            "{a},{b},{}\n",
            300.0 + 20.0 * (a - 100.0) + 5.0 * b
        ));
    }
    csv
}

fn config(dir: &TempDir, name: &str, data: &str, model: &str, extra: &str) -> PathBuf {
    dir.file(
        &format!("{name}.toml"),
        &format!(
            "name = \"{name}\"\nseed = 3\n[data]\n{data}\n[model]\n{model}\n[loss]\nkind = \"hinge\"\n[train]\nepochs = 15\nbatch_size = 16\n{extra}"
        ),
    )
}

fn load(path: &Path) -> ebm_lab::LoadedConfig {
    RunConfig::load_with(path, &[]).unwrap_or_else(|e| panic!("{e}"))
}

/// The rows of predictions.csv, split into (header, rows).
fn csv_rows(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.expect("row").iter().map(String::from).collect())
        .collect();
    (header, rows)
}

#[test]
fn the_scaler_sees_the_training_rows_only() {
    let dir = TempDir::new("scaler");
    let runs = TempDir::new("scaler-runs");
    let data = dir.file("points.csv", &classes_csv(120));
    let path = config(
        &dir,
        "scaled",
        "kind = \"csv\"\npath = \"points.csv\"\ntarget = \"kind\"\ntask = \"classification\"\ntest_fraction = 0.3",
        "kind = \"multi_class\"",
        "",
    );
    let outcome = run_in(&load(&path), runs.path()).expect("runs");
    let scaler: serde_json::Value =
        serde_json::from_str(&read(&outcome.dir.join("scaler.json"))).expect("json");
    assert_eq!(scaler["x"]["kind"], "standard");
    // The rows of each side, from predictions.csv's split column and the file itself.
    let (_, predictions) = csv_rows(&read(&outcome.dir.join("predictions.csv")));
    let (_, rows) = csv_rows(&read(&data));
    // The scaler's training rows are those not held out for testing (the calibration rows
    // are training rows of the split, held out of the model's training only).
    let mean_of = |training_only: bool| -> f64 {
        let us: Vec<f64> = predictions
            .iter()
            .zip(&rows)
            .filter(|(p, _)| !training_only || p[1] != "test")
            .map(|(_, r)| r[0].parse::<f64>().expect("a number"))
            .collect();
        us.iter().sum::<f64>() / us.len() as f64
    };
    let offset = scaler["x"]["offset"][0].as_f64().expect("a number");
    assert!(predictions.iter().any(|p| p[1] == "calibration"));
    let (train, all) = (mean_of(true), mean_of(false));
    assert!(
        (offset - train).abs() < 1e-4,
        "offset {offset}, training mean {train}"
    );
    // The check can fail: the mean of every row is elsewhere.
    assert!(
        (offset - all).abs() > 1e-3,
        "offset {offset} equals the mean of all rows {all}"
    );
    assert_eq!(
        predictions.iter().filter(|p| p[1] == "test").count() as i64,
        outcome.metrics.n_test
    );
}

#[test]
fn predict_on_the_training_file_reproduces_the_run_and_eval_its_metrics() {
    let dir = TempDir::new("predict");
    let runs = TempDir::new("predict-runs");
    let data = dir.file("points.csv", &classes_csv(150));
    let path = config(
        &dir,
        "classes",
        "kind = \"csv\"\npath = \"points.csv\"\ntarget = \"kind\"\ntask = \"classification\"",
        "kind = \"multi_class\"",
        "",
    );
    let outcome = run_in(&load(&path), runs.path()).expect("runs");
    let run = TrainedRun::load(&outcome.dir).expect("loads");
    assert_eq!(run.classes, ["big", "small", "tall"]);
    let table = run.predict_csv(&data).expect("predicts");
    let (header, own) = csv_rows(&read(&outcome.dir.join("predictions.csv")));
    assert_eq!(header[0..3], ["row", "split", "predicted"]);
    assert_eq!(table.header[0], "row");
    assert_eq!(table.header[1..], header[2..]);
    assert_eq!(table.rows.len(), own.len());
    for (mine, theirs) in table.rows.iter().zip(&own) {
        assert_eq!(mine[0], theirs[0]);
        assert_eq!(mine[1..], theirs[2..], "row {}", mine[0]);
    }
    // Probabilities sum to 1 and are the run's calibrated β.
    let k = 3;
    for row in &table.rows {
        let p: f64 = row[2 + k..2 + 2 * k]
            .iter()
            .map(|c| c.parse::<f64>().expect("p"))
            .sum();
        assert!((p - 1.0).abs() < 1e-9);
    }
    // eval on the test rows alone gives the run's test accuracy.
    let (_, rows) = csv_rows(&read(&data));
    let mut test_csv = String::from("u,v,kind\n");
    for (p, r) in own.iter().zip(&rows) {
        if p[1] == "test" {
            test_csv.push_str(&format!("{}\n", r.join(",")));
        }
    }
    let test_file = dir.file("test.csv", &test_csv);
    let metrics = run.evaluate_csv(&test_file).expect("evaluates");
    assert_eq!(metrics["n"] as i64, outcome.metrics.n_test);
    assert_eq!(
        metrics["accuracy"],
        outcome.metrics.metrics["test_accuracy"]
    );
    if let Some(ece) = outcome.metrics.metrics.get("test_ece") {
        assert!((metrics["ece"] - ece).abs() < 1e-12);
    }
    // A label the model never saw is an error naming it.
    let unknown = dir.file("unknown.csv", "u,v,kind\n1,2,huge\n");
    let err = run.evaluate_csv(&unknown).expect_err("unknown label");
    assert!(err.to_string().contains("\"huge\""), "{err}");
    // Columns out of order: an error naming them.
    let swapped = dir.file("swapped.csv", "v,u\n1,2\n");
    let err = run.predict_csv(&swapped).expect_err("wrong order");
    assert!(err.to_string().contains("order"), "{err}");
}

#[test]
fn regression_predictions_and_metrics_are_in_the_users_units() {
    let dir = TempDir::new("units");
    let runs = TempDir::new("units-runs");
    let data = dir.file("reg.csv", &regression_csv(120));
    let path = dir.file(
        "reg.toml",
        "name = \"reg\"\nseed = 1\n[data]\nkind = \"csv\"\npath = \"reg.csv\"\ntarget = \"target\"\ntask = \"regression\"\n[model]\nkind = \"regression\"\ng = { hidden = [] }\nsearch = { restarts = 2, steps = 50 }\n[loss]\nkind = \"energy\"\n[train]\nepochs = 150\nbatch_size = 16\noptimizer = { kind = \"adam\", lr = 0.03 }\n",
    );
    let outcome = run_in(&load(&path), runs.path()).expect("runs");
    let m = &outcome.metrics.metrics;
    // A linear target, a linear model: R² near 1 and an MSE in target units² (the target's
    // variance is about 20² · 8 = 3200; scaled units would give numbers below 1).
    assert!(m["test_r2"] > 0.99, "{m:?}");
    let (_, own) = csv_rows(&read(&outcome.dir.join("predictions.csv")));
    let (_, rows) = csv_rows(&read(&data));
    let errors: Vec<f64> = own
        .iter()
        .zip(&rows)
        .filter(|(p, _)| p[1] == "test")
        .map(|(p, r)| p[2].parse::<f64>().expect("y_hat") - r[2].parse::<f64>().expect("y"))
        .collect();
    let mse = errors.iter().map(|e| e * e).sum::<f64>() / errors.len() as f64;
    assert!(
        (mse - m["test_mse"]).abs() < 1e-6 * (1.0 + mse),
        "{mse} vs {}",
        m["test_mse"]
    );
    // Gradient descent from random starts: the same rows and seed give the same table.
    let run = TrainedRun::load(&outcome.dir).expect("loads");
    let table = run.predict_csv(&data).expect("predicts");
    for (mine, theirs) in table.rows.iter().zip(&own) {
        assert_eq!(mine[1..], theirs[2..]);
    }
}

#[test]
fn a_broken_run_folder_names_the_missing_piece() {
    let dir = TempDir::new("broken");
    let runs = TempDir::new("broken-runs");
    dir.file("points.csv", &classes_csv(60));
    let path = config(
        &dir,
        "broken",
        "kind = \"csv\"\npath = \"points.csv\"\ntarget = \"kind\"\ntask = \"classification\"",
        "kind = \"multi_class\"",
        "",
    );
    let outcome = run_in(&load(&path), runs.path()).expect("runs");
    let copy = |name: &str| -> PathBuf {
        let to = runs.path().join(name);
        std::fs::create_dir_all(&to).expect("mkdir");
        for entry in std::fs::read_dir(&outcome.dir).expect("read").flatten() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
        }
        to
    };
    for (file, broken) in [
        ("scaler.json", None),
        ("config.toml", None),
        ("model.safetensors", None),
        ("labels.json", None),
        ("model.safetensors", Some("not a checkpoint")),
        ("scaler.json", Some("{\"features\": 3}")),
    ] {
        let folder = copy(&format!("{file}-{}", broken.is_some()));
        match broken {
            None => std::fs::remove_file(folder.join(file)).expect("remove"),
            Some(text) => std::fs::write(folder.join(file), text).expect("write"),
        }
        let err = TrainedRun::load(&folder).expect_err("broken");
        assert!(matches!(err, RunError::RunFolder { .. }), "{file}: {err:?}");
        assert!(err.to_string().contains(file), "{file}: {err}");
    }
    let err = TrainedRun::load(&runs.path().join("nothing")).expect_err("no folder");
    assert!(err.to_string().contains("not a folder"), "{err}");
}

#[test]
fn resume_continues_from_the_checkpoint_into_a_new_folder() {
    let dir = TempDir::new("resume");
    let runs = TempDir::new("resume-runs");
    dir.file("points.csv", &classes_csv(90));
    let path = config(
        &dir,
        "again",
        "kind = \"csv\"\npath = \"points.csv\"\ntarget = \"kind\"\ntask = \"classification\"",
        "kind = \"multi_class\"",
        "",
    );
    let first = run_in(&load(&path), runs.path()).expect("runs");
    let loaded = RunConfig::load_with(&first.dir.join("config.toml"), &["train.epochs=2".into()])
        .expect("the run's config loads");
    let options = RunOptions {
        runs_dir: runs.path().to_path_buf(),
        progress: ebm_lab::ProgressMode::Quiet,
        resume: Some(Resume::from_dir(&first.dir)),
    };
    let resumed = ebm_lab::run(&loaded, &options).expect("resumes");
    assert_ne!(resumed.dir, first.dir);
    let info: serde_json::Value =
        serde_json::from_str(&read(&resumed.dir.join("run.json"))).expect("json");
    assert_eq!(info["resumed_from"], first.dir.display().to_string());
    // The optimiser continues: the first run's steps (its config's epochs of ⌈rows/batch⌉).
    let first_state =
        OptimizerState::load(&first.dir.join("optimizer.safetensors")).expect("state");
    let steps = first_state.steps().expect("steps");
    assert!(steps > 0);
    assert_eq!(
        info["optimizer_state"],
        format!("continued after {steps} steps")
    );
    let resumed_state =
        OptimizerState::load(&resumed.dir.join("optimizer.safetensors")).expect("state");
    assert!(resumed_state.steps().expect("steps") > steps);
    // Another optimiser starts fresh, and says so.
    let sgd = RunConfig::load_with(
        &first.dir.join("config.toml"),
        &[
            "train.epochs=1".into(),
            "train.optimizer={ kind = \"sgd\", lr = 0.01 }".into(),
        ],
    )
    .expect("the run's config loads");
    let switched = ebm_lab::run(&sgd, &options).expect("resumes with sgd");
    let info: serde_json::Value =
        serde_json::from_str(&read(&switched.dir.join("run.json"))).expect("json");
    assert_eq!(
        info["optimizer_state"],
        "fresh: the resumed run trained with adam, this one with sgd"
    );
    // A broken optimiser state stops the run before it writes anything.
    let before = std::fs::read_dir(runs.path().join("again"))
        .expect("runs")
        .count();
    std::fs::write(first.dir.join("optimizer.safetensors"), b"broken").expect("write");
    let err = ebm_lab::run(&loaded, &options).expect_err("a broken state");
    assert!(err.to_string().contains("optimizer.safetensors"), "{err}");
    assert_eq!(
        std::fs::read_dir(runs.path().join("again"))
            .expect("runs")
            .count(),
        before
    );
    // It starts where the first run ended, not from scratch.
    let fresh = run_in(
        &RunConfig::load_with(&path, &["train.epochs=2".into()]).expect("ok"),
        runs.path(),
    )
    .expect("runs");
    let first_epoch = |o: &ebm_lab::RunOutcome| o.history.epochs[0].loss;
    assert!(
        first_epoch(&resumed) < 0.5 * first_epoch(&fresh),
        "resumed {} vs fresh {}",
        first_epoch(&resumed),
        first_epoch(&fresh)
    );
}

#[test]
fn missing_cells_are_errors_or_dropped_rows_and_small_classes_refuse_to_split() {
    let dir = TempDir::new("missing");
    let runs = TempDir::new("missing-runs");
    let mut csv = classes_csv(60);
    csv.push_str("1,NA,big\n,2,small\n");
    dir.file("gaps.csv", &csv);
    let data = "kind = \"csv\"\npath = \"gaps.csv\"\ntarget = \"kind\"\ntask = \"classification\"";
    let path = config(&dir, "gaps", data, "kind = \"multi_class\"", "");
    let err = run_in(&load(&path), runs.path()).expect_err("a missing cell");
    assert!(
        err.to_string()
            .contains("line 62, column \"v\": missing value"),
        "{err}"
    );
    let path = config(
        &dir,
        "gaps",
        &format!("{data}\nmissing = \"drop_rows\""),
        "kind = \"multi_class\"",
        "",
    );
    let outcome = run_in(&load(&path), runs.path()).expect("runs");
    assert_eq!(outcome.metrics.n_dropped, Some(2));

    let mut csv = classes_csv(60);
    csv.push_str("1,2,lonely\n");
    dir.file("lonely.csv", &csv);
    let path = config(
        &dir,
        "lonely",
        "kind = \"csv\"\npath = \"lonely.csv\"\ntarget = \"kind\"\ntask = \"classification\"",
        "kind = \"multi_class\"",
        "",
    );
    let err = run_in(&load(&path), runs.path()).expect_err("one row of a class");
    assert!(err.to_string().contains("class \"lonely\" has 1"), "{err}");
    // Target scaling is for real-valued targets.
    let err = RunConfig::load_with(&path, &["data.target_scale=\"standard\"".into()])
        .expect_err("labels are not scaled");
    assert_eq!(err.field(), Some("data.target_scale"));
}

#[test]
fn a_sweep_summarises_every_combination_and_reports_failures() {
    let dir = TempDir::new("sweep");
    let runs = TempDir::new("sweep-runs");
    dir.file("points.csv", &classes_csv(60));
    let path = config(
        &dir,
        "sw",
        "kind = \"csv\"\npath = \"points.csv\"\ntarget = \"kind\"\ntask = \"classification\"",
        "kind = \"multi_class\"",
        "",
    );
    let options = ebm_lab::sweep::SweepOptions {
        config: path,
        seeds: vec![0, 1],
        grid: vec![
            ebm_lab::sweep::parse_grid("train.epochs=1,3").expect("grid"),
            // lvq2 passes the checks and fails at run time: energies must be positive.
            ebm_lab::sweep::parse_grid(r#"loss={ kind = "hinge" },{ kind = "lvq2" }"#)
                .expect("grid"),
        ],
        jobs: 2,
        runs_dir: runs.path().to_path_buf(),
        program: PathBuf::from(env!("CARGO_BIN_EXE_ebm-lab")),
    };
    let report = ebm_lab::sweep::sweep(&options).expect("sweeps");
    assert_eq!(report.runs.len(), 8);
    let failed = report.runs.iter().filter(|r| r.outcome.is_err()).count();
    assert_eq!(failed, 4, "{:#?}", report.runs);
    let mut files: Vec<String> = std::fs::read_dir(&report.dir)
        .expect("summary folder")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["runs.csv", "summary.csv", "summary.md", "test_accuracy.png"]
    );
    let md = read(&report.dir.join("summary.md"));
    assert!(
        md.contains("| 0/2 |") && md.contains("| 2/2 |") && md.contains("Failed runs"),
        "{md}"
    );
    // mean ± std of the seeds, as computed from the runs' own metrics.
    let accuracies: BTreeMap<u64, f64> = report
        .runs
        .iter()
        .filter(|r| r.point == ["train.epochs=3", r#"loss={ kind = "hinge" }"#])
        .map(|r| (r.seed, r.outcome.as_ref().expect("ok").1["test_accuracy"]))
        .collect();
    let mean = accuracies.values().sum::<f64>() / 2.0;
    let csv = read(&report.dir.join("summary.csv"));
    let line = csv
        .lines()
        .find(|l| {
            l.contains("train.epochs=3") && l.contains("hinge") && l.contains(",test_accuracy,")
        })
        .expect("a summary line");
    let fields: Vec<&str> = line.rsplitn(4, ',').collect();
    assert!(
        (fields[2].parse::<f64>().expect("mean") - mean).abs() < 1e-12,
        "{line}"
    );
}

#[test]
fn the_bundled_sets_check_and_load() {
    for file in ["iris.toml", "digits.toml", "diabetes.toml"] {
        let config =
            RunConfig::load(&common::configs_dir().join(file)).unwrap_or_else(|e| panic!("{e}"));
        assert!(config.data.source.bundled().is_some());
        assert_eq!(config.data.scale, ebm_data::ScaleKind::Standard);
    }
}

#[test]
fn the_command_line_predicts_and_evaluates_without_touching_the_run() {
    let dir = TempDir::new("cli");
    let runs = TempDir::new("cli-runs");
    let data = dir.file("points.csv", &classes_csv(60));
    let path = config(
        &dir,
        "cli",
        "kind = \"csv\"\npath = \"points.csv\"\ntarget = \"kind\"\ntask = \"classification\"",
        "kind = \"multi_class\"",
        "",
    );
    let outcome = run_in(&load(&path), runs.path()).expect("runs");
    let metrics_before = read(&outcome.dir.join("metrics.json"));
    let program = env!("CARGO_BIN_EXE_ebm-lab");
    let out = std::process::Command::new(program)
        .arg("predict")
        .arg(&outcome.dir)
        .arg(&data)
        .output()
        .expect("runs predict");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (header, rows) = csv_rows(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(header[..2], ["row", "predicted"]);
    assert_eq!(rows.len(), 60);
    let written = dir.path().join("out.csv");
    let out = std::process::Command::new(program)
        .args([
            "predict".as_ref(),
            outcome.dir.as_os_str(),
            data.as_os_str(),
            "--out".as_ref(),
            written.as_os_str(),
        ])
        .output()
        .expect("runs predict --out");
    assert!(out.status.success());
    assert_eq!(csv_rows(&read(&written)).1, rows);
    for _ in 0..2 {
        let out = std::process::Command::new(program)
            .arg("eval")
            .arg(&outcome.dir)
            .arg(&data)
            .output()
            .expect("runs eval");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("accuracy"));
    }
    // Two evaluations, two files; the run's own metrics untouched.
    let evals: Vec<String> = std::fs::read_dir(&outcome.dir)
        .expect("read")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("eval-"))
        .collect();
    assert_eq!(evals.len(), 2, "{evals:?}");
    assert_eq!(read(&outcome.dir.join("metrics.json")), metrics_before);
    // A folder that is not a run: an error, exit status 1.
    let out = std::process::Command::new(program)
        .arg("predict")
        .arg(dir.path())
        .arg(&data)
        .output()
        .expect("runs predict");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no config.toml"));
}

#[test]
fn columns_the_training_file_had_but_the_model_skips_may_come_back() {
    let dir = TempDir::new("unused");
    let runs = TempDir::new("unused-runs");
    let mut csv = String::from("id,u,v,kind\n");
    for (i, line) in classes_csv(60).lines().skip(1).enumerate() {
        csv.push_str(&format!("r{i},{line}\n"));
    }
    let data = dir.file("points.csv", &csv);
    let path = config(
        &dir,
        "unused",
        "kind = \"csv\"\npath = \"points.csv\"\nfeatures = [\"u\", \"v\"]\ntarget = \"kind\"\ntask = \"classification\"",
        "kind = \"multi_class\"",
        "",
    );
    let outcome = run_in(&load(&path), runs.path()).expect("runs");
    let run = TrainedRun::load(&outcome.dir).expect("loads");
    assert_eq!(run.preprocess.unused_columns, ["id"]);
    assert_eq!(
        run.predict_csv(&data)
            .expect("the training file")
            .rows
            .len(),
        60
    );
    let other = dir.file("other.csv", "u,v,weight\n1,2,3\n");
    let err = run.predict_csv(&other).expect_err("an unknown column");
    assert!(
        err.to_string()
            .contains("\"weight\" is not one the model reads"),
        "{err}"
    );
}

#[test]
fn a_disk_without_room_is_refused_before_training() {
    // /proc reports no free blocks: a run into it is refused with the sizes, before any folder.
    let loaded = common::tiny("binary.toml", &[]);
    let err = run_in(&loaded, Path::new("/proc/ebm-lab-no-room/runs")).expect_err("no room");
    assert!(matches!(err, RunError::Disk { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("not enough free disk space") && message.contains("MiB"),
        "{message}"
    );
}

#[test]
fn many_processes_finishing_in_the_same_second_keep_every_report() {
    let dir = TempDir::new("race");
    let runs = TempDir::new("race-runs");
    let path = dir.file(
        "race.toml",
        "name = \"race\"\n[data]\nkind = \"two_moons\"\nn = 40\n[model]\nkind = \"binary\"\ng = { hidden = [4] }\n[loss]\nkind = \"hinge\"\n[train]\nepochs = 1\n[eval]\nplot_grid = 4\ncalibration_fraction = 0.0\n",
    );
    let children: Vec<std::process::Child> = (0..8)
        .map(|_| {
            std::process::Command::new(env!("CARGO_BIN_EXE_ebm-lab"))
                .arg("run")
                .arg(&path)
                .arg("--quiet")
                .arg("--runs-dir")
                .arg(runs.path())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("starts")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("finishes");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let folders: Vec<PathBuf> = std::fs::read_dir(runs.path().join("race"))
        .expect("the config's folder")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(folders.len(), 8, "{folders:?}");
    for folder in &folders {
        let name = folder
            .file_name()
            .expect("a name")
            .to_string_lossy()
            .into_owned();
        assert!(!name.starts_with(".tmp"), "{name} left behind");
        assert!(
            folder.join("metrics.json").is_file(),
            "{name} is incomplete"
        );
    }
}
