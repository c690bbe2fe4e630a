//! bfloat16 weights and their matrix product for [`super::native`] (`--precision bf16`).
//!
//! The weights `(k, n)` are rounded to bfloat16 (round to nearest even) and packed for the
//! AVX512-BF16 instruction `vdpbf16ps`, which multiplies pairs of bf16 values and adds both
//! products to an f32 lane: for each block of 16 output columns and each pair of rows `2p, 2p+1`
//! of `W`, one 64-byte vector holds the 16 columns' two values. The activations are rounded to
//! bf16 per matrix product, in the same pairs, and each pair is broadcast to all lanes. An 8-row ×
//! 32-column tile of the result stays in 16 registers over the whole `k` loop and is added to the
//! destination once (which already holds the bias and, for output projections, the residual).
//!
//! On a CPU without AVX512-BF16 (or with `STANDPOINT_NO_BF16` set) the same bf16-rounded weights
//! are widened to f32 once and go through the f32 `gemm` product, with the activations rounded to
//! bf16 first as on the fast path: the products are the same, only the order of the sums differs,
//! and the speed is that of f32. (Until December 2026 the activations stayed unrounded there, and
//! int8, whose FFN down projection ran here then, lost up to 1.35 macro-F1 points more on a Zen 3 than
//! on CPUs with bf16 instructions.)

use aligned_vec::{avec, AVec};

/// Rounds an f32 to bfloat16 bits, to nearest even (NaN stays NaN).
#[inline(always)]
pub fn to_bf16(x: f32) -> u16 {
    let b = x.to_bits();
    if x.is_nan() {
        return ((b >> 16) | 0x40) as u16;
    }
    let round = 0x7fff + ((b >> 16) & 1);
    ((b + round) >> 16) as u16
}

/// Widens bfloat16 bits to f32.
#[inline(always)]
pub fn from_bf16(h: u16) -> f32 {
    f32::from_bits((h as u32) << 16)
}

/// Rows of the result per tile.
const MR: usize = 8;
/// Rows of activations converted and kept together (an L2-sized block).
const MC: usize = 64;
/// Output columns per tile block on AMX (a multiple of 32).
const AMX_CHUNK: usize = 128;

/// A `(k, n)` weight matrix in bfloat16, packed for `vdpbf16ps`.
pub struct PackedBf16 {
    k: usize,
    n: usize,
    /// Pairs of rows: ⌈k/2⌉.
    kp: usize,
    /// `[n/16 blocks][kp][16 columns]`, each u32 = bf16(W[2p][c]) | bf16(W[2p+1][c]) << 16.
    /// Aligned to cache lines: AMX loads a tile row of 64 bytes, which must not straddle two.
    packed: AVec<u32>,
    /// The bf16-rounded weights widened to f32 `(k, n)`, for CPUs without AVX512-BF16 (or
    /// widths that are not a multiple of 16).
    widened: Option<Vec<f32>>,
}

fn has_bf16() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::env::var_os("STANDPOINT_NO_BF16").is_none()
            && std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bf16")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether this CPU multiplies bf16 natively (AVX512-BF16), and `STANDPOINT_NO_BF16` is unset.
pub fn native_bf16() -> bool {
    static H: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *H.get_or_init(has_bf16)
}

impl PackedBf16 {
    /// Packs `w`, `(k, n)` row-major.
    pub fn pack(w: &[f32], k: usize, n: usize) -> PackedBf16 {
        assert_eq!(w.len(), k * n);
        Self::pack_strided(w, k, n, n, 1)
    }

    /// Packs the `(k, n)` matrix whose element `(r, c)` is `w[r·rs + c·cs]`: with `(1, k)` the
    /// transpose of a row-major `(n, k)` matrix, as training's forward product `x·wᵀ` needs.
    pub fn pack_strided(w: &[f32], k: usize, n: usize, rs: usize, cs: usize) -> PackedBf16 {
        if k > 0 && n > 0 {
            assert!(w.len() > (k - 1) * rs + (n - 1) * cs);
        }
        let at = |r: usize, c: usize| w[r * rs + c * cs];
        // Pairs padded to a multiple of 16 (zeros), the depth of one AMX tile.
        let kp = k.div_ceil(2).div_ceil(16) * 16;
        let simd = native_bf16() && n.is_multiple_of(16);
        #[cfg(target_arch = "x86_64")]
        if simd && k > 0 && ((rs == n && cs == 1) || (rs == 1 && cs == k)) {
            // SAFETY: `native_bf16` detected AVX-512F and AVX512-BF16; `w` holds the (k, n)
            // matrix in one of the two layouts (asserted above), n is a multiple of 16.
            let packed = unsafe {
                if cs == 1 {
                    pack_rows(w, k, n, kp)
                } else {
                    pack_columns(w, k, n, kp)
                }
            };
            return PackedBf16 {
                k,
                n,
                kp,
                packed,
                widened: None,
            };
        }
        let packed = if simd {
            Self::pack_portable(w, k, n, rs, cs, kp)
        } else {
            AVec::new(0)
        };
        let widened = (!simd).then(|| {
            (0..k * n)
                .map(|i| from_bf16(to_bf16(at(i / n, i % n))))
                .collect()
        });
        PackedBf16 {
            k,
            n,
            kp,
            packed,
            widened,
        }
    }

    /// The packed layout computed one value at a time (any strides; the tests' reference for
    /// [`pack_rows`] and [`pack_columns`]).
    fn pack_portable(w: &[f32], k: usize, n: usize, rs: usize, cs: usize, kp: usize) -> AVec<u32> {
        let at = |r: usize, c: usize| w[r * rs + c * cs];
        {
            let nb = n / 16;
            let mut p = avec![0u32; nb * kp * 16];
            for jb in 0..nb {
                for pp in 0..kp {
                    for c in 0..16 {
                        let col = jb * 16 + c;
                        if 2 * pp >= k {
                            continue;
                        }
                        let lo = to_bf16(at(2 * pp, col)) as u32;
                        let hi = if 2 * pp + 1 < k {
                            to_bf16(at(2 * pp + 1, col)) as u32
                        } else {
                            0
                        };
                        p[(jb * kp + pp) * 16 + c] = lo | (hi << 16);
                    }
                }
            }
            p
        }
    }

    /// `dst (m, n) += x (m, k) · W`, with `x` rounded to bf16.
    pub fn matmul_acc(&self, x: &[f32], m: usize, dst: &mut [f32], threads: usize) {
        self.matmul_blocks(x, m, dst, threads, &|_, _| {}, &|_| {});
    }

    /// `dst (m, n) = x (m, k) · W` plus what `init` puts in each block of output rows, then
    /// `finish` on the block: blocks of at most [`MC`] rows, `init(first_row, block)` right
    /// before the block's products and `finish(block)` right after, while it is in cache.
    pub fn matmul_blocks(
        &self,
        x: &[f32],
        m: usize,
        dst: &mut [f32],
        threads: usize,
        init: &(dyn Fn(usize, &mut [f32]) + Sync),
        finish: &(dyn Fn(&mut [f32]) + Sync),
    ) {
        assert_eq!(x.len(), m * self.k);
        assert_eq!(dst.len(), m * self.n);
        if let Some(w) = &self.widened {
            // The activations rounded as the fast path rounds them (see the module's notes).
            let rounded: Vec<f32> = x.iter().map(|&v| from_bf16(to_bf16(v))).collect();
            init(0, dst);
            super::native::matmul_acc(&rounded, m, self.k, w, self.n, dst, threads);
            finish(dst);
            return;
        }
        #[cfg(target_arch = "x86_64")]
        {
            let use_amx = self.n.is_multiple_of(32) && super::amx::bf16_available();
            let block = |(i, (xc, dc)): (usize, (&[f32], &mut [f32]))| {
                let rows = xc.len() / self.k;
                init(i * MC, dc);
                // SAFETY: this path exists only when AVX512-BF16 was detected (`widened` is None);
                // the AMX path only when AMX was detected and the OS allowed it.
                unsafe {
                    if use_amx {
                        self.rows_amx(xc, rows, dc)
                    } else {
                        self.rows_bf16(xc, rows, dc)
                    }
                }
                finish(dc);
            };
            if threads > 1 {
                use rayon::prelude::*;
                x.par_chunks(MC * self.k)
                    .zip(dst.par_chunks_mut(MC * self.n))
                    .enumerate()
                    .for_each(block);
            } else {
                x.chunks(MC * self.k)
                    .zip(dst.chunks_mut(MC * self.n))
                    .enumerate()
                    .for_each(block);
            }
        }
    }

    /// Rows of `x` as bf16 pairs, `(padded_rows, kp)`, zeros beyond `k` and `rows`: each row is
    /// `x`'s row rounded to bf16 in order (a pair's first value in the low half).
    ///
    /// # Safety
    ///
    /// The CPU has AVX-512F and AVX512-BF16 (this is only called on the packed paths, which
    /// exist only when [`native_bf16`] detected both). `x` holds at least `rows` rows of `k`.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bf16")]
    unsafe fn pairs(&self, x: &[f32], rows: usize, padded_rows: usize) -> AVec<u32> {
        // SAFETY: the caller guarantees AVX-512F and AVX512-BF16 (this function's contract); every pointer offset stays inside `a` (padded_rows × kp pairs, rows ≤ padded_rows, k ≤ 2·kp) or `xr` (k values).
        unsafe {
            use std::arch::x86_64::*;
            let (k, kp) = (self.k, self.kp);
            let mut a = avec![0u32; padded_rows * kp];
            let full = k / 16 * 16;
            for r in 0..rows {
                let xr = &x[r * k..(r + 1) * k];
                let dst = a.as_mut_ptr().add(r * kp) as *mut u16;
                for i in (0..full).step_by(16) {
                    let v = _mm512_cvtneps_pbh(_mm512_loadu_ps(xr.as_ptr().add(i)));
                    _mm256_storeu_si256(
                        dst.add(i) as *mut __m256i,
                        std::mem::transmute::<__m256bh, __m256i>(v),
                    );
                }
                for (i, &v) in xr.iter().enumerate().skip(full) {
                    *dst.add(i) = to_bf16(v);
                }
            }
            a
        }
    }

    /// The portable form of [`PackedBf16::pairs`] (kept for the tests' reference).
    #[cfg(test)]
    fn pairs_portable(&self, x: &[f32], rows: usize, padded_rows: usize) -> Vec<u32> {
        let (k, kp) = (self.k, self.kp);
        let mut a = vec![0u32; padded_rows * kp];
        for r in 0..rows {
            let xr = &x[r * k..(r + 1) * k];
            for p in 0..k.div_ceil(2) {
                let lo = to_bf16(xr[2 * p]) as u32;
                let hi = if 2 * p + 1 < k {
                    to_bf16(xr[2 * p + 1]) as u32
                } else {
                    0
                };
                a[r * kp + p] = lo | (hi << 16);
            }
        }
        a
    }

    /// At most [`MC`] rows on AMX tiles: 32-row stripes of the result in chunks of [`AMX_CHUNK`]
    /// columns (one `asm!` block each, see [`super::amx::stripe_bf16`]), each 32 × 32 block four
    /// 16 × 16 tiles accumulated over the depth in steps of 32 bf16 values. (Chunks rather than
    /// whole stripes, so that the sums stay in L1 until they are added: 1.05–1.44× on the
    /// encoder's three shapes, Intel Xeon with AMX, `cargo bench -- dense`.)
    ///
    /// # Safety
    ///
    /// [`super::amx::bf16_available`] returned true (AMX-TILE, AMX-BF16, AVX512-BF16 and the kernel's
    /// permission); `self.n` is a multiple of 32; `x` holds `rows` rows of `k`, `dst` `rows` of `n`.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bf16")]
    unsafe fn rows_amx(&self, x: &[f32], rows: usize, dst: &mut [f32]) {
        use std::arch::x86_64::*;
        let (kp, n) = (self.kp, self.n);
        let padded = rows.div_ceil(32) * 32;
        // SAFETY: AMX is available (this function's contract), so AVX-512F and AVX512-BF16 are.
        let a = unsafe { self.pairs(x, rows, padded) };
        // Column chunks of AMX_CHUNK per tile block: the chunk's sums (32 rows × AMX_CHUNK
        // floats) stay in L1 between the tile stores and the additions to `dst`.
        let mut c = avec![0f32; 32 * AMX_CHUNK];
        for r in (0..padded).step_by(32) {
            for j0 in (0..n).step_by(AMX_CHUNK) {
                let width = AMX_CHUNK.min(n - j0);
                // SAFETY: AMX is available (this function's contract); `a` holds `padded` rows
                // of `kp` pairs, so the offset `r * kp` (r < padded, a multiple of 32) leaves 32
                // rows; `packed` holds the n / 16 blocks of kp × 16 pairs, of which blocks
                // j0 / 16.. (j0 + width ≤ n) are read; `c` holds 32 · width floats; kp · 4 is a
                // multiple of 64 and n, j0 and so width of 32.
                unsafe {
                    super::amx::stripe_bf16(
                        a.as_ptr().add(r * kp) as *const u8,
                        kp * 4,
                        self.packed.as_ptr().add(j0 * kp) as *const u8,
                        width,
                        &mut c,
                    )
                };
                for i in 0..32.min(rows - r) {
                    for b in 0..width / 16 {
                        let at = super::amx::stripe_offset(i, b);
                        let d = &mut dst[(r + i) * n + j0 + 16 * b..][..16];
                        let t = &c[at..at + 16];
                        // SAFETY: both slices hold 16 values; AVX-512F is this function's
                        // contract. One vector add per tile row.
                        unsafe {
                            let sum = _mm512_add_ps(
                                _mm512_loadu_ps(d.as_ptr()),
                                _mm512_loadu_ps(t.as_ptr()),
                            );
                            _mm512_storeu_ps(d.as_mut_ptr(), sum);
                        }
                    }
                }
            }
        }
    }

    /// At most [`MC`] rows: converts them to bf16 pairs, then runs every tile.
    ///
    /// # Safety
    ///
    /// The CPU has AVX-512F and AVX512-BF16; `x` holds `rows` rows of `k`, `dst` `rows` of `n`.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bf16")]
    unsafe fn rows_bf16(&self, x: &[f32], rows: usize, dst: &mut [f32]) {
        // SAFETY: the caller guarantees AVX512-BF16 (this function's contract); `b`, `ap` and `dp` point at block jb of `packed`, row r of `a` and row r, column jb·16 of `dst`, and `tile` reads and writes only `mr` rows and `nr` 16-column blocks from there.
        unsafe {
            let (kp, n) = (self.kp, self.n);
            let a = self.pairs(x, rows, rows);
            let nb = n / 16;
            let mut jb = 0;
            while jb < nb {
                let nr = if jb + 1 < nb { 2 } else { 1 };
                let b = self.packed.as_ptr().add(jb * kp * 16);
                let mut r = 0;
                while r < rows {
                    let mr = (rows - r).min(MR);
                    let ap = a.as_ptr().add(r * kp);
                    let dp = dst.as_mut_ptr().add(r * n + jb * 16);
                    macro_rules! go {
                        ($($m:literal),*) => {
                            match (mr, nr) {
                                $(($m, 2) => tile::<$m, 2>(ap, kp, b, dp, n),
                                  ($m, _) => tile::<$m, 1>(ap, kp, b, dp, n),)*
                                _ => unreachable!(),
                            }
                        };
                    }
                    go!(1, 2, 3, 4, 5, 6, 7, 8);
                    r += mr;
                }
                jb += nr;
            }
        }
    }
}

/// The packed layout of a row-major `(k, n)` matrix: for each 16-column block and each pair of
/// rows, the block's 16 values of both rows rounded to bf16 (round to nearest even) and
/// interleaved, 16 vector conversions per 64-byte vector of pairs.
///
/// # Safety
///
/// The CPU has AVX-512F and AVX512-BF16; `w` holds `k · n` values; `n` is a multiple of 16 and
/// `2 · kp ≥ k`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bf16")]
unsafe fn pack_rows(w: &[f32], k: usize, n: usize, kp: usize) -> AVec<u32> {
    use rayon::prelude::*;
    assert!(w.len() >= k * n && n.is_multiple_of(16) && 2 * kp >= k);
    let mut p = avec![0u32; n / 16 * kp * 16];
    // One task per 16-column block (training packs activations of thousands of rows here).
    p.par_chunks_mut(kp * 16)
        .enumerate()
        .for_each(|(jb, block)| {
            // SAFETY: the CPU features are this function's contract, and the block is block jb <
            // n / 16 of `p`, kp · 16 pairs.
            unsafe { pack_rows_block(w, k, n, jb, block) }
        });
    p
}

/// Column block `jb` of [`pack_rows`]: its `kp × 16` pairs into `block`.
///
/// # Safety
///
/// The CPU has AVX-512F and AVX512-BF16; `w` holds `k · n` values; `(jb + 1) · 16 ≤ n`;
/// `block` holds at least ⌈k/2⌉ · 16 pairs.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bf16")]
unsafe fn pack_rows_block(w: &[f32], k: usize, n: usize, jb: usize, block: &mut [u32]) {
    use std::arch::x86_64::*;
    assert!(w.len() >= k * n && (jb + 1) * 16 <= n && block.len() >= k.div_ceil(2) * 16);
    // SAFETY: the CPU features are this function's contract; every load reads 16 values of a
    // row r < k at columns jb·16.. < n, inside `w` (k · n values, asserted); every store writes
    // the 16 pairs at pp·16 with pp < ⌈k/2⌉, inside `block` (asserted).
    unsafe {
        let half = |r: usize| {
            let v = _mm512_cvtneps_pbh(_mm512_loadu_ps(w.as_ptr().add(r * n + jb * 16)));
            _mm512_cvtepu16_epi32(std::mem::transmute::<__m256bh, __m256i>(v))
        };
        for pp in 0..k.div_ceil(2) {
            let lo = half(2 * pp);
            let pair = if 2 * pp + 1 < k {
                _mm512_or_si512(lo, _mm512_slli_epi32::<16>(half(2 * pp + 1)))
            } else {
                lo
            };
            _mm512_storeu_si512(block.as_mut_ptr().add(pp * 16) as *mut _, pair);
        }
    }
}

/// The packed layout (as [`pack_rows`]) of the `(k, n)` matrix stored transposed: `w` is
/// row-major `(n, k)`, so each of its rows holds one column's consecutive pairs. Each row is
/// rounded to bf16 pairs with vector conversions, then the pairs are gathered per 16-column
/// block.
///
/// # Safety
///
/// The CPU has AVX-512F and AVX512-BF16; `w` holds `n · k` values; `n` is a multiple of 16 and
/// `2 · kp ≥ k`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bf16")]
unsafe fn pack_columns(w: &[f32], k: usize, n: usize, kp: usize) -> AVec<u32> {
    use std::arch::x86_64::*;
    assert!(w.len() >= k * n && n.is_multiple_of(16) && 2 * kp >= k);
    let half_k = k.div_ceil(2);
    // Row c of `pairs`: column c's pairs, ⌈k/2⌉ of them (a final odd value paired with 0).
    let mut pairs = vec![0u32; n * half_k];
    let full = k / 32 * 32;
    for c in 0..n {
        let src = &w[c * k..(c + 1) * k];
        let dst = &mut pairs[c * half_k..(c + 1) * half_k];
        // SAFETY: the CPU features are this function's contract; each step reads 32 values
        // i..i+32 ≤ full ≤ k of `src` and writes 16 pairs i/2.. < ⌈k/2⌉ of `dst`.
        unsafe {
            for i in (0..full).step_by(32) {
                let v = _mm512_cvtne2ps_pbh(
                    _mm512_loadu_ps(src.as_ptr().add(i + 16)),
                    _mm512_loadu_ps(src.as_ptr().add(i)),
                );
                _mm512_storeu_si512(
                    dst.as_mut_ptr().add(i / 2) as *mut _,
                    std::mem::transmute::<__m512bh, __m512i>(v),
                );
            }
        }
        for (pp, d) in dst.iter_mut().enumerate().skip(full / 2) {
            let lo = to_bf16(src[2 * pp]) as u32;
            let hi = src.get(2 * pp + 1).map_or(0, |&v| to_bf16(v) as u32);
            *d = lo | (hi << 16);
        }
    }
    let nb = n / 16;
    let mut p = avec![0u32; nb * kp * 16];
    for jb in 0..nb {
        let block = &mut p[jb * kp * 16..(jb + 1) * kp * 16];
        for (pp, out) in block.chunks_exact_mut(16).take(half_k).enumerate() {
            for (c, o) in out.iter_mut().enumerate() {
                *o = pairs[(jb * 16 + c) * half_k + pp];
            }
        }
    }
    p
}

/// The instruction path of the bf16 products on this CPU, for `bench` and the logs.
pub fn path_name() -> &'static str {
    if amx_in_use() {
        "AMX tiles (tdpbf16ps)"
    } else if native_bf16() {
        "AVX512-BF16 (vdpbf16ps)"
    } else {
        "portable: bf16 weights widened to f32, no bf16 instructions"
    }
}

/// Whether the bf16 product runs on AMX tiles here.
pub fn amx_in_use() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        super::amx::bf16_available()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `dst[r][j·16 + c] += Σ_p dot(a[r][p], b[j][p][c])` for an `R`-row × `16·N`-column tile.
///
/// # Safety
///
/// `a` holds `R` rows of `kp` pairs; `b` holds `N` consecutive column blocks of `kp × 16`
/// pairs; `dst` addresses `R` rows of `16·N` floats with row stride `ldd`; the CPU has
/// AVX-512F and AVX512-BF16.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bf16")]
unsafe fn tile<const R: usize, const N: usize>(
    a: *const u32,
    kp: usize,
    b: *const u32,
    dst: *mut f32,
    ldd: usize,
) {
    // SAFETY: this function's contract: every load and store stays inside `a`, `b` and the
    // `R × 16·N` window of `dst`; the intrinsics need only AVX-512F and AVX512-BF16.
    unsafe {
        use std::arch::x86_64::*;
        let mut acc = [[_mm512_setzero_ps(); N]; R];
        for p in 0..kp {
            let mut bv = [_mm512_setzero_si512(); N];
            for (j, v) in bv.iter_mut().enumerate() {
                *v = _mm512_loadu_si512(b.add((j * kp + p) * 16) as *const __m512i);
            }
            for (r, row) in acc.iter_mut().enumerate() {
                let av: __m512bh =
                    std::mem::transmute(_mm512_set1_epi32(*a.add(r * kp + p) as i32));
                for (j, acc) in row.iter_mut().enumerate() {
                    *acc =
                        _mm512_dpbf16_ps(*acc, av, std::mem::transmute::<__m512i, __m512bh>(bv[j]));
                }
            }
        }
        for (r, row) in acc.iter().enumerate() {
            for (j, acc) in row.iter().enumerate() {
                let d = dst.add(r * ldd + j * 16);
                _mm512_storeu_ps(d, _mm512_add_ps(_mm512_loadu_ps(d), *acc));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::report_skipped as skipped;

    #[test]
    fn bf16_rounding() {
        assert_eq!(to_bf16(1.0), 0x3f80);
        assert_eq!(from_bf16(to_bf16(-2.5)), -2.5);
        // 1 + 2^-8 is halfway between two bf16 values: to even (1.0).
        assert_eq!(from_bf16(to_bf16(1.0 + 1.0 / 256.0)), 1.0);
        // Just above halfway rounds up.
        let up = f32::from_bits((1.0f32 + 1.0 / 256.0).to_bits() + 1);
        assert_eq!(from_bf16(to_bf16(up)), 1.0 + 1.0 / 128.0);
        assert!(from_bf16(to_bf16(f32::NAN)).is_nan());
    }

    /// The product against f64 arithmetic on the same bf16-rounded operands, for shapes that
    /// exercise every tile size (rows not a multiple of 8, a last single 16-column block, odd k,
    /// more than one row block).
    /// The vectorised conversion of activations gives the same bits as [`to_bf16`].
    #[test]
    fn activation_pairs_match_the_portable_rounding() {
        if !native_bf16() {
            skipped("bf16::activation_pairs: no AVX512-BF16 on this CPU");
            return;
        }
        let (m, k) = (5, 37);
        let x: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.731).sin() * 3.3).collect();
        let p = PackedBf16::pack(&vec![0.0; k * 16], k, 16);
        // SAFETY: AVX512-BF16 checked above.
        let fast = unsafe { p.pairs(&x, m, m + 2) };
        assert_eq!(&fast[..], &p.pairs_portable(&x, m, m + 2)[..]);
    }

    /// Both vectorised packings (a row-major matrix, and one stored transposed as training's
    /// forward product gives it) lay out the same bits as the value-at-a-time packing, for
    /// odd and even depths, one and several column blocks, and depths past one vector step.
    #[test]
    fn vector_packing_matches_the_portable_packing() {
        if !native_bf16() {
            skipped("bf16::vector_packing: no AVX512-BF16 on this CPU");
            return;
        }
        for &(k, n) in &[
            (1usize, 16usize),
            (7, 32),
            (33, 16),
            (64, 48),
            (75, 32),
            (384, 64),
        ] {
            let kp = k.div_ceil(2).div_ceil(16) * 16;
            let w: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.377).cos() * 2.1).collect();
            let rows = PackedBf16::pack_strided(&w, k, n, n, 1);
            assert_eq!(
                rows.packed,
                PackedBf16::pack_portable(&w, k, n, n, 1, kp),
                "k{k} n{n}"
            );
            let cols = PackedBf16::pack_strided(&w, k, n, 1, k);
            assert_eq!(
                cols.packed,
                PackedBf16::pack_portable(&w, k, n, 1, k, kp),
                "k{k} n{n}ᵀ"
            );
        }
    }

    #[test]
    fn product_matches_the_definition() {
        // n = 24 is not a multiple of 16: the portable path (bf16 weights widened to f32) on
        // every CPU; n = 32 runs on AMX where it exists; the others on AVX512-BF16 where it
        // exists, else on the portable path too.
        for &(m, k, n) in &[
            (1, 2, 16),
            (13, 7, 48),
            (70, 33, 32),
            (9, 64, 80),
            (11, 19, 24),
            // the encoder's shape: 12 steps of the AMX loop
            (40, 384, 64),
            // two AMX column chunks, the second 32 wide
            (35, 64, 160),
        ] {
            let (w, x) = crate::model::test_operands(m, k, n);
            let p = PackedBf16::pack(&w, k, n);
            for threads in [1, 2] {
                let mut dst: Vec<f32> = (0..m * n).map(|i| i as f32 * 0.01).collect();
                let init = dst.clone();
                p.matmul_acc(&x, m, &mut dst, threads);
                for r in 0..m {
                    for c in 0..n {
                        let mut want = init[r * n + c] as f64;
                        for i in 0..k {
                            // Both paths round the activations to bf16 (the portable one
                            // did not until a Zen 3 showed int8 losing F1 there).
                            let a = from_bf16(to_bf16(x[r * k + i]));
                            want += a as f64 * from_bf16(to_bf16(w[i * n + c])) as f64;
                        }
                        let got = dst[r * n + c] as f64;
                        assert!(
                            (got - want).abs() < 1e-4 * (1.0 + want.abs()),
                            "m{m} k{k} n{n} [{r},{c}]: {got} vs {want}"
                        );
                    }
                }
            }
        }
        // Which paths ran here, in the test output whatever the result (libtest hides print!).
        if !amx_in_use() {
            skipped("bf16::product on AMX tiles: no AMX (or no permission) on this CPU");
        }
        if !native_bf16() {
            skipped("bf16::product on AVX512-BF16: not on this CPU (the portable path ran)");
        }
    }

    /// `matmul_blocks` fills and finishes every output row exactly once, with the right row
    /// numbers, on one and two threads, and its products are `matmul_acc`'s.
    #[test]
    fn blocks_are_initialised_and_finished_once_each() {
        let (m, k, n) = (2 * MC + 5, 40, 48);
        let (w, x) = crate::model::test_operands(m, k, n);
        let p = PackedBf16::pack(&w, k, n);
        crate::model::check_blocks(
            &x,
            m,
            n,
            &|x, m, dst, threads| p.matmul_acc(x, m, dst, threads),
            &|x, m, dst, threads, init, finish| p.matmul_blocks(x, m, dst, threads, init, finish),
        );
    }
}
