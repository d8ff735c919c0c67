//! Passwords: the `Password` newtype (parse, don't validate) and argon2id
//! hashing on a few threads of its own. (`Email` is the users slice's,
//! re-exported by `auth`.)

use argon2::{Argon2, PasswordHasher as _, PasswordVerifier as _};
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use tokio::sync::Semaphore;

/// Shortest accepted password, in characters.
pub const PASSWORD_MIN_CHARS: usize = 12;
/// Longest accepted password, in characters (argon2 takes any length; the
/// cap bounds the work a single request can ask for).
pub const PASSWORD_MAX_CHARS: usize = 256;

/// A new password that passed a [`PasswordPolicy`]. `Debug` never shows it.
#[derive(Clone)]
pub struct Password(SecretString);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// Why a string is not an acceptable new password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Fewer characters than the policy's minimum (carried).
    #[error("must be at least {0} characters long")]
    TooShort(usize),
    /// More than [`PASSWORD_MAX_CHARS`] characters.
    #[error("must be at most 256 characters long")]
    TooLong,
    /// Among the common or trivially guessable passwords.
    #[error("is too common or easy to guess")]
    TooWeak,
}

/// What a new password must be: at least `min_chars` characters, at most
/// [`PASSWORD_MAX_CHARS`], and (with `check_strength`) a zxcvbn score of at
/// least 3. No composition rules (NIST SP 800-63B). The default is
/// TradeSense's: 12 characters, strength checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Shortest accepted password, in characters (at least 1, at most
    /// [`PASSWORD_MAX_CHARS`]).
    pub min_chars: usize,
    /// Whether guessable passwords (zxcvbn score below 3, or built from the
    /// user's own details) are refused.
    pub check_strength: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_chars: PASSWORD_MIN_CHARS,
            check_strength: true,
        }
    }
}

impl PasswordPolicy {
    /// Applies the policy. `user_inputs` (email, name) make passwords built
    /// from the user's own details count as guessable.
    pub fn parse(&self, candidate: &str, user_inputs: &[&str]) -> Result<Password, PasswordError> {
        let chars = candidate.chars().count();
        let min_chars = self.min_chars.clamp(1, PASSWORD_MAX_CHARS);
        if chars < min_chars {
            return Err(PasswordError::TooShort(min_chars));
        }
        if chars > PASSWORD_MAX_CHARS {
            return Err(PasswordError::TooLong);
        }
        // zxcvbn's matching is quadratic in the length; like the reference
        // implementation we estimate on the first 100 characters (a long
        // password that is weak in its first 100 is weak).
        if self.check_strength {
            let head: String = candidate.chars().take(100).collect();
            if zxcvbn::zxcvbn(&head, user_inputs).score() < zxcvbn::Score::Three {
                return Err(PasswordError::TooWeak);
            }
        }
        Ok(Password(SecretString::from(candidate.to_owned())))
    }
}

impl Password {
    /// Applies the [default policy](PasswordPolicy::default).
    pub fn parse(candidate: &str, user_inputs: &[&str]) -> Result<Self, PasswordError> {
        PasswordPolicy::default().parse(candidate, user_inputs)
    }

    /// The password, for hashing.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// Hashing failed (the hashing threads are gone, or argon2 refused its input).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// argon2id with OWASP's parameters (m=19456 KiB, t=2, p=1: argon2's
/// defaults), run on `permits` threads of its own behind a semaphore.
///
/// Why the semaphore: each hash takes ~19 MiB and tens of milliseconds of
/// CPU; without a bound a login storm would run hundreds at once and
/// starve everything else. With `permits` hashes at a time, extra logins
/// queue (cheaply, as futures) instead, and a login whose client has gone
/// before its turn costs no hash.
///
/// Why threads of its own rather than tokio's blocking pool: a hash's
/// 19 MiB block is freed on the thread that ran it, and allocators keep
/// freed memory per thread; on the blocking pool consecutive hashes land
/// on any of hundreds of threads, each keeping a block. On `permits`
/// long-lived threads at most that many blocks are in play. That alone is
/// not enough under glibc's malloc, which still grew by about a block per
/// hash (measured: 306 MiB resident after 20 hashes); the server binary
/// runs on mimalloc, where it plateaus (107 MiB; benches/README.md).
#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    threads: Arc<HashThreads>,
    verifications: Arc<AtomicU64>,
}

type Job = Box<dyn FnOnce() + Send>;

/// The hashing threads, started on first use; they end when the last
/// clone of the hasher is dropped (their queue closes).
struct HashThreads {
    count: usize,
    queue: OnceLock<Mutex<mpsc::Sender<Job>>>,
}

impl HashThreads {
    fn submit(&self, job: Job) -> Result<(), HashError> {
        let queue = self.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::channel::<Job>();
            let receiver = Arc::new(Mutex::new(receiver));
            for n in 0..self.count {
                let receiver = receiver.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("argon2-{n}"))
                    .spawn(move || {
                        loop {
                            // The lock is held only while waiting for a job.
                            let job = match receiver.lock() {
                                Ok(receiver) => receiver.recv(),
                                Err(_) => return,
                            };
                            match job {
                                Ok(job) => job(),
                                Err(_) => return,
                            }
                        }
                    });
                if let Err(error) = spawned {
                    tracing::error!(%error, "could not start a password-hashing thread");
                }
            }
            Mutex::new(sender)
        });
        queue
            .lock()
            .map_err(|_| HashError("hash queue poisoned".into()))?
            .send(job)
            .map_err(|_| HashError("no password-hashing thread".into()))
    }
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("available_permits", &self.permits.available_permits())
            .field("verifications", &self.verifications())
            .finish()
    }
}

impl Default for PasswordHasher {
    /// Two concurrent hashes: the production machine has two cores.
    fn default() -> Self {
        Self::new(2)
    }
}

/// The hash unknown emails are verified against, so that "no such user"
/// costs the same argon2 work as "wrong password". Computed once, lazily.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let random: [u8; 16] = rand::random();
        Argon2::default()
            .hash_password(&random)
            .map(|hash| hash.to_string())
            // Cannot fail for 16 bytes under the default parameters; if it
            // ever did, verifying against "" fails fast (a timing signal on
            // a broken build, rather than a panic on every unknown email).
            .unwrap_or_else(|error| {
                tracing::error!(%error, "argon2 could not build the dummy hash");
                String::new()
            })
    })
}

impl PasswordHasher {
    /// A hasher running at most `permits` (at least 1) hashes at a time.
    pub fn new(permits: usize) -> Self {
        let permits = permits.max(1);
        Self {
            permits: Arc::new(Semaphore::new(permits)),
            threads: Arc::new(HashThreads {
                count: permits,
                queue: OnceLock::new(),
            }),
            verifications: Arc::new(AtomicU64::new(0)),
        }
    }

    /// How many password verifications this hasher (and its clones) has
    /// run, dummy ones for unknown accounts included: what the account
    /// throttle bounds, for metrics and for tests that count the checks a
    /// burst of attempts got.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    async fn blocking<T, F>(&self, work: F) -> Result<T, HashError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|err| HashError(err.to_string()))?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.threads.submit(Box::new(move || {
            // The caller may have gone; the work is done either way.
            let _ = reply.send(work());
        }))?;
        // A panic in `work` drops `reply`.
        answer
            .await
            .map_err(|_| HashError("password hashing failed".into()))
    }

    /// Hashes a new password to a PHC string (random salt).
    pub async fn hash(&self, password: &Password) -> Result<String, HashError> {
        let password = password.0.clone();
        self.blocking(move || {
            Argon2::default()
                .hash_password(password.expose_secret().as_bytes())
                .map(|hash| hash.to_string())
                .map_err(|err| HashError(err.to_string()))
        })
        .await?
    }

    /// Whether `candidate` matches the PHC string. With `None` (unknown
    /// email), verifies against a dummy hash and answers `false`, taking the
    /// same time.
    pub async fn verify(&self, candidate: &SecretString, phc: Option<&str>) -> bool {
        let candidate = candidate.clone();
        let known = phc.is_some();
        let phc = phc.map(str::to_owned);
        self.verifications.fetch_add(1, Ordering::Relaxed);
        let outcome = self
            .blocking(move || {
                let phc = phc.as_deref().unwrap_or_else(|| dummy_hash());
                Argon2::default()
                    .verify_password(candidate.expose_secret().as_bytes(), phc)
                    .is_ok()
            })
            .await;
        known && outcome.unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn policy_refuses_short_long_and_common() {
        assert_eq!(
            Password::parse("short", &[]).unwrap_err(),
            PasswordError::TooShort(12)
        );
        assert_eq!(
            Password::parse(&"x".repeat(257), &[]).unwrap_err(),
            PasswordError::TooLong
        );
        assert_eq!(
            Password::parse("password1234", &[]).unwrap_err(),
            PasswordError::TooWeak
        );
        assert_eq!(
            Password::parse("aaaaaaaaaaaa", &[]).unwrap_err(),
            PasswordError::TooWeak
        );
        assert!(Password::parse("correct horse battery staple", &[]).is_ok());
        assert_eq!(
            format!(
                "{:?}",
                Password::parse("correct horse battery staple", &[]).unwrap()
            ),
            "Password(***)"
        );
    }

    #[test]
    fn an_embedders_policy_sets_the_minimum_and_the_strength_check() {
        let lenient = PasswordPolicy {
            min_chars: 8,
            check_strength: false,
        };
        assert_eq!(
            lenient.parse("1234567", &[]).unwrap_err(),
            PasswordError::TooShort(8)
        );
        assert_eq!(
            PasswordError::TooShort(8).to_string(),
            "must be at least 8 characters long"
        );
        // Guessable, but this policy does not judge strength.
        assert!(lenient.parse("password", &[]).is_ok());
        assert_eq!(
            PasswordPolicy::default()
                .parse("password1234", &[])
                .unwrap_err(),
            PasswordError::TooWeak
        );
        // The length cap holds whatever the policy says.
        let loose = PasswordPolicy {
            min_chars: 0,
            check_strength: false,
        };
        assert_eq!(
            loose.parse("", &[]).unwrap_err(),
            PasswordError::TooShort(1)
        );
        assert_eq!(
            loose.parse(&"x".repeat(257), &[]).unwrap_err(),
            PasswordError::TooLong
        );
    }

    #[tokio::test]
    async fn hash_and_verify_round_trip() {
        let hasher = PasswordHasher::new(2);
        let password = Password::parse("correct horse battery staple", &[]).unwrap();
        let phc = hasher.hash(&password).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        let right = SecretString::from("correct horse battery staple");
        let wrong = SecretString::from("correct horse battery stapler");
        assert!(hasher.verify(&right, Some(&phc)).await);
        assert!(!hasher.verify(&wrong, Some(&phc)).await);
        assert!(!hasher.verify(&right, None).await);
        assert_eq!(hasher.clone().verifications(), 3);
    }

    proptest! {
        #[test]
        fn password_parse_never_panics_and_respects_length(s in "\\PC{0,300}") {
            let chars = s.chars().count();
            match Password::parse(&s, &[]) {
                Ok(p) => prop_assert!((12..=256).contains(&chars) && p.expose() == s),
                Err(PasswordError::TooShort(min)) => prop_assert!(min == 12 && chars < 12),
                Err(PasswordError::TooLong) => prop_assert!(chars > 256),
                Err(PasswordError::TooWeak) => prop_assert!((12..=256).contains(&chars)),
            }
        }
    }
}
