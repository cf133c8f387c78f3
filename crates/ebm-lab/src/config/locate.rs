//! Where a dotted field is written in a config's text, from `toml_edit`'s spans: a
//! `[table]` header, a `key = value` line (dotted keys too), a key of an inline table, an
//! element of a (multi-line) array.

use toml_edit::{ImDocument, Item, Value};

/// The 1-based line of the byte offset `byte` of `text`.
pub(super) fn line_of(text: &str, byte: usize) -> usize {
    text[..byte.min(text.len())].matches('\n').count() + 1
}

/// The line of `path` or, failing that, of its longest prefix written in the text.
pub(super) fn locate_nearest(text: &str, path: &[&str]) -> Option<usize> {
    let doc = ImDocument::parse(text).ok()?;
    let mut line = None;
    let mut item: Option<&Item> = None;
    let mut value: Option<&Value> = None;
    for (depth, segment) in path.iter().enumerate() {
        let found = if depth == 0 {
            doc.as_table()
                .get_key_value(segment)
                .map(|(k, v)| (k.span(), Some(v), None))
        } else {
            step(item, value, segment)
        };
        let Some((span, next_item, next_value)) = found else {
            break;
        };
        let span = span
            .or_else(|| next_item.and_then(Item::span))
            .or_else(|| next_value.and_then(Value::span))
            .or_else(|| next_item.and_then(Item::as_table).and_then(|t| t.span()));
        if let Some(span) = span {
            line = Some(line_of(text, span.start));
        }
        item = next_item;
        value = next_value;
    }
    line
}

type Found<'a> = (
    Option<std::ops::Range<usize>>,
    Option<&'a Item>,
    Option<&'a Value>,
);

/// One key (or array index) down from a table item or an inline value.
fn step<'a>(item: Option<&'a Item>, value: Option<&'a Value>, segment: &str) -> Option<Found<'a>> {
    let index = segment
        .trim_end_matches(']')
        .trim_start_matches('[')
        .parse::<usize>();
    if let Some(item) = item {
        match item {
            Item::Table(t) => t
                .get_key_value(segment)
                .map(|(k, v)| (k.span(), Some(v), None)),
            Item::Value(v) => step(None, Some(v), segment),
            Item::ArrayOfTables(a) => a.get(index.ok()?).map(|t| (t.span(), None, None)),
            Item::None => None,
        }
    } else {
        match value? {
            Value::InlineTable(t) => t
                .get_key_value(segment)
                .map(|(k, v)| (k.span(), Some(v), None)),
            Value::Array(a) => {
                let v = a.get(index.ok()?)?;
                Some((v.span(), None, Some(v)))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_locator_finds_headers_keys_inline_tables_and_array_elements() {
        let text = "name = \"a\" # a comment with = sign\n[train]\nepochs = 3\noptimizer = { kind = \"adam\", lr = -1.0 }\n[model]\nkind = \"binary\"\ng.hidden = [4]\n[model.y_range]\nlo = 1\n";
        assert_eq!(locate_nearest(text, &["name"]), Some(1));
        assert_eq!(locate_nearest(text, &["train"]), Some(2));
        assert_eq!(locate_nearest(text, &["train", "epochs"]), Some(3));
        assert_eq!(locate_nearest(text, &["train", "optimizer", "lr"]), Some(4));
        assert_eq!(locate_nearest(text, &["model", "g", "hidden"]), Some(7));
        assert_eq!(locate_nearest(text, &["model", "y_range", "lo"]), Some(9));
        // Not written: the nearest table that is.
        assert_eq!(locate_nearest(text, &["model", "y_range", "hi"]), Some(8));
        assert_eq!(locate_nearest(text, &["nothing"]), None);
    }

    #[test]
    fn multi_line_inline_values_point_at_their_own_line() {
        let text = "[model]\nkind = \"multi_class\"\ng = { hidden = [\n  64,\n  -1,\n], activation = \"relu\" }\n";
        assert_eq!(locate_nearest(text, &["model", "g"]), Some(3));
        assert_eq!(locate_nearest(text, &["model", "g", "hidden"]), Some(3));
        assert_eq!(
            locate_nearest(text, &["model", "g", "hidden", "[1]"]),
            Some(5)
        );
        assert_eq!(locate_nearest(text, &["model", "g", "activation"]), Some(6));
    }
}
