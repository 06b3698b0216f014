package dev.javic.hw;

/**
 * The part of a vCPU's architectural state that is not in the VMCB: the general-purpose registers
 * other than RAX (which VMRUN does not save; KVM keeps them in {@code vcpu->arch.regs} and the VMRUN
 * entry code loads and saves them, {@code __svm_vcpu_run(vmcb_pa, regs)}), and the guest's instruction
 * stream: its program, the operation in flight, and the interrupt frames on its stack.
 *
 * <p>The hypervisor owns one per vCPU and passes it to {@link SvmCore#vmrun}; it reads and writes
 * the GPRs (as KVM's emulator does) but never looks at the program.
 */
public final class GuestState {
    public static final int RAX = 0;
    public static final int RCX = 1;
    public static final int RDX = 2;
    public static final int RBX = 3;
    public static final int GPR_COUNT = 16;

    /** Where the modelled kernel text starts, so RIPs in traces look like a 64-bit kernel's. */
    static final long TEXT_BASE = 0xFFFFFFFF81000000L;
    /** Interrupt handler entry points: one 16-byte entry per vector, as Linux's irq_entries_start. */
    static final long IDT_ENTRIES = 0xFFFFFFFF81A00000L;
    private static final int MAX_FRAMES = 64;

    private final long[] gprs = new long[GPR_COUNT];
    final Operation op = new Operation();
    GuestProgram program;

    /** RIP of the operation in {@link #op}, or of the next one when none is in flight. */
    long rip = TEXT_BASE;
    /** True when {@link #op} was fetched and has not retired yet (it exited, or it is WORK in progress). */
    boolean opInFlight;
    /** Cycles of the in-flight WORK still to run. */
    long workRemaining;
    /** NMIs are blocked from NMI delivery until the next IRET. */
    boolean nmiBlocked;

    private final long[] frameRip = new long[MAX_FRAMES];
    private final long[] frameRflags = new long[MAX_FRAMES];
    private final long[] frameWork = new long[MAX_FRAMES];
    private final boolean[] frameInFlight = new boolean[MAX_FRAMES];
    private final boolean[] frameNmi = new boolean[MAX_FRAMES];
    private final OpKind[] frameKind = new OpKind[MAX_FRAMES];
    private final long[] frameAddress = new long[MAX_FRAMES];
    private final long[] frameValue = new long[MAX_FRAMES];
    private int frames;

    public GuestState(GuestProgram program) {
        this.program = program;
    }

    public long gpr(int index) {
        return gprs[index];
    }

    public void setGpr(int index, long value) {
        gprs[index] = value;
    }

    /**
     * Architectural INIT: drops the interrupt frames and the instruction in flight (KVM's
     * kvm_vcpu_reset on INIT). The hypervisor then writes the SIPI start address into the VMCB.
     */
    public void resetForInit() {
        frames = 0;
        opInFlight = false;
        workRemaining = 0;
        nmiBlocked = false;
        rip = -1; // not a valid RIP: VMRUN will see the hypervisor's start address as a jump
    }

    public int frameDepth() {
        return frames;
    }

    /** Pushes an interrupt frame; false when the stack overflowed (a shutdown on hardware). */
    boolean pushFrame(long rflags, boolean nmi) {
        if (frames == MAX_FRAMES) {
            return false;
        }
        frameRip[frames] = rip;
        frameRflags[frames] = rflags;
        frameWork[frames] = workRemaining;
        frameInFlight[frames] = opInFlight;
        frameNmi[frames] = nmi;
        frameKind[frames] = op.kind;
        frameAddress[frames] = op.address;
        frameValue[frames] = op.value;
        frames++;
        return true;
    }

    /** Pops the innermost frame; returns the RFLAGS to restore, or -1 when there is no frame. */
    long popFrame() {
        if (frames == 0) {
            return -1;
        }
        frames--;
        rip = frameRip[frames];
        workRemaining = frameWork[frames];
        opInFlight = frameInFlight[frames];
        if (frameNmi[frames]) {
            nmiBlocked = false;
        }
        if (opInFlight) {
            // The interrupted instruction (WORK in progress, or one the hypervisor had not completed) resumes.
            op.set(frameKind[frames], frameAddress[frames], frameValue[frames]);
        }
        return frameRflags[frames];
    }
}
