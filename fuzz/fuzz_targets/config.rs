//! The configuration loader (worker and tray app alike) on any text: a configuration or a list of
//! problems, each saying what is wrong — never a panic. Relative paths point into a folder that
//! does not exist, so nothing outside the input is read.
#![no_main]

use std::path::Path;

use bta_core::config::{MemoryStore, WorkerConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match WorkerConfig::parse(text, Path::new("/nonexistent/bta-fuzz"), &MemoryStore::default()) {
        Ok(config) => assert!(!config.profiles.is_empty(), "a configuration without a profile was accepted"),
        Err(problems) => {
            assert!(!problems.0.is_empty(), "refused without saying why");
            assert!(problems.0.iter().all(|p| !p.trim().is_empty()), "an empty problem line");
        }
    }
});
