//! How a kernel's result is read when C calls it by address.
//!
//! On a VE every result comes back in register `%s0`, so an AVEO program
//! reads a `double` result as the bits of `veo_call_wait_result`'s
//! `uint64_t`, and a `float` as the upper half of it (the VE keeps a
//! single-precision value in the upper 32 bits of a register). On the
//! emulated VE the kernels are x86-64 code: an integer comes back in `rax`
//! and a floating-point value in `xmm0`, and the C API is not told the
//! kernel's type.
//!
//! The type is taken from the kernel library's DWARF when it has debug
//! information (`-g`, any level from `-g1`): when `veo_get_sym` resolves a
//! function, the helper's memory map gives the file and the address in
//! it, and the `DW_TAG_subprogram` at that address gives the result type
//! (through typedefs and qualifiers) — C, C++ and Fortran compilers all
//! record it. A function found to return `float` or `double` is then
//! called with that result class and its value handed over as on a VE.
//! Without debug information the result is read from the integer
//! register, as before; no guess is made from the registers' contents
//! (a compiler may leave anything in either), see docs/C-API.md. With
//! `VEO_RESULT_TYPES=warn` in the environment, `veo_get_sym` says so on
//! stderr, once per function, for each function it cannot type.

use object::{Object, ObjectSegment};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use veo_runtime::ResultKind;

/// The result kinds of the functions of one proc that `veo_get_sym`
/// found, by VE address, with the library handle they were found through.
#[derive(Default)]
pub(crate) struct ResultKinds {
    /// Whether `map` has a `float` or `double` function: the calls of a
    /// program without any look at nothing else.
    any: AtomicBool,
    map: Mutex<HashMap<u64, (ResultKind, u64)>>,
}

impl ResultKinds {
    /// How the result of the function at `addr` is read. Inlined always
    /// into each call: most programs have no function returning a
    /// floating-point value, and then this is one load, where a call of it
    /// was about 17 instructions on every call (callgrind).
    #[inline(always)]
    pub(crate) fn kind(&self, addr: u64) -> ResultKind {
        if !self.any.load(Ordering::Acquire) {
            return ResultKind::Integer;
        }
        self.kind_in_map(addr)
    }

    #[cold]
    fn kind_in_map(&self, addr: u64) -> ResultKind {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&addr).map_or(ResultKind::Integer, |&(k, _)| k)
    }

    /// Records the result kind of the function `name` at `addr` of the
    /// proc whose helper is `pid`, found through library handle `lib`;
    /// looked up once per address and library.
    pub(crate) fn learn(&self, pid: u32, addr: u64, lib: u64, name: &str) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.get(&addr).is_some_and(|&(_, l)| l == lib) {
            return;
        }
        let kind = match result_kind_at(pid, addr) {
            Ok(kind) => kind,
            Err(file) => {
                warn_untyped(name, &file);
                ResultKind::Integer
            }
        };
        map.insert(addr, (kind, lib));
        self.update(&map);
    }

    fn update(&self, map: &HashMap<u64, (ResultKind, u64)>) {
        let any = map.values().any(|&(k, _)| k != ResultKind::Integer);
        self.any.store(any, Ordering::Release);
    }

    /// Forgets the functions found through library handle `lib` (it is
    /// being unloaded: its addresses may be reused).
    pub(crate) fn forget_library(&self, lib: u64) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, &mut (_, l)| l != lib);
        self.update(&map);
    }
}

/// The 64-bit result as an AVEO program on a VE reads it: a `double`'s
/// bits as they are, a `float`'s bits in the upper 32 bits (the helper
/// gives them in the lower ones).
pub(crate) fn as_on_ve(raw: u64, kind: ResultKind) -> u64 {
    match kind {
        ResultKind::F32 => (raw & 0xffff_ffff) << 32,
        _ => raw,
    }
}

/// With `VEO_RESULT_TYPES=warn`, one line on stderr per function whose
/// result type is unknown.
fn warn_untyped(name: &str, file: &str) {
    static WARNED: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
    if std::env::var("VEO_RESULT_TYPES").as_deref() != Ok("warn") {
        return;
    }
    let mut w = WARNED.lock().unwrap_or_else(|e| e.into_inner());
    let key = (name.to_string(), file.to_string());
    if !w.contains(&key) {
        crate::diag::warn(
            "veo_get_sym",
            format!(
                "no debug information for \"{name}\" in {file}: a float or double \
                 result would read as an integer (build the kernels with -g)"
            ),
        );
        w.push(key);
    }
}

/// The result kind of the function at `addr` in process `pid`, from the
/// DWARF of the file mapped there; the file (or the address) when its
/// debug information does not describe the function.
pub(crate) fn result_kind_at(pid: u32, addr: u64) -> Result<ResultKind, String> {
    let Some(m) = mapping_of(pid, addr) else {
        return Err(format!("{addr:#x} (no file is mapped there)"));
    };
    let Some(info) = file_info(&m) else {
        return Err(m.path);
    };
    let file_off = addr - m.start + m.offset;
    let segment = info
        .segments
        .iter()
        .find(|s| file_off >= s.offset && file_off - s.offset < s.size);
    match segment {
        // A data symbol: its "result" is never read.
        Some(s) if !s.code => Ok(ResultKind::Integer),
        Some(s) => match info.functions.get(&(file_off - s.offset + s.address)) {
            Some(&kind) => Ok(kind),
            None => Err(m.path),
        },
        None => Err(m.path),
    }
}

/// A file mapping of a process (a line of `/proc/PID/maps`).
#[derive(Debug, PartialEq)]
struct Mapping {
    start: u64,
    offset: u64,
    dev: String,
    inode: u64,
    path: String,
}

fn mapping_of(pid: u32, addr: u64) -> Option<Mapping> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).ok()?;
    maps.lines().find_map(|l| parse_map_line(l, addr))
}

/// The mapping of `line` if it contains `addr` and is a file's.
fn parse_map_line(line: &str, addr: u64) -> Option<Mapping> {
    let mut f = line.split_ascii_whitespace();
    let (start, end) = f.next()?.split_once('-')?;
    let start = u64::from_str_radix(start, 16).ok()?;
    let end = u64::from_str_radix(end, 16).ok()?;
    if !(start..end).contains(&addr) {
        return None;
    }
    let _perms = f.next()?;
    let offset = u64::from_str_radix(f.next()?, 16).ok()?;
    let dev = f.next()?.to_string();
    let inode = f.next()?.parse().ok()?;
    let path = f.collect::<Vec<_>>().join(" ");
    (inode != 0 && path.starts_with('/')).then_some(Mapping {
        start,
        offset,
        dev,
        inode,
        path,
    })
}

/// What one file says about its functions' results.
struct FileInfo {
    /// Its loadable segments.
    segments: Vec<Segment>,
    /// The functions its DWARF describes, by address in the file, with
    /// their result kind.
    functions: HashMap<u64, ResultKind>,
}

/// A loadable segment of a file.
struct Segment {
    /// Where it starts in the file.
    offset: u64,
    /// Its size in the file.
    size: u64,
    /// Its address in the file's address space.
    address: u64,
    /// Whether it holds code (executable).
    code: bool,
}

/// The file of mapping `m`, read once per (device, inode).
fn file_info(m: &Mapping) -> Option<Arc<FileInfo>> {
    type Cache = Mutex<HashMap<(String, u64), Option<Arc<FileInfo>>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (m.dev.clone(), m.inode);
    if let Some(v) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return v.clone();
    }
    let info = read_file_info(&m.path, m.inode).map(Arc::new);
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, info.clone());
    info
}

fn read_file_info(path: &str, inode: u64) -> Option<FileInfo> {
    use std::os::unix::fs::MetadataExt;
    let file = std::fs::File::open(path).ok()?;
    // The path may name another file by now (rebuilt): only the mapped
    // one describes the code.
    if file.metadata().ok()?.ino() != inode {
        return None;
    }
    let data = std::fs::read(path).ok()?;
    let obj = object::File::parse(&*data).ok()?;
    let segments = obj
        .segments()
        .map(|s| {
            let (offset, size) = s.file_range();
            let code = match s.flags() {
                object::SegmentFlags::Elf { p_flags } => p_flags & object::elf::PF_X != 0,
                _ => true,
            };
            Segment {
                offset,
                size,
                address: s.address(),
                code,
            }
        })
        .collect();
    Some(FileInfo {
        segments,
        functions: functions(&obj).unwrap_or_default(),
    })
}

/// The functions of `obj` its DWARF describes, by address, with their
/// result kind.
fn functions(obj: &object::File<'_>) -> Result<HashMap<u64, ResultKind>, gimli::Error> {
    use object::ObjectSection;
    let endian = if obj.is_little_endian() {
        gimli::RunTimeEndian::Little
    } else {
        gimli::RunTimeEndian::Big
    };
    let load = |id: gimli::SectionId| -> Result<std::borrow::Cow<'_, [u8]>, gimli::Error> {
        Ok(obj
            .section_by_name(id.name())
            .and_then(|s| s.uncompressed_data().ok())
            .unwrap_or(std::borrow::Cow::Borrowed(&[])))
    };
    let sections = gimli::DwarfSections::load(load)?;
    let dwarf = sections.borrow(|s| gimli::EndianSlice::new(s, endian));
    let mut out = HashMap::new();
    let mut units = dwarf.units();
    while let Some(header) = units.next()? {
        let unit = dwarf.unit(header)?;
        let mut entries = unit.entries();
        while let Some((_, e)) = entries.next_dfs()? {
            if e.tag() != gimli::DW_TAG_subprogram {
                continue;
            }
            let Some(entry_pc) = entry_pc(&dwarf, &unit, e)? else {
                continue;
            };
            let kind = result_of(&unit, e, 0)?.unwrap_or(ResultKind::Integer);
            out.insert(entry_pc, kind);
        }
    }
    Ok(out)
}

type Reader<'a> = gimli::EndianSlice<'a, gimli::RunTimeEndian>;
type Die<'a, 'u> = gimli::DebuggingInformationEntry<'a, 'u, Reader<'a>>;

/// Where a function's code starts: its `DW_AT_entry_pc`, `DW_AT_low_pc`,
/// or the start of the first of its `DW_AT_ranges` (a function split into
/// hot and cold parts); `None` for a declaration or an inlined-only one.
fn entry_pc(
    dwarf: &gimli::Dwarf<Reader<'_>>,
    unit: &gimli::Unit<Reader<'_>>,
    e: &Die<'_, '_>,
) -> Result<Option<u64>, gimli::Error> {
    if let Some(v) = e.attr_value(gimli::DW_AT_entry_pc)? {
        if let Some(a) = address(dwarf, unit, v)? {
            return Ok(Some(a));
        }
    }
    if let Some(v) = e.attr_value(gimli::DW_AT_low_pc)? {
        return address(dwarf, unit, v);
    }
    if let Some(v) = e.attr_value(gimli::DW_AT_ranges)? {
        if let Some(offset) = dwarf.attr_ranges_offset(unit, v)? {
            let mut ranges = dwarf.ranges(unit, offset)?;
            if let Some(r) = ranges.next()? {
                return Ok(Some(r.begin));
            }
        }
    }
    Ok(None)
}

fn address(
    dwarf: &gimli::Dwarf<Reader<'_>>,
    unit: &gimli::Unit<Reader<'_>>,
    v: gimli::AttributeValue<Reader<'_>>,
) -> Result<Option<u64>, gimli::Error> {
    dwarf.attr_address(unit, v)
}

/// The result kind a subprogram's type gives, following
/// `DW_AT_abstract_origin` and `DW_AT_specification` to where the type is
/// written; `None` when it is not `float` or `double`.
fn result_of(
    unit: &gimli::Unit<Reader<'_>>,
    e: &Die<'_, '_>,
    depth: u32,
) -> Result<Option<ResultKind>, gimli::Error> {
    if depth > 8 {
        return Ok(None);
    }
    if let Some(gimli::AttributeValue::UnitRef(t)) = e.attr_value(gimli::DW_AT_type)? {
        return type_kind(unit, t, 0);
    }
    for at in [gimli::DW_AT_abstract_origin, gimli::DW_AT_specification] {
        if let Some(gimli::AttributeValue::UnitRef(o)) = e.attr_value(at)? {
            let origin = unit.entry(o)?;
            return result_of(unit, &origin, depth + 1);
        }
    }
    // No type: a void function.
    Ok(None)
}

/// `float` or `double` for the type at `t`, through typedefs and
/// qualifiers.
fn type_kind(
    unit: &gimli::Unit<Reader<'_>>,
    t: gimli::UnitOffset,
    depth: u32,
) -> Result<Option<ResultKind>, gimli::Error> {
    if depth > 16 {
        return Ok(None);
    }
    let e = unit.entry(t)?;
    match e.tag() {
        gimli::DW_TAG_base_type => {
            let float = matches!(
                e.attr_value(gimli::DW_AT_encoding)?,
                Some(gimli::AttributeValue::Encoding(gimli::DW_ATE_float))
            );
            let size = e
                .attr_value(gimli::DW_AT_byte_size)?
                .and_then(|v| v.udata_value());
            Ok(match (float, size) {
                (true, Some(4)) => Some(ResultKind::F32),
                (true, Some(8)) => Some(ResultKind::F64),
                _ => None,
            })
        }
        gimli::DW_TAG_typedef
        | gimli::DW_TAG_const_type
        | gimli::DW_TAG_volatile_type
        | gimli::DW_TAG_atomic_type => match e.attr_value(gimli::DW_AT_type)? {
            Some(gimli::AttributeValue::UnitRef(n)) => type_kind(unit, n, depth + 1),
            _ => Ok(None),
        },
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_lines_give_the_file_mapping_that_holds_an_address() {
        let line = "7f1c2a400000-7f1c2a401000 r-xp 00001000 fd:01 123456  /tmp/a b/libk.so";
        let m = parse_map_line(line, 0x7f1c2a400010).unwrap();
        assert_eq!(m.start, 0x7f1c2a400000);
        assert_eq!(m.offset, 0x1000);
        assert_eq!(m.inode, 123456);
        assert_eq!(m.path, "/tmp/a b/libk.so");
        assert_eq!(parse_map_line(line, 0x7f1c2a401000), None);
        let anon = "7f1c2a400000-7f1c2a401000 rw-p 00000000 00:00 0 ";
        assert_eq!(parse_map_line(anon, 0x7f1c2a400010), None);
    }

    #[test]
    fn a_float_result_goes_to_the_upper_half_as_on_a_ve() {
        let f = 1.5f32.to_bits() as u64;
        assert_eq!(as_on_ve(f, ResultKind::F32), f << 32);
        let d = 2.5f64.to_bits();
        assert_eq!(as_on_ve(d, ResultKind::F64), d);
        assert_eq!(as_on_ve(7, ResultKind::Integer), 7);
    }
}
