//! Which backend a proc starts on: the builder's choice, else
//! `VEO_BACKEND`, else automatically AVEO when its library loads and the
//! host has a VE device, the emulated VE otherwise.

use super::sys::LibVeo;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The variable that picks a backend: `emulated`, `aveo` or `auto`.
pub const BACKEND_ENV: &str = "VEO_BACKEND";

/// Which backend to start a proc on ([`ProcBuilder::backend`](crate::ProcBuilder)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BackendChoice {
    /// AVEO when its library loads and the host has a VE device
    /// (`/dev/veslot*`, `/dev/ve*`), else the emulated VE.
    #[default]
    Auto,
    /// The emulated VE: a helper process running host code.
    Emulated,
    /// AVEO's `libveo.so.1` (or `VEO_LIBVEO`): a real VE, or whatever VE
    /// the library drives.
    Aveo,
}

impl BackendChoice {
    /// `VEO_BACKEND`'s value: `None` when unset or empty.
    pub fn from_env() -> Result<Option<BackendChoice>> {
        match std::env::var(BACKEND_ENV) {
            Ok(v) if v.trim().is_empty() => Ok(None),
            Ok(v) => v.parse().map(Some),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(v)) => Err(Error::InvalidArgument(format!(
                "{BACKEND_ENV}={v:?} is none of emulated, aveo, auto"
            ))),
        }
    }
}

impl std::str::FromStr for BackendChoice {
    type Err = Error;

    fn from_str(s: &str) -> Result<BackendChoice> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(BackendChoice::Auto),
            "emulated" | "emulator" => Ok(BackendChoice::Emulated),
            "aveo" | "ve" => Ok(BackendChoice::Aveo),
            _ => Err(Error::InvalidArgument(format!(
                "{BACKEND_ENV}={s:?} is none of emulated, aveo, auto"
            ))),
        }
    }
}

/// The backend a proc runs on ([`Proc::backend`](crate::Proc)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The emulated VE.
    Emulated,
    /// AVEO, through the library at `library` with `veo_api_version()` `api`.
    Aveo {
        /// The `libveo.so` loaded.
        library: PathBuf,
        /// Its API version.
        api: u32,
    },
}

impl Backend {
    /// The backend of procs on `lib`.
    pub fn of(lib: &LibVeo) -> Backend {
        Backend::Aveo {
            library: lib.path().to_path_buf(),
            api: lib.api_version(),
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Emulated => f.write_str("emulated VE"),
            Backend::Aveo { library, api } => {
                write!(f, "AVEO ({}, API {api})", library.display())
            }
        }
    }
}

/// What a proc starts on, once chosen.
#[derive(Debug)]
pub enum Chosen {
    /// The emulated VE.
    Emulated,
    /// AVEO, with its library loaded (shared by the procs on it).
    Aveo(std::sync::Arc<LibVeo>),
}

/// Chooses: `choice` (the builder's), else `VEO_BACKEND`, else automatic.
/// `libveo` is the library the builder names (else `VEO_LIBVEO`, else the
/// vendor's path); `dev` where VE devices are looked for (`/dev`).
pub fn choose(choice: Option<BackendChoice>, libveo: Option<&Path>, dev: &Path) -> Result<Chosen> {
    let choice = match choice {
        Some(c) => c,
        None => BackendChoice::from_env()?.unwrap_or_default(),
    };
    match choice {
        BackendChoice::Emulated => Ok(Chosen::Emulated),
        BackendChoice::Aveo => open_shared(libveo).map(Chosen::Aveo),
        BackendChoice::Auto => {
            if !has_ve_device(dev) {
                return Ok(Chosen::Emulated);
            }
            Ok(open_shared(libveo).map_or(Chosen::Emulated, Chosen::Aveo))
        }
    }
}

/// The library at `path` (`None`: `VEO_LIBVEO`, else the vendor's path),
/// loaded once per path for the whole program: libveo is never unloaded,
/// and every proc on it shares the one table.
pub fn open_shared(path: Option<&Path>) -> Result<std::sync::Arc<LibVeo>> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    static LOADED: OnceLock<Mutex<HashMap<PathBuf, Arc<LibVeo>>>> = OnceLock::new();
    let key = match path {
        Some(p) => p.to_path_buf(),
        None => match std::env::var_os(super::sys::LIBVEO_ENV) {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => PathBuf::from(super::sys::DEFAULT_LIBVEO),
        },
    };
    let mut loaded = LOADED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(lib) = loaded.get(&key) {
        return Ok(lib.clone());
    }
    let lib = Arc::new(LibVeo::open(Some(&key))?);
    loaded.insert(key, lib.clone());
    Ok(lib)
}

/// Whether `dev` has a VE device: `veslotN` (VEOS's per-slot links) or
/// `veN` (the driver's).
pub fn has_ve_device(dev: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dev) else {
        return false;
    };
    entries.flatten().any(|e| {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        name.strip_prefix("veslot").is_some_and(digits)
            || name.strip_prefix("ve").is_some_and(digits)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_others_are_refused() {
        assert_eq!(
            "aveo".parse::<BackendChoice>().unwrap(),
            BackendChoice::Aveo
        );
        assert_eq!(
            " Emulated ".parse::<BackendChoice>().unwrap(),
            BackendChoice::Emulated
        );
        assert_eq!(
            "auto".parse::<BackendChoice>().unwrap(),
            BackendChoice::Auto
        );
        let e = "cuda".parse::<BackendChoice>().unwrap_err().to_string();
        assert!(
            e.contains("VEO_BACKEND=\"cuda\"") && e.contains("emulated, aveo, auto"),
            "{e}"
        );
    }

    #[test]
    fn devices_are_veslot_or_ve_with_a_number() {
        let dir = std::env::temp_dir().join(format!("veo-select-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        assert!(!has_ve_device(&dir));
        std::fs::write(dir.join("vendor"), "").unwrap();
        std::fs::write(dir.join("veslot"), "").unwrap();
        assert!(!has_ve_device(&dir), "no number, no device");
        std::fs::write(dir.join("ve0"), "").unwrap();
        assert!(has_ve_device(&dir));
        std::fs::remove_file(dir.join("ve0")).unwrap();
        std::fs::write(dir.join("veslot1"), "").unwrap();
        assert!(has_ve_device(&dir));
        assert!(!has_ve_device(&dir.join("missing")));
        // Without a device, automatic is the emulated VE, whatever the library.
        std::fs::remove_file(dir.join("veslot1")).unwrap();
        assert!(matches!(
            choose(
                Some(BackendChoice::Auto),
                Some(Path::new("/nonexistent/libveo.so")),
                &dir
            ),
            Ok(Chosen::Emulated)
        ));
        // With one but no library, too.
        std::fs::write(dir.join("ve2"), "").unwrap();
        assert!(matches!(
            choose(
                Some(BackendChoice::Auto),
                Some(Path::new("/nonexistent/libveo.so")),
                &dir
            ),
            Ok(Chosen::Emulated)
        ));
        // Asked for, AVEO without its library is an error that says so.
        let e = choose(
            Some(BackendChoice::Aveo),
            Some(Path::new("/nonexistent/libveo.so")),
            &dir,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("/nonexistent/libveo.so") && e.contains("no such file"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_backend_says_what_it_is() {
        assert_eq!(Backend::Emulated.to_string(), "emulated VE");
        let b = Backend::Aveo {
            library: "/opt/nec/ve/veos/lib64/libveo.so.1".into(),
            api: 16,
        };
        assert_eq!(
            b.to_string(),
            "AVEO (/opt/nec/ve/veos/lib64/libveo.so.1, API 16)"
        );
    }
}
