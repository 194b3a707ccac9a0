//! Which platform a binfmt_misc magic pattern claims, told by the ELF header fields it matches.
//!
//! A handler registered for foreign binaries matches the first bytes of the ELF header: the
//! class (32/64-bit, byte 4), the byte order (byte 5) and the machine (`e_machine`, bytes 18-19).
//! Whatever the handler is called, these bytes say which architecture it runs.
//!
//! Sources of the numbers: the System V ABI's "ELF Header" chapter for the identification bytes;
//! Linux `include/uapi/linux/elf-em.h` and glibc `elf.h` for the `e_machine` values (`EM_*`) and
//! for `EF_MIPS_ABI2`.

use std::collections::BTreeSet;

use kiln_core::Platform;

/// `\x7fELF`, the first four bytes of every ELF file.
const ELF_MAGIC: [u8; 4] = [0x7f, b'E', b'L', b'F'];
/// Byte offset of the class: [`CLASS_32`] or [`CLASS_64`].
const EI_CLASS: usize = 4;
/// Byte offset of the byte order: [`LSB`] or [`MSB`].
const EI_DATA: usize = 5;
/// Byte offset of the two-byte `e_machine`, in the file's byte order.
const E_MACHINE: usize = 18;
/// Byte offset of the four-byte `e_flags` in a 32-bit ELF header.
const E_FLAGS_32: usize = 36;

/// `ELFCLASS32`.
const CLASS_32: u8 = 1;
/// `ELFCLASS64`.
const CLASS_64: u8 = 2;
/// `ELFDATA2LSB`: little-endian.
const LSB: u8 = 1;
/// `ELFDATA2MSB`: big-endian.
const MSB: u8 = 2;

/// `EM_SPARC`.
const EM_SPARC: u16 = 2;
/// `EM_386`.
const EM_386: u16 = 3;
/// `EM_MIPS` (both byte orders, 32- and 64-bit).
const EM_MIPS: u16 = 8;
/// `EM_PPC`.
const EM_PPC: u16 = 20;
/// `EM_PPC64` (both byte orders: `ppc64` and `ppc64le`).
const EM_PPC64: u16 = 21;
/// `EM_S390` (both `s390` and `s390x`, told apart by the class).
const EM_S390: u16 = 22;
/// `EM_ARM`.
const EM_ARM: u16 = 40;
/// `EM_SPARCV9`.
const EM_SPARCV9: u16 = 43;
/// `EM_X86_64`.
const EM_X86_64: u16 = 62;
/// `EM_AARCH64`.
const EM_AARCH64: u16 = 183;
/// `EM_RISCV` (32- and 64-bit, told apart by the class).
const EM_RISCV: u16 = 243;
/// `EM_LOONGARCH`.
const EM_LOONGARCH: u16 = 258;

/// `EF_MIPS_ABI2` in `e_flags`: a 32-bit MIPS file of the n32 ABI (64-bit CPU, 32-bit pointers).
const EF_MIPS_ABI2: u8 = 0x20;

/// One kind of ELF file and the platform that runs it.
struct Machine {
    e_machine: u16,
    class: u8,
    data: u8,
    /// For 32-bit MIPS: whether `EF_MIPS_ABI2` is set (n32) or clear (o32).
    mips_n32: Option<bool>,
    platform: &'static str,
}

const fn machine(e_machine: u16, class: u8, data: u8, platform: &'static str) -> Machine {
    Machine {
        e_machine,
        class,
        data,
        mips_n32: None,
        platform,
    }
}

const fn mips32(data: u8, n32: bool, platform: &'static str) -> Machine {
    Machine {
        e_machine: EM_MIPS,
        class: CLASS_32,
        data,
        mips_n32: Some(n32),
        platform,
    }
}

/// The ELF files Docker has a platform name for. RISC-V 32 and SPARC32PLUS have none.
const MACHINES: &[Machine] = &[
    machine(EM_X86_64, CLASS_64, LSB, "linux/amd64"),
    machine(EM_386, CLASS_32, LSB, "linux/386"),
    machine(EM_AARCH64, CLASS_64, LSB, "linux/arm64"),
    machine(EM_AARCH64, CLASS_64, MSB, "linux/arm64be"),
    machine(EM_ARM, CLASS_32, LSB, "linux/arm/v7"),
    machine(EM_ARM, CLASS_32, MSB, "linux/armbe"),
    machine(EM_PPC64, CLASS_64, LSB, "linux/ppc64le"),
    machine(EM_PPC64, CLASS_64, MSB, "linux/ppc64"),
    machine(EM_PPC, CLASS_32, MSB, "linux/ppc"),
    machine(EM_S390, CLASS_64, MSB, "linux/s390x"),
    machine(EM_S390, CLASS_32, MSB, "linux/s390"),
    machine(EM_RISCV, CLASS_64, LSB, "linux/riscv64"),
    machine(EM_MIPS, CLASS_64, LSB, "linux/mips64le"),
    machine(EM_MIPS, CLASS_64, MSB, "linux/mips64"),
    mips32(LSB, false, "linux/mipsle"),
    mips32(MSB, false, "linux/mips"),
    mips32(LSB, true, "linux/mips64p32le"),
    mips32(MSB, true, "linux/mips64p32"),
    machine(EM_LOONGARCH, CLASS_64, LSB, "linux/loong64"),
    machine(EM_SPARCV9, CLASS_64, MSB, "linux/sparc64"),
    machine(EM_SPARC, CLASS_32, MSB, "linux/sparc"),
];

/// A binfmt_misc magic rule: the file bytes at `offset` must equal `magic` where `mask` is set.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pattern<'a> {
    pub(crate) offset: usize,
    pub(crate) magic: &'a [u8],
    pub(crate) mask: Option<&'a [u8]>,
}

impl Pattern<'_> {
    /// The index into `magic` of file byte `position` and the mask there, if the rule covers it.
    fn rule_at(&self, position: usize) -> Option<(u8, u8)> {
        let index = position.checked_sub(self.offset)?;
        let magic = *self.magic.get(index)?;
        let mask = self
            .mask
            .map_or(0xff, |mask| mask.get(index).copied().unwrap_or(0xff));
        Some((magic, mask))
    }

    /// Whether a file with `value` at `position` passes the rule, looking only at `bits`.
    fn accepts(&self, position: usize, value: u8, bits: u8) -> bool {
        self.rule_at(position)
            .is_none_or(|(magic, mask)| (value ^ magic) & mask & bits == 0)
    }

    /// Whether the rule pins file byte `position` to exactly `value`.
    fn requires(&self, position: usize, value: u8) -> bool {
        self.rule_at(position)
            .is_some_and(|(magic, mask)| mask == 0xff && magic == value)
    }

    fn accepts_machine(&self, machine: &Machine) -> bool {
        let machine_bytes = if machine.data == LSB {
            machine.e_machine.to_le_bytes()
        } else {
            machine.e_machine.to_be_bytes()
        };
        let flags_low_byte = if machine.data == LSB {
            E_FLAGS_32
        } else {
            E_FLAGS_32 + 3
        };
        self.accepts(EI_CLASS, machine.class, 0xff)
            && self.accepts(EI_DATA, machine.data, 0xff)
            && self.accepts(E_MACHINE, machine_bytes[0], 0xff)
            && self.accepts(E_MACHINE + 1, machine_bytes[1], 0xff)
            && machine.mips_n32.is_none_or(|n32| {
                let value = if n32 { EF_MIPS_ABI2 } else { 0 };
                self.accepts(flags_low_byte, value, EF_MIPS_ABI2)
            })
    }
}

/// The platform whose ELF files the rule matches, when it matches ELF files of exactly one.
///
/// The rule must require the ELF signature and cover `e_machine`; masked-out bits count as
/// "any value" (qemu's `ppc64le` rule, for one, ignores the high byte of `e_machine`). A rule
/// that several platforms' files pass (say, 32-bit MIPS without the `e_flags` byte) names none.
pub(crate) fn platform_of(pattern: &Pattern<'_>) -> Option<Platform> {
    let is_elf = ELF_MAGIC
        .iter()
        .enumerate()
        .all(|(position, byte)| pattern.requires(position, *byte));
    let covers_machine =
        pattern.rule_at(E_MACHINE).is_some() && pattern.rule_at(E_MACHINE + 1).is_some();
    if !is_elf || !covers_machine {
        return None;
    }
    let platforms: BTreeSet<&str> = MACHINES
        .iter()
        .filter(|machine| pattern.accepts_machine(machine))
        .map(|machine| machine.platform)
        .collect();
    match platforms.len() {
        1 => platforms
            .first()
            .and_then(|platform| Platform::parse(platform).ok()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    fn check(magic: &str, mask: Option<&str>, expected: Option<&str>) {
        let magic = hex(magic);
        let mask = mask.map(hex);
        let pattern = Pattern {
            offset: 0,
            magic: &magic,
            mask: mask.as_deref(),
        };
        let platform = platform_of(&pattern).map(|platform| platform.to_string());
        assert_eq!(platform.as_deref(), expected, "magic {magic:02x?}");
    }

    /// A 20-byte ELF header prefix of the given class, byte order and machine.
    fn header(class: u8, data: u8, e_machine: u16) -> String {
        let machine = if data == LSB {
            e_machine.to_le_bytes()
        } else {
            e_machine.to_be_bytes()
        };
        let e_type = if data == LSB { "0200" } else { "0002" };
        format!(
            "7f454c46{class:02x}{data:02x}01{}{e_type}{:02x}{:02x}",
            "00".repeat(9),
            machine[0],
            machine[1]
        )
    }

    #[test]
    fn every_known_machine_names_a_platform() {
        for machine in MACHINES {
            let parsed = Platform::parse(machine.platform).unwrap();
            assert_eq!(parsed.to_string(), machine.platform);
        }
    }

    #[test]
    fn the_values_match_the_abi() {
        // Checked against Linux include/uapi/linux/elf-em.h and glibc elf.h.
        assert_eq!(
            [
                EM_386, EM_MIPS, EM_PPC, EM_PPC64, EM_S390, EM_ARM, EM_X86_64
            ],
            [3, 8, 20, 21, 22, 40, 62]
        );
        assert_eq!(
            [EM_SPARC, EM_SPARCV9, EM_AARCH64, EM_RISCV, EM_LOONGARCH],
            [2, 43, 183, 243, 258]
        );
    }

    #[test]
    fn qemu_rules_name_their_platform() {
        // The rules of Debian's qemu-user-static (/usr/lib/binfmt.d/qemu-*.conf).
        let cases = [
            (
                "7f454c460201010000000000000000000200b700",
                "ffffffffffffff00fffffffffffffffffeffffff",
                Some("linux/arm64"),
            ),
            (
                "7f454c4601010100000000000000000002002800",
                "ffffffffffffff00fffffffffffffffffeffffff",
                Some("linux/arm/v7"),
            ),
            (
                "7f454c4602010100000000000000000002001500",
                "fffffffffffffffcfffffffffffffffffeffff00",
                Some("linux/ppc64le"),
            ),
            (
                "7f454c4602020100000000000000000000020015",
                "fffffffffffffffcfffffffffffffffffffeffff",
                Some("linux/ppc64"),
            ),
            (
                "7f454c4602020100000000000000000000020016",
                "fffffffffffffffcfffffffffffffffffffeffff",
                Some("linux/s390x"),
            ),
            (
                "7f454c460201010000000000000000000200f300",
                "ffffffffffffff00fffffffffffffffffeffffff",
                Some("linux/riscv64"),
            ),
            (
                "7f454c4602010100000000000000000002000800",
                "ffffffffffffff00fefffffffffffffffeffffff",
                Some("linux/mips64le"),
            ),
            (
                "7f454c4602010100000000000000000002000201",
                "fffffffffffffffc00fffffffffffffffeffffff",
                Some("linux/loong64"),
            ),
            // qemu's own x86 rules mask bytes 5 and 6 with 0xfe.
            (
                "7f454c4602010100000000000000000002003e00",
                "fffffffffffefe00fffffffffffffffffeffffff",
                Some("linux/amd64"),
            ),
            (
                "7f454c4601010100000000000000000002000300",
                "fffffffffffefe00fffffffffffffffffeffffff",
                Some("linux/386"),
            ),
            // 32-bit RISC-V and SPARC32PLUS have no Docker platform.
            (
                "7f454c460101010000000000000000000200f300",
                "ffffffffffffff00fffffffffffffffffeffffff",
                None,
            ),
            (
                "7f454c4601020100000000000000000000020012",
                "fffffffffffffffcfffffffffffffffffffeffff",
                None,
            ),
        ];
        for (magic, mask, expected) in cases {
            check(magic, Some(mask), expected);
        }
    }

    #[test]
    fn mips_o32_and_n32_are_told_apart_by_e_flags() {
        let mask = "ffffffffffffff00fefffffffffffffffeffffff0000000000000000000000000000000020";
        let o32 = "7f454c46010101000000000000000000020008000000000000000000000000000000000000";
        let n32 = "7f454c46010101000000000000000000020008000000000000000000000000000000000020";
        check(o32, Some(mask), Some("linux/mipsle"));
        check(n32, Some(mask), Some("linux/mips64p32le"));
        // Without the e_flags byte both ABIs pass: no single platform.
        check(&o32[..40], Some(&mask[..40]), None);
    }

    #[test]
    fn rules_without_a_mask_compare_every_byte() {
        check(
            &header(CLASS_64, LSB, EM_AARCH64),
            None,
            Some("linux/arm64"),
        );
        check(&header(CLASS_64, MSB, EM_S390), None, Some("linux/s390x"));
        check(&header(CLASS_32, MSB, EM_S390), None, Some("linux/s390"));
        check(
            &header(CLASS_64, MSB, EM_SPARCV9),
            None,
            Some("linux/sparc64"),
        );
        check(&header(CLASS_64, LSB, 0x1234), None, None);
    }

    #[test]
    fn rules_that_are_not_elf_or_too_short_name_nothing() {
        // python3.11's rule: .pyc files.
        check("a70d0d0a", None, None);
        // ELF, but the machine bytes are not covered.
        check("7f454c4602010100", None, None);
        // The machine bytes masked out entirely.
        check(
            "7f454c460201010000000000000000000200b700",
            Some("ffffffffffffff00ffffffffffffffffffff0000"),
            None,
        );
        // The signature not required (masked out).
        check(
            "7f454c460201010000000000000000000200b700",
            Some("00ffffffffffff00fffffffffffffffffeffffff"),
            None,
        );
    }

    #[test]
    fn an_offset_moves_the_rule() {
        let magic = hex("454c460201010000000000000000000200b700");
        let pattern = Pattern {
            offset: 1,
            magic: &magic,
            mask: None,
        };
        // Byte 0 (0x7f) is not covered: the rule does not require ELF.
        assert_eq!(platform_of(&pattern), None);
    }
}
