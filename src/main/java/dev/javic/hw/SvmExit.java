package dev.javic.hw;

/**
 * #VMEXIT codes (AMD APM vol. 2 appendix C; Linux {@code arch/x86/include/uapi/asm/svm.h}) and the
 * names Linux's {@code kvm_exit} tracepoint prints for them ({@code SVM_EXIT_REASONS}).
 */
public final class SvmExit {
    private SvmExit() {
    }

    public static final int READ_CR0 = 0x000;
    public static final int WRITE_CR0 = 0x010;
    public static final int WRITE_CR8 = 0x018;
    public static final int EXCP_BASE = 0x040;
    public static final int INTR = 0x060;
    public static final int NMI = 0x061;
    public static final int SMI = 0x062;
    public static final int INIT = 0x063;
    public static final int VINTR = 0x064;
    public static final int CPUID = 0x072;
    public static final int IRET = 0x074;
    public static final int PAUSE = 0x077;
    public static final int HLT = 0x078;
    public static final int IOIO = 0x07B;
    public static final int MSR = 0x07C;
    public static final int SHUTDOWN = 0x07F;
    public static final int VMRUN = 0x080;
    public static final int VMMCALL = 0x081;
    public static final int NPF = 0x400;
    public static final int AVIC_INCOMPLETE_IPI = 0x401;
    public static final int AVIC_UNACCELERATED_ACCESS = 0x402;
    public static final int ERR = -1;

    /** The largest code the handler table covers. */
    public static final int MAX = 0x402;

    /** Name as {@code kvm_exit} prints it ({@code reason %s}). */
    public static String name(int code) {
        return switch (code) {
            case READ_CR0 -> "read_cr0";
            case WRITE_CR0 -> "write_cr0";
            case WRITE_CR8 -> "write_cr8";
            case INTR -> "interrupt";
            case NMI -> "nmi";
            case SMI -> "smi";
            case INIT -> "init";
            case VINTR -> "vintr";
            case CPUID -> "cpuid";
            case IRET -> "iret";
            case PAUSE -> "pause";
            case HLT -> "hlt";
            case IOIO -> "io";
            case MSR -> "msr";
            case SHUTDOWN -> "shutdown";
            case VMRUN -> "vmrun";
            case VMMCALL -> "hypercall";
            case NPF -> "npf";
            case AVIC_INCOMPLETE_IPI -> "avic_incomplete_ipi";
            case AVIC_UNACCELERATED_ACCESS -> "avic_unaccelerated_access";
            case ERR -> "invalid";
            default -> String.format("0x%x", code);
        };
    }

    /** MSR exit EXITINFO1: 0 = RDMSR, 1 = WRMSR. */
    public static final long MSR_INFO_WRITE = 1;

    /**
     * IOIO exit EXITINFO1 (APM vol. 2 §15.10.2, figure 15-2): bit 0 TYPE (1 = IN), bit 2 STR, bit 3 REP,
     * bits 4/5/6 SZ8/SZ16/SZ32, bits 7/8/9 A16/A32/A64, bits 12:10 segment, bits 31:16 the port.
     * EXITINFO2 holds the rIP of the next instruction.
     */
    public static final long IOIO_TYPE_IN = 1L;
    public static final long IOIO_STR = 1L << 2;
    public static final long IOIO_REP = 1L << 3;
    public static final long IOIO_SZ8 = 1L << 4;
    public static final long IOIO_SZ16 = 1L << 5;
    public static final long IOIO_SZ32 = 1L << 6;
    public static final long IOIO_A16 = 1L << 7;
    public static final long IOIO_A32 = 1L << 8;
    public static final long IOIO_A64 = 1L << 9;
    public static final int IOIO_PORT_SHIFT = 16;

    /** NPF EXITINFO1 error-code bits (page-fault error code + NPF bits 32/33). */
    public static final long NPF_PRESENT = 1L;
    public static final long NPF_WRITE = 1L << 1;
    public static final long NPF_USER = 1L << 2;
    public static final long NPF_GUEST_FINAL = 1L << 32;
    public static final long NPF_GUEST_PAGE_TABLE = 1L << 33;
}
