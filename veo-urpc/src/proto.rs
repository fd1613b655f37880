//! Message kinds and bodies, and their checked decoding.
//!
//! All fields are little-endian (both sides run on the same machine; the
//! layout fingerprint in the segment header catches mismatched builds).
//! A request is one command message, possibly followed by `DATA` messages
//! (stack image, written bytes); its answer is zero or more `RDATA` messages
//! (read bytes, OUT/INOUT bytes) then one `RESULT`.

use std::fmt;

/// The protocol version; bump it whenever a layout or message changes,
/// or the meaning of a shared word. 4: a sleeper arms its futex word and
/// a writer wakes only an armed one (`wait.rs`); a peer of version 3 would
/// sleep unwoken for a whole sleep slice.
pub const PROTOCOL_VERSION: u64 = 4;

/// The most arguments a kernel call takes.
pub const MAX_ARGS: usize = 256;

/// Ring filler up to the end of the data area.
pub const KIND_PAD: u16 = 0;
/// Call a function: see [`encode_call`].
pub const KIND_CALL: u16 = 1;
/// Bytes for the preceding command, at an offset: `offset: u64` + bytes.
pub const KIND_DATA: u16 = 2;
/// Write `len` bytes at `addr`: `addr, len`; the bytes follow as `DATA`.
pub const KIND_WRITE: u16 = 3;
/// Read `len` bytes at `addr`: `addr, len`; answered by `RDATA`s.
pub const KIND_READ: u16 = 4;
/// Allocate: `size`.
pub const KIND_ALLOC: u16 = 5;
/// Free: `addr`.
pub const KIND_FREE: u16 = 6;
/// Copy inside VE memory: `dst, src, len`.
pub const KIND_MEMCPY: u16 = 7;
/// Load a library: the path bytes.
pub const KIND_LOAD: u16 = 8;
/// Unload a library: `handle`.
pub const KIND_UNLOAD: u16 = 9;
/// Look up a symbol: `handle` + name bytes.
pub const KIND_SYMBOL: u16 = 10;
/// Start the worker of a channel: `index`.
pub const KIND_OPEN: u16 = 11;
/// Stop this channel's worker after everything queued before.
pub const KIND_CLOSE: u16 = 12;
/// Reap a closed channel's worker: `index`.
pub const KIND_JOIN: u16 = 13;
/// Stop until the VH releases the gate (a VH closure in queue order).
pub const KIND_GATE: u16 = 14;
/// Do nothing; answered in queue order (context sync).
pub const KIND_NOP: u16 = 15;
/// End the helper process.
pub const KIND_EXIT: u16 = 16;
/// The answer to a request: see [`encode_result`].
pub const KIND_RESULT: u16 = 32;
/// Bytes of an answer, at an offset: `offset: u64` + bytes.
pub const KIND_RDATA: u16 = 33;
/// When a request ran on the VE, sent before its result only when the
/// segment's `trace` flag is set: `start: u64`, `end: u64` (ns of
/// `CLOCK_MONOTONIC`, the clock both sides of one machine share).
pub const KIND_TIMES: u16 = 34;

/// Status of a `RESULT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Status {
    /// Done; `value` is the result.
    Ok = 0,
    /// A bad VE address or length; `value` is the address.
    InvalidAddress = 1,
    /// Allocation failed.
    OutOfMemory = 2,
    /// A library could not be loaded.
    Library = 3,
    /// A symbol was not found.
    Symbol = 4,
    /// A malformed or impossible request.
    Invalid = 5,
}

impl Status {
    /// Decodes a status word.
    pub fn from_u32(v: u32) -> Result<Status, ProtoError> {
        Ok(match v {
            0 => Status::Ok,
            1 => Status::InvalidAddress,
            2 => Status::OutOfMemory,
            3 => Status::Library,
            4 => Status::Symbol,
            5 => Status::Invalid,
            _ => return Err(ProtoError::Corrupt("unknown status")),
        })
    }
}

/// A message that cannot be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    /// The bytes are not a valid message.
    #[error("corrupt message: {0}")]
    Corrupt(&'static str),
}

/// How an argument travels and how the kernel sees it; also the return class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ArgClass {
    /// No value (returns only).
    Void = 0,
    /// `int8_t`.
    I8 = 1,
    /// `uint8_t`.
    U8 = 2,
    /// `int16_t`.
    I16 = 3,
    /// `uint16_t`.
    U16 = 4,
    /// `int32_t`.
    I32 = 5,
    /// `uint32_t`.
    U32 = 6,
    /// `int64_t`.
    I64 = 7,
    /// `uint64_t`.
    U64 = 8,
    /// `float`.
    F32 = 9,
    /// `double`.
    F64 = 10,
    /// A VE pointer.
    Ptr = 11,
    /// A pointer to a buffer on the VE stack; the value is its stack index.
    Stack = 12,
}

impl ArgClass {
    /// A value of this class, sign- or zero-extended from its width to 64
    /// bits (as libffi widens integer results, and as a register argument
    /// is passed safely to any C compiler's code); other classes unchanged.
    #[inline]
    pub fn widen(self, v: u64) -> u64 {
        match self {
            ArgClass::I8 => v as i8 as i64 as u64,
            ArgClass::U8 => v as u8 as u64,
            ArgClass::I16 => v as i16 as i64 as u64,
            ArgClass::U16 => v as u16 as u64,
            ArgClass::I32 => v as i32 as i64 as u64,
            ArgClass::U32 => v as u32 as u64,
            _ => v,
        }
    }

    /// Decodes a class byte.
    #[inline]
    pub fn from_u8(v: u8) -> Result<ArgClass, ProtoError> {
        use ArgClass::*;
        Ok(match v {
            0 => Void,
            1 => I8,
            2 => U8,
            3 => I16,
            4 => U16,
            5 => I32,
            6 => U32,
            7 => I64,
            8 => U64,
            9 => F32,
            10 => F64,
            11 => Ptr,
            12 => Stack,
            _ => return Err(ProtoError::Corrupt("unknown argument class")),
        })
    }
}

/// Which way a stack buffer's bytes travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Intent {
    /// Copied to the VE before the call.
    In = 0,
    /// Copied back to the VH after the call.
    Out = 1,
    /// Both.
    InOut = 2,
}

impl Intent {
    /// Decodes an intent byte.
    pub fn from_u8(v: u8) -> Result<Intent, ProtoError> {
        Ok(match v {
            0 => Intent::In,
            1 => Intent::Out,
            2 => Intent::InOut,
            _ => return Err(ProtoError::Corrupt("unknown intent")),
        })
    }

    /// Whether the bytes come back to the VH.
    pub fn copies_out(self) -> bool {
        self != Intent::In
    }
}

/// One buffer of a call's stack image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StackArg {
    /// Offset in the stack image.
    pub offset: u64,
    /// Length in bytes.
    pub len: u64,
    /// Direction.
    pub intent: Intent,
}

/// A decoded call.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    /// Function address.
    pub func: u64,
    /// Return class.
    pub ret: ArgClass,
    /// Argument classes.
    pub classes: Vec<ArgClass>,
    /// Argument values (for `Stack`, the index into `stack`).
    pub values: Vec<u64>,
    /// Stack buffers.
    pub stack: Vec<StackArg>,
    /// Total stack image length, delivered in `DATA` messages after the call.
    pub image_len: u64,
}

const CALL_FIXED: usize = 8 + 8 + 8; // func, image_len, ret|nargs|nstack

/// Bytes of the body of `call`.
pub fn call_body_len(nargs: usize, nstack: usize) -> usize {
    CALL_FIXED + nargs.next_multiple_of(8) + nargs * 8 + nstack * 24
}

/// Encodes a call into `out` (exactly `call_body_len` bytes).
///
/// Cut into fields up front rather than written through a bounds-checked writer: this
/// is on the path of every call, and one bounds check per field shows.
///
/// # Panics
/// If `out` is shorter than [`call_body_len`] or `values` is shorter than
/// `classes`.
#[inline]
pub fn encode_call(
    out: &mut [u8],
    func: u64,
    ret: ArgClass,
    classes: &[ArgClass],
    values: &[u64],
    stack: &[StackArg],
    image_len: u64,
) {
    // Up to eight register arguments (nearly every call): the encoder of
    // that count, with no loops over slices (which became `memcpy` and
    // `memset` calls, about a hundred instructions for a few bytes).
    if stack.is_empty() && image_len == 0 {
        macro_rules! fixed {
            ($($n:literal)*) => {
                match classes.len() {
                    $($n => {
                        if let (Ok(c), Some(Ok(v))) = (
                            <&[ArgClass; $n]>::try_from(classes),
                            values.get(..$n).map(<&[u64; $n]>::try_from),
                        ) {
                            return encode_register_call(out, func, ret, c, v);
                        }
                    })*
                    _ => {}
                }
            };
        }
        fixed!(0 1 2 3 4 5 6 7 8);
    }
    let n = classes.len();
    let (fixed, rest) = out.split_at_mut(CALL_FIXED);
    fixed[..8].copy_from_slice(&func.to_le_bytes());
    fixed[8..16].copy_from_slice(&image_len.to_le_bytes());
    let packed = ret as u64 | (n as u64) << 8 | (stack.len() as u64) << 32;
    fixed[16..].copy_from_slice(&packed.to_le_bytes());
    let (class_bytes, rest) = rest.split_at_mut(n.next_multiple_of(8));
    for (b, c) in class_bytes.iter_mut().zip(classes) {
        *b = *c as u8;
    }
    class_bytes[n..].fill(0);
    let (value_bytes, rest) = rest.split_at_mut(n * 8);
    for (b, v) in value_bytes.chunks_exact_mut(8).zip(&values[..n]) {
        b.copy_from_slice(&v.to_le_bytes());
    }
    for (b, s) in rest[..stack.len() * 24].chunks_exact_mut(24).zip(stack) {
        b[..8].copy_from_slice(&s.offset.to_le_bytes());
        b[8..16].copy_from_slice(&s.len.to_le_bytes());
        b[16..].copy_from_slice(&(s.intent as u64).to_le_bytes());
    }
}

/// [`encode_call`] for a call of `N` register arguments and no stack, `N`
/// known when compiled: the same bytes, written without loops over slices
/// (which became two `memcpy` calls on the path of every call).
///
/// # Panics
/// If `out` is shorter than `call_body_len(N, 0)`.
#[inline(always)]
pub fn encode_register_call<const N: usize>(
    out: &mut [u8],
    func: u64,
    ret: ArgClass,
    classes: &[ArgClass; N],
    values: &[u64; N],
) {
    let class_len = N.next_multiple_of(8);
    let out = &mut out[..CALL_FIXED + class_len + N * 8];
    out[..8].copy_from_slice(&func.to_le_bytes());
    out[8..16].copy_from_slice(&0u64.to_le_bytes());
    out[16..24].copy_from_slice(&(ret as u64 | (N as u64) << 8).to_le_bytes());
    for (i, c) in classes.iter().enumerate() {
        out[CALL_FIXED + i] = *c as u8;
    }
    out[CALL_FIXED + N..CALL_FIXED + class_len].fill(0);
    for (i, v) in values.iter().enumerate() {
        let at = CALL_FIXED + class_len + i * 8;
        out[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }
}

/// A call whose arguments all travel in general-purpose registers: at
/// most six of the integer classes (pointers included), no stack image, and
/// an integer, pointer or no result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegisterCall {
    /// Function address (not zero).
    pub func: u64,
    /// Return class (neither a float nor `Stack`).
    pub ret: ArgClass,
    /// Number of arguments in `args`.
    pub nargs: usize,
    /// The arguments, each widened to 64 bits as C widens it.
    pub args: [u64; 6],
}

/// How [`decode_register_call`] takes an argument of each class byte: the
/// bits to widen it from (its width's complement to 64, see
/// [`ArgClass::widen`]), plus [`SIGNED`] for the signed classes; [`NOT_REGISTER`]
/// for a class that is no integer (`Void`, the floats, `Stack`) or no class.
const REGISTER_ARG: [u8; 256] = {
    let mut t = [NOT_REGISTER; 256];
    t[ArgClass::I8 as usize] = 56 | SIGNED;
    t[ArgClass::U8 as usize] = 56;
    t[ArgClass::I16 as usize] = 48 | SIGNED;
    t[ArgClass::U16 as usize] = 48;
    t[ArgClass::I32 as usize] = 32 | SIGNED;
    t[ArgClass::U32 as usize] = 32;
    t[ArgClass::I64 as usize] = 0;
    t[ArgClass::U64 as usize] = 0;
    t[ArgClass::Ptr as usize] = 0;
    t
};
const SIGNED: u8 = 0x80;
const NOT_REGISTER: u8 = 0xff;

/// The call in `body` if it is a [`RegisterCall`]; `None` for any other
/// call and for a malformed one (which [`decode_call`] then describes).
/// Lets the helper make the common call without building a [`Call`].
///
/// Cut into words up front, and its arguments widened through a table
/// (`REGISTER_ARG`, which agrees with [`ArgClass::widen`]) with one test
/// for all of them after: this decodes every call the helper makes, inlined
/// into its loop.
#[inline]
pub fn decode_register_call(body: &[u8]) -> Option<RegisterCall> {
    // The fixed words and the class bytes: six at most, one word.
    let head: &[u8; CALL_FIXED + 8] = body.first_chunk()?;
    let word = |i: usize| u64::from_le_bytes(head[8 * i..8 * i + 8].try_into().expect("8 bytes"));
    let (func, image_len, packed, class_bytes) = (word(0), word(1), word(2), word(3));
    let nargs = ((packed >> 8) & 0xff_ffff) as usize;
    if func == 0 || image_len != 0 || packed >> 32 != 0 || nargs > 6 {
        return None;
    }
    let ret = match ArgClass::from_u8(packed as u8) {
        Ok(ArgClass::F32 | ArgClass::F64 | ArgClass::Stack) | Err(_) => return None,
        Ok(ret) => ret,
    };
    // `call_body_len(nargs, 0)`, the class bytes being in `head`.
    let values = body.get(CALL_FIXED + 8..CALL_FIXED + 8 + 8 * nargs)?;
    let mut args = [0u64; 6];
    let mut not_register = false;
    for (i, arg) in args.iter_mut().enumerate().take(nargs) {
        let v = u64::from_le_bytes(values[8 * i..8 * i + 8].try_into().expect("8 bytes"));
        let how = REGISTER_ARG[(class_bytes >> (8 * i)) as u8 as usize];
        not_register |= how == NOT_REGISTER;
        let bits = (how & 63) as u32;
        *arg = if how & SIGNED != 0 {
            ((v << bits) as i64 >> bits) as u64
        } else {
            (v << bits) >> bits
        };
    }
    if not_register {
        return None;
    }
    Some(RegisterCall {
        func,
        ret,
        nargs,
        args,
    })
}

/// Decodes and checks a call body against the stack limit.
pub fn decode_call(body: &[u8], stack_max: u64) -> Result<Call, ProtoError> {
    let mut call = Call::empty();
    decode_call_into(body, stack_max, &mut call)?;
    Ok(call)
}

impl Call {
    /// A call of nothing, to decode into.
    pub fn empty() -> Call {
        Call {
            func: 0,
            ret: ArgClass::Void,
            classes: Vec::new(),
            values: Vec::new(),
            stack: Vec::new(),
            image_len: 0,
        }
    }
}

/// [`decode_call`] into `call`, reusing its vectors (a worker decodes every
/// call into the same one, so that a call allocates nothing). On error,
/// `call` holds partial contents.
pub fn decode_call_into(body: &[u8], stack_max: u64, call: &mut Call) -> Result<(), ProtoError> {
    let truncated = ProtoError::Corrupt("truncated message");
    let word = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
    let fixed = body.get(..CALL_FIXED).ok_or(truncated.clone())?;
    let (func, image_len, packed) = (word(&fixed[..8]), word(&fixed[8..16]), word(&fixed[16..]));
    let ret = ArgClass::from_u8(packed as u8)?;
    if ret == ArgClass::Stack {
        return Err(ProtoError::Corrupt("stack return class"));
    }
    let nargs = ((packed >> 8) & 0xff_ffff) as usize;
    let nstack = (packed >> 32) as usize;
    if nargs > MAX_ARGS || nstack > nargs {
        return Err(ProtoError::Corrupt("too many arguments"));
    }
    if image_len > stack_max {
        return Err(ProtoError::Corrupt(
            "stack image larger than the call frame area",
        ));
    }
    // Bounded by the checks above: no overflow.
    if body.len() < call_body_len(nargs, nstack) {
        return Err(truncated);
    }
    let rest = &body[CALL_FIXED..];
    let (class_bytes, rest) = rest.split_at(nargs.next_multiple_of(8));
    let (value_bytes, stack_bytes) = rest.split_at(nargs * 8);
    let Call {
        classes,
        values,
        stack,
        ..
    } = call;
    classes.clear();
    values.clear();
    stack.clear();
    for (&b, v) in class_bytes[..nargs].iter().zip(value_bytes.chunks_exact(8)) {
        let c = ArgClass::from_u8(b)?;
        let v = word(v);
        match c {
            ArgClass::Void => return Err(ProtoError::Corrupt("void argument")),
            ArgClass::Stack if v >= nstack as u64 => {
                return Err(ProtoError::Corrupt("stack index out of range"))
            }
            _ => {}
        }
        classes.push(c);
        values.push(v);
    }
    for b in stack_bytes[..nstack * 24].chunks_exact(24) {
        let (offset, len, intent) = (word(&b[..8]), word(&b[8..16]), word(&b[16..]));
        if intent > 255 {
            return Err(ProtoError::Corrupt("unknown intent"));
        }
        let intent = Intent::from_u8(intent as u8)?;
        match offset.checked_add(len) {
            Some(end) if end <= image_len => {}
            _ => return Err(ProtoError::Corrupt("stack buffer outside the image")),
        }
        stack.push(StackArg {
            offset,
            len,
            intent,
        });
    }
    call.func = func;
    call.ret = ret;
    call.image_len = image_len;
    Ok(())
}

/// Fixed part of a `RESULT` body: status, value.
pub const RESULT_FIXED: usize = 16;

/// Encodes a result header; `text` follows for failures.
///
/// # Panics
/// If `out` is shorter than `RESULT_FIXED + text.len()`.
#[inline]
pub fn encode_result(out: &mut [u8], status: Status, value: u64, text: &[u8]) {
    let (fixed, rest) = out.split_at_mut(RESULT_FIXED);
    fixed[..8].copy_from_slice(&(status as u64 | (text.len() as u64) << 32).to_le_bytes());
    fixed[8..].copy_from_slice(&value.to_le_bytes());
    rest[..text.len()].copy_from_slice(text);
}

/// A decoded result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply<'a> {
    /// Outcome.
    pub status: Status,
    /// Result value, or the bad address.
    pub value: u64,
    /// Error text.
    pub text: &'a [u8],
}

/// Decodes a `RESULT` body.
pub fn decode_result(body: &[u8]) -> Result<Reply<'_>, ProtoError> {
    let mut r = Reader::new(body);
    let word = r.u64()?;
    let status = Status::from_u32(word as u32)?;
    let value = r.u64()?;
    let text = r.bytes((word >> 32) as usize)?;
    Ok(Reply {
        status,
        value,
        text,
    })
}

/// The value of a `RESULT` body that says [`Status::Ok`] with no text
/// (the answer to nearly every call), `None` for any other body, which
/// [`decode_result`] then reads: one comparison where the general decoder
/// builds a [`Reply`].
#[inline(always)]
pub fn decode_ok_result(body: &[u8]) -> Option<u64> {
    let word = u64::from_le_bytes(body.get(..8)?.try_into().ok()?);
    if word != Status::Ok as u64 {
        return None;
    }
    Some(u64::from_le_bytes(body.get(8..16)?.try_into().ok()?))
}

/// Encodes up to three u64 fields.
pub fn encode_words(out: &mut [u8], words: &[u64]) {
    let mut w = Writer::new(out);
    for v in words {
        w.u64(*v);
    }
}

/// Decodes `N` u64 fields (the rest of the body is returned).
pub fn decode_words<const N: usize>(body: &[u8]) -> Result<([u64; N], &[u8]), ProtoError> {
    let mut r = Reader::new(body);
    let mut out = [0u64; N];
    for v in &mut out {
        *v = r.u64()?;
    }
    Ok((out, r.rest()))
}

/// A bounds-checked little-endian reader.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], ProtoError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or(ProtoError::Corrupt("truncated message"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u64(&mut self) -> Result<u64, ProtoError> {
        Ok(u64::from_le_bytes(self.bytes(8)?.try_into().unwrap()))
    }
    fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }
}

/// A little-endian writer; panics on overflow (sizes are computed first).
struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    fn new(buf: &'a mut [u8]) -> Self {
        Writer { buf, pos: 0 }
    }
    fn bytes(&mut self, b: &[u8]) {
        self.buf[self.pos..self.pos + b.len()].copy_from_slice(b);
        self.pos += b.len();
    }
    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
}

impl fmt::Display for ArgClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both encoders write the layout `decode_call` reads, byte for byte,
    /// for counts on both sides of the fixed-count ones and of a class
    /// word's boundary, and nothing past the body.
    #[test]
    fn register_call_encodings_have_the_documented_layout() {
        fn expected(classes: &[ArgClass], values: &[u64]) -> Vec<u8> {
            let n = classes.len();
            let mut b = Vec::new();
            b.extend(0xdead_u64.to_le_bytes());
            b.extend(0u64.to_le_bytes());
            b.extend((ArgClass::F32 as u64 | (n as u64) << 8).to_le_bytes());
            b.extend(classes.iter().map(|c| *c as u8));
            b.resize(CALL_FIXED + n.next_multiple_of(8), 0);
            values.iter().for_each(|v| b.extend(v.to_le_bytes()));
            b
        }
        fn both<const N: usize>(classes: [ArgClass; N], values: [u64; N]) {
            let want = expected(&classes, &values);
            assert_eq!(want.len(), call_body_len(N, 0));
            let (mut general, mut fixed) =
                (vec![0xaau8; want.len() + 8], vec![0x55u8; want.len() + 8]);
            encode_call(
                &mut general,
                0xdead,
                ArgClass::F32,
                &classes,
                &values,
                &[],
                0,
            );
            encode_register_call(&mut fixed, 0xdead, ArgClass::F32, &classes, &values);
            assert_eq!(general[..want.len()], want, "encode_call, {N} arguments");
            assert_eq!(
                fixed[..want.len()],
                want,
                "encode_register_call, {N} arguments"
            );
            assert_eq!(
                general[want.len()..],
                [0xaa; 8],
                "nothing written past the body"
            );
            assert_eq!(
                fixed[want.len()..],
                [0x55; 8],
                "nothing written past the body"
            );
        }
        both([], []);
        both([ArgClass::I64], [u64::MAX]);
        both([ArgClass::Ptr, ArgClass::F64, ArgClass::I8], [1, 2, 3]);
        both([ArgClass::U32; 8], [7; 8]);
        both([ArgClass::I16; 9], [9; 9]);
        both([ArgClass::U8; 17], [3; 17]);
    }

    #[test]
    fn only_plain_ok_results_take_the_short_decoding() {
        let enc = |status, value, text: &[u8]| {
            let mut b = vec![0u8; 16 + text.len()];
            encode_result(&mut b, status, value, text);
            b
        };
        let ok = enc(Status::Ok, 42, b"");
        assert_eq!(decode_ok_result(&ok), Some(42));
        assert_eq!(decode_result(&ok).unwrap().value, 42);
        assert_eq!(decode_ok_result(&enc(Status::Ok, 42, b"why")), None);
        assert_eq!(
            decode_ok_result(&enc(Status::InvalidAddress, 42, b"")),
            None
        );
        assert_eq!(
            decode_ok_result(&ok[..15]),
            None,
            "short bodies are not read"
        );
    }

    #[test]
    fn register_calls_are_told_apart() {
        let enc = |ret, classes: &[ArgClass], values: &[u64], stack: &[StackArg], image| {
            let mut buf = vec![0u8; call_body_len(classes.len(), stack.len())];
            encode_call(&mut buf, 0x1000, ret, classes, values, stack, image);
            buf
        };
        let body = enc(
            ArgClass::I32,
            &[ArgClass::I8, ArgClass::U16, ArgClass::Ptr],
            &[0xff, 0xffff_ffff, 7],
            &[],
            0,
        );
        let rc = decode_register_call(&body).unwrap();
        assert_eq!((rc.func, rc.ret, rc.nargs), (0x1000, ArgClass::I32, 3));
        // Widened as C widens: sign for signed classes, zeros for the others.
        assert_eq!(&rc.args[..3], &[u64::MAX, 0xffff, 7]);
        // Not register calls: floats, seven arguments, stack buffers.
        assert!(decode_register_call(&enc(ArgClass::F64, &[], &[], &[], 0)).is_none());
        assert!(
            decode_register_call(&enc(ArgClass::Void, &[ArgClass::F32], &[0], &[], 0)).is_none()
        );
        assert!(
            decode_register_call(&enc(ArgClass::Void, &[ArgClass::I64; 7], &[0; 7], &[], 0))
                .is_none()
        );
        let stack = [StackArg {
            offset: 0,
            len: 8,
            intent: Intent::In,
        }];
        assert!(
            decode_register_call(&enc(ArgClass::Void, &[ArgClass::Stack], &[0], &stack, 8))
                .is_none()
        );
        // Malformed bodies are left to decode_call.
        assert!(decode_register_call(&body[..body.len() - 1]).is_none());
        let mut bad = body.clone();
        bad[CALL_FIXED] = 99;
        assert!(decode_register_call(&bad).is_none());
        assert!(decode_register_call(&[]).is_none());
    }

    #[test]
    fn the_register_table_widens_as_widen_does() {
        for b in 0..=255u8 {
            let how = REGISTER_ARG[b as usize];
            match ArgClass::from_u8(b) {
                Ok(ArgClass::Void | ArgClass::F32 | ArgClass::F64 | ArgClass::Stack) | Err(_) => {
                    assert_eq!(how, NOT_REGISTER, "class byte {b}")
                }
                Ok(c) => {
                    let body = {
                        let mut buf = vec![0u8; call_body_len(1, 0)];
                        encode_call(&mut buf, 1, ArgClass::Void, &[c], &[0], &[], 0);
                        buf
                    };
                    for v in [
                        0,
                        1,
                        0x7f,
                        0x80,
                        0xff,
                        0x8000,
                        0xffff_ffff,
                        0x8000_0000,
                        u64::MAX,
                    ] {
                        let mut body = body.clone();
                        body[CALL_FIXED + 8..CALL_FIXED + 16].copy_from_slice(&v.to_le_bytes());
                        let rc = decode_register_call(&body).unwrap();
                        assert_eq!(rc.args[0], c.widen(v), "{c:?} {v:#x}");
                    }
                }
            }
        }
    }

    #[test]
    fn call_round_trips() {
        let classes = [ArgClass::I8, ArgClass::F32, ArgClass::Stack, ArgClass::Ptr];
        let values = [u64::MAX, 7, 0, 0x1000];
        let stack = [StackArg {
            offset: 16,
            len: 8,
            intent: Intent::InOut,
        }];
        let mut buf = vec![0u8; call_body_len(4, 1)];
        encode_call(&mut buf, 42, ArgClass::F64, &classes, &values, &stack, 24);
        let c = decode_call(&buf, 1 << 20).unwrap();
        assert_eq!(c.func, 42);
        assert_eq!(c.ret, ArgClass::F64);
        assert_eq!(c.classes, classes);
        assert_eq!(c.values, values);
        assert_eq!(c.stack, stack);
        assert_eq!(c.image_len, 24);
    }

    #[test]
    fn bad_calls_are_rejected() {
        let stack = [StackArg {
            offset: 16,
            len: 9,
            intent: Intent::In,
        }];
        let mut buf = vec![0u8; call_body_len(1, 1)];
        encode_call(
            &mut buf,
            1,
            ArgClass::Void,
            &[ArgClass::Stack],
            &[0],
            &stack,
            24,
        );
        assert!(decode_call(&buf, 1 << 20).is_err(), "buffer past the image");
        encode_call(
            &mut buf,
            1,
            ArgClass::Void,
            &[ArgClass::Stack],
            &[1],
            &stack[..0],
            0,
        );
        assert!(
            decode_call(&buf[..buf.len() - 24], 1 << 20).is_err(),
            "index past stack"
        );
        let mut buf = vec![0u8; call_body_len(0, 0)];
        encode_call(&mut buf, 1, ArgClass::Void, &[], &[], &[], 1 << 30);
        assert!(decode_call(&buf, 1 << 20).is_err(), "image over the limit");
        assert!(decode_call(&buf[..10], 1 << 40).is_err(), "truncated");
    }

    #[test]
    fn result_round_trips() {
        let mut buf = vec![0u8; RESULT_FIXED + 5];
        encode_result(&mut buf, Status::Symbol, 9, b"nope!");
        let r = decode_result(&buf).unwrap();
        assert_eq!(
            (r.status, r.value, r.text),
            (Status::Symbol, 9, &b"nope!"[..])
        );
        buf[0] = 77;
        assert!(decode_result(&buf).is_err());
    }
}
