//! Fuzzes the markpact parser: it must never panic, errors must come sorted by line, and a
//! successful parse must only contain valid, normalized paths.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pactown::markpact;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let result = markpact::parse(Path::new("README.md"), data);
    match &result {
        Ok(doc) => {
            for f in &doc.files {
                assert_eq!(markpact::validate_path(&f.path, 255).ok().as_deref(), Some(f.path.as_str()));
            }
            let _ = markpact::validate(doc);
            let _ = markpact::missing_env(doc, &|_| false);
            if let Some(run) = &doc.run {
                let _ = markpact::guess_port(&run.body);
                let _ = markpact::expand_static(&run.body, &|_| None);
            }
        }
        Err(diags) => {
            assert!(diags.has_errors());
            let lines: Vec<usize> = diags.0.iter().map(|d| d.line).collect();
            assert!(lines.windows(2).all(|w| w[0] <= w[1]), "unsorted: {lines:?}");
        }
    }
    let json = markpact::canonical_json(&result);
    assert_eq!(json["ok"].as_bool(), Some(result.is_ok()));
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = markpact::expand_static(text, &|_| Some(String::new()));
        let _ = markpact::guess_port(text);
    }
});
