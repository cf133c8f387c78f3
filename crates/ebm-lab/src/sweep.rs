//! `ebm-lab sweep`: one config over seeds and a grid of values, every combination an ordinary
//! run (a child `ebm-lab run` process, so that runs can go in parallel and one that fails or
//! crashes stops nothing else), then a summary of every metric, mean ± std over the seeds, per
//! grid point: `summary.md`, `summary.csv`, `runs.csv` and a plot of the headline metric under
//! `<runs>/<name>/sweeps/<timestamp>/`.

use crate::config::RunConfig;
use crate::error::RunError;
use crate::report::utc_stamp;
use ebm_plot::{plot_series, Labels, Series};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::SystemTime;

/// What to sweep.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// The config file.
    pub config: PathBuf,
    /// Seeds of every grid point.
    pub seeds: Vec<u64>,
    /// `key → values` (each value read as TOML, as `--set` reads it), in order.
    pub grid: Vec<(String, Vec<String>)>,
    /// Runs at a time (child processes).
    pub jobs: usize,
    /// The folder that holds the report folders.
    pub runs_dir: PathBuf,
    /// The `ebm-lab` program that runs each combination.
    pub program: PathBuf,
}

/// One run of a sweep.
#[derive(Debug, Clone)]
pub struct SweepRun {
    /// The grid point: `key=value` for each grid key.
    pub point: Vec<String>,
    /// The seed.
    pub seed: u64,
    /// The run folder, or why it failed.
    pub outcome: Result<(PathBuf, BTreeMap<String, f64>), String>,
}

/// What a sweep made.
#[derive(Debug)]
pub struct SweepReport {
    /// The summary folder.
    pub dir: PathBuf,
    /// Every run, in grid order then seed order.
    pub runs: Vec<SweepRun>,
    /// The summary table, markdown.
    pub markdown: String,
}

/// Parses `key=v1,v2,...` (values split at commas outside brackets and quotes).
pub fn parse_grid(spec: &str) -> Result<(String, Vec<String>), RunError> {
    let Some((key, values)) = spec.split_once('=') else {
        return Err(RunError::Usage(format!(
            "--grid {spec:?}: expected key=v1,v2,..., e.g. --grid train.optimizer.lr=0.01,0.001"
        )));
    };
    let mut out = Vec::new();
    let (mut depth, mut quoted, mut current) = (0i32, false, String::new());
    for c in values.chars() {
        match c {
            '"' => quoted = !quoted,
            '[' | '{' if !quoted => depth += 1,
            ']' | '}' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                out.push(std::mem::take(&mut current).trim().to_string());
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    out.push(current.trim().to_string());
    if key.trim().is_empty() || out.iter().any(String::is_empty) {
        return Err(RunError::Usage(format!(
            "--grid {spec:?}: a key and non-empty values are needed"
        )));
    }
    Ok((key.trim().to_string(), out))
}

/// Every grid point: the cartesian product of the grid's values, as `key=value` lists.
fn points(grid: &[(String, Vec<String>)]) -> Vec<Vec<String>> {
    grid.iter().fold(vec![vec![]], |acc, (key, values)| {
        acc.iter()
            .flat_map(|point| {
                values.iter().map(move |v| {
                    let mut p = point.clone();
                    p.push(format!("{key}={v}"));
                    p
                })
            })
            .collect()
    })
}

/// Runs the sweep and writes its summary.
pub fn sweep(options: &SweepOptions) -> Result<SweepReport, RunError> {
    if options.seeds.is_empty() {
        return Err(RunError::Usage("--seeds needs at least one seed".into()));
    }
    let config = RunConfig::load(&options.config)?;
    // Each override is checked now, so that a typo fails the sweep before any run starts.
    for point in points(&options.grid) {
        config.clone().with_overrides(&point)?;
    }
    let jobs: Vec<(Vec<String>, u64)> = points(&options.grid)
        .into_iter()
        .flat_map(|p| options.seeds.iter().map(move |&s| (p.clone(), s)))
        .collect();
    let results: Mutex<Vec<Option<SweepRun>>> = Mutex::new(vec![None; jobs.len()]);
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let total = jobs.len();
    let clock = std::time::Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.clamp(1, total.max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some((point, seed)) = jobs.get(i) else {
                    break;
                };
                let outcome = run_one(options, point, *seed);
                let finished = done.fetch_add(1, Ordering::SeqCst) + 1;
                eprintln!(
                    "sweep {finished}/{total} ({}): seed {seed} {}: {}",
                    eta(clock.elapsed().as_secs_f64(), finished, total),
                    point.join(" "),
                    match &outcome {
                        Ok((dir, _)) => dir.display().to_string(),
                        Err(e) => format!("failed: {e}"),
                    }
                );
                let run = SweepRun {
                    point: point.clone(),
                    seed: *seed,
                    outcome,
                };
                results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(run);
            });
        }
    });
    let runs: Vec<SweepRun> = results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .flatten()
        .collect();
    let dir = options
        .runs_dir
        .join(&config.name)
        .join("sweeps")
        .join(unique_stamp(
            &options.runs_dir.join(&config.name).join("sweeps"),
        ));
    std::fs::create_dir_all(&dir).map_err(RunError::io(&dir))?;
    let headline = config.headline_metric().to_string();
    let (markdown, csv) = summary(&runs, &options.seeds, &headline);
    let write = |name: &str, text: &str| -> Result<(), RunError> {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(RunError::io(&path))
    };
    write("summary.md", &markdown)?;
    write("summary.csv", &csv)?;
    write("runs.csv", &runs_table(&runs))?;
    plot_headline(
        &dir.join(format!("{headline}.png")),
        &runs,
        &options.grid,
        &config.name,
        &headline,
    )?;
    Ok(SweepReport {
        dir,
        runs,
        markdown,
    })
}

/// "12 s elapsed, about 36 s left": the mean time of the finished runs times those left.
fn eta(elapsed: f64, finished: usize, total: usize) -> String {
    let left = elapsed / finished.max(1) as f64 * (total - finished.min(total)) as f64;
    let clock = |s: f64| {
        let s = s.round() as u64;
        if s >= 60 {
            format!("{}:{:02} min", s / 60, s % 60)
        } else {
            format!("{s} s")
        }
    };
    if finished >= total {
        format!("{} in all", clock(elapsed))
    } else {
        format!("{} elapsed, about {} left", clock(elapsed), clock(left))
    }
}

fn unique_stamp(parent: &Path) -> String {
    let stamp = utc_stamp(SystemTime::now());
    (1..)
        .map(|i| {
            if i == 1 {
                stamp.clone()
            } else {
                format!("{stamp}-{i}")
            }
        })
        .find(|s| !parent.join(s).exists())
        .unwrap_or(stamp)
}

/// One combination as a child `ebm-lab run`; its report folder is the last line it prints.
fn run_one(
    options: &SweepOptions,
    point: &[String],
    seed: u64,
) -> Result<(PathBuf, BTreeMap<String, f64>), String> {
    let mut command = std::process::Command::new(&options.program);
    command.arg("run").arg(&options.config).arg("--quiet");
    command.arg("--runs-dir").arg(&options.runs_dir);
    command.arg("--set").arg(format!("seed={seed}"));
    for assignment in point {
        command.arg("--set").arg(assignment);
    }
    let output = command
        .output()
        .map_err(|e| format!("cannot start {}: {e}", options.program.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(format!("{} ({})", last.trim(), output.status));
    }
    let dir = stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("report (").and_then(|r| r.split_once("): ")))
        .and_then(|(_, rest)| rest.rsplit_once("/{"))
        .map(|(dir, _)| PathBuf::from(dir))
        .ok_or_else(|| "the run printed no report folder".to_string())?;
    let path = dir.join("metrics.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    // A metric that was NaN is `null` in the file.
    #[derive(serde::Deserialize)]
    struct File {
        metrics: BTreeMap<String, Option<f64>>,
    }
    let file: File = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let metrics = file
        .metrics
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or(f64::NAN)))
        .collect();
    Ok((dir, metrics))
}

/// Mean and sample standard deviation (n − 1; NaN for one value) of finite values.
fn mean_std(values: &[f64]) -> (f64, f64, usize) {
    let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    let n = v.len();
    if n == 0 {
        return (f64::NAN, f64::NAN, 0);
    }
    let mean = v.iter().sum::<f64>() / n as f64;
    let std = match n {
        1 => f64::NAN,
        _ => (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt(),
    };
    (mean, std, n)
}

fn fmt(v: f64) -> String {
    if !v.is_finite() {
        "–".into()
    } else if v != 0.0 && (v.abs() >= 1e5 || v.abs() < 1e-3) {
        format!("{v:.3e}")
    } else {
        format!("{v:.4}")
    }
}

/// Per grid point and metric: (mean, std, seeds that succeeded).
fn by_point(runs: &[SweepRun]) -> BTreeMap<&[String], BTreeMap<String, Vec<f64>>> {
    let mut table: BTreeMap<&[String], BTreeMap<String, Vec<f64>>> = BTreeMap::new();
    for run in runs {
        let entry = table.entry(run.point.as_slice()).or_default();
        if let Ok((_, m)) = &run.outcome {
            for (name, value) in m {
                entry.entry(name.clone()).or_default().push(*value);
            }
        }
    }
    table
}

fn summary(runs: &[SweepRun], seeds: &[u64], headline: &str) -> (String, String) {
    let table = by_point(runs);
    let mut names: BTreeSet<String> = table.values().flat_map(|m| m.keys().cloned()).collect();
    names.remove(headline);
    let names: Vec<String> = std::iter::once(headline.to_string()).chain(names).collect();
    let seeds_text: Vec<String> = seeds.iter().map(u64::to_string).collect();
    let mut md = format!(
        "# Sweep\n\nSeeds {}; mean ± sample std (n − 1) over the seeds that finished; `–` where a metric was not reported.\n\n",
        seeds_text.join(", ")
    );
    let point_name = |p: &[String]| {
        if p.is_empty() {
            "(config)".to_string()
        } else {
            p.join(" ")
        }
    };
    md.push_str(&format!(
        "| grid point | runs ok | {} |\n",
        names.join(" | ")
    ));
    md.push_str(&format!("|---|---|{}\n", "---|".repeat(names.len())));
    let mut csv = String::from("point,metric,mean,std,n\n");
    for (point, metrics) in &table {
        let ok = runs
            .iter()
            .filter(|r| r.point.as_slice() == *point && r.outcome.is_ok())
            .count();
        let total = runs.iter().filter(|r| r.point.as_slice() == *point).count();
        let cells: Vec<String> = names
            .iter()
            .map(|name| {
                let (mean, std, n) = mean_std(metrics.get(name).map_or(&[][..], Vec::as_slice));
                csv.push_str(&format!(
                    "\"{}\",{name},{mean},{std},{n}\n",
                    point_name(point).replace('"', "\"\"")
                ));
                match n {
                    0 => "–".into(),
                    1 => fmt(mean),
                    _ => format!("{} ± {}", fmt(mean), fmt(std)),
                }
            })
            .collect();
        md.push_str(&format!(
            "| {} | {ok}/{total} | {} |\n",
            point_name(point),
            cells.join(" | ")
        ));
    }
    let failed: Vec<&SweepRun> = runs.iter().filter(|r| r.outcome.is_err()).collect();
    if !failed.is_empty() {
        md.push_str("\nFailed runs:\n\n");
        for run in failed {
            if let Err(e) = &run.outcome {
                md.push_str(&format!(
                    "- {} seed {}: {e}\n",
                    point_name(&run.point),
                    run.seed
                ));
            }
        }
    }
    (md, csv)
}

fn runs_table(runs: &[SweepRun]) -> String {
    let mut out = String::from("point,seed,status,dir_or_error\n");
    for run in runs {
        let (status, what) = match &run.outcome {
            Ok((dir, _)) => ("ok", dir.display().to_string()),
            Err(e) => ("failed", e.clone()),
        };
        out.push_str(&format!(
            "\"{}\",{},{status},\"{}\"\n",
            run.point.join(" ").replace('"', "\"\""),
            run.seed,
            what.replace('"', "\"\"")
        ));
    }
    out
}

/// The headline metric against the grid: the values of a single numeric key on the x axis,
/// else the grid points by position.
fn plot_headline(
    path: &Path,
    runs: &[SweepRun],
    grid: &[(String, Vec<String>)],
    name: &str,
    headline: &str,
) -> Result<(), RunError> {
    let table = by_point(runs);
    let numeric: Option<Vec<f64>> = match grid {
        [(_, values)] => values.iter().map(|v| v.parse::<f64>().ok()).collect(),
        _ => None,
    };
    let ordered: Vec<Vec<String>> = points(grid);
    let mut pts = Vec::new();
    for (i, point) in ordered.iter().enumerate() {
        let values = table
            .get(point.as_slice())
            .and_then(|m| m.get(headline))
            .map_or(&[][..], Vec::as_slice);
        let (mean, std, _) = mean_std(values);
        let x = numeric.as_ref().map_or(i as f64, |xs| xs[i]);
        pts.push((x, mean, std));
    }
    if pts.iter().all(|p| !p.1.is_finite()) {
        return Ok(());
    }
    let ticks: Vec<String> = ordered
        .iter()
        .map(|p| {
            if p.is_empty() {
                "config".into()
            } else {
                p.join(" ")
            }
        })
        .collect();
    let x_label = match grid {
        [(key, _)] => key.clone(),
        [] => "the config as it is".into(),
        _ => "grid point".into(),
    };
    let labels = Labels::new(
        &format!("{name}: {headline}, mean ± std over seeds"),
        &x_label,
        headline,
    );
    let series = Series {
        label: headline.into(),
        points: pts,
    };
    plot_series(
        path,
        &labels,
        &[series],
        if numeric.is_some() {
            None
        } else {
            Some(&ticks)
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grids_parse_and_multiply() {
        let (key, values) = parse_grid("train.optimizer.lr=0.01, 0.001").expect("parses");
        assert_eq!(
            (key.as_str(), values.as_slice()),
            (
                "train.optimizer.lr",
                &["0.01".to_string(), "0.001".to_string()][..]
            )
        );
        let (_, values) = parse_grid("model.g.hidden=[32, 32],[64]").expect("parses");
        assert_eq!(values, ["[32, 32]", "[64]"]);
        let (_, values) = parse_grid(r#"loss={ kind = "log" },{ kind = "hinge", margin = 1.0 }"#)
            .expect("parses");
        assert_eq!(values.len(), 2);
        assert!(parse_grid("epochs").is_err() && parse_grid("a=1,,2").is_err());
        let grid = vec![
            ("a".to_string(), vec!["1".to_string(), "2".to_string()]),
            (
                "b".to_string(),
                vec!["x".to_string(), "y".to_string(), "z".to_string()],
            ),
        ];
        let p = points(&grid);
        assert_eq!(p.len(), 6);
        assert_eq!(p[0], ["a=1", "b=x"]);
        assert_eq!(p[5], ["a=2", "b=z"]);
        assert_eq!(points(&[]), vec![Vec::<String>::new()]);
    }

    #[test]
    fn the_eta_scales_the_mean_run_time() {
        assert_eq!(eta(12.0, 1, 4), "12 s elapsed, about 36 s left");
        assert_eq!(eta(90.0, 3, 5), "1:30 min elapsed, about 1:00 min left");
        assert_eq!(eta(30.0, 5, 5), "30 s in all");
    }

    #[test]
    fn mean_and_sample_std_by_hand() {
        let (m, s, n) = mean_std(&[1.0, 2.0, 3.0, f64::NAN]);
        assert_eq!((m, n), (2.0, 3));
        assert!((s - 1.0).abs() < 1e-12);
        let (m, s, n) = mean_std(&[0.5]);
        assert_eq!((m, n), (0.5, 1));
        assert!(s.is_nan());
        assert_eq!(mean_std(&[]).2, 0);
    }
}
