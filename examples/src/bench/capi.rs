//! AVEO's four call tests from a C program through libveo.so, beside the
//! Rust stubs in the same run: `latency` compiles `examples/c/latency_capi.c`
//! with `cc` against `veo-capi/include` and the libveo.so cargo built with
//! this program (veo-capi is a dependency of this package, so its cdylib
//! lands in `target/<profile>/deps/`), runs it once per repetition and
//! reads its per-call times, one JSON line per test and N.

use super::calls::BoxError;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The compiled C driver, in a directory of its own with a copy of
/// libveo.so (and its soname); the directory is removed on drop.
pub struct CDriver {
    dir: PathBuf,
    exe: PathBuf,
}

/// One line of the driver's output: test (1 to 4), N, µs per call.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// AVEO's test number, 1 to 4.
    pub test: u32,
    /// Calls per round.
    pub n: u64,
    /// µs per call.
    pub us: f64,
}

/// The libveo.so built beside the running program: `target/<profile>/` or
/// its `deps/`, the newer when both are there. Cargo writes the first only
/// when veo-capi itself is built (`-p veo-capi`, the workspace) and the
/// second whenever this package is, so either may be left from an earlier
/// build.
pub fn find_libveo() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    newest_libveo(exe.parent()?)
}

/// The newer of `dir/libveo.so` and `dir/deps/libveo.so`.
fn newest_libveo(dir: &Path) -> Option<PathBuf> {
    [dir.join("libveo.so"), dir.join("deps/libveo.so")]
        .into_iter()
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .max_by_key(|(t, _)| *t)
        .map(|(_, p)| p)
}

impl CDriver {
    /// Compiles the driver (`-O2`, as a user's program would be) against
    /// the headers of veo-capi and `libveo`.
    pub fn build(libveo: &Path) -> Result<CDriver, BoxError> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = std::env::temp_dir().join(format!("veo-latency-capi-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let driver = CDriver {
            exe: dir.join("latency_capi"),
            dir,
        };
        // A copy, so that a rebuild meanwhile cannot change it; the driver
        // asks for the soname.
        std::fs::copy(libveo, driver.dir.join("libveo.so"))?;
        std::os::unix::fs::symlink("libveo.so", driver.dir.join("libveo.so.1"))?;
        let out = Command::new("cc")
            .args(["-std=c11", "-O2", "-Wall", "-Werror", "-I"])
            .arg(root.join("../veo-capi/include"))
            .arg("-o")
            .arg(&driver.exe)
            .arg(root.join("c/latency_capi.c"))
            .arg("-L")
            .arg(&driver.dir)
            .arg("-lveo")
            .arg(format!("-Wl,-rpath,{}", driver.dir.display()))
            .output()
            .map_err(|e| format!("cannot run cc: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "cc could not build the C driver: {}",
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        Ok(driver)
    }

    /// The driver's path.
    pub fn exe(&self) -> &Path {
        &self.exe
    }

    /// The driver's copy of libveo.so, which `latency` also loads into its
    /// own process as the AVEO backend's library.
    pub fn libveo(&self) -> PathBuf {
        self.dir.join("libveo.so.1")
    }

    /// One run over `rows`: every test at every N, `min_calls` calls at
    /// least per figure, `warm` untimed calls before each.
    pub fn run(
        &self,
        kernels: &str,
        min_calls: u64,
        warm: u64,
        rows: &[u64],
    ) -> Result<Vec<Sample>, BoxError> {
        let out = Command::new(&self.exe)
            .arg(kernels)
            .arg(min_calls.to_string())
            .arg(warm.to_string())
            .args(rows.iter().map(u64::to_string))
            .output()
            .map_err(|e| format!("cannot run the C driver: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "the C driver failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )
            .into());
        }
        let samples = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(parse_line)
            .collect::<Result<Vec<_>, _>>()?;
        if samples.len() != 4 * rows.len() {
            return Err(format!(
                "the C driver printed {} figures for {} rows",
                samples.len(),
                rows.len()
            )
            .into());
        }
        Ok(samples)
    }
}

impl Drop for CDriver {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Reads `{"test":T,"n":N,"us":X}`.
pub fn parse_line(line: &str) -> Result<Sample, String> {
    let bad = || format!("not a line of the C driver: {line:?}");
    let v: serde_json::Value = serde_json::from_str(line).map_err(|_| bad())?;
    let test = v["test"]
        .as_u64()
        .filter(|t| (1..=4).contains(t))
        .ok_or_else(bad)?;
    Ok(Sample {
        test: test as u32,
        n: v["n"].as_u64().ok_or_else(bad)?,
        us: v["us"].as_f64().filter(|x| x.is_finite()).ok_or_else(bad)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    #[test]
    fn the_newer_of_the_two_libraries_cargo_may_leave_is_taken() {
        let dir = std::env::temp_dir().join(format!("veo-find-libveo-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("deps")).unwrap();
        assert_eq!(newest_libveo(&dir), None);
        let (top, deps) = (dir.join("libveo.so"), dir.join("deps/libveo.so"));
        let at = |p: &Path, secs: u64| {
            let f = std::fs::File::create(p).unwrap();
            f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
                .unwrap();
        };
        at(&deps, 2_000_000_000);
        assert_eq!(newest_libveo(&dir), Some(deps.clone()));
        at(&top, 1_000_000_000);
        assert_eq!(newest_libveo(&dir), Some(deps.clone()));
        at(&top, 2_000_000_100);
        assert_eq!(newest_libveo(&dir), Some(top));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn driver_lines_parse_and_bad_ones_are_refused() {
        assert_eq!(
            parse_line(r#"{"test":3,"n":1000,"us":0.251}"#),
            Ok(Sample {
                test: 3,
                n: 1000,
                us: 0.251
            })
        );
        assert!(parse_line(r#"{"test":5,"n":1,"us":1}"#).is_err());
        assert!(parse_line(r#"{"test":1,"us":1}"#).is_err());
        assert!(parse_line("noise").is_err());
    }
}
