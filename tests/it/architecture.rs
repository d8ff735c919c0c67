//! The import direction of `tradesense-core` (DESIGN: "auth, users, MFA
//! and passkeys know nothing of the journal or the profile"), checked on
//! the source: a `use` or path into `trading` or `profile` from those
//! slices fails here, so an embedder never pulls the product in with them.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("a source folder") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            files.extend(sources(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files
}

#[test]
fn auth_users_mfa_and_passkeys_import_nothing_of_the_product() {
    let core = Path::new(env!("CARGO_MANIFEST_DIR")).join("tradesense-core/src");
    let mut offences = Vec::new();
    for slice in ["auth", "users", "mfa", "passkeys"] {
        for file in sources(&core.join(slice)) {
            let text = std::fs::read_to_string(&file).expect("a readable source");
            for (number, line) in text.lines().enumerate() {
                // Code only: doc comments may point at the product.
                let code = line.split("//").next().unwrap_or_default();
                if ["crate::trading", "crate::profile", "super::super::trading"]
                    .iter()
                    .any(|path| code.contains(path))
                {
                    offences.push(format!(
                        "{}:{}: {}",
                        file.display(),
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(offences.is_empty(), "{}", offences.join("\n"));
}
