//! The client side of SCRAM (RFC 5802) with SHA-256 and SHA-512 (RFC 7677,
//! and the SHA-512 variant Kafka and Strimzi use), as pure functions of
//! the messages: no I/O, so every step is unit-tested with known vectors.
//!
//! Like Kafka's own client, the password is used as its UTF-8 bytes without
//! SASLprep; the broker stores credentials made the same way. Channel
//! binding is not used (`n,,`): Kafka does not offer it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::{digest, hmac, pbkdf2};

use crate::security::secret::Secret;

/// Kafka stores SCRAM credentials with 4096 to 16384 iterations. Fewer
/// would be a downgrade (RFC 7677 asks for at least 4096); more than any
/// Kafka broker uses would let a rogue server make the client spin.
pub(crate) const MIN_ITERATIONS: u32 = 4096;
pub(crate) const MAX_ITERATIONS: u32 = 16384;

/// The two SCRAM hash functions Kafka supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScramHash {
    Sha256,
    Sha512,
}

impl ScramHash {
    pub fn mechanism(self) -> &'static str {
        match self {
            ScramHash::Sha256 => "SCRAM-SHA-256",
            ScramHash::Sha512 => "SCRAM-SHA-512",
        }
    }

    fn hmac(self) -> hmac::Algorithm {
        match self {
            ScramHash::Sha256 => hmac::HMAC_SHA256,
            ScramHash::Sha512 => hmac::HMAC_SHA512,
        }
    }

    fn pbkdf2(self) -> pbkdf2::Algorithm {
        match self {
            ScramHash::Sha256 => pbkdf2::PBKDF2_HMAC_SHA256,
            ScramHash::Sha512 => pbkdf2::PBKDF2_HMAC_SHA512,
        }
    }

    fn digest(self) -> &'static digest::Algorithm {
        match self {
            ScramHash::Sha256 => &digest::SHA256,
            ScramHash::Sha512 => &digest::SHA512,
        }
    }

    fn output_len(self) -> usize {
        self.digest().output_len()
    }
}

/// Why an exchange failed. No variant carries the password or anything
/// derived from it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScramError {
    #[error("the server's SCRAM message is malformed: {0}")]
    Malformed(&'static str),
    #[error("the server's nonce does not extend the client's (not a SCRAM reply to this exchange)")]
    NonceMismatch,
    #[error(
        "the server asks for {0} PBKDF2 iterations; Kafka uses {MIN_ITERATIONS} to {MAX_ITERATIONS}"
    )]
    IterationsOutOfRange(u64),
    #[error("the server requires an unsupported SCRAM extension")]
    MandatoryExtension,
    #[error("the server rejected the proof: {0}")]
    Rejected(String),
    #[error(
        "the server's signature does not verify: it does not know this user's credential (or is not the broker it claims to be)"
    )]
    ServerSignatureMismatch,
}

/// The first step: the client-first message is ready to send.
pub(crate) struct ClientFirst {
    hash: ScramHash,
    nonce: String,
    bare: String,
}

impl ClientFirst {
    /// `nonce` must be printable ASCII without commas (see [`new_nonce`]).
    pub(crate) fn new(hash: ScramHash, username: &str, nonce: String) -> Self {
        let bare = format!("n={},r={nonce}", escape_username(username));
        Self { hash, nonce, bare }
    }

    /// `n,,` (no channel binding, no authorization identity) and the bare part.
    pub(crate) fn message(&self) -> String {
        format!("n,,{}", self.bare)
    }

    /// Reads the server-first message, derives the keys and returns the
    /// client-final message to send and the state that checks the server's
    /// final answer.
    pub(crate) fn answer(
        self,
        server_first: &[u8],
        password: &Secret,
    ) -> Result<(String, ClientFinal), ScramError> {
        let server_first = std::str::from_utf8(server_first)
            .map_err(|_| ScramError::Malformed("server-first is not UTF-8"))?;
        let parsed = ServerFirst::parse(server_first)?;
        if !parsed.nonce.starts_with(&self.nonce) || parsed.nonce.len() == self.nonce.len() {
            return Err(ScramError::NonceMismatch);
        }
        if !(u64::from(MIN_ITERATIONS)..=u64::from(MAX_ITERATIONS)).contains(&parsed.iterations) {
            return Err(ScramError::IterationsOutOfRange(parsed.iterations));
        }
        let salt = BASE64
            .decode(parsed.salt)
            .map_err(|_| ScramError::Malformed("the salt is not base64"))?;
        if salt.is_empty() {
            return Err(ScramError::Malformed("empty salt"));
        }
        let hash = self.hash;
        let mut salted = vec![0u8; hash.output_len()];
        let iterations = u32::try_from(parsed.iterations)
            .ok()
            .and_then(std::num::NonZeroU32::new)
            .ok_or(ScramError::IterationsOutOfRange(parsed.iterations))?;
        pbkdf2::derive(
            hash.pbkdf2(),
            iterations,
            &salt,
            password.expose(),
            &mut salted,
        );
        let salted = Secret::new(salted);
        let salted_key = hmac::Key::new(hash.hmac(), salted.expose());
        let client_key = Secret::new(hmac::sign(&salted_key, b"Client Key").as_ref().to_vec());
        let stored_key = digest::digest(hash.digest(), client_key.expose());

        // "biws" is base64("n,,"), the GS2 header sent in client-first.
        let without_proof = format!("c=biws,r={}", parsed.nonce);
        let auth_message = format!("{},{server_first},{without_proof}", self.bare);
        let client_signature = hmac::sign(
            &hmac::Key::new(hash.hmac(), stored_key.as_ref()),
            auth_message.as_bytes(),
        );
        let proof: Vec<u8> = client_key
            .expose()
            .iter()
            .zip(client_signature.as_ref())
            .map(|(k, s)| k ^ s)
            .collect();
        let server_key = hmac::sign(&salted_key, b"Server Key");
        let final_message = format!("{without_proof},p={}", BASE64.encode(proof));
        Ok((
            final_message,
            ClientFinal {
                server_key: hmac::Key::new(hash.hmac(), server_key.as_ref()),
                auth_message,
            },
        ))
    }
}

/// The last step: checks that the server knows the credential too.
pub(crate) struct ClientFinal {
    server_key: hmac::Key,
    auth_message: String,
}

impl ClientFinal {
    pub(crate) fn verify(&self, server_final: &[u8]) -> Result<(), ScramError> {
        let server_final = std::str::from_utf8(server_final)
            .map_err(|_| ScramError::Malformed("server-final is not UTF-8"))?;
        let first = server_final.split(',').next().unwrap_or_default();
        if let Some(error) = first.strip_prefix("e=") {
            // RFC 5802's server-error-value: a short token such as
            // "invalid-proof"; bounded so a hostile server cannot flood logs.
            return Err(ScramError::Rejected(error.chars().take(100).collect()));
        }
        let signature = first
            .strip_prefix("v=")
            .ok_or(ScramError::Malformed("server-final has neither v= nor e="))?;
        let signature = BASE64
            .decode(signature)
            .map_err(|_| ScramError::Malformed("the server signature is not base64"))?;
        // Constant-time comparison.
        hmac::verify(&self.server_key, self.auth_message.as_bytes(), &signature)
            .map_err(|_| ScramError::ServerSignatureMismatch)
    }
}

struct ServerFirst<'a> {
    nonce: &'a str,
    salt: &'a str,
    iterations: u64,
}

impl<'a> ServerFirst<'a> {
    fn parse(message: &'a str) -> Result<Self, ScramError> {
        let mut attributes = message.split(',');
        let mut next = |name: &'static str, missing: &'static str| {
            attributes
                .next()
                .and_then(|a| a.strip_prefix(name))
                .ok_or(ScramError::Malformed(missing))
        };
        if message.starts_with("m=") {
            return Err(ScramError::MandatoryExtension);
        }
        let nonce = next("r=", "server-first does not start with the nonce (r=)")?;
        let salt = next("s=", "server-first has no salt (s=) after the nonce")?;
        let iterations = next(
            "i=",
            "server-first has no iteration count (i=) after the salt",
        )?;
        let iterations = iterations
            .parse()
            .map_err(|_| ScramError::Malformed("the iteration count is not a number"))?;
        if nonce.is_empty() || !nonce.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err(ScramError::Malformed("the nonce is not printable ASCII"));
        }
        Ok(Self {
            nonce,
            salt,
            iterations,
        })
    }
}

/// RFC 5802's saslname: `=` and `,` are escaped.
fn escape_username(username: &str) -> String {
    username.replace('=', "=3D").replace(',', "=2C")
}

/// A fresh client nonce: 24 random bytes, base64 (printable, no commas).
pub(crate) fn new_nonce() -> Result<String, ring::error::Unspecified> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 24];
    ring::rand::SystemRandom::new().fill(&mut bytes)?;
    Ok(BASE64.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";

    /// RFC 7677, section 3: user "user", password "pencil".
    const RFC7677_SERVER_FIRST: &str =
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const RFC7677_CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const RFC7677_SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    /// SHA-512 has no RFC vector; this one was computed independently with
    /// Python's hashlib/hmac from RFC 5802's formulas (same user and
    /// password, RFC 5802's salt).
    const SHA512_SERVER_FIRST: &str =
        "r=rOprNGfwEbeRWgbNEkqO02e0b9b4-8f2e-4d8c-b0e8-0a1d3c5e7f90,s=QSXCR+Q6sek8bf92,i=4096";
    const SHA512_CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO02e0b9b4-8f2e-4d8c-b0e8-0a1d3c5e7f90,p=6UYQS7u9tYMyk3lDwaxTHEnSoGnqfjxOG46I0qWQdwrMkwynUL7lUiyen4zvW1y8fBZMDqmDDRigh0SD/XhMZg==";
    const SHA512_SERVER_FINAL: &str = "v=2kUeFeR6b8HQPgRJduDur5xJDU6BolArBSonjTndEhxV4+eLnvDLsZriI62t9Btsw7U195fJqEY2cnL6IJE5Yw==";

    fn pencil() -> Secret {
        Secret::from("pencil")
    }

    fn first(hash: ScramHash) -> ClientFirst {
        ClientFirst::new(hash, "user", CLIENT_NONCE.into())
    }

    #[test]
    fn rfc7677_sha256_exchange() {
        let client = first(ScramHash::Sha256);
        assert_eq!(client.message(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let (final_message, last) = client
            .answer(RFC7677_SERVER_FIRST.as_bytes(), &pencil())
            .expect("valid server-first");
        assert_eq!(final_message, RFC7677_CLIENT_FINAL);
        last.verify(RFC7677_SERVER_FINAL.as_bytes())
            .expect("the RFC's server signature verifies");
    }

    #[test]
    fn sha512_exchange() {
        let (final_message, last) = first(ScramHash::Sha512)
            .answer(SHA512_SERVER_FIRST.as_bytes(), &pencil())
            .expect("valid server-first");
        assert_eq!(final_message, SHA512_CLIENT_FINAL);
        last.verify(SHA512_SERVER_FINAL.as_bytes())
            .expect("server signature verifies");
    }

    #[test]
    fn a_wrong_server_signature_is_refused() {
        let (_, last) = first(ScramHash::Sha256)
            .answer(RFC7677_SERVER_FIRST.as_bytes(), &pencil())
            .expect("valid server-first");
        // The SHA-512 signature, or one flipped bit, must not verify.
        let mut flipped = BASE64
            .decode(RFC7677_SERVER_FINAL.trim_start_matches("v="))
            .expect("base64");
        flipped[0] ^= 1;
        for bad in [
            format!("v={}", BASE64.encode(flipped)),
            "v=".to_string(),
            SHA512_SERVER_FINAL.to_string(),
        ] {
            assert_eq!(
                last.verify(bad.as_bytes()),
                Err(ScramError::ServerSignatureMismatch),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_server_that_does_not_know_the_password_is_detected() {
        // The same exchange with another password: the RFC's server
        // signature (made from "pencil") must not verify.
        let (final_message, last) = first(ScramHash::Sha256)
            .answer(RFC7677_SERVER_FIRST.as_bytes(), &Secret::from("pen"))
            .expect("valid server-first");
        assert_ne!(final_message, RFC7677_CLIENT_FINAL);
        assert_eq!(
            last.verify(RFC7677_SERVER_FINAL.as_bytes()),
            Err(ScramError::ServerSignatureMismatch)
        );
    }

    #[test]
    fn server_errors_are_reported_bounded() {
        let (_, last) = first(ScramHash::Sha256)
            .answer(RFC7677_SERVER_FIRST.as_bytes(), &pencil())
            .expect("valid server-first");
        assert_eq!(
            last.verify(b"e=invalid-proof"),
            Err(ScramError::Rejected("invalid-proof".into()))
        );
        let long = format!("e={}", "x".repeat(10_000));
        match last.verify(long.as_bytes()) {
            Err(ScramError::Rejected(text)) => assert_eq!(text.len(), 100),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn malformed_or_hostile_server_first_messages_are_refused() {
        type Expected = fn(&ScramError) -> bool;
        let cases: &[(&str, Expected)] = &[
            // Not extending the client's nonce, or not extending it at all.
            ("r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", |e| {
                *e == ScramError::NonceMismatch
            }),
            (
                "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
                |e| *e == ScramError::NonceMismatch,
            ),
            // Too few (a downgrade) or too many iterations.
            (
                "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1",
                |e| *e == ScramError::IterationsOutOfRange(1),
            ),
            (
                "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999",
                |e| *e == ScramError::IterationsOutOfRange(99_999_999_999),
            ),
            (
                "m=ext,r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
                |e| *e == ScramError::MandatoryExtension,
            ),
            ("r=rOprNGfwEbeRWgbNEkqOx,i=4096", |e| {
                matches!(e, ScramError::Malformed(_))
            }),
            ("r=rOprNGfwEbeRWgbNEkqOx,s=***,i=4096", |e| {
                matches!(e, ScramError::Malformed(_))
            }),
            (
                "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=many",
                |e| matches!(e, ScramError::Malformed(_)),
            ),
            ("", |e| matches!(e, ScramError::Malformed(_))),
        ];
        for (message, expected) in cases {
            match first(ScramHash::Sha512).answer(message.as_bytes(), &pencil()) {
                Err(error) => assert!(expected(&error), "{message}: {error:?}"),
                Ok(_) => panic!("{message}: accepted"),
            }
        }
        assert!(matches!(
            first(ScramHash::Sha512).answer(&[0xff, 0xfe], &pencil()),
            Err(ScramError::Malformed(_))
        ));
    }

    #[test]
    fn usernames_are_escaped() {
        let client = ClientFirst::new(ScramHash::Sha512, "a=b,c", "n".into());
        assert_eq!(client.message(), "n,,n=a=3Db=2Cc,r=n");
    }

    #[test]
    fn nonces_are_fresh_and_printable() {
        let a = new_nonce().expect("random");
        let b = new_nonce().expect("random");
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| (0x21..=0x7e).contains(&c) && c != b','));
    }

    #[test]
    fn errors_never_contain_the_password() {
        let password = Secret::from("pencil");
        let mut texts = Vec::new();
        for message in [
            "r=x,s=y,i=1",
            "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1",
        ] {
            if let Err(e) = first(ScramHash::Sha256).answer(message.as_bytes(), &password) {
                texts.push(format!("{e} {e:?}"));
            }
        }
        let (_, last) = first(ScramHash::Sha256)
            .answer(RFC7677_SERVER_FIRST.as_bytes(), &password)
            .expect("valid");
        if let Err(e) = last.verify(b"v=AAAA") {
            texts.push(format!("{e} {e:?}"));
        }
        assert_eq!(texts.len(), 3);
        for text in texts {
            assert!(!text.contains("pencil"), "{text}");
        }
    }
}
