//! `$(VAR)` references in a container's command and arguments, expanded
//! from its environment the way the kubelet does: a defined variable is
//! replaced, an undefined reference stays as written, and `$$` is a
//! literal `$`. The operator passes the managed Redis's password this way
//! (`--requirepass $(REDIS_PASSWORD)`), so the expanded value exists only in
//! the process's argument vector, never in a log line (logs show the
//! arguments before expansion).

use super::env::Environment;

pub fn expand_references(input: &str, env: &Environment) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(reference) = after.strip_prefix('(') {
            match reference.find(')') {
                Some(end) => {
                    let name = &reference[..end];
                    match env.get(name) {
                        Some(value) => out.push_str(value),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &reference[end + 1..];
                }
                None => {
                    out.push_str("$(");
                    rest = reference;
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defined_references_expand_and_the_rest_stays() {
        let mut env = Environment::default();
        env.set("REDIS_PASSWORD", "s3cret");
        env.set("PORT", "6379");
        let expand = |s: &str| expand_references(s, &env);
        assert_eq!(expand("$(REDIS_PASSWORD)"), "s3cret");
        assert_eq!(expand("a$(PORT)b$(PORT)"), "a6379b6379");
        assert_eq!(expand("$(UNDEFINED)"), "$(UNDEFINED)");
        assert_eq!(expand("$$(PORT)"), "$(PORT)");
        assert_eq!(expand("cost $5 $"), "cost $5 $");
        assert_eq!(expand("$(unclosed"), "$(unclosed");
        assert_eq!(expand("plain"), "plain");
    }
}
