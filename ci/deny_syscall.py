#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""deny_syscall.py NAME[,NAME...] -- CMD [ARG...]: run CMD with a seccomp
filter under which the named system calls fail with EPERM; every other call
is allowed.  The filter holds for CMD and everything it starts (fork and
exec keep it), so a test can see how a program copes when the kernel
refuses one call, with the real kernel doing the refusing.  x86_64 only:
on another architecture, or for an unknown name, exits 2 without running
CMD."""
import ctypes
import os
import struct
import sys

# x86_64 numbers of the calls tests refuse (asm/unistd_64.h)
SYSCALLS = {
    "sched_setscheduler": 144,
    "sched_setattr": 314,
    "setpriority": 141,
}
AUDIT_ARCH_X86_64 = 0xC000003E
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
EPERM = 1
# classic BPF
BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_RET_K = 0x06
OFF_NR, OFF_ARCH = 0, 4  # struct seccomp_data


def insn(code, jt, jf, k):
    return struct.pack("HBBI", code, jt, jf, k)


def program(numbers):
    """arch check, then one compare per number; a match returns EPERM"""
    n = len(numbers)
    prog = [insn(BPF_LD_W_ABS, 0, 0, OFF_ARCH),
            # another architecture: kill rather than guess its numbers
            insn(BPF_JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
            insn(BPF_RET_K, 0, 0, 0),
            insn(BPF_LD_W_ABS, 0, 0, OFF_NR)]
    for i, nr in enumerate(numbers):
        # on a match jump to the EPERM return after the remaining compares
        # and the allow
        prog.append(insn(BPF_JEQ_K, n - i, 0, nr))
    prog.append(insn(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW))
    prog.append(insn(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | EPERM))
    return prog


def main(argv):
    if len(argv) < 4 or argv[2] != "--":
        print(__doc__.strip(), file=sys.stderr)
        return 2
    if os.uname().machine != "x86_64":
        print("deny_syscall.py: x86_64 only", file=sys.stderr)
        return 2
    names = argv[1].split(",")
    unknown = [x for x in names if x not in SYSCALLS]
    if unknown:
        print("deny_syscall.py: unknown system call: " + ", ".join(unknown),
              file=sys.stderr)
        return 2
    code = b"".join(program([SYSCALLS[x] for x in names]))
    buf = ctypes.create_string_buffer(code, len(code))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(code) // 8, ctypes.addressof(buf))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or \
            libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER,
                       ctypes.byref(fprog), 0, 0) != 0:
        e = ctypes.get_errno()
        print("deny_syscall.py: seccomp: " + os.strerror(e), file=sys.stderr)
        return 2
    try:
        os.execvp(argv[3], argv[3:])
    except OSError as e:
        print("deny_syscall.py: %s: %s" % (argv[3], e.strerror),
              file=sys.stderr)
        return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv))
