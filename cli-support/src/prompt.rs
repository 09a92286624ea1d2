//! Asking the person at the terminal for a passphrase, or taking it from the environment.

use mcpsig::keys::PASSPHRASE_ENV;
use std::io::IsTerminal;
use zeroize::Zeroizing;

/// A passphrase from [`PASSPHRASE_ENV`], else from the terminal; `None` when neither is
/// available (or the two answers to a confirmed prompt differ).
pub fn read_passphrase(prompt: &str, confirm: bool) -> Option<Zeroizing<String>> {
    if let Ok(p) = std::env::var(PASSPHRASE_ENV) {
        return Some(Zeroizing::new(p));
    }
    if !std::io::stdin().is_terminal() {
        return None;
    }
    let first = Zeroizing::new(ask(prompt)?);
    if confirm {
        let again = Zeroizing::new(ask("Repeat passphrase: ")?);
        if *again != *first {
            eprintln!("error: passphrases do not match");
            return None;
        }
    }
    Some(first)
}

fn ask(prompt: &str) -> Option<String> {
    rpassword::prompt_password(prompt).ok()
}
