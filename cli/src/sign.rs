//! `wasp sign --key KEY FILE.wasm [-o OUT.wasm] [--detached]` and
//! `wasp verify [--key KEY.pub]... FILE.wasm`: signatures with OpenSSH Ed25519
//! keys (`ssh-keygen -t ed25519 -N '' -f KEY`), through `wasp_host::signing`,
//! the same code that checks them at load.

use std::path::{Path, PathBuf};

use wasp_host::TrustedKey;
use wasp_host::signing::{self, SigningKey};

use crate::{CliResult, Failure};

#[derive(clap::Args)]
pub(crate) struct SignArgs {
    /// The OpenSSH Ed25519 private key (no passphrase).
    #[arg(long, value_name = "KEY")]
    key: PathBuf,
    /// The plugin to sign.
    file: PathBuf,
    /// Where to write the signed plugin (default: over FILE).
    #[arg(short, long, value_name = "OUT.wasm", conflicts_with = "detached")]
    output: Option<PathBuf>,
    /// Write the signature to FILE.wasm.sig (adding to one already there) and
    /// leave the plugin's bytes as they are.
    #[arg(long)]
    detached: bool,
}

#[derive(clap::Args)]
pub(crate) struct VerifyArgs {
    /// A public key (KEY.pub) that may have signed it; repeat for several.
    #[arg(long = "key", value_name = "KEY.pub")]
    keys: Vec<PathBuf>,
    /// The plugin (its FILE.wasm.sig is read too, if there is one).
    file: PathBuf,
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, Failure> {
    std::fs::read(path)
        .map_err(|e| Failure::usage(format!("cannot read {what} {}: {e}", path.display())))
}

fn write(path: &Path, bytes: &[u8]) -> CliResult {
    // Beside the target, then renamed: a watcher never sees half a file.
    let tmp = path.with_extension("wasp-sign.tmp");
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| Failure::usage(format!("cannot write {}: {e}", path.display())))
}

pub(crate) fn sign(a: SignArgs) -> CliResult {
    let text = String::from_utf8(read(&a.key, "the key")?)
        .map_err(|_| Failure::usage(format!("{}: not an OpenSSH key file", a.key.display())))?;
    let key = SigningKey::from_openssh(&text)
        .map_err(|e| Failure::usage(format!("{}: {e}", a.key.display())))?;
    let bytes = read(&a.file, "the plugin")?;
    let failed = |e: wasp_host::SigningError| Failure::usage(format!("{}: {e}", a.file.display()));
    if a.detached {
        let sig = signing::detached_path(&a.file);
        let existing = match std::fs::read(&sig) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(Failure::usage(format!(
                    "cannot read {}: {e}",
                    sig.display()
                )));
            }
        };
        let signature =
            signing::sign_detached(&bytes, existing.as_deref(), &key).map_err(failed)?;
        write(&sig, &signature)?;
        println!(
            "signed {} by {} (detached: {})",
            a.file.display(),
            key.public(),
            sig.display()
        );
    } else {
        let signed = signing::sign_embedded(&bytes, &key).map_err(failed)?;
        let out = a.output.as_deref().unwrap_or(&a.file);
        write(out, &signed)?;
        println!("signed {} by {} (embedded)", out.display(), key.public());
    }
    Ok(())
}

pub(crate) fn verify(a: VerifyArgs) -> CliResult {
    let mut keys = Vec::new();
    for path in &a.keys {
        let text = String::from_utf8(read(path, "the key")?)
            .map_err(|_| Failure::usage(format!("{}: not a public key file", path.display())))?;
        let key = TrustedKey::from_openssh(&text)
            .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
        keys.push((path.clone(), key));
    }
    let bytes = read(&a.file, "the plugin")?;
    let sig = signing::detached_path(&a.file);
    let detached = std::fs::read(&sig).ok();
    let signers = signing::signers(&bytes, detached.as_deref())
        .map_err(|e| Failure::usage(format!("{}: {e}", a.file.display())))?;
    if signers.is_empty() {
        println!("{}: no signatures", a.file.display());
    }
    let trusted: Vec<TrustedKey> = keys.iter().map(|(_, k)| k.clone()).collect();
    let valid = if trusted.is_empty() {
        Err(wasp_host::SignatureProblem::NoTrustedKeys)
    } else {
        signing::verify(&bytes, detached.as_deref(), &trusted)
    };
    let valid_keys: &[TrustedKey] = valid.as_deref().unwrap_or(&[]);
    for signer in &signers {
        let name = signer.as_deref().unwrap_or("a key it does not name");
        let known = keys.iter().find(|(_, k)| Some(k.fingerprint()) == *signer);
        match known {
            Some((path, k)) if valid_keys.contains(k) => {
                println!("signed by {name} ({}): valid", path.display())
            }
            Some((path, _)) => println!(
                "signed by {name} ({}): INVALID, the bytes do not match the signature",
                path.display()
            ),
            None => println!("signed by {name}: not one of the given keys"),
        }
    }
    match valid {
        Ok(_) => Ok(()),
        Err(wasp_host::SignatureProblem::NoTrustedKeys) => Err(Failure::usage(format!(
            "{}: no --key given, so no signature was verified",
            a.file.display()
        ))),
        Err(problem) => Err(Failure::usage(format!("{}: {problem}", a.file.display()))),
    }
}
