//! The committed spec itself: every example in it validates against its own schema, so
//! a client developer who copies one gets a request the server takes.

use anyhow::Result;
use recoup_e2e::contract::Contract;
use serde_json::Value;

fn token(text: &str) -> String {
    text.replace('~', "~0").replace('/', "~1")
}

/// Every `(pointer of a schema, example, where)` in the document.
fn examples(node: &Value, pointer: &str, out: &mut Vec<(String, Value, String)>) {
    match node {
        Value::Object(map) => {
            let is_schema = [
                "type",
                "$ref",
                "enum",
                "properties",
                "allOf",
                "oneOf",
                "anyOf",
            ]
            .iter()
            .any(|k| map.contains_key(*k));
            let has_schema = map.get("schema").is_some_and(Value::is_object);
            if let Some(example) = map.get("example") {
                if has_schema {
                    out.push((
                        format!("{pointer}/schema"),
                        example.clone(),
                        pointer.to_owned(),
                    ));
                } else if is_schema {
                    out.push((pointer.to_owned(), example.clone(), pointer.to_owned()));
                }
            }
            if has_schema && let Some(named) = map.get("examples").and_then(Value::as_object) {
                for (name, example) in named {
                    if let Some(value) = example.get("value") {
                        out.push((
                            format!("{pointer}/schema"),
                            value.clone(),
                            format!("{pointer}/examples/{}", token(name)),
                        ));
                    }
                }
            }
            for (key, value) in map {
                // Example values are data, not more of the document.
                if key == "example" || key == "examples" {
                    continue;
                }
                examples(value, &format!("{pointer}/{}", token(key)), out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                examples(item, &format!("{pointer}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_example_validates_against_its_schema() -> Result<()> {
    let contract = Contract::get().map_err(anyhow::Error::msg)?;
    let mut found = Vec::new();
    examples(contract.spec(), "", &mut found);
    anyhow::ensure!(found.len() > 100, "only {} examples found", found.len());
    let mut broken = Vec::new();
    for (schema, example, place) in &found {
        // Pointers into `paths` percent-encode the braces of path templates.
        let schema = schema.replace('{', "%7B").replace('}', "%7D");
        let errors = contract
            .schema_errors(&schema, example)
            .map_err(anyhow::Error::msg)?;
        if !errors.is_empty() {
            broken.push(format!("{place}: {}", errors.join("; ")));
        }
    }
    anyhow::ensure!(
        broken.is_empty(),
        "{} of {} examples fail their schema:\n{}",
        broken.len(),
        found.len(),
        broken.join("\n")
    );
    Ok(())
}

#[test]
fn every_operation_documents_its_problems_with_examples() -> Result<()> {
    let contract = Contract::get().map_err(anyhow::Error::msg)?;
    let spec = contract.spec();
    let mut missing = Vec::new();
    for (path, item) in spec["paths"].as_object().into_iter().flatten() {
        for (method, operation) in item.as_object().into_iter().flatten() {
            let secured = operation["security"]
                .as_array()
                .is_some_and(|s| !s.is_empty());
            let responses = &operation["responses"];
            let mut needed = vec!["500", "503"];
            if secured {
                needed.extend(["401", "403"]);
            }
            for status in needed {
                if !responses[status].is_object() {
                    missing.push(format!("{method} {path}: {status}"));
                }
            }
            if operation["security"].is_null() {
                missing.push(format!("{method} {path}: no security (public ones say [])"));
            }
        }
    }
    anyhow::ensure!(missing.is_empty(), "undocumented: {missing:#?}");
    Ok(())
}
