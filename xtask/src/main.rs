//! `cargo xtask`: finds or installs libtorch 2.13.0 and drives cargo with it.
//!
//! This crate has no dependencies and never links libtorch, so it can bootstrap it.
//!
//! Commands:
//! - `setup`: find or install libtorch and say where it is.
//! - `env`: print shell exports so that plain `cargo build/test/run` work afterwards.
//! - `test [ARGS]`: every test in the workspace (unit, integration, doc, property tests),
//!   `cargo test --workspace ARGS`, then the PyTorch agreement tests of `ebm-bench`, which a
//!   plain `cargo test` ignores because they need a Python with torch (`EBM_PYTHON`).
//! - `demo`: the main job on built-in data (the experiment suite).
//! - `run CONFIG [--set key=value ...]`: one experiment from a TOML config.
//! - `bench [ARGS]`: the agreement tests, then the Rust-versus-PyTorch benchmarks.
//! - `cargo [ARGS]`: any cargo command with libtorch set up.

#[cfg(test)]
mod modules;

use std::env;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// The libtorch version `tch` 0.26 binds.
const TORCH_VERSION: &str = "2.13.0";
/// Free disk space the pip install needs, in KiB (the CUDA wheel takes about 4.7 GB).
const NEEDED_KIB: u64 = 6 * 1024 * 1024;
/// Marker written once the managed environment is complete.
const READY_MARKER: &str = ".ebm-ready";

type Result<T> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("xtask: error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> &'static str {
    "usage: cargo xtask <command>\n\
     commands:\n  \
       setup                        find or install libtorch {TORCH_VERSION}\n  \
       env                          print shell exports for plain cargo (eval \"$(cargo xtask env)\")\n  \
       test [CARGO TEST ARGS]       run every test in the workspace, then the PyTorch agreement tests\n  \
       demo [--quick] [--full]      run the experiment suite of configs/ (ebm-lab demo)\n  \
       run CONFIG [--set k=v ...]   run one experiment from a TOML config\n  \
       bench [ARGS]                 agreement tests, then Rust vs PyTorch benchmarks (writes bench/results.md;\n                                \
     cargo xtask bench --help lists ARGS)\n  \
       cargo ARGS                   any cargo command with libtorch set up\n\
     environment:\n  \
       LIBTORCH                     use this libtorch {TORCH_VERSION} as it is (nothing is installed)\n  \
       EBM_TORCH_CACHE              where the managed Python environment with torch lives\n                                \
     (default: $XDG_CACHE_HOME/ebm or ~/.cache/ebm)"
}

fn run(args: &[String]) -> Result<ExitCode> {
    let Some(command) = args.first() else {
        eprintln!("{}", usage().replace("{TORCH_VERSION}", TORCH_VERSION));
        return Ok(ExitCode::FAILURE);
    };
    let rest = &args[1..];
    match command.as_str() {
        "setup" => {
            let torch = setup()?;
            println!("libtorch {TORCH_VERSION}: {}", torch.root.display());
            if let Some(python) = &torch.python {
                println!("python with torch: {}", python.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        "env" => {
            let torch = setup()?;
            for (key, value) in torch.cargo_env() {
                println!("export {key}={}", shell_quote(&value.to_string_lossy()));
            }
            Ok(ExitCode::SUCCESS)
        }
        "test" => {
            let torch = setup()?;
            let mut cargo_args = vec!["test".to_string(), "--workspace".to_string()];
            cargo_args.extend(rest.iter().cloned());
            let code = cargo(&torch, &cargo_args)?;
            if code != ExitCode::SUCCESS {
                return Ok(code);
            }
            // The agreement tests with PyTorch are `#[ignore]`d in a plain `cargo test` (they
            // need a Python with torch): run them now, with that Python.
            match agreement_python(&torch) {
                Some(python) => agreement_tests(&torch, &python, false),
                None => {
                    eprintln!("{NO_AGREEMENT}");
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
        "demo" => {
            let mut cargo_args = release_run("ebm-lab");
            cargo_args.push("demo".into());
            cargo_args.extend(rest.iter().cloned());
            exec_cargo(&setup()?, &cargo_args)
        }
        "run" => {
            if rest.is_empty() {
                return Err("`cargo xtask run` needs a config: cargo xtask run configs/NAME.toml [--set key=value ...]".into());
            }
            let mut cargo_args = release_run("ebm-lab");
            cargo_args.push("run".into());
            cargo_args.extend(rest.iter().cloned());
            exec_cargo(&setup()?, &cargo_args)
        }
        "bench" => {
            let torch = setup()?;
            let help = rest.iter().any(|a| a == "-h" || a == "--help");
            // Timing two programs is only worth it if they compute the same thing: the
            // agreement tests run first (in release mode, sharing the benchmark's build).
            let python = bench_python(rest).or_else(|| agreement_python(&torch));
            if let (false, Some(python)) = (help, python) {
                let code = agreement_tests(&torch, &python, true)?;
                if code != ExitCode::SUCCESS {
                    eprintln!("xtask: the agreement tests failed: not timing anything");
                    return Ok(code);
                }
            }
            let mut cargo_args = release_run("ebm-bench");
            cargo_args.extend(rest.iter().cloned());
            cargo(&torch, &cargo_args)
        }
        "cargo" => cargo(&setup()?, rest),
        "help" | "--help" | "-h" => {
            println!("{}", usage().replace("{TORCH_VERSION}", TORCH_VERSION));
            Ok(ExitCode::SUCCESS)
        }
        other => Err(format!(
            "unknown command `{other}`\n{}",
            usage().replace("{TORCH_VERSION}", TORCH_VERSION)
        )),
    }
}

/// Printed by `cargo xtask test` when the agreement tests cannot run.
const NO_AGREEMENT: &str = "xtask: the PyTorch agreement tests (cargo test -p ebm-bench --test agree -- --ignored) \
     were not run: LIBTORCH is set and EBM_PYTHON is not (set it to a Python whose torch uses that libtorch)";

/// The Python with torch the agreement tests compare with: the managed environment's, else
/// (with the user's `LIBTORCH`) the user's `EBM_PYTHON`, else none.
fn agreement_python(torch: &Torch) -> Option<OsString> {
    torch
        .python
        .clone()
        .map(PathBuf::into_os_string)
        .or_else(|| env::var_os("EBM_PYTHON").filter(|p| !p.is_empty()))
}

/// The value of `--python PATH` (or `--python=PATH`) among the bench's arguments.
fn bench_python(args: &[String]) -> Option<OsString> {
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == "--python" {
            return args.next().map(OsString::from);
        }
        if let Some(value) = arg.strip_prefix("--python=") {
            return Some(value.into());
        }
    }
    None
}

/// `cargo test -p ebm-bench --test agree -- --ignored` (or `--include-ignored`, with the
/// Rust-only checks too) with `EBM_PYTHON` set to `python`.
fn agreement_args(release: bool) -> Vec<String> {
    let mut args = vec!["test".to_string()];
    if release {
        args.push("--release".into());
    }
    let which = if release {
        "--include-ignored"
    } else {
        "--ignored"
    };
    args.extend(["-p", "ebm-bench", "--test", "agree", "--", which].map(String::from));
    args
}

fn agreement_tests(torch: &Torch, python: &OsString, release: bool) -> Result<ExitCode> {
    let args = agreement_args(release);
    eprintln!(
        "xtask: the agreement tests with PyTorch: EBM_PYTHON={} cargo {}",
        python.to_string_lossy(),
        args.join(" ")
    );
    cargo_with(torch, &args, &[("EBM_PYTHON", python.clone())])
}

fn release_run(package: &str) -> Vec<String> {
    vec![
        "run".into(),
        "--release".into(),
        "--quiet".into(),
        "--package".into(),
        package.into(),
        "--".into(),
    ]
}

/// Where libtorch is, and the Python that carries it when xtask manages it.
struct Torch {
    /// The folder with `include/` and `lib/`.
    root: PathBuf,
    /// The managed environment's Python (None when the user set `LIBTORCH`).
    python: Option<PathBuf>,
}

impl Torch {
    fn lib(&self) -> PathBuf {
        self.root.join("lib")
    }

    /// What torch-sys needs to build, and what the binaries need to find libtorch at run time.
    fn cargo_env(&self) -> Vec<(&'static str, OsString)> {
        let lib = self.lib();
        let mut ld_path = OsString::from(lib.as_os_str());
        if let Some(old) = env::var_os("LD_LIBRARY_PATH") {
            let already = env::split_paths(&old).any(|p| p == lib);
            if already {
                ld_path = old;
            } else if !old.is_empty() {
                ld_path.push(":");
                ld_path.push(old);
            }
        }
        // An rpath makes the produced binaries (tests, examples, the runner) find libtorch
        // even when started outside xtask.
        let rpath = format!("-C link-arg=-Wl,-rpath,{}", lib.display());
        let rustflags = match env::var("RUSTFLAGS") {
            Ok(old) if old.contains(&rpath) => old,
            Ok(old) if !old.trim().is_empty() => format!("{old} {rpath}"),
            _ => rpath,
        };
        let mut vars = vec![
            ("LIBTORCH", self.root.clone().into_os_string()),
            ("LD_LIBRARY_PATH", ld_path),
            ("RUSTFLAGS", rustflags.into()),
        ];
        if let Some(python) = &self.python {
            vars.push(("EBM_PYTHON", python.clone().into_os_string()));
        }
        vars
    }
}

fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

fn cargo(torch: &Torch, args: &[String]) -> Result<ExitCode> {
    cargo_with(torch, args, &[])
}

/// The `cargo ARGS` command with libtorch set up and `extra` variables on top.
fn cargo_command(torch: &Torch, args: &[String], extra: &[(&str, OsString)]) -> Command {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.args(args).current_dir(workspace_root());
    // The variables torch-sys could use to pick another libtorch would fight with ours.
    command.env_remove("LIBTORCH_USE_PYTORCH");
    for (key, value) in torch.cargo_env() {
        command.env(key, value);
    }
    for (key, value) in extra {
        command.env(key, value);
    }
    command
}

/// Becomes `cargo ARGS` (on Unix, by exec: no process stays between the caller and cargo,
/// and `cargo run` execs its program in turn, so a signal sent to `cargo xtask run` reaches
/// `ebm-lab` itself, which removes its unfinished run folder; elsewhere as a child).
fn exec_cargo(torch: &Torch, args: &[String]) -> Result<ExitCode> {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let error = cargo_command(torch, args, &[]).exec();
        Err(format!("could not start cargo: {error}"))
    }
    #[cfg(not(unix))]
    {
        cargo(torch, args)
    }
}

/// `cargo ARGS` with libtorch set up and `extra` variables on top.
fn cargo_with(torch: &Torch, args: &[String], extra: &[(&str, OsString)]) -> Result<ExitCode> {
    let status = cargo_command(torch, args, extra)
        .status()
        .map_err(|e| format!("could not start cargo: {e}"))?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}

fn workspace_root() -> PathBuf {
    let manifest = env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest.parent().map(Path::to_path_buf).unwrap_or(manifest)
}

/// Finds libtorch: `LIBTORCH` as it is, else the managed environment, installing it if needed.
fn setup() -> Result<Torch> {
    if let Some(root) = env::var_os("LIBTORCH").filter(|v| !v.is_empty()) {
        let root = PathBuf::from(root);
        check_libtorch_dir(&root, "LIBTORCH")?;
        return Ok(Torch { root, python: None });
    }
    let venv = cache_dir()?.join(format!("torch-{TORCH_VERSION}"));
    if let Some(torch) = ready_env(&venv) {
        return Ok(torch);
    }
    install(&venv)
}

fn cache_dir() -> Result<PathBuf> {
    if let Some(dir) = env::var_os("EBM_TORCH_CACHE").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(dir).join("ebm"));
    }
    match env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".cache").join("ebm")),
        None => Err("neither EBM_TORCH_CACHE, XDG_CACHE_HOME nor HOME is set: \
                     set EBM_TORCH_CACHE to a folder for the managed torch environment, \
                     or LIBTORCH to an existing libtorch 2.13.0"
            .into()),
    }
}

/// The version a libtorch folder declares: `build-version` (libtorch archives) or
/// `version.py` (the PyTorch wheel).
fn declared_version(root: &Path) -> Option<String> {
    if let Ok(text) = fs::read_to_string(root.join("build-version")) {
        return Some(text.trim().to_string());
    }
    let text = fs::read_to_string(root.join("version.py")).ok()?;
    text.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("__version__")?;
        let value = rest.trim_start().strip_prefix('=')?.trim();
        Some(value.trim_matches(|c| c == '\'' || c == '"').to_string())
    })
}

fn check_libtorch_dir(root: &Path, origin: &str) -> Result<()> {
    let lib = root.join("lib");
    if !lib.join("libtorch_cpu.so").exists() && !lib.join("libtorch_cpu.dylib").exists() {
        return Err(format!(
            "{origin}={} does not look like libtorch: {} has no libtorch_cpu library",
            root.display(),
            lib.display()
        ));
    }
    match declared_version(root) {
        Some(version) => {
            let base = version.split('+').next().unwrap_or(&version);
            if base != TORCH_VERSION {
                return Err(format!(
                    "{origin}={} is libtorch {version}, but tch 0.26 needs libtorch {TORCH_VERSION}; \
                     point LIBTORCH at a {TORCH_VERSION} install, or unset it to let xtask install one",
                    root.display()
                ));
            }
            Ok(())
        }
        None => Err(format!(
            "{origin}={} declares no version (no build-version or version.py); \
             tch 0.26 needs libtorch {TORCH_VERSION}",
            root.display()
        )),
    }
}

/// The managed environment, if a previous setup completed it. Touches no network.
fn ready_env(venv: &Path) -> Option<Torch> {
    let marker = fs::read_to_string(venv.join(READY_MARKER)).ok()?;
    let root = PathBuf::from(marker.trim());
    check_libtorch_dir(&root, "the managed environment").ok()?;
    let python = venv.join("bin").join("python");
    python.exists().then_some(Torch {
        root,
        python: Some(python),
    })
}

fn install(venv: &Path) -> Result<Torch> {
    let python3 = env::var_os("PYTHON").unwrap_or_else(|| "python3".into());
    let found = Command::new(&python3).arg("--version").output();
    if !matches!(&found, Ok(out) if out.status.success()) {
        return Err(format!(
            "libtorch {TORCH_VERSION} is not installed, and installing it needs python3, which was not found \
             ({}). Install python3 (with venv and pip), or set LIBTORCH to an existing libtorch {TORCH_VERSION}.",
            python3.to_string_lossy()
        ));
    }
    let parent = venv.parent().unwrap_or(venv);
    fs::create_dir_all(parent)
        .map_err(|e| format!("cannot create the cache folder {}: {e}", parent.display()))?;
    if let Some(free) = free_kib(parent) {
        if free < NEEDED_KIB {
            return Err(format!(
                "installing torch=={TORCH_VERSION} needs about {} GB free in {}, only {:.1} GB are free. \
                 Free some space, set EBM_TORCH_CACHE to a folder on a larger disk, \
                 or set LIBTORCH to an existing libtorch {TORCH_VERSION}.",
                NEEDED_KIB / 1024 / 1024,
                parent.display(),
                free as f64 / 1024.0 / 1024.0
            ));
        }
    }
    eprintln!(
        "xtask: installing torch=={TORCH_VERSION} into {} (a few GB, one time only)",
        venv.display()
    );
    let python = venv.join("bin").join("python");
    if !python.exists() {
        let status = Command::new(&python3)
            .args(["-m", "venv"])
            .arg(venv)
            .status()
            .map_err(|e| format!("could not run python3 -m venv: {e}"))?;
        if !status.success() {
            let _ = fs::remove_dir_all(venv);
            return Err(format!(
                "python3 -m venv {} failed: the venv module (and ensurepip) is missing. \
                 Install it (Debian: apt-get install python3-venv), or set LIBTORCH to an existing libtorch {TORCH_VERSION}.",
                venv.display()
            ));
        }
    }
    let pip_ok = Command::new(&python)
        .args(["-m", "pip", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !pip_ok {
        return Err(format!(
            "the environment {} has no pip. Install pip for python3 (Debian: apt-get install python3-pip python3-venv), \
             delete {} and retry, or set LIBTORCH to an existing libtorch {TORCH_VERSION}.",
            venv.display(),
            venv.display()
        ));
    }
    let status = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--no-input",
            "--disable-pip-version-check",
            &format!("torch=={TORCH_VERSION}"),
        ])
        .status()
        .map_err(|e| format!("could not run pip: {e}"))?;
    if !status.success() {
        return Err(format!(
            "pip install torch=={TORCH_VERSION} failed (see pip's output above). \
             Check the network and disk space, or set LIBTORCH to an existing libtorch {TORCH_VERSION}."
        ));
    }
    let out = Command::new(&python)
        .args([
            "-c",
            "import os, torch; print(os.path.dirname(torch.__file__))",
        ])
        .output()
        .map_err(|e| format!("could not run the environment's python: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "torch was installed but does not import: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let root = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    check_libtorch_dir(&root, "the installed torch")?;
    // Written last and atomically: a half-done install is never taken as ready.
    let marker = venv.join(READY_MARKER);
    let tmp = venv.join(format!("{READY_MARKER}.tmp"));
    fs::write(&tmp, root.to_string_lossy().as_bytes())
        .and_then(|()| fs::rename(&tmp, &marker))
        .map_err(|e| format!("cannot write {}: {e}", marker.display()))?;
    Ok(Torch {
        root,
        python: Some(python),
    })
}

/// Free space of the file system holding `dir`, in KiB, from POSIX `df`.
fn free_kib(dir: &Path) -> Option<u64> {
    let out = Command::new("df").arg("-Pk").arg(dir).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().nth(1)?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_wheel_version_file() {
        let dir = env::temp_dir().join(format!("xtask-version-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("temp dir");
        fs::write(
            dir.join("version.py"),
            "from typing import Optional\n__version__ = '2.13.0+cu128'\ngit_version = 'abc'\n",
        )
        .expect("write");
        assert_eq!(declared_version(&dir).as_deref(), Some("2.13.0+cu128"));
        fs::write(dir.join("build-version"), "2.12.1+cpu\n").expect("write");
        assert_eq!(declared_version(&dir).as_deref(), Some("2.12.1+cpu"));
        fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn a_folder_without_libtorch_is_named_in_the_error() {
        let dir = env::temp_dir().join(format!("xtask-nolib-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("temp dir");
        let err = check_libtorch_dir(&dir, "LIBTORCH").expect_err("must fail");
        assert!(err.contains("does not look like libtorch"), "{err}");
        fs::create_dir_all(dir.join("lib")).expect("lib");
        fs::write(dir.join("lib/libtorch_cpu.so"), b"").expect("write");
        fs::write(dir.join("build-version"), "2.12.1+cpu\n").expect("write");
        let err = check_libtorch_dir(&dir, "LIBTORCH").expect_err("wrong version");
        assert!(
            err.contains("2.12.1") && err.contains(TORCH_VERSION),
            "{err}"
        );
        fs::write(dir.join("build-version"), "2.13.0+cpu\n").expect("write");
        check_libtorch_dir(&dir, "LIBTORCH").expect("right version");
        fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn the_bench_python_flag_is_found_in_both_spellings() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            bench_python(&args(&["--quick", "--python", "/p/python"])),
            Some("/p/python".into())
        );
        assert_eq!(
            bench_python(&args(&["--python=/p/python", "--quick"])),
            Some("/p/python".into())
        );
        assert_eq!(bench_python(&args(&["--quick"])), None);
    }

    #[test]
    fn the_agreement_tests_include_the_ignored_ones() {
        assert_eq!(
            agreement_args(false).join(" "),
            "test -p ebm-bench --test agree -- --ignored"
        );
        assert_eq!(
            agreement_args(true).join(" "),
            "test --release -p ebm-bench --test agree -- --include-ignored"
        );
    }

    #[test]
    fn shell_quoting_survives_quotes() {
        assert_eq!(shell_quote("a'b"), "'a'\\''b'");
    }
}
