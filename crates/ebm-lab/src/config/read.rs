//! Reading a config: the text, serde's errors turned into a field and a line, and `--set`
//! overrides applied to the resolved config.

use super::error::{join, split_path};
use super::locate::{line_of, locate_nearest};
use super::RunConfig;
use crate::error::ConfigError;
use ebm_data::DataConfig;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A config read from a file (or text), checked, with its overrides applied.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The checked config, every default filled in.
    pub config: RunConfig,
    /// The file it came from.
    pub path: Option<PathBuf>,
    /// The `--set` overrides applied, as given.
    pub overrides: Vec<String>,
}

impl From<RunConfig> for LoadedConfig {
    /// A config made in a program: no file, no overrides.
    fn from(config: RunConfig) -> Self {
        LoadedConfig {
            config,
            path: None,
            overrides: vec![],
        }
    }
}

impl RunConfig {
    /// Reads, parses and checks a config file; relative CSV paths are taken from the file's
    /// folder.
    pub fn load(path: &Path) -> Result<RunConfig, ConfigError> {
        Ok(Self::load_with(path, &[])?.config)
    }

    /// [`RunConfig::load`], then applies `--set key=value` overrides in order and checks again.
    pub fn load_with(path: &Path, overrides: &[String]) -> Result<LoadedConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config = deserialize(&text).map_err(|e| in_file(e, Some(path), &text))?;
        // Paths first (from the config's folder), so that the checks see the file the run
        // will read.
        let base = path.parent().unwrap_or(Path::new("."));
        config.data.source.resolve_paths(base);
        absolute_csv_path(&mut config);
        config.check().map_err(|e| in_file(e, Some(path), &text))?;
        let mut config = config.with_overrides(overrides)?;
        // A path given with --set is typed in a shell: it is taken from the working folder,
        // and saved absolute so that the report's config.toml reruns as it is.
        absolute_csv_path(&mut config);
        Ok(LoadedConfig {
            config,
            path: Some(path.to_path_buf()),
            overrides: overrides.to_vec(),
        })
    }

    /// Reads and parses a run folder's `config.toml` without checking it against this machine
    /// (its CSV file need not exist any more: `predict` and `eval` read other files).
    pub fn read_resolved(path: &Path) -> Result<RunConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        deserialize(&text).map_err(|e| in_file(e, Some(path), &text))
    }

    /// Parses and checks config text.
    pub fn parse(text: &str) -> Result<RunConfig, ConfigError> {
        Self::parse_in(text, None)
    }

    fn parse_in(text: &str, file: Option<&Path>) -> Result<RunConfig, ConfigError> {
        let config = deserialize(text).map_err(|e| in_file(e, file, text))?;
        config.check().map_err(|e| in_file(e, file, text))?;
        Ok(config)
    }

    /// Applies `key=value` overrides in order to the resolved config, each checked.
    pub fn with_overrides(self, overrides: &[String]) -> Result<RunConfig, ConfigError> {
        let mut config = self;
        for assignment in overrides {
            config = config.with_override(assignment)?;
        }
        Ok(config)
    }

    fn with_override(&self, assignment: &str) -> Result<RunConfig, ConfigError> {
        let fail = |field: Option<&str>, message: String| ConfigError::Override {
            assignment: assignment.to_string(),
            field: field.map(str::to_string),
            message,
        };
        let Some((key, raw)) = assignment.split_once('=') else {
            return Err(fail(
                None,
                "expected key=value, e.g. --set train.epochs=10".into(),
            ));
        };
        let key = key.trim();
        let path = split_path(key);
        if path.is_empty() || path.len() != key.split('.').count() {
            return Err(fail(Some(key), format!("`{key}` is not a dotted key")));
        }
        let value = parse_override_value(raw.trim());
        let mut root = toml::Value::try_from(self)
            .map_err(|e| fail(Some(key), format!("cannot serialise the config: {e}")))?;
        let (last, parents) = path.split_last().expect("a non-empty path");
        let mut table = root.as_table_mut().expect("a config serialises to a table");
        for (i, segment) in parents.iter().enumerate() {
            let here = path[..=i].join(".");
            let keys: Vec<String> = table.keys().cloned().collect();
            table = match table.get_mut(*segment) {
                Some(toml::Value::Table(t)) => t,
                Some(_) => {
                    return Err(fail(
                        Some(key),
                        format!("`{here}` is a value, not a table: `{key}` is not a key"),
                    ))
                }
                None => {
                    return Err(fail(
                        Some(key),
                        format!(
                            "unknown key `{key}`: the config has no `{here}` ({})",
                            known_keys(parents[..i].join("."), &keys)
                        ),
                    ))
                }
            };
        }
        let keys: Vec<String> = table.keys().cloned().collect();
        let existed = table.contains_key(*last);
        // A new `kind` starts its table afresh: the old kind's fields (a hinge's margin)
        // mean nothing to the new one, which takes its own defaults.
        if *last == "kind" && table.get("kind") != Some(&value) {
            table.clear();
        }
        table.insert((*last).to_string(), value);
        let config: RunConfig = from_value(root).map_err(|(field, message)| {
            if !existed && message.starts_with("unknown field") {
                fail(
                    Some(key),
                    format!(
                        "unknown key `{key}` ({})",
                        known_keys(parents.join("."), &keys)
                    ),
                )
            } else {
                let field = field.unwrap_or_else(|| key.to_string());
                fail(Some(&field), format!("field `{field}`: {message}"))
            }
        })?;
        config.check().map_err(|e| match e {
            ConfigError::Invalid { field, message, .. } => {
                let text = match &field {
                    Some(f) => format!("field `{f}`: {message}"),
                    None => message,
                };
                fail(field.as_deref(), text)
            }
            other => other,
        })?;
        Ok(config)
    }
}

fn known_keys(table: String, keys: &[String]) -> String {
    let place = if table.is_empty() {
        "the top level".to_string()
    } else {
        format!("`{table}`")
    };
    format!("{place} has: {}", keys.join(", "))
}

/// A TOML value (`5`, `0.1`, `"text"`, `[1, 2]`, `{ kind = "adam", lr = 0.1 }`, `inf`), or the
/// raw text as a string when it is not one.
fn parse_override_value(raw: &str) -> toml::Value {
    #[derive(Deserialize)]
    struct Holder {
        v: toml::Value,
    }
    match toml::from_str::<Holder>(&format!("v = {raw}")) {
        Ok(h) => h.v,
        Err(_) => toml::Value::String(raw.to_string()),
    }
}

/// Makes a CSV data path absolute (from the working folder).
fn absolute_csv_path(config: &mut RunConfig) {
    if let DataConfig::Csv(c) = &mut config.data.source {
        if let Ok(absolute) = std::path::absolute(&c.path) {
            c.path = absolute;
        }
    }
}

/// Adds the file and, from the text, the line of the field (when not known yet).
fn in_file(error: ConfigError, file: Option<&Path>, text: &str) -> ConfigError {
    match error {
        ConfigError::Invalid {
            file: None,
            line,
            field,
            message,
        } => {
            let line = line.or_else(|| {
                field
                    .as_deref()
                    .and_then(|f| locate_nearest(text, &split_path(f)))
            });
            ConfigError::Invalid {
                file: file.map(Path::to_path_buf),
                line,
                field,
                message,
            }
        }
        other => other,
    }
}

/// Deserialises the text, turning serde's message into a field and a line.
fn deserialize(text: &str) -> Result<RunConfig, ConfigError> {
    // Syntax first: its errors have exact positions.
    let table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Invalid {
        file: None,
        line: e.span().map(|s| line_of(text, s.start)),
        field: None,
        message: e.message().trim().to_string(),
    })?;
    // `[[train]]` is an array of tables, which serde would report as a missing field of the
    // first: say what it is.
    for section in ["data", "model", "loss", "train", "eval"] {
        if let Some(toml::Value::Array(_)) = table.get(section) {
            return Err(ConfigError::Invalid {
                file: None,
                line: locate_nearest(text, &[section]),
                field: Some(section.to_string()),
                message: format!(
                    "`[[{section}]]` (or `{section} = [...]`) makes a list of tables; a run has one table: write `[{section}]`"
                ),
            });
        }
    }
    let spanned = match toml::from_str::<RunConfig>(text) {
        Ok(config) => return Ok(config),
        Err(e) => e,
    };
    // The same from the parsed table: slower to point at the text, but it names the keys.
    let value = toml::Value::Table(table.clone());
    let (path, message) = match from_value(value) {
        Err(failure) => failure,
        Ok(_) => (None, spanned.message().trim().to_string()),
    };
    let path = path.map(|p| refine_path(&table, p, &message));
    let missing_at_top =
        message.starts_with("missing field") && path.as_deref().is_some_and(|p| !p.contains('.'));
    if missing_at_top {
        return Err(ConfigError::invalid(path.as_deref().unwrap_or(""), message));
    }
    let line = path
        .as_deref()
        .and_then(|p| locate_nearest(text, &split_path(p)))
        .or_else(|| spanned.span().map(|s| line_of(text, s.start)));
    Err(ConfigError::Invalid {
        file: None,
        line,
        field: path,
        message,
    })
}

/// Deserialises a config from a parsed `toml::Value`, with the dotted path of a failure
/// (from `serde_path_to_error`) and its message.
fn from_value(value: toml::Value) -> Result<RunConfig, (Option<String>, String)> {
    serde_path_to_error::deserialize::<_, RunConfig>(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().message().trim().to_string();
        // Array indices (`hidden[1]`) are not keys: the field is the array.
        let path: String = path
            .split('.')
            .map(|s| s.split('[').next().unwrap_or(s))
            .filter(|s| !s.is_empty() && *s != "?")
            .collect::<Vec<_>>()
            .join(".");
        // "unknown field `x`", "missing field `x`", "field `x` does not apply": the key is
        // inside the table the path names.
        let field = backticked_after(&message, "field `");
        let about_a_key = !message.starts_with("invalid");
        let path = match field {
            Some(field) if about_a_key && !path.ends_with(&field) => Some(join(&path, &field)),
            _ => (!path.is_empty()).then_some(path),
        };
        (path, message)
    })
}

/// The first `name` in "…prefix`name`…".
fn backticked_after(message: &str, prefix: &str) -> Option<String> {
    let start = message.find(prefix)? + prefix.len();
    let rest = &message[start..];
    Some(rest[..rest.find('`')?].to_string())
}

/// When `path` names a table and the message is about one of its values ("invalid type:
/// string "x", expected f64"), the key of that value, found by its description.
fn refine_path(table: &toml::Table, path: String, message: &str) -> String {
    let mut node: Option<&toml::Value> = None;
    let mut current = table;
    let segments = split_path(&path);
    for (i, segment) in segments.iter().enumerate() {
        match current.get(*segment) {
            Some(toml::Value::Table(t)) => {
                current = t;
                node = None;
            }
            Some(v) => {
                node = Some(v);
                break;
            }
            None => {
                // An unknown key reported on an outer table (serde's tagged enums lose the
                // inner keys): find where it is written below.
                let mut found = Vec::new();
                if i + 1 == segments.len() {
                    find_key(current, &segments[..i].join("."), segment, &mut found);
                }
                return match found.as_slice() {
                    [only] => only.clone(),
                    _ => path,
                };
            }
        }
    }
    if node.is_some() {
        return path;
    }
    let described = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
        .and_then(|r| r.split(", expected").next())
        .map(str::to_string)
        .or_else(|| {
            backticked_after(message, "unknown variant `").map(|v| format!("string {v:?}"))
        });
    let Some(described) = described else {
        return path;
    };
    let mut matches = Vec::new();
    find_described(current, &path, &described, &mut matches);
    match matches.as_slice() {
        [only] => only.clone(),
        _ => path,
    }
}

/// The dotted paths under `table` (at `prefix`) of keys named `name`.
fn find_key(table: &toml::Table, prefix: &str, name: &str, out: &mut Vec<String>) {
    for (key, value) in table {
        let here = join(prefix, key);
        if key == name {
            out.push(here.clone());
        }
        if let toml::Value::Table(t) = value {
            find_key(t, &here, name, out);
        }
    }
}

/// The dotted paths under `table` (at `prefix`) of values described as `described` (an array
/// counts by its elements).
fn find_described(table: &toml::Table, prefix: &str, described: &str, out: &mut Vec<String>) {
    for (key, value) in table {
        let here = join(prefix, key);
        match value {
            toml::Value::Table(t) => find_described(t, &here, described, out),
            toml::Value::Array(items)
                if items.iter().any(|item| describe_value(item) == described) =>
            {
                out.push(here)
            }
            v if describe_value(v) == described => out.push(here),
            _ => {}
        }
    }
}

/// A value as serde's `Unexpected` prints it.
fn describe_value(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("string {s:?}"),
        toml::Value::Integer(i) => format!("integer `{i}`"),
        toml::Value::Float(f) => format!("floating point `{f}`"),
        toml::Value::Boolean(b) => format!("boolean `{b}`"),
        toml::Value::Array(_) => "sequence".into(),
        toml::Value::Table(_) => "map".into(),
        toml::Value::Datetime(d) => format!("string {:?}", d.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn override_values_are_toml_or_strings() {
        assert_eq!(parse_override_value("5"), toml::Value::Integer(5));
        assert_eq!(parse_override_value("-0.5"), toml::Value::Float(-0.5));
        assert_eq!(
            parse_override_value("\"x y\""),
            toml::Value::String("x y".into())
        );
        assert_eq!(
            parse_override_value("other-name"),
            toml::Value::String("other-name".into())
        );
        assert!(matches!(
            parse_override_value("[32, 32]"),
            toml::Value::Array(_)
        ));
    }
}
