package dev.javic.devkvm;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.Files;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The few libc calls a userspace VMM needs (open, close, ioctl, mmap, munmap, and the pthread / signal calls
 * that kick a vCPU thread out of KVM_RUN), called through JDK 25's FFM API: no JNI, no native build. Every
 * call that can fail captures {@code errno} ({@link Linker.Option#captureCallState}) and throws
 * {@link KvmException} with it.
 *
 * <p>The ioctl request numbers are computed as {@code asm-generic/ioctl.h} computes them (see {@link #ioc}),
 * from the direction, {@code KVMIO} (0xAE), the command number and the size of the argument structure as
 * laid out in {@link KvmStructs}; {@code KvmApiTest} checks each against the value linux/kvm.h gives.
 */
public final class KvmApi {
    private KvmApi() {
    }

    /** The device a userspace VMM opens. */
    public static final String DEV_KVM = "/dev/kvm";

    // ---- asm-generic/ioctl.h: _IOC(dir, type, nr, size) = dir << 30 | size << 16 | type << 8 | nr ----
    static final int IOC_NRSHIFT = 0;
    static final int IOC_TYPESHIFT = 8;
    static final int IOC_SIZESHIFT = 16;
    static final int IOC_DIRSHIFT = 30;
    static final int IOC_NONE = 0;
    static final int IOC_WRITE = 1;
    static final int IOC_READ = 2;
    static final int KVMIO = 0xAE;

    /** _IOC: direction, type, number and argument size packed as asm-generic/ioctl.h does (14-bit size). */
    static long ioc(int dir, int type, int nr, long size) {
        if (size < 0 || size >= (1 << 14)) {
            throw new IllegalArgumentException("ioctl argument size does not fit _IOC_SIZEBITS: " + size);
        }
        return ((long) dir << IOC_DIRSHIFT) | (size << IOC_SIZESHIFT) | ((long) type << IOC_TYPESHIFT) | ((long) nr << IOC_NRSHIFT);
    }

    static long io(int nr) {
        return ioc(IOC_NONE, KVMIO, nr, 0);
    }

    static long ior(int nr, MemoryLayout arg) {
        return ioc(IOC_READ, KVMIO, nr, arg.byteSize());
    }

    static long iow(int nr, MemoryLayout arg) {
        return ioc(IOC_WRITE, KVMIO, nr, arg.byteSize());
    }

    static long iowr(int nr, MemoryLayout arg) {
        return ioc(IOC_READ | IOC_WRITE, KVMIO, nr, arg.byteSize());
    }

    // ---- linux/kvm.h ioctls (system, VM and vCPU) ----
    public static final long KVM_GET_API_VERSION = io(0x00);
    public static final long KVM_CREATE_VM = io(0x01);
    public static final long KVM_CHECK_EXTENSION = io(0x03);
    public static final long KVM_GET_VCPU_MMAP_SIZE = io(0x04);
    public static final long KVM_GET_SUPPORTED_CPUID = iowr(0x05, KvmStructs.KVM_CPUID2);
    public static final long KVM_CREATE_VCPU = io(0x41);
    public static final long KVM_SET_USER_MEMORY_REGION = iow(0x46, KvmStructs.KVM_USERSPACE_MEMORY_REGION);
    public static final long KVM_RUN = io(0x80);
    public static final long KVM_GET_REGS = ior(0x81, KvmStructs.KVM_REGS);
    public static final long KVM_SET_REGS = iow(0x82, KvmStructs.KVM_REGS);
    public static final long KVM_GET_SREGS = ior(0x83, KvmStructs.KVM_SREGS);
    public static final long KVM_SET_SREGS = iow(0x84, KvmStructs.KVM_SREGS);
    public static final long KVM_INTERRUPT = iow(0x86, KvmStructs.KVM_INTERRUPT);
    public static final long KVM_GET_MSRS = iowr(0x88, KvmStructs.KVM_MSRS);
    public static final long KVM_SET_SIGNAL_MASK = iow(0x8b, KvmStructs.KVM_SIGNAL_MASK);
    public static final long KVM_SET_CPUID2 = iow(0x90, KvmStructs.KVM_CPUID2);
    public static final long KVM_NMI = io(0x9a);
    public static final long KVM_ENABLE_CAP = iow(0xa3, KvmStructs.KVM_ENABLE_CAP);
    /** The vCPU's TSC frequency in kHz (same number as KVM_ENABLE_CAP, no argument). */
    public static final long KVM_GET_TSC_KHZ = io(0xa3);
    public static final long KVM_X86_SET_MSR_FILTER = iow(0xc6, KvmStructs.KVM_MSR_FILTER);

    /** linux/kvm.h KVM_API_VERSION: the only version KVM_GET_API_VERSION has ever returned. */
    public static final int KVM_API_VERSION = 12;

    // ---- linux/kvm.h capabilities used here ----
    public static final int KVM_CAP_IMMEDIATE_EXIT = 136;
    public static final int KVM_CAP_X86_USER_SPACE_MSR = 188;
    public static final int KVM_CAP_X86_MSR_FILTER = 189;
    public static final int KVM_CAP_GET_TSC_KHZ = 61;

    // ---- linux/kvm.h KVM_CAP_X86_USER_SPACE_MSR exit reasons (args[0]) and asm/kvm.h MSR filter flags ----
    public static final int KVM_MSR_EXIT_REASON_INVAL = 1;
    public static final int KVM_MSR_EXIT_REASON_UNKNOWN = 1 << 1;
    public static final int KVM_MSR_EXIT_REASON_FILTER = 1 << 2;
    public static final int KVM_MSR_FILTER_DEFAULT_ALLOW = 0;
    public static final int KVM_MSR_FILTER_READ = 1;
    public static final int KVM_MSR_FILTER_WRITE = 1 << 1;

    // ---- linux/kvm.h exit reasons ----
    public static final int KVM_EXIT_UNKNOWN = 0;
    public static final int KVM_EXIT_EXCEPTION = 1;
    public static final int KVM_EXIT_IO = 2;
    public static final int KVM_EXIT_HYPERCALL = 3;
    public static final int KVM_EXIT_DEBUG = 4;
    public static final int KVM_EXIT_HLT = 5;
    public static final int KVM_EXIT_MMIO = 6;
    public static final int KVM_EXIT_IRQ_WINDOW_OPEN = 7;
    public static final int KVM_EXIT_SHUTDOWN = 8;
    public static final int KVM_EXIT_FAIL_ENTRY = 9;
    public static final int KVM_EXIT_INTR = 10;
    public static final int KVM_EXIT_INTERNAL_ERROR = 17;
    public static final int KVM_EXIT_SYSTEM_EVENT = 24;
    public static final int KVM_EXIT_X86_RDMSR = 29;
    public static final int KVM_EXIT_X86_WRMSR = 30;
    public static final int KVM_EXIT_IO_IN = 0;
    public static final int KVM_EXIT_IO_OUT = 1;

    // ---- libc constants (x86-64 Linux: asm-generic/fcntl.h, asm-generic/mman-common.h, asm-generic/errno-base.h,
    // asm/signal.h) ----
    public static final int O_RDWR = 0x2;
    public static final int O_CLOEXEC = 0x80000;
    public static final int PROT_READ = 0x1;
    public static final int PROT_WRITE = 0x2;
    public static final int MAP_SHARED = 0x01;
    public static final int MAP_PRIVATE = 0x02;
    public static final int MAP_ANONYMOUS = 0x20;
    public static final int MAP_NORESERVE = 0x4000;
    public static final int EINTR = 4;
    public static final int EAGAIN = 11;
    public static final int EACCES = 13;
    public static final int ENOENT = 2;
    public static final int E2BIG = 7;
    /** The signal that kicks a vCPU thread out of KVM_RUN (HotSpot on Linux does not use SIGUSR1). */
    public static final int SIG_KICK = 10; // SIGUSR1
    public static final int SIG_BLOCK = 0;
    /** glibc's sigset_t is 1024 bits; the kernel's (KVM_SET_SIGNAL_MASK) is 64 bits on x86-64. */
    public static final int LIBC_SIGSET_BYTES = 128;
    public static final int KERNEL_SIGSET_BYTES = 8;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CCS = Linker.Option.captureCallState("errno");

    private static final MethodHandle OPEN = downcall("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), CCS);
    private static final MethodHandle CLOSE = downcall("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT), CCS);
    /** int ioctl(int fd, unsigned long request, ...): variadic after the request; the argument is a pointer. */
    private static final MethodHandle IOCTL_PTR = downcall("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), CCS, Linker.Option.firstVariadicArg(2));
    /** The same ioctl with an integer argument (KVM_CREATE_VCPU's id, KVM_CHECK_EXTENSION's capability). */
    private static final MethodHandle IOCTL_LONG = downcall("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), CCS, Linker.Option.firstVariadicArg(2));
    private static final MethodHandle MMAP = downcall("mmap",
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG), CCS);
    private static final MethodHandle MUNMAP = downcall("munmap", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG), CCS);
    private static final MethodHandle PTHREAD_SELF = downcall("pthread_self", FunctionDescriptor.of(JAVA_LONG));
    /** pthread_kill returns the error number instead of setting errno. */
    private static final MethodHandle PTHREAD_KILL = downcall("pthread_kill", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT));
    /** pthread_sigmask returns the error number instead of setting errno. */
    private static final MethodHandle PTHREAD_SIGMASK = downcall("pthread_sigmask",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle SIGTIMEDWAIT = downcall("sigtimedwait",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS), CCS);

    private static final MethodHandle SCHED_GETCPU = downcall("sched_getcpu", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle GETTID = downcall("gettid", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle GET_NPROCS_CONF = downcall("get_nprocs_conf", FunctionDescriptor.of(JAVA_INT));

    private static MethodHandle downcall(String name, FunctionDescriptor fd, Linker.Option... options) {
        MemorySegment sym = LIBC.find(name).orElseThrow(() -> new UnsatisfiedLinkError("libc has no " + name));
        return LINKER.downcallHandle(sym, fd, options);
    }

    /** A failed system call: the call, its errno and strerror-like text. */
    public static final class KvmException extends RuntimeException {
        private static final long serialVersionUID = 1L;
        private final int errno;

        public KvmException(String what, int errno) {
            super(what + " failed: errno " + errno + " (" + errnoName(errno) + ")");
            this.errno = errno;
        }

        public int errno() {
            return errno;
        }
    }

    static String errnoName(int errno) {
        return switch (errno) {
            case 1 -> "EPERM";
            case ENOENT -> "ENOENT";
            case EINTR -> "EINTR";
            case 6 -> "ENXIO";
            case E2BIG -> "E2BIG";
            case 9 -> "EBADF";
            case EAGAIN -> "EAGAIN";
            case 12 -> "ENOMEM";
            case EACCES -> "EACCES";
            case 14 -> "EFAULT";
            case 16 -> "EBUSY";
            case 17 -> "EEXIST";
            case 19 -> "ENODEV";
            case 22 -> "EINVAL";
            case 25 -> "ENOTTY";
            case 95 -> "EOPNOTSUPP";
            default -> "errno " + errno;
        };
    }

    /**
     * Whether {@code path} can be opened read-write; null if it can, else one line naming the device and what
     * to do (the message the boot command prints and the tests skip with).
     */
    public static String unavailableReason(String path) {
        Path p = Path.of(path);
        if (!Files.exists(p)) {
            return path + " does not exist: KVM is not available on this machine (load the kvm_amd or kvm_intel "
                    + "module, enable virtualization in the firmware, or run where /dev/kvm is passed through)";
        }
        if (!Files.isReadable(p) || !Files.isWritable(p)) {
            return path + " is not accessible to this user: add the user to the group owning " + path
                    + " (usually 'kvm': sudo usermod -aG kvm $USER, then log in again) or run as root";
        }
        try {
            close(open(path));
            return null;
        } catch (KvmException e) {
            return "cannot open " + path + ": " + errnoName(e.errno())
                    + (e.errno() == EACCES || e.errno() == 1 ? " (add the user to the group owning " + path
                    + ", usually 'kvm', or run as root)" : " (is the kvm module loaded?)");
        }
    }

    // =====================================================================================================
    // System calls
    // =====================================================================================================

    public static int open(String path) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            int fd = (int) OPEN.invokeExact(state, arena.allocateFrom(path), O_RDWR | O_CLOEXEC);
            if (fd < 0) {
                throw new KvmException("open(" + path + ")", errno(state));
            }
            return fd;
        } catch (KvmException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    public static void close(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            int r = (int) CLOSE.invokeExact(state, fd);
            if (r < 0) {
                throw new KvmException("close(" + fd + ")", errno(state));
            }
        } catch (KvmException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** ioctl with a pointer argument; returns the (non-negative) result or throws with errno. */
    public static int ioctl(int fd, long request, MemorySegment arg) {
        int r = ioctlRaw(fd, request, arg);
        if (r < 0) {
            throw new KvmException(requestName(request), -r);
        }
        return r;
    }

    /** ioctl with an integer argument; returns the (non-negative) result or throws with errno. */
    public static int ioctl(int fd, long request, long arg) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            int r = (int) IOCTL_LONG.invokeExact(state, fd, request, arg);
            if (r < 0) {
                throw new KvmException(requestName(request), errno(state));
            }
            return r;
        } catch (KvmException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /**
     * ioctl with a pointer argument that does not throw: the result if it is non-negative, else -errno (KVM_RUN
     * returns -EINTR when a kick signal interrupted it).
     */
    public static int ioctlRaw(int fd, long request, MemorySegment arg) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            int r = (int) IOCTL_PTR.invokeExact(state, fd, request, arg);
            return r < 0 ? -errno(state) : r;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** mmap; returns a segment of {@code length} bytes at the mapping (munmap it with {@link #munmap}). */
    public static MemorySegment mmap(long length, int prot, int flags, int fd, long offset) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            MemorySegment p = (MemorySegment) MMAP.invokeExact(state, MemorySegment.NULL, length, prot, flags, fd, offset);
            if (p.address() == -1L) { // MAP_FAILED
                throw new KvmException("mmap(" + length + " bytes)", errno(state));
            }
            return p.reinterpret(length);
        } catch (KvmException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    public static void munmap(MemorySegment mapping) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            int r = (int) MUNMAP.invokeExact(state, mapping, mapping.byteSize());
            if (r < 0) {
                throw new KvmException("munmap", errno(state));
            }
        } catch (KvmException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    // =====================================================================================================
    // Kicking a vCPU thread out of KVM_RUN (see KvmVcpu and docs/devkvm.md)
    // =====================================================================================================

    /** sched_getcpu(): the host CPU the calling thread runs on now (for trace lines), or -1. */
    public static int schedGetcpu() {
        try {
            return (int) SCHED_GETCPU.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** gettid(): the calling thread's Linux thread ID (the pid column of a trace line). */
    public static int gettid() {
        try {
            return (int) GETTID.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** get_nprocs_conf(): the host CPUs configured (every number sched_getcpu can return is below it). */
    public static int nprocsConf() {
        try {
            return (int) GET_NPROCS_CONF.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** pthread_self() of the calling (platform) thread. */
    public static long pthreadSelf() {
        try {
            return (long) PTHREAD_SELF.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** pthread_kill(thread, sig). */
    public static void pthreadKill(long thread, int sig) {
        int r;
        try {
            r = (int) PTHREAD_KILL.invokeExact(thread, sig);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        if (r != 0) {
            throw new KvmException("pthread_kill", r);
        }
    }

    /** Blocks {@code sig} in the calling thread (pthread_sigmask(SIG_BLOCK, {sig})). */
    public static void blockSignalInThisThread(int sig) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment set = sigset(arena, LIBC_SIGSET_BYTES, sig);
            int r = (int) PTHREAD_SIGMASK.invokeExact(SIG_BLOCK, set, MemorySegment.NULL);
            if (r != 0) {
                throw new KvmException("pthread_sigmask", r);
            }
        } catch (KvmException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /**
     * Consumes a pending {@code sig} of the calling thread without waiting (sigtimedwait with a zero timeout);
     * returns whether one was pending.
     */
    public static boolean consumePendingSignal(int sig) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            MemorySegment set = sigset(arena, LIBC_SIGSET_BYTES, sig);
            MemorySegment zero = arena.allocate(16, 8); // struct timespec {0, 0}
            int r = (int) SIGTIMEDWAIT.invokeExact(state, set, MemorySegment.NULL, zero);
            if (r == sig) {
                return true;
            }
            int errno = errno(state);
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
                return false;
            }
            throw new KvmException("sigtimedwait", errno);
        } catch (KvmException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** A signal set of {@code bytes} bytes with only {@code sig} (bit sig-1, as both libc and the kernel number them). */
    static MemorySegment sigset(Arena arena, int bytes, int sig) {
        MemorySegment set = arena.allocate(bytes, 8);
        int bit = sig - 1;
        set.set(ValueLayout.JAVA_BYTE, bit / 8, (byte) (1 << (bit % 8)));
        return set;
    }

    private static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }

    static String requestName(long request) {
        if (request == KVM_GET_API_VERSION) return "KVM_GET_API_VERSION";
        if (request == KVM_CREATE_VM) return "KVM_CREATE_VM";
        if (request == KVM_CHECK_EXTENSION) return "KVM_CHECK_EXTENSION";
        if (request == KVM_GET_VCPU_MMAP_SIZE) return "KVM_GET_VCPU_MMAP_SIZE";
        if (request == KVM_GET_SUPPORTED_CPUID) return "KVM_GET_SUPPORTED_CPUID";
        if (request == KVM_CREATE_VCPU) return "KVM_CREATE_VCPU";
        if (request == KVM_SET_USER_MEMORY_REGION) return "KVM_SET_USER_MEMORY_REGION";
        if (request == KVM_RUN) return "KVM_RUN";
        if (request == KVM_GET_REGS) return "KVM_GET_REGS";
        if (request == KVM_SET_REGS) return "KVM_SET_REGS";
        if (request == KVM_GET_SREGS) return "KVM_GET_SREGS";
        if (request == KVM_SET_SREGS) return "KVM_SET_SREGS";
        if (request == KVM_INTERRUPT) return "KVM_INTERRUPT";
        if (request == KVM_SET_SIGNAL_MASK) return "KVM_SET_SIGNAL_MASK";
        if (request == KVM_SET_CPUID2) return "KVM_SET_CPUID2";
        if (request == KVM_NMI) return "KVM_NMI";
        if (request == KVM_ENABLE_CAP) return "KVM_ENABLE_CAP";
        if (request == KVM_GET_TSC_KHZ) return "KVM_GET_TSC_KHZ";
        if (request == KVM_GET_MSRS) return "KVM_GET_MSRS";
        if (request == KVM_X86_SET_MSR_FILTER) return "KVM_X86_SET_MSR_FILTER";
        return "ioctl 0x" + Long.toHexString(request);
    }
}
