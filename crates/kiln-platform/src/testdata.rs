//! Real binfmt_misc entry texts, and fake hosts built from them, for the tests of this crate.
//!
//! The qemu entries are what the kernel shows for Debian 12's qemu-user-static rules
//! (`/usr/lib/binfmt.d/qemu-*.conf`); `QEMU_AARCH64` is copied from a live x86-64 host.

use crate::emulation::BINFMT_MISC_DIR;
use crate::probe::FakeProbe;

/// `/proc/sys/fs/binfmt_misc/qemu-aarch64` on an x86-64 Debian host, registered by
/// `update-binfmts` (flags `PF`).
pub(crate) const QEMU_AARCH64: &str = "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\noffset 0\nmagic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n";

/// qemu-arm, registered by systemd-binfmt (flags `OPF`, shown as `POF`).
pub(crate) const QEMU_ARM: &str = "enabled\ninterpreter /usr/libexec/qemu-binfmt/arm-binfmt-P\nflags: POF\noffset 0\nmagic 7f454c4601010100000000000000000002002800\nmask ffffffffffffff00fffffffffffffffffeffffff\n";

/// qemu-ppc64le, switched off (`echo 0 > .../qemu-ppc64le`).
pub(crate) const QEMU_PPC64LE_DISABLED: &str = "disabled\ninterpreter /usr/libexec/qemu-binfmt/ppc64le-binfmt-P\nflags: POF\noffset 0\nmagic 7f454c4602010100000000000000000002001500\nmask fffffffffffffffcfffffffffffffffffeffff00\n";

/// qemu-riscv64, registered without the `F` flag.
pub(crate) const QEMU_RISCV64_NO_F: &str = "enabled\ninterpreter /usr/bin/qemu-riscv64-static\nflags: PO\noffset 0\nmagic 7f454c460201010000000000000000000200f300\nmask ffffffffffffff00fffffffffffffffffeffffff\n";

/// qemu-s390x.
pub(crate) const QEMU_S390X: &str = "enabled\ninterpreter /usr/libexec/qemu-binfmt/s390x-binfmt-P\nflags: POF\noffset 0\nmagic 7f454c4602020100000000000000000000020016\nmask fffffffffffffffcfffffffffffffffffffeffff\n";

/// qemu-mips64el.
pub(crate) const QEMU_MIPS64EL: &str = "enabled\ninterpreter /usr/libexec/qemu-binfmt/mips64el-binfmt-P\nflags: POF\noffset 0\nmagic 7f454c4602010100000000000000000002000800\nmask ffffffffffffff00fefffffffffffffffeffffff\n";

/// qemu-mipsel: 32-bit little-endian MIPS with `EF_MIPS_ABI2` clear (o32).
pub(crate) const QEMU_MIPSEL: &str = "enabled\ninterpreter /usr/libexec/qemu-binfmt/mipsel-binfmt-P\nflags: POF\noffset 0\nmagic 7f454c46010101000000000000000000020008000000000000000000000000000000000000\nmask ffffffffffffff00fefffffffffffffffeffffff0000000000000000000000000000000020\n";

/// qemu-mipsn32el: the same with `EF_MIPS_ABI2` set (n32).
pub(crate) const QEMU_MIPSN32EL: &str = "enabled\ninterpreter /usr/libexec/qemu-binfmt/mipsn32el-binfmt-P\nflags: POF\noffset 0\nmagic 7f454c46010101000000000000000000020008000000000000000000000000000000000020\nmask ffffffffffffff00fefffffffffffffffeffffff0000000000000000000000000000000020\n";

/// qemu-riscv32: no Docker platform.
pub(crate) const QEMU_RISCV32: &str = "enabled\ninterpreter /usr/libexec/qemu-binfmt/riscv32-binfmt-P\nflags: POF\noffset 0\nmagic 7f454c460101010000000000000000000200f300\nmask ffffffffffffff00fffffffffffffffffeffffff\n";

/// qemu-x86_64 as qemu's `qemu-binfmt-conf.sh` registers it (bytes 5 and 6 masked with `fe`).
pub(crate) const QEMU_X86_64: &str = "enabled\ninterpreter /usr/bin/qemu-x86_64-static\nflags: F\noffset 0\nmagic 7f454c4602010100000000000000000002003e00\nmask fffffffffffefe00fffffffffffffffffeffffff\n";

/// qemu-i386 as qemu's `qemu-binfmt-conf.sh` registers it.
pub(crate) const QEMU_I386: &str = "enabled\ninterpreter /usr/bin/qemu-i386-static\nflags: F\noffset 0\nmagic 7f454c4601010100000000000000000002000300\nmask fffffffffffefe00fffffffffffffffffeffffff\n";

/// Rosetta in a Linux VM on Apple silicon: the x86-64 rule, here with the magic shown masked.
pub(crate) const ROSETTA: &str = "enabled\ninterpreter /mnt/lima-rosetta/rosetta\nflags: COF\noffset 0\nmagic 7f454c4602000000000000000000000002003e00\nmask fffffffffffefe00fffffffffffffffffeffffff\n";

/// Python's `.pyc` handler: not an emulator.
pub(crate) const PYTHON: &str =
    "enabled\ninterpreter /usr/bin/python3.11\nflags: \noffset 0\nmagic a70d0d0a\n";

/// A Debian host with several qemu handlers, one disabled, one without `F`, and two that are
/// not emulators kiln knows.
pub(crate) const DEBIAN_ENTRIES: &[(&str, &str)] = &[
    ("python3.11", PYTHON),
    ("qemu-aarch64", QEMU_AARCH64),
    ("qemu-arm", QEMU_ARM),
    ("qemu-mips64el", QEMU_MIPS64EL),
    ("qemu-mipsel", QEMU_MIPSEL),
    ("qemu-mipsn32el", QEMU_MIPSN32EL),
    ("qemu-ppc64le", QEMU_PPC64LE_DISABLED),
    ("qemu-riscv32", QEMU_RISCV32),
    ("qemu-riscv64", QEMU_RISCV64_NO_F),
    ("qemu-s390x", QEMU_S390X),
];

/// A Linux host whose kernel names its machine `machine`, with binfmt_misc mounted, its
/// `status` set to `status` and `entries` registered.
pub(crate) fn binfmt_host(machine: &str, status: &str, entries: &[(&str, &str)]) -> FakeProbe {
    let mut probe = FakeProbe::new(machine)
        .with_file(format!("{BINFMT_MISC_DIR}/register"), "")
        .with_file(format!("{BINFMT_MISC_DIR}/status"), format!("{status}\n"));
    for (name, text) in entries {
        probe = probe.with_file(format!("{BINFMT_MISC_DIR}/{name}"), *text);
    }
    probe
}
