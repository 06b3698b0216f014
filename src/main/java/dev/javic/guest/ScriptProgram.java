package dev.javic.guest;

import dev.javic.hw.GuestProgram;
import dev.javic.hw.OpKind;
import dev.javic.hw.Operation;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A guest program made of {@link GuestCode}: the main code and one handler per interrupt vector (its
 * IDT). It runs entirely on the CPU's operations, and records what the guest observed: every vector
 * it was interrupted with (and when), the values it read, the exceptions its instructions raised.
 *
 * <p>Handlers end with IRET, appended here. A vector without a handler gets the guest kernel's default:
 * EOI for external interrupts (vector 32..254), nothing for exceptions, NMI and the spurious vector. The
 * kernel EOIs the way its APIC mode requires: by the xAPIC page, or by WRMSR to the x2APIC EOI MSR once
 * one of its own WRMSRs to IA32_APIC_BASE has switched the APIC to x2APIC mode (as Linux switches its
 * {@code apic->eoi} when it enables x2APIC).
 *
 * <p>Two instructions are two CPU operations each, an RDMSR and then a WRMSR of a value computed from what
 * it read: {@code TSC_DEADLINE_AFTER} and {@code MSR_OR}. The WRMSR they still owe survives an interrupt
 * between the two (it is kept in the interrupted frame and issued after the IRET).
 */
public final class ScriptProgram implements GuestProgram {
    private static final int MAX_DEPTH = 64;

    private final GuestCode main;
    private final GuestCode[] handlers = new GuestCode[256];
    private final GuestCode eoiHandler;
    private final GuestCode x2apicEoiHandler;
    private final GuestCode emptyHandler;

    private final GuestCode[] frameCode = new GuestCode[MAX_DEPTH];
    private final int[] framePc = new int[MAX_DEPTH];
    private final long[][] frameCounters;
    private int depth;
    private boolean finished;

    /** The instruction whose operation was issued last, to record its result at the next call. */
    private GuestInsn issued;
    /**
     * The MSR of the WRMSR a two-operation instruction owes after its RDMSR (TSC_DEADLINE_AFTER: the deadline
     * MSR; MSR_OR: the MSR it read), or -1 when none is owed.
     */
    private long owedMsr = -1;
    /** The value of that WRMSR (TSC read + the instruction's cycles; the MSR read | the instruction's bits). */
    private long owedValue;
    /** Per frame: the WRMSR still owed by the code an interrupt interrupted (MSR, -1 = none; value). */
    private final long[] frameOwedMsr = new long[MAX_DEPTH];
    private final long[] frameOwedValue = new long[MAX_DEPTH];
    /** The guest kernel's APIC driver: x2APIC (EOI by MSR) after its WRMSR to IA32_APIC_BASE set bit 10. */
    private boolean x2apicMode;
    /** The vCPU's operation, as last passed to {@link #next}: the CPU leaves each outcome in it. */
    private Operation lastOp;

    private int[] irqVectors = new int[16];
    private long[] irqTimes = new long[16];
    private int irqCount;
    private long externalIrqs;
    private final List<Observation> reads = new ArrayList<>();
    private final List<Observation> faults = new ArrayList<>();
    private final List<Observation> startups = new ArrayList<>();

    /** A value the guest read (or a fault it took): where, what, when. */
    public record Observation(String label, long value, long time) {
    }

    public ScriptProgram(GuestCode main) {
        this.main = main;
        this.eoiHandler = GuestCode.builder().eoi().build();
        this.x2apicEoiHandler = GuestCode.builder().x2apicEoi().build();
        this.emptyHandler = GuestCode.builder().build();
        frameCounters = new long[MAX_DEPTH][];
        frameCode[0] = main;
        Arrays.fill(frameOwedMsr, -1);
        depth = 1;
        this.maxLength = main.length();
    }

    private int maxLength;

    /** Installs the handler for {@code vector} (the guest's IDT entry). */
    public ScriptProgram handler(int vector, GuestCode code) {
        handlers[vector] = code;
        maxLength = Math.max(maxLength, code.length());
        return this;
    }

    private long[] counters(int d) {
        long[] c = frameCounters[d];
        if (c == null || c.length < maxLength) {
            c = new long[Math.max(maxLength, 1)];
            frameCounters[d] = c;
        }
        return c;
    }

    @Override
    public boolean finished() {
        return finished;
    }

    @Override
    public void next(Operation op, long now) {
        lastOp = op;
        recordOutcome(op, now);
        if (owedMsr >= 0) {
            op.set(OpKind.WRMSR, owedMsr, owedValue);
            owedMsr = -1;
            return;
        }
        while (true) {
            int d = depth - 1;
            GuestCode code = frameCode[d];
            int pc = framePc[d];
            if (pc >= code.length()) {
                if (d == 0) {
                    finished = true;
                    issued = null;
                    op.set(OpKind.CLI, 0, 0);
                    return;
                }
                depth--; // the handler returns
                issued = null;
                if (frameOwedMsr[depth - 1] >= 0) {
                    // The interrupted code had done the RDMSR of a two-step instruction: its WRMSR follows the IRET.
                    owedMsr = frameOwedMsr[depth - 1];
                    owedValue = frameOwedValue[depth - 1];
                }
                op.set(OpKind.IRET, 0, 0);
                return;
            }
            GuestInsn insn = code.at(pc);
            framePc[d] = pc + 1;
            if (control(insn, d, pc)) {
                continue;
            }
            issued = insn;
            issue(insn, op);
            return;
        }
    }

    /** Runs a guest-kernel control step; returns false when {@code insn} is a CPU operation. */
    private boolean control(GuestInsn insn, int d, int pc) {
        switch (insn.code()) {
            case LOOP_START -> {
                if (insn.a() <= 0) {
                    framePc[d] = (int) insn.b() + 1;
                } else {
                    counters(d)[pc] = insn.a();
                }
                return true;
            }
            case LOOP_END -> {
                int start = (int) insn.a();
                long[] c = counters(d);
                if (--c[start] > 0) {
                    framePc[d] = start + 1;
                }
                return true;
            }
            case JUMP_IF_IRQS -> {
                if (externalIrqs >= insn.b()) {
                    framePc[d] = (int) insn.a();
                }
                return true;
            }
            case JUMP -> {
                framePc[d] = (int) insn.a();
                return true;
            }
            default -> {
                return false;
            }
        }
    }

    private static void issue(GuestInsn insn, Operation op) {
        switch (insn.code()) {
            case WORK -> op.work(insn.a());
            case READ32 -> op.set(OpKind.READ32, insn.a(), 0);
            case WRITE32 -> op.set(OpKind.WRITE32, insn.a(), insn.b());
            case READ64 -> op.set(OpKind.READ64, insn.a(), 0);
            case WRITE64 -> op.set(OpKind.WRITE64, insn.a(), insn.b());
            case RDMSR -> op.set(OpKind.RDMSR, insn.a(), 0);
            case WRMSR -> op.set(OpKind.WRMSR, insn.a(), insn.b());
            case CPUID -> op.set(OpKind.CPUID, insn.a(), insn.b());
            case READ_CR8 -> op.set(OpKind.READ_CR8, 0, 0);
            case WRITE_CR8 -> op.set(OpKind.WRITE_CR8, 0, insn.a());
            case STI -> op.set(OpKind.STI, 0, 0);
            case CLI -> op.set(OpKind.CLI, 0, 0);
            case HLT -> op.set(OpKind.HLT, 0, 0);
            case PAUSE -> op.set(OpKind.PAUSE, 0, 0);
            case VMMCALL -> op.set(OpKind.VMMCALL, 0, 0);
            case TSC_DEADLINE_AFTER -> op.set(OpKind.RDMSR, GuestKernel.MSR_IA32_TSC, 0);
            case MSR_OR -> op.set(OpKind.RDMSR, insn.a(), 0);
            default -> throw new IllegalStateException("not a CPU operation: " + insn);
        }
    }

    private void recordOutcome(Operation op, long now) {
        GuestInsn insn = issued;
        if (insn == null) {
            return;
        }
        if (op.kind == OpKind.WRMSR && op.address == GuestKernel.MSR_IA32_APICBASE && op.fault < 0) {
            x2apicMode = (op.value & GuestKernel.APICBASE_X2APIC_ENABLE) != 0;
        }
        if (op.fault >= 0) {
            faults.add(new Observation(describe(insn), op.fault, now));
            if (insn.code() == GuestInsn.Code.TSC_DEADLINE_AFTER) {
                return;
            }
        }
        if (op.kind == OpKind.RDMSR && op.fault < 0 && owedMsr < 0) {
            if (insn.code() == GuestInsn.Code.TSC_DEADLINE_AFTER) {
                owedMsr = GuestKernel.MSR_IA32_TSC_DEADLINE;
                owedValue = op.result + insn.a();
                return;
            }
            if (insn.code() == GuestInsn.Code.MSR_OR) {
                owedMsr = insn.a();
                owedValue = op.result | insn.b();
                return;
            }
        }
        if (insn.label() != null && op.fault < 0) {
            long value = op.result;
            if (insn.code() == GuestInsn.Code.CPUID) {
                reads.add(new Observation(insn.label() + ".eax", value, now));
                reads.add(new Observation(insn.label() + ".ebx", op.resultEbx & 0xFFFFFFFFL, now));
                reads.add(new Observation(insn.label() + ".ecx", op.resultEcx & 0xFFFFFFFFL, now));
                reads.add(new Observation(insn.label() + ".edx", op.resultEdx & 0xFFFFFFFFL, now));
            } else {
                reads.add(new Observation(insn.label(), value, now));
            }
        }
        issued = null;
    }

    private static String describe(GuestInsn insn) {
        if (insn.label() != null) {
            return insn.label();
        }
        return insn.code().name().toLowerCase() + " 0x" + Long.toHexString(insn.a());
    }

    @Override
    public void interrupt(int vector, long now) {
        if (irqCount == irqVectors.length) {
            irqVectors = Arrays.copyOf(irqVectors, irqCount * 2);
            irqTimes = Arrays.copyOf(irqTimes, irqCount * 2);
        }
        irqVectors[irqCount] = vector;
        irqTimes[irqCount] = now;
        irqCount++;
        if (vector >= 32) {
            externalIrqs++;
        }
        if (depth == MAX_DEPTH) {
            throw new IllegalStateException("guest handler nesting deeper than " + MAX_DEPTH);
        }
        // The operation issued last may have retired since the previous call to next(): completed by the
        // hypervisor in an exit (an emulated APIC read), or faulted (an injected #GP). The CPU vectors
        // before asking for the next operation, so its value or fault is recorded here, or it would be
        // lost. (WORK cut short records nothing and resumes from the frame after the IRET.)
        if (issued != null && lastOp != null) {
            recordOutcome(lastOp, now);
        }
        frameOwedMsr[depth - 1] = owedMsr;
        frameOwedValue[depth - 1] = owedValue;
        GuestCode h = handlers[vector];
        if (h == null) {
            h = vector < 32 || vector == GuestKernel.SPURIOUS_VECTOR ? emptyHandler
                    : x2apicMode ? x2apicEoiHandler : eoiHandler;
        }
        frameCode[depth] = h;
        framePc[depth] = 0;
        frameOwedMsr[depth] = -1;
        depth++;
        // The handler starts clean; a WRMSR owed by the interrupted code waits in its frame.
        issued = null;
        owedMsr = -1;
    }

    @Override
    public void startup(long rip, long now) {
        startups.add(new Observation("sipi", rip >>> 12, now));
        depth = 1;
        framePc[0] = 0;
        frameOwedMsr[0] = -1;
        finished = false;
        issued = null;
        owedMsr = -1;
        // The AP's start-up code is its program: it runs again from the top.
        frameCode[0] = main;
    }

    // ---- what the guest observed -------------------------------------------------------------------------

    public int interruptCount() {
        return irqCount;
    }

    public int interruptVector(int i) {
        return irqVectors[i];
    }

    public long interruptTime(int i) {
        return irqTimes[i];
    }

    public List<Observation> reads() {
        return List.copyOf(reads);
    }

    public List<Observation> faults() {
        return List.copyOf(faults);
    }

    public List<Observation> startups() {
        return List.copyOf(startups);
    }
}
