//! `ebm-lab` binary: runs an experiment described by a TOML config (not implemented yet).

fn main() {
    eprintln!("usage: ebm-lab <config.toml> [--set key=value ...]");
    eprintln!("(the runner is not implemented yet; see issue 6)");
    std::process::exit(2);
}
