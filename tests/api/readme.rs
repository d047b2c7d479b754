//! The README's API examples, run in order from top to bottom against a
//! fresh server, as a reader would paste them. Skipped (loudly) without
//! bash, curl or jq.

use std::process::Command;

use crate::helpers::spawn_app;

const README: &str = include_str!("../../README.md");

/// The `sh` blocks of the README's API section, in order.
fn api_examples() -> Vec<&'static str> {
    let start = README.find("\n## The API").expect("an API section");
    let end = start
        + README[start..]
            .find("\n## Performance")
            .expect("a section after it");
    README[start..end]
        .split("```sh\n")
        .skip(1)
        .map(|block| &block[..block.find("```").expect("a closed block")])
        .collect()
}

fn tools_present() -> bool {
    let found = ["bash", "curl", "jq"].iter().all(|tool| {
        Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|out| out.status.success())
    });
    if !found {
        eprintln!("SKIPPED: the README examples need bash, curl and jq");
    }
    found
}

#[actix_web::test]
async fn the_readme_api_examples_run_in_order_on_a_fresh_server() {
    if !tools_present() {
        return;
    }
    let app = spawn_app().await;
    let examples = api_examples();
    assert!(examples.len() >= 5, "{} blocks", examples.len());
    let host = app.address.trim_start_matches("http://");
    // Any HTTP error fails the run, with the body in the output. A reader
    // takes a moment between blocks; so does the script, so that chats are
    // in the log (written in batches every 50 ms) when the next block reads it.
    let script = format!(
        "set -euo pipefail\ncurl() {{ command curl --fail-with-body \"$@\"; echo; }}\n{}",
        examples.join("sleep 0.2\n").replace("localhost:8080", host)
    );
    let key = app.api_key.clone();
    let output = actix_web::rt::task::spawn_blocking(move || {
        Command::new("bash")
            .args(["-c", &script])
            .env("KEY", key)
            .output()
            .expect("run bash")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "an example failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The chat attributed to ann: she is still there when it runs.
    assert!(stdout.contains("\"content\":\"Hello\""), "{stdout}");
}
