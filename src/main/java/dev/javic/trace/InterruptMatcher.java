package dev.javic.trace;

import java.util.Arrays;

/**
 * Pairs each interrupt sent to a vCPU with the guest handler entry that takes it, from the tracepoints
 * alone; {@link PerfettoJsonSink} draws the pairs as flow arrows and {@link IrqLatencySink} measures them.
 *
 * <h2>What is a send</h2>
 * <ul>
 * <li><b>IPI, exit path</b> ({@link #KIND_IPI}): the guest's ICR write trapped (NPF on the APIC page, x2APIC
 * WRMSR, or {@code AVIC_INCOMPLETE_IPI} with a cause KVM emulates); KVM emulates it and traces
 * {@code kvm_apic_ipi}, then {@code kvm_apic_accept_irq} for each target it reaches at the same instant.
 * The send time is the sender's last {@code kvm_exit}: the moment the guest executed the ICR write.</li>
 * <li><b>IPI, AVIC</b> ({@link #KIND_IPI}): the AVIC unit of the sending core delivered the ICR write in guest
 * mode ({@code avic_ipi}, one per target, also when the target is not running and the sender then takes
 * {@code AVIC_INCOMPLETE_IPI}). The send time is that event's.</li>
 * <li><b>Device or timer interrupt</b> ({@link #KIND_HOST}): a {@code kvm_apic_accept_irq} that no
 * {@code kvm_apic_ipi} announced at the same instant: the host put the vector into the APIC (the APIC
 * timer's expiry, an irqfd). The send time is that event's.</li>
 * </ul>
 * The receive is {@code guest_irq} ({@link TraceSink#guestInterrupt}): the CPU vectored the target through
 * its IDT. A send is pending per (target vCPU, vector) like the IRR bit it sets: a second send of the same
 * vector while the first is still in the IRR is coalesced into it (the guest takes one interrupt), and
 * counted. When KVM injects the vector ({@code kvm_inj_virq}: the legacy path moves it from IRR to ISR and
 * into EVENTINJ / V_IRQ), the send leaves the IRR and waits, in flight, for the guest to vector; a new send
 * of the same vector then is pending again, as the IRR bit it sets is. With AVIC the hardware takes the
 * vector from the IRR when it vectors the guest, so there is no in-flight stage.
 *
 * <h2>Targets</h2>
 * Accept and AVIC events name the target by APIC ID. The matcher starts from KVM's default (APIC ID = vCPU
 * id) and follows the two events that change it: an xAPIC write of {@code APIC_ID} ({@code kvm_apic}) and
 * a physical APIC ID table entry written for a vCPU ({@code kvm_avic_table}, the entry's index is its APIC
 * ID). Sends to an APIC ID no vCPU has are ignored.
 *
 * <h2>Cost</h2>
 * Fixed arrays of {@code vcpus * 256 * 2} entries; nothing is allocated per event.
 */
final class InterruptMatcher {
    /** An inter-processor interrupt: a guest ICR write. */
    static final int KIND_IPI = 0;
    /** An interrupt the host injected into the APIC: timer expiry, device (irqfd). */
    static final int KIND_HOST = 1;
    static final int KINDS = 2;

    static final int NONE = -1;
    private static final int VECTORS = 256;
    /** Each (vCPU, vector) has two slots: the send in the IRR and the send KVM injected (in flight). */
    private static final int STAGES = 2;
    private static final int IN_IRR = 0;
    private static final int INJECTED = 1;
    private static final int APIC_ID_REGISTER = 0x20;

    private final int vcpus;
    private final int[] apicIdOfVcpu;
    private final long[] lastExitTime;
    private final long[] sendTime;
    private final byte[] kind;
    private final int[] senderVcpu;
    private final int[] flowId;

    /** The ICR write KVM is emulating right now (kvm_apic_ipi), whose accepts are IPIs, not host injections. */
    private long emulatedIpiAt = NONE;
    private int emulatedIpiSender = NONE;

    private int nextFlowId = 1;
    private long coalesced;
    private long unmatchedHandlerEntries;

    InterruptMatcher(int vcpus) {
        if (vcpus <= 0) {
            throw new IllegalArgumentException("vcpus must be positive: " + vcpus);
        }
        this.vcpus = vcpus;
        apicIdOfVcpu = new int[vcpus];
        for (int v = 0; v < vcpus; v++) {
            apicIdOfVcpu[v] = v;
        }
        lastExitTime = new long[vcpus];
        Arrays.fill(lastExitTime, NONE);
        int slots = vcpus * VECTORS * STAGES;
        sendTime = new long[slots];
        Arrays.fill(sendTime, NONE);
        kind = new byte[slots];
        senderVcpu = new int[slots];
        flowId = new int[slots];
    }

    int vcpus() {
        return vcpus;
    }

    // ---- what the events tell ---------------------------------------------------------------------------

    void exit(long time, int vcpu) {
        if (isVcpu(vcpu)) {
            lastExitTime[vcpu] = time;
        }
    }

    /** kvm_apic: an xAPIC write of the ID register moves the vCPU to another APIC ID. */
    void apicWrite(int vcpu, int reg, int value) {
        if (reg == APIC_ID_REGISTER && isVcpu(vcpu)) {
            apicIdOfVcpu[vcpu] = value >>> 24;
        }
    }

    /** kvm_avic_table: a physical table entry at {@code index} (an APIC ID) now belongs to {@code vcpu}. */
    void avicTableUpdate(int vcpu, boolean logical, int index, long entry) {
        if (!logical && entry != 0 && isVcpu(vcpu)) {
            apicIdOfVcpu[vcpu] = index;
        }
    }

    /** kvm_apic_ipi: KVM emulates {@code sender}'s ICR write; its accepts at {@code time} are IPIs. */
    void ipiEmulated(long time, int sender) {
        emulatedIpiAt = time;
        emulatedIpiSender = sender;
    }

    /** The vCPU whose ICR write KVM is emulating at {@code time} (kvm_apic_ipi), or {@link #NONE}. */
    int emulatedIpiSender(long time) {
        return time == emulatedIpiAt ? emulatedIpiSender : NONE;
    }

    /**
     * kvm_apic_accept_irq: {@code vector} entered the APIC of {@code apicId}. Returns the pending slot it
     * opened, or {@link #NONE} when it was coalesced into a pending one or names no vCPU.
     */
    int accepted(long time, int apicId, int vector) {
        int sender = emulatedIpiSender(time);
        boolean ipi = sender != NONE;
        long sentAt = time;
        if (ipi && isVcpu(sender) && lastExitTime[sender] != NONE) {
            sentAt = lastExitTime[sender];
        }
        return open(sentAt, ipi ? KIND_IPI : KIND_HOST, sender, apicId, vector);
    }

    /** avic_ipi: the AVIC unit delivered {@code sender}'s ICR write to {@code targetApicId}. */
    int avicIpi(long time, int sender, int targetApicId, int vector) {
        return open(time, KIND_IPI, sender, targetApicId, vector);
    }

    /**
     * guest_irq: {@code vcpu} entered its handler for {@code vector}. Returns the slot of the send it takes
     * (read it, then {@link #close}), or {@link #NONE} (exceptions, NMIs, or a send not seen).
     */
    int handlerEntered(int vcpu, int vector) {
        if (!isVcpu(vcpu) || vector < 0 || vector >= VECTORS) {
            return NONE;
        }
        int irr = slot(vcpu, vector, IN_IRR);
        int injected = slot(vcpu, vector, INJECTED);
        if (sendTime[injected] != NONE) {
            return injected;
        }
        if (sendTime[irr] != NONE) {
            return irr;
        }
        if (vector >= 32) {
            unmatchedHandlerEntries++;
        }
        return NONE;
    }

    /**
     * kvm_inj_virq: KVM injects {@code vector} into {@code vcpu} (taken from the IRR): the pending send is
     * in flight, and the IRR can take a new one. A reinjection of one already in flight changes nothing.
     */
    void injected(int vcpu, int vector) {
        if (!isVcpu(vcpu) || vector < 0 || vector >= VECTORS) {
            return;
        }
        int from = slot(vcpu, vector, IN_IRR);
        int to = slot(vcpu, vector, INJECTED);
        if (sendTime[from] == NONE || sendTime[to] != NONE) {
            return;
        }
        sendTime[to] = sendTime[from];
        kind[to] = kind[from];
        senderVcpu[to] = senderVcpu[from];
        flowId[to] = flowId[from];
        sendTime[from] = NONE;
    }

    private static int slot(int vcpu, int vector, int stage) {
        return (vcpu * VECTORS + vector) * STAGES + stage;
    }

    void close(int slot) {
        sendTime[slot] = NONE;
    }

    private int open(long sentAt, int sendKind, int sender, int targetApicId, int vector) {
        int target = vcpuOfApicId(targetApicId);
        if (target == NONE || vector < 0 || vector >= VECTORS) {
            return NONE;
        }
        int slot = slot(target, vector, IN_IRR);
        if (sendTime[slot] != NONE) {
            coalesced++;
            return NONE;
        }
        sendTime[slot] = sentAt;
        kind[slot] = (byte) sendKind;
        senderVcpu[slot] = sender;
        flowId[slot] = nextFlowId++;
        return slot;
    }

    /** The vCPU whose APIC ID is {@code apicId} (lowest vCPU id if several claim it), or {@link #NONE}. */
    int vcpuOfApicId(int apicId) {
        for (int v = 0; v < vcpus; v++) {
            if (apicIdOfVcpu[v] == apicId) {
                return v;
            }
        }
        return NONE;
    }

    private boolean isVcpu(int vcpu) {
        return vcpu >= 0 && vcpu < vcpus;
    }

    // ---- a pending send ---------------------------------------------------------------------------------

    long sendTime(int slot) {
        return sendTime[slot];
    }

    int kind(int slot) {
        return kind[slot];
    }

    /** The sending vCPU, or {@link #NONE} for a host injection. */
    int sender(int slot) {
        return senderVcpu[slot];
    }

    int flowId(int slot) {
        return flowId[slot];
    }

    static int targetVcpu(int slot) {
        return slot / (VECTORS * STAGES);
    }

    static int vector(int slot) {
        return slot / STAGES % VECTORS;
    }

    /** Slots still pending, in ascending (vCPU, vector, stage) order; for closing a trace. */
    int nextPending(int fromSlot) {
        for (int s = Math.max(fromSlot, 0); s < sendTime.length; s++) {
            if (sendTime[s] != NONE) {
                return s;
            }
        }
        return NONE;
    }

    long coalesced() {
        return coalesced;
    }

    long unmatchedHandlerEntries() {
        return unmatchedHandlerEntries;
    }

    static String kindName(int kind) {
        return kind == KIND_IPI ? "ipi" : "device/timer";
    }
}
