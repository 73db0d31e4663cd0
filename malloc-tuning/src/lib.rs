//! glibc malloc tuning for long-running processes, behind a safe API.
//!
//! This is the only crate of the workspace allowed to contain `unsafe`
//! code (every other crate inherits `unsafe_code = "forbid"` from the
//! workspace lints). It wraps exactly one libc call, `mallopt(3)`.

// The crate-level lint is `deny`, lifted only on the one function below,
// so that any new unsafe block elsewhere in this crate fails to compile too.

/// Caps glibc's malloc arenas at `arenas`.
///
/// By default glibc gives each thread that allocates under contention its
/// own arena (up to 8 per core); memory freed on another thread than the
/// one that allocated it then stays spread over many half-empty arenas.
///
/// Returns `true` when the limit was set, `false` when glibc refused it,
/// `arenas` is 0 or does not fit a C `int`, or the target is not glibc
/// (where the call does not exist and nothing is done).
///
/// Call it first thing in `main`, before other threads exist: glibc's
/// tunables are process-wide and not meant to change under running
/// allocations.
pub fn limit_arenas(arenas: u32) -> bool {
    let Ok(arenas) = i32::try_from(arenas) else {
        return false;
    };
    if arenas == 0 {
        // 0 means "no limit" to glibc, the opposite of what a caller means.
        return false;
    }
    glibc::set_arena_max(arenas)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod glibc {
    use std::ffi::c_int;

    /// `M_ARENA_MAX` from glibc's `<malloc.h>`.
    const M_ARENA_MAX: c_int = -8;

    #[allow(unsafe_code)]
    unsafe extern "C" {
        /// `int mallopt(int param, int value)`: returns 1 on success, 0 on error.
        fn mallopt(param: c_int, value: c_int) -> c_int;
    }

    #[allow(unsafe_code)]
    pub(super) fn set_arena_max(arenas: c_int) -> bool {
        // SAFETY: mallopt takes two plain integers, reads no memory of ours
        // and only updates glibc's own tunables under glibc's malloc lock;
        // M_ARENA_MAX with a positive value is a documented parameter. It
        // cannot violate memory safety from any thread; calling it before
        // other threads exist (documented above) is only about the setting
        // taking effect for every arena, not about soundness.
        unsafe { mallopt(M_ARENA_MAX, arenas) == 1 }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod glibc {
    pub(super) fn set_arena_max(_arenas: i32) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_and_oversized_limits_are_refused() {
        assert!(!limit_arenas(0));
        assert!(!limit_arenas(u32::MAX));
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn glibc_accepts_a_positive_limit() {
        assert!(limit_arenas(2));
    }
}
