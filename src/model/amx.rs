//! Intel AMX (Advanced Matrix Extensions) through inline assembly, for the bf16 ([`super::bf16`])
//! and int8 ([`super::int8`]) dense products.
//!
//! AMX has eight tile registers of 16 rows × 64 bytes. `tdpbf16ps` multiplies a 16 × 32 bf16
//! tile by a 32 × 16 one (stored as 16 rows of 16 bf16 pairs) into a 16 × 16 f32 tile;
//! `tdpbusd` multiplies a 16 × 64 tile of unsigned bytes by a 64 × 16 tile of signed bytes
//! (stored as 16 rows of 16 groups of 4 bytes) into a 16 × 16 tile of exact 32-bit sums. Both
//! read their operands in the same byte layout: a row of the left tile is 64 bytes of one
//! activation row, a row of the right tile 16 columns × 4 bytes of four consecutive depths. That
//! is the layout [`super::bf16::PackedBf16`] and [`super::int8::PackedInt8`] already pack their
//! weights in for `vdpbf16ps` and `vpdpbusd`, so one stripe routine, written once for both
//! instructions, serves both precisions.
//!
//! Linux grants the tile state per process on request (`arch_prctl(ARCH_REQ_XCOMP_PERM)`); each
//! stripe loads the tile configuration and releases the tile state itself.

use std::arch::asm;
use std::sync::OnceLock;

/// CPUID.(7,0):EDX bit 24 (AMX-TILE) and the kernel's permission to use the tile state, unless
/// `STANDPOINT_NO_AMX` is set.
fn tiles() -> bool {
    static A: OnceLock<bool> = OnceLock::new();
    *A.get_or_init(|| {
        std::env::var_os("STANDPOINT_NO_AMX").is_none()
            && cpuid_edx() & (1 << 24) != 0
            && request_permission()
    })
}

fn cpuid_edx() -> u32 {
    std::arch::x86_64::__cpuid_count(7, 0).edx
}

/// Whether the bf16 product may run on tiles: AMX-TILE, AMX-BF16 (EDX bit 22), the permission, and
/// AVX-512F with AVX512-BF16, which convert the activations to pairs around the tiles.
pub fn bf16_available() -> bool {
    // (Once: CPUID leaves the guest on a virtual machine, and the products ask per call.)
    static A: OnceLock<bool> = OnceLock::new();
    *A.get_or_init(|| super::bf16::native_bf16() && cpuid_edx() & (1 << 22) != 0 && tiles())
}

/// Whether the int8 product may run on tiles: AMX-TILE, AMX-INT8 (EDX bit 25), the permission,
/// and AVX-512F with AVX512-VNNI, which quantise the activations and finish the sums (the int8
/// module's AVX-512 helpers). `STANDPOINT_NO_AMX_INT8` turns this path off alone (so that one
/// machine can time int8 on tiles against int8 on `vpdpbusd`).
pub fn int8_available() -> bool {
    static A: OnceLock<bool> = OnceLock::new();
    *A.get_or_init(|| {
        super::int8::vnni()
            && std::env::var_os("STANDPOINT_NO_AMX_INT8").is_none()
            && cpuid_edx() & (1 << 25) != 0
            && tiles()
    })
}

#[cfg(target_os = "linux")]
fn request_permission() -> bool {
    const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
    const XFEATURE_XTILEDATA: libc::c_long = 18;
    // SAFETY: arch_prctl(ARCH_REQ_XCOMP_PERM, XTILEDATA) takes two integers, touches no
    // memory of ours, and only grants this process the right to use the tile state.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_arch_prctl,
            ARCH_REQ_XCOMP_PERM,
            XFEATURE_XTILEDATA,
        )
    };
    ret == 0
}

#[cfg(not(target_os = "linux"))]
fn request_permission() -> bool {
    false
}

/// The 64-byte tile configuration (palette 1): all eight tiles 16 rows × 64 bytes.
#[repr(C, align(64))]
struct TileConfig {
    palette: u8,
    start_row: u8,
    reserved: [u8; 14],
    colsb: [u16; 16],
    rows: [u8; 16],
}

static CONFIG: TileConfig = TileConfig {
    palette: 1,
    start_row: 0,
    reserved: [0; 14],
    colsb: [64, 64, 64, 64, 64, 64, 64, 64, 0, 0, 0, 0, 0, 0, 0, 0],
    rows: [16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0, 0, 0, 0],
};

/// Defines a stripe routine for one tile instruction (`tdpbf16ps` or `tdpbusd`): the assembly is
/// the same for both, only the product instruction and the element type of the sums differ.
macro_rules! stripe {
    ($(#[$doc:meta])* $name:ident, $insn:literal, $sum:ty) => {
        $(#[$doc])*
        ///
        /// `a` is 32 rows of `sa` bytes (`sa` a positive multiple of 64: the depth, in bytes of
        /// this instruction's elements, padded with zeros); `b` is `n / 16` consecutive column
        /// blocks of `16 · sa` bytes, each `sa / 4` rows of 16 columns × 4 bytes. For each pair of
        /// column blocks `q`, `c[q·1024..]` receives four 16 × 16 tiles: rows 0–15 × block 2q,
        /// rows 0–15 × block 2q+1, rows 16–31 × block 2q, rows 16–31 × block 2q+1.
        ///
        /// The whole stripe is one `asm!` block: it loads the tile configuration, runs every tile
        /// computation and releases the tile state (`tilerelease`), so no tile register is live
        /// outside the block (Rust's inline-assembly rules would not preserve one) and the thread
        /// leaves no tile state behind. Configuring once per stripe rather than per 32 × 32 block
        /// keeps the cost of `ldtilecfg` and `tilerelease` out of the inner loops.
        ///
        /// # Safety
        ///
        /// The CPU has the tile instruction and the kernel granted the tile state (see
        /// [`bf16_available`], [`int8_available`]); `a` addresses 32 rows of `sa` bytes; `b`
        /// addresses `n / 16` blocks of `16 · sa` bytes; `c` holds at least `32 · n` sums; `sa`
        /// is a positive multiple of 64 and `n` a positive multiple of 32.
        pub unsafe fn $name(a: *const u8, sa: usize, b: *const u8, n: usize, c: &mut [$sum]) {
            assert!(
                sa > 0 && sa.is_multiple_of(64) && n > 0 && n.is_multiple_of(32) && c.len() >= 32 * n
            );
            // SAFETY: the CPU has the instruction and the kernel granted the tile state (this
            // function's contract). CONFIG is a valid, 64-byte aligned palette-1 configuration in
            // static memory. a1 = a + 16·sa is row 16 of `a`. Per column pair the loop runs
            // sa / 64 ≥ 1 steps, each loading 16 rows × 64 bytes at byte p..p+64 of rows 0–15
            // and 16–31 of `a` (inside its 32 rows of sa bytes) and one 1 KiB slice of each of
            // two consecutive blocks of `b` (block size 16·sa bytes), so after the steps b1
            // points at the next pair of blocks, and n / 32 pairs stay inside the n / 16 blocks.
            // Each pair stores 4 KiB (four tiles of 16 × 16 four-byte sums) at c, then c
            // advances 4 KiB: 32·n sums in all, inside `c` (asserted above). The block writes
            // only the registers it names.
            unsafe {
                asm!(
                    "ldtilecfg [{steps}]",
                    "3:",
                    "tilezero tmm0",
                    "tilezero tmm1",
                    "tilezero tmm2",
                    "tilezero tmm3",
                    "mov {a0}, {abase}",
                    "lea {a1}, [{abase} + {sa}*8]",
                    "lea {a1}, [{a1} + {sa}*8]",
                    "mov {b0}, {bptr}",
                    "lea {b1}, [{bptr} + {sa}*8]",
                    "lea {b1}, [{b1} + {sa}*8]",
                    "mov {steps}, {sa}",
                    "shr {steps}, 6",
                    "2:",
                    "tileloadd tmm4, [{a0} + {sa}*1]",
                    "tileloadd tmm5, [{a1} + {sa}*1]",
                    "tileloadd tmm6, [{b0} + {sb}*1]",
                    "tileloadd tmm7, [{b1} + {sb}*1]",
                    concat!($insn, " tmm0, tmm4, tmm6"),
                    concat!($insn, " tmm1, tmm4, tmm7"),
                    concat!($insn, " tmm2, tmm5, tmm6"),
                    concat!($insn, " tmm3, tmm5, tmm7"),
                    "add {a0}, 64",
                    "add {a1}, 64",
                    "add {b0}, 1024",
                    "add {b1}, 1024",
                    "sub {steps}, 1",
                    "jnz 2b",
                    "tilestored [{c} + {sb}*1], tmm0",
                    "tilestored [{c} + {sb}*1 + 1024], tmm1",
                    "tilestored [{c} + {sb}*1 + 2048], tmm2",
                    "tilestored [{c} + {sb}*1 + 3072], tmm3",
                    "add {c}, 4096",
                    "mov {bptr}, {b1}",
                    "sub {pairs}, 1",
                    "jnz 3b",
                    "tilerelease",
                    steps = inout(reg) &CONFIG as *const TileConfig => _,
                    abase = in(reg) a,
                    a0 = out(reg) _,
                    a1 = out(reg) _,
                    b0 = out(reg) _,
                    b1 = out(reg) _,
                    bptr = inout(reg) b => _,
                    c = inout(reg) c.as_mut_ptr() => _,
                    pairs = inout(reg) n / 32 => _,
                    sa = in(reg) sa,
                    sb = in(reg) 64usize,
                    options(nostack)
                );
            }
        }
    };
}

stripe!(
    /// A 32-row stripe of a bf16 product (`tdpbf16ps`): 32 elements of depth per 64-byte step,
    /// f32 sums.
    stripe_bf16,
    "tdpbf16ps",
    f32
);

stripe!(
    /// A 32-row stripe of an int8 product (`tdpbusd`: unsigned activation bytes × signed weight
    /// bytes): 64 elements of depth per 64-byte step, exact 32-bit sums.
    stripe_int8,
    "tdpbusd",
    i32
);

/// Where in a stripe's sums (see [`stripe_bf16`]) row `i` (0..32) and column block `jb` start:
/// tile `(i / 16, jb % 2)` of column pair `jb / 2`, its row `i % 16`.
#[inline(always)]
pub fn stripe_offset(i: usize, jb: usize) -> usize {
    (jb / 2) * 1024 + ((i / 16) * 2 + jb % 2) * 256 + (i % 16) * 16
}
