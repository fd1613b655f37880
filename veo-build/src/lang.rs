//! Source languages, told apart by file extension.

use std::fmt;
use std::path::Path;

/// The language of a kernel source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Language {
    /// C: `.c`.
    C,
    /// C++: `.cpp`, `.cc`, `.cxx`, `.c++`, `.C`.
    Cxx,
    /// Fortran: `.f`, `.for`, `.f90`, `.f95`, `.f03`, `.f08` and their
    /// preprocessed upper-case forms (`.F`, `.F90`, ...).
    Fortran,
}

impl Language {
    /// The language of `path`, from its extension; `None` if it is not a
    /// C, C++ or Fortran source.
    pub fn from_path(path: &Path) -> Option<Language> {
        let ext = path.extension()?.to_str()?;
        Some(match ext {
            "c" => Language::C,
            "cpp" | "cc" | "cxx" | "c++" | "C" | "CPP" | "CC" | "CXX" => Language::Cxx,
            "f" | "for" | "f77" | "f90" | "f95" | "f03" | "f08" | "F" | "FOR" | "F77" | "F90"
            | "F95" | "F03" | "F08" => Language::Fortran,
            _ => return None,
        })
    }

    /// The file extension used for inline sources of this language.
    pub fn extension(self) -> &'static str {
        match self {
            Language::C => "c",
            Language::Cxx => "cpp",
            Language::Fortran => "f90",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Language::C => "C",
            Language::Cxx => "C++",
            Language::Fortran => "Fortran",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions() {
        let l = |p: &str| Language::from_path(Path::new(p));
        assert_eq!(l("k/avg.c"), Some(Language::C));
        for p in ["a.cpp", "a.cc", "a.cxx", "a.C"] {
            assert_eq!(l(p), Some(Language::Cxx), "{p}");
        }
        for p in ["a.f", "a.f90", "a.F90", "a.F", "a.f95"] {
            assert_eq!(l(p), Some(Language::Fortran), "{p}");
        }
        for p in ["a.h", "a.rs", "Makefile", "a.hpp", "a.o"] {
            assert_eq!(l(p), None, "{p}");
        }
    }
}
