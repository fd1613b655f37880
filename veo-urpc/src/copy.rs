//! Copies between host memory and VE memory that run at `memcpy` speed for
//! every relative alignment of source and destination.
//!
//! glibc's `memcpy` copies mid-sized buffers with `rep movsb` on CPUs that
//! have "fast short rep movsb" (FSRM: recent AMD EPYC and Intel cores). On
//! AMD EPYC that instruction falls to 1.2-1.8 GB/s, from 30-50, whenever
//! the destination lies 1 to 31 bytes past the source modulo 4 KiB: the
//! loads of each chunk then seem to depend on the stores just made to the
//! same page offsets (4 KiB aliasing), and every chunk waits for the last.
//! That is exactly a heap `Vec` (malloc's 16-byte chunk header) receiving
//! from page-aligned VE memory. For large buffers glibc's non-temporal loop
//! loses half its speed at such offsets too (3.5 against 8.6 GB/s at
//! 256 MiB, destination 16 or 64 bytes past the source).
//!
//! [`copy_nonoverlapping`] takes `memcpy` where it is fast and its own AVX2
//! loops elsewhere: a backward loop for a destination just past the source
//! (stores then go to page offsets above the loads still to come, so no load
//! waits for a store), and a non-temporal loop for buffers larger than the
//! last-level cache. They use unaligned loads and aligned stores; the
//! choice is made per call from the two addresses and the length, with
//! AVX2 detected at run time (every CPU with FSRM has AVX2; without AVX2,
//! `memcpy` has no `rep movsb` trap to avoid).
//!
//! Hand-written because no maintained crate chooses a copy by relative page
//! offset: the crates that replace `memcpy` (e.g. `compiler_builtins`'
//! `mem` feature) are slower than glibc where glibc is fast.

/// Below this length `memcpy` uses vector moves, never `rep movsb`.
const SMALL: usize = 2048;

/// From this length up, copies stream past the caches (non-temporal
/// stores): the destination would not stay in a 32 MiB last-level cache
/// anyway, and streaming saves reading it in first.
pub const STREAM_MIN: usize = 16 << 20;

/// Whether `memcpy` hits the 4 KiB aliasing trap for these addresses: the
/// destination lies less than 64 bytes past the source modulo 4 KiB (1 to
/// 31 measured; 63 leaves room for other cores' chunk sizes).
#[inline]
fn aliasing(dst: usize, src: usize) -> bool {
    let d = dst.wrapping_sub(src) & 4095;
    d != 0 && d < 64
}

/// Copies `src` into `dst` (equal lengths), at `memcpy` speed for every
/// relative alignment of the two.
///
/// # Panics
/// If the lengths differ, like `<[u8]>::copy_from_slice`.
#[inline]
pub fn copy(dst: &mut [u8], src: &[u8]) {
    assert_eq!(
        dst.len(),
        src.len(),
        "copy between slices of different lengths"
    );
    // SAFETY: two slices of `len` bytes; a `&mut` and a `&` cannot overlap.
    unsafe { copy_nonoverlapping(src.as_ptr(), dst.as_mut_ptr(), src.len()) }
}

/// Appends `src` to `v` with [`copy`].
pub fn extend(v: &mut Vec<u8>, src: &[u8]) {
    v.reserve(src.len());
    let spare = &mut v.spare_capacity_mut()[..src.len()];
    // SAFETY: `spare` is `src.len()` bytes of `v`'s capacity, which `src`
    // (borrowed while `v` is borrowed mutably) cannot overlap; once they
    // are written, the first `len + src.len()` bytes are initialised.
    unsafe {
        copy_nonoverlapping(src.as_ptr(), spare.as_mut_ptr().cast::<u8>(), src.len());
        v.set_len(v.len() + src.len());
    }
}

/// Copies `len` bytes from `src` to `dst` (the argument order of
/// `std::ptr::copy_nonoverlapping`), at `memcpy` speed for every relative
/// alignment of the two.
///
/// # Safety
/// As `std::ptr::copy_nonoverlapping`: `src` readable and `dst` writable
/// for `len` bytes, the two ranges disjoint.
#[inline]
pub unsafe fn copy_nonoverlapping(src: *const u8, dst: *mut u8, len: usize) {
    if len < SMALL {
        // SAFETY: the caller's contract.
        unsafe { std::ptr::copy_nonoverlapping(src, dst, len) };
        return;
    }
    // SAFETY: the caller's contract.
    unsafe { copy_large(src, dst, len) }
}

#[cfg(target_arch = "x86_64")]
unsafe fn copy_large(src: *const u8, dst: *mut u8, len: usize) {
    let stream = len >= STREAM_MIN;
    if (stream || aliasing(dst as usize, src as usize)) && std::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present (checked above), `len` >= SMALL >= 64,
        // and the ranges are valid and disjoint (the caller's contract).
        unsafe {
            if stream {
                avx2::stream(src, dst, len);
            } else {
                avx2::backward(src, dst, len);
            }
        }
        return;
    }
    // SAFETY: the caller's contract.
    unsafe { std::ptr::copy_nonoverlapping(src, dst, len) };
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn copy_large(src: *const u8, dst: *mut u8, len: usize) {
    // SAFETY: the caller's contract.
    unsafe { std::ptr::copy_nonoverlapping(src, dst, len) };
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::{
        __m256i, _mm256_loadu_si256, _mm256_store_si256, _mm256_storeu_si256, _mm256_stream_si256,
        _mm_sfence,
    };

    const V: usize = 32;
    const BLOCK: usize = 4 * V;

    /// Copies backwards: aligned stores from the end down, the first and
    /// last 32 bytes unaligned.
    ///
    /// # Safety
    /// AVX2 present; `len >= 64`; `src` readable, `dst` writable for `len`
    /// bytes, disjoint.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn backward(src: *const u8, dst: *mut u8, len: usize) {
        debug_assert!(len >= 2 * V);
        // SAFETY: for the whole body, every access lies in `[0, len)` of `src` or
        // `dst` (`i` stays in `[V, len]`, `len - V >= V`); stores at
        // `dst + i` with `dst + i` a multiple of 32 are aligned.
        unsafe {
            let head = _mm256_loadu_si256(src as *const __m256i);
            let tail = _mm256_loadu_si256(src.add(len - V) as *const __m256i);
            _mm256_storeu_si256(dst.add(len - V) as *mut __m256i, tail);
            // The aligned end: `i` in `(len - V, len]`.
            let mut i = ((dst as usize + len) & !(V - 1)) - dst as usize;
            while i >= V + BLOCK {
                i -= BLOCK;
                let s = src.add(i);
                let a = _mm256_loadu_si256(s.add(3 * V) as *const __m256i);
                let b = _mm256_loadu_si256(s.add(2 * V) as *const __m256i);
                let c = _mm256_loadu_si256(s.add(V) as *const __m256i);
                let d = _mm256_loadu_si256(s as *const __m256i);
                let o = dst.add(i);
                _mm256_store_si256(o.add(3 * V) as *mut __m256i, a);
                _mm256_store_si256(o.add(2 * V) as *mut __m256i, b);
                _mm256_store_si256(o.add(V) as *mut __m256i, c);
                _mm256_store_si256(o as *mut __m256i, d);
            }
            while i >= 2 * V {
                i -= V;
                let a = _mm256_loadu_si256(src.add(i) as *const __m256i);
                _mm256_store_si256(dst.add(i) as *mut __m256i, a);
            }
            // `[V, i)` is shorter than V: one unaligned store ending at `i`.
            if i > V {
                let a = _mm256_loadu_si256(src.add(i - V) as *const __m256i);
                _mm256_storeu_si256(dst.add(i - V) as *mut __m256i, a);
            }
            _mm256_storeu_si256(dst as *mut __m256i, head);
        }
    }

    /// Copies forwards with non-temporal aligned stores, the first and last
    /// 32 bytes unaligned (ordinary stores), then a store fence so that the
    /// copy is ordered before whatever release the caller makes next.
    ///
    /// # Safety
    /// As [`backward`].
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn stream(src: *const u8, dst: *mut u8, len: usize) {
        debug_assert!(len >= 2 * V);
        // SAFETY: for the whole body, every access lies in `[0, len)` of `src` or
        // `dst` (vectors start at `i` in `[1, end - V]`, `end <= len`);
        // streaming stores at `dst + i`, a multiple of 32, are aligned.
        unsafe {
            let head = _mm256_loadu_si256(src as *const __m256i);
            let tail = _mm256_loadu_si256(src.add(len - V) as *const __m256i);
            // The aligned start, in `[1, V]`, and the aligned end, in
            // `(len - V, len]`.
            let mut i = V - (dst as usize & (V - 1));
            let end = ((dst as usize + len) & !(V - 1)) - dst as usize;
            while i + BLOCK <= end {
                let s = src.add(i);
                let a = _mm256_loadu_si256(s as *const __m256i);
                let b = _mm256_loadu_si256(s.add(V) as *const __m256i);
                let c = _mm256_loadu_si256(s.add(2 * V) as *const __m256i);
                let d = _mm256_loadu_si256(s.add(3 * V) as *const __m256i);
                let o = dst.add(i);
                _mm256_stream_si256(o as *mut __m256i, a);
                _mm256_stream_si256(o.add(V) as *mut __m256i, b);
                _mm256_stream_si256(o.add(2 * V) as *mut __m256i, c);
                _mm256_stream_si256(o.add(3 * V) as *mut __m256i, d);
                i += BLOCK;
            }
            while i + V <= end {
                let a = _mm256_loadu_si256(src.add(i) as *const __m256i);
                _mm256_stream_si256(dst.add(i) as *mut __m256i, a);
                i += V;
            }
            _mm_sfence();
            _mm256_storeu_si256(dst as *mut __m256i, head);
            _mm256_storeu_si256(dst.add(len - V) as *mut __m256i, tail);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A buffer whose bytes all differ from their neighbours' (mod 251).
    fn pattern(len: usize, seed: usize) -> Vec<u8> {
        (0..len).map(|i| ((i + seed) % 251) as u8).collect()
    }

    const GUARD: usize = 64;
    const FILL: u8 = 0xa5;

    /// A source and a destination buffer, each starting on a page, reused
    /// by every check of a test.
    struct Fixture {
        src: Vec<u8>,
        dst: Vec<u8>,
    }

    impl Fixture {
        fn new(max_len: usize) -> Fixture {
            Fixture {
                src: pattern(max_len + 3 * 4096, 0),
                dst: vec![FILL; max_len + 3 * 4096 + GUARD],
            }
        }

        /// Copies `len` bytes from page offset `src_off` of the source to
        /// page offset `dst_off` of the destination, then checks the copy
        /// and the bytes on either side of it.
        fn check(&mut self, src_off: usize, dst_off: usize, len: usize) {
            let sp = self.src.as_ptr().align_offset(4096) + src_off;
            // One page in, so that there are guard bytes before offset 0.
            let dp = self.dst.as_ptr().align_offset(4096) + 4096 + dst_off;
            let src = &self.src[sp..sp + len];
            copy(&mut self.dst[dp..dp + len], src);
            let dst = &self.dst;
            assert!(
                dst[dp..dp + len] == *src,
                "copy of {len} bytes, src +{src_off}, dst +{dst_off}"
            );
            let around = (dp - GUARD..dp).chain(dp + len..dp + len + GUARD);
            assert!(
                around.clone().all(|i| dst[i] == FILL),
                "copy of {len} bytes, src +{src_off}, dst +{dst_off}: wrote outside"
            );
            self.dst[dp..dp + len].fill(FILL);
        }
    }

    /// Page offsets near the edges that matter: 0, the aliasing window
    /// (16 to 63), vector and line sizes, the end of a page.
    const OFFSETS: [usize; 14] = [0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 4032, 4064, 4080, 4095];

    #[test]
    fn every_small_length_at_every_offset_pair_near_the_edges() {
        let mut f = Fixture::new(SMALL + 300);
        for len in (0..=200).chain(SMALL - 130..SMALL + 300) {
            for s in OFFSETS {
                for d in OFFSETS {
                    f.check(s, d, len);
                }
            }
        }
    }

    #[test]
    fn every_relative_offset_in_the_aliasing_window() {
        let mut f = Fixture::new(8191);
        for d in 0..130 {
            for len in [SMALL, SMALL + 1, SMALL + 31, 5000, 8191] {
                f.check(0, d, len);
                f.check(4096 - d, 0, len);
                f.check(4095 - d, 4095, len);
            }
        }
    }

    #[test]
    fn random_large_copies() {
        // A small xorshift: reproducible, no dependency.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as usize
        };
        let mut f = Fixture::new(1 << 20);
        for _ in 0..40 {
            let len = SMALL + next() % ((1 << 20) - SMALL);
            f.check(next() % 4096, next() % 4096, len);
        }
        // Past the streaming threshold, at the offsets of the trap.
        let mut f = Fixture::new(STREAM_MIN + 4096);
        for (s, d) in [(0, 16), (16, 0), (0, 0), (4080, 0), (3, 64), (64, 3)] {
            f.check(s, d, STREAM_MIN + 1000 + s);
        }
    }

    #[test]
    fn extend_appends() {
        let mut v = vec![7u8; 5];
        let src = pattern(5000, 3);
        extend(&mut v, &src);
        extend(&mut v, &[]);
        assert_eq!(v.len(), 5005);
        assert_eq!(&v[..5], &[7; 5]);
        assert_eq!(&v[5..], &src[..]);
    }

    #[test]
    fn slices_of_different_lengths_panic() {
        let r = std::panic::catch_unwind(|| copy(&mut [0u8; 3], &[1u8; 4]));
        assert!(r.is_err());
    }
}
