package dev.javic.devkvm;

import dev.javic.hw.PhysicalMemory;
import dev.javic.kvm.lapic.ApicIrq;
import dev.javic.kvm.lapic.IrqDelivery;
import dev.javic.kvm.lapic.LocalApic;

import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

import static dev.javic.devkvm.KvmApi.*;

/**
 * A minimal userspace VMM on /dev/kvm with javic's software local APIC: one VM, guest RAM from physical 0, no
 * in-kernel irqchip (KVM_CREATE_IRQCHIP is never called, so every APIC MMIO access, every HLT and every
 * interrupt window exits to javic), a 16550-style serial port at 0x3F8 and QEMU's isa-debug-exit at 0xF4.
 *
 * <p>Locking: the local APICs are the same classes the simulated core drives; here several threads touch them
 * (the vCPU threads, the APIC timer thread), so every APIC access and every decision taken from APIC state
 * (injection, halting) happens under the machine's {@link #lock}. The vCPU thread never holds the lock while
 * inside KVM_RUN.
 */
public final class KvmMachine implements AutoCloseable {
    /** The guest wrote to the debug-exit port: the status is (v << 1) | 1. */
    public static final int STATUS_TIMEOUT = 124;
    /** The guest crashed (triple fault), or KVM could not run it. Even, so no debug-exit status collides. */
    public static final int STATUS_GUEST_ERROR = 120;
    public static final int SERIAL_PORT = 0x3F8;
    public static final int DEBUG_EXIT_PORT = 0xF4;
    /** PCI configuration mechanism #1: address at 0xCF8, data at 0xCFC..0xCFF (no device answers). */
    static final int PCI_CONFIG_ADDRESS = 0xCF8;
    /** The highest amount of RAM: it must stay below the 32-bit PCI hole (IOAPIC 0xFEC00000, APIC 0xFEE00000). */
    public static final long MAX_MEMORY = 3072L << 20;
    public static final long MIN_MEMORY = 2L << 20;
    /** vCPUs per VM: APIC IDs = vCPU indexes stay well inside xAPIC's 8-bit physical IDs (0xFF is broadcast). */
    public static final int MAX_VCPUS = 16;
    private static final int LAST_SERIAL_BYTES = 4096;

    /** How a run ended. */
    public enum Outcome { DEBUG_EXIT, TIMEOUT, GUEST_ERROR }

    /** The end of a run: how, the process exit status, a one-line detail, the last serial output. */
    public record Result(Outcome outcome, int exitStatus, String detail, String lastSerial) {
    }

    /** What to boot and how. */
    public record Config(long memoryBytes, String cmdline, Duration timeout, OutputStream serialOut) {
    }

    final ReentrantLock lock = new ReentrantLock();
    private final Config config;
    private final Arena arena = Arena.ofShared();
    private final int kvmFd;
    private final int vmFd;
    private final MemorySegment ram;
    private final PhysicalMemory apicPages;
    final LocalApic[] apics;
    final KvmVcpu[] vcpus;
    private final CountDownLatch done = new CountDownLatch(1);
    private final ScheduledExecutorService timerThread;
    /** When the VM was created (host monotonic clock): the PM timer's and the trace's zero. */
    private final long createdNs = System.nanoTime();
    private final long tscKhz;
    private final long tscSample;
    private final long tscSampleNs;
    /** Whether KVM sends APIC_BASE and TSC_DEADLINE accesses to javic (MSR filter); else they stay in KVM. */
    final boolean msrExits;
    private volatile Result result;
    /** The AVIC accounting of {@code --system avic-on}, or null (avic-off). */
    private AvicAccounting avic;
    /** The --trace output, or null. */
    private KvmTrace trace;
    private final FwCfg fwCfg;
    private final PicMasks pic = new PicMasks();
    private final IoApic ioApic;
    /** The last address written to PCI configuration address port 0xCF8. */
    private int pciConfigAddress;
    private final byte[] serialRing = new byte[LAST_SERIAL_BYTES];
    private long serialCount;

    /**
     * Opens /dev/kvm and creates the VM, its RAM and its vCPUs; nothing runs until {@link #run}. vCPU 0 is the
     * bootstrap processor; the others are application processors that wait for INIT and SIPI from a local
     * APIC (their APIC ID is their index, as CPUID reports it).
     */
    public KvmMachine(Config config, int vcpuCount) {
        if (vcpuCount < 1 || vcpuCount > MAX_VCPUS) {
            throw new IllegalArgumentException("vCPUs must be 1.." + MAX_VCPUS);
        }
        if (config.memoryBytes() < MIN_MEMORY || config.memoryBytes() > MAX_MEMORY
                || (config.memoryBytes() & (PhysicalMemory.PAGE_SIZE - 1)) != 0) {
            throw new IllegalArgumentException("guest memory must be 2..3072 MiB");
        }
        this.config = config;
        kvmFd = KvmApi.open(DEV_KVM);
        int version = ioctl(kvmFd, KVM_GET_API_VERSION, 0);
        if (version != KVM_API_VERSION) {
            throw new IllegalStateException("KVM API version " + version + ", javic needs " + KVM_API_VERSION);
        }
        vmFd = ioctl(kvmFd, KVM_CREATE_VM, 0);
        ram = KvmApi.mmap(config.memoryBytes(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        MemorySegment region = arena.allocate(KvmStructs.KVM_USERSPACE_MEMORY_REGION);
        region.set(ValueLayout.JAVA_INT, KvmStructs.offset(KvmStructs.KVM_USERSPACE_MEMORY_REGION, "slot"), 0);
        region.set(ValueLayout.JAVA_LONG, KvmStructs.offset(KvmStructs.KVM_USERSPACE_MEMORY_REGION, "guest_phys_addr"), 0L);
        region.set(ValueLayout.JAVA_LONG, KvmStructs.offset(KvmStructs.KVM_USERSPACE_MEMORY_REGION, "memory_size"), config.memoryBytes());
        region.set(ValueLayout.JAVA_LONG, KvmStructs.offset(KvmStructs.KVM_USERSPACE_MEMORY_REGION, "userspace_addr"), ram.address());
        ioctl(vmFd, KVM_SET_USER_MEMORY_REGION, region);

        // The APIC register pages are javic's, not the guest's: the guest's APIC page stays unbacked and exits.
        apicPages = new PhysicalMemory((long) vcpuCount * PhysicalMemory.PAGE_SIZE);
        apics = new LocalApic[vcpuCount];
        vcpus = new KvmVcpu[vcpuCount];
        int mmapSize = ioctl(kvmFd, KVM_GET_VCPU_MMAP_SIZE, 0);
        msrExits = ioctl(kvmFd, KVM_CHECK_EXTENSION, KVM_CAP_X86_USER_SPACE_MSR) > 0
                && ioctl(kvmFd, KVM_CHECK_EXTENSION, KVM_CAP_X86_MSR_FILTER) > 0;
        if (msrExits) {
            installMsrFilter();
        }
        MemorySegment cpuid = supportedCpuid();
        for (int i = 0; i < vcpuCount; i++) {
            vcpus[i] = new KvmVcpu(this, i, ioctl(vmFd, KVM_CREATE_VCPU, i), mmapSize);
            apics[i] = new LocalApic(apicPages, (long) i * PhysicalMemory.PAGE_SIZE, i, vcpus[i]);
            vcpus[i].setCpuid(cpuid);
        }
        // The guest's TSC as javic's APIC timer sees it: sampled once from vCPU 0 (KVM keeps the vCPUs' TSCs in
        // step when they are created together, x86.c kvm_synchronize_tsc), then advanced with the host clock.
        tscKhz = vcpus[0].tscKhz();
        tscSampleNs = System.nanoTime();
        tscSample = vcpus[0].readMsr(MSR_IA32_TSC);
        fwCfg = new FwCfg(vcpuCount, config.memoryBytes());
        ioApic = new IoApic(vcpuCount); // the MADT's I/O APIC ID: the first ID after the local APICs'
        AcpiTables.install(guestRam(), vcpuCount);
        timerThread = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "javic-apic-timer");
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * KVM_GET_SUPPORTED_CPUID, then what javic's APIC model needs the guest to see: no x2APIC (leaf 1 ECX bit
     * 21: as under AVIC, the guest stays in xAPIC mode, whose accesses all exit as MMIO), no TSC-deadline timer
     * (ECX bit 24: its MSR would be handled inside KVM without an MSR filter). The APIC ID in leaf 1 EBX[31:24]
     * is set per vCPU by {@link KvmVcpu#setCpuid}.
     */
    private MemorySegment supportedCpuid() {
        for (int nent = 128; ; nent *= 2) {
            MemorySegment c = arena.allocate(KvmStructs.KVM_CPUID2.byteSize() + nent * KvmStructs.KVM_CPUID_ENTRY2.byteSize(), 8);
            c.set(ValueLayout.JAVA_INT, 0, nent);
            int r = ioctlRaw(kvmFd, KVM_GET_SUPPORTED_CPUID, c);
            if (r == -E2BIG && nent < 4096) {
                continue;
            }
            if (r < 0) {
                throw new KvmException("KVM_GET_SUPPORTED_CPUID", -r);
            }
            return c;
        }
    }

    // =====================================================================================================
    // Guest RAM and the loader
    // =====================================================================================================

    /** Guest RAM as the Multiboot loader writes it. */
    public MultibootImage.GuestRam guestRam() {
        return new MultibootImage.GuestRam() {
            @Override
            public long size() {
                return ram.byteSize();
            }

            @Override
            public void write(long gpa, byte[] src, int srcOffset, int length) {
                MemorySegment.copy(src, srcOffset, ram, ValueLayout.JAVA_BYTE, gpa, length);
            }

            @Override
            public void fill(long gpa, long length, byte value) {
                ram.asSlice(gpa, length).fill(value);
            }

            @Override
            public void write32(long gpa, int value) {
                ram.set(ValueLayout.JAVA_INT_UNALIGNED, gpa, value);
            }
        };
    }

    /** Loads {@code image} and points the boot vCPU at its entry as the Multiboot v1 contract says. */
    public void load(MultibootImage image) {
        long mbi = image.load(guestRam(), config.cmdline());
        vcpus[0].setupMultibootEntry(image.entry(), mbi, apics[0].apicBase());
    }

    /**
     * Runs the vCPUs until the guest writes the debug-exit port, crashes, or the timeout passes; returns how
     * it ended.
     */
    public Result run() throws InterruptedException {
        for (KvmVcpu v : vcpus) {
            v.start();
        }
        if (!done.await(config.timeout().toMillis(), TimeUnit.MILLISECONDS)) {
            finish(new Result(Outcome.TIMEOUT, STATUS_TIMEOUT,
                    "guest did not finish within " + config.timeout().toSeconds() + " s", null));
        }
        for (KvmVcpu v : vcpus) {
            v.join();
        }
        Result r = result;
        return new Result(r.outcome(), r.exitStatus(), r.detail(), lastSerial());
    }

    /** Ends the run with {@code r} unless it already ended; kicks every vCPU so that its thread stops. */
    void finish(Result r) {
        lock.lock();
        try {
            if (result != null) {
                return;
            }
            result = r;
            for (KvmVcpu v : vcpus) {
                v.kickLocked();
            }
        } finally {
            lock.unlock();
        }
        done.countDown();
    }

    boolean stopped() {
        return result != null;
    }

    // =====================================================================================================
    // Devices
    // =====================================================================================================

    /** An IN from {@code port}: returns the value read ({@code size} bytes); under {@link #lock}. */
    int portIn(int port, int size) {
        if (port == AcpiTables.PM_TMR_BLK && size == 4) {
            return AcpiTables.pmTimer(System.nanoTime() - createdNs);
        }
        if (port == AcpiTables.PM1A_CNT_BLK) {
            return AcpiTables.SCI_EN;
        }
        if (port >= AcpiTables.PM1A_EVT_BLK && port < AcpiTables.PM1A_EVT_BLK + 4) {
            return 0; // PM1 status / enable: no fixed event ever happens
        }
        if (PicMasks.isPicPort(port) && size == 1) {
            return pic.read(port);
        }
        if (port == PCI_CONFIG_ADDRESS && size == 4) {
            return pciConfigAddress;
        }
        if (port == FwCfg.PORT_DATA) {
            int v = 0;
            for (int i = 0; i < size; i++) { // javic: a wider read returns that many consecutive bytes, little-endian
                v |= fwCfg.readByte() << (8 * i);
            }
            return v;
        }
        if (port == SERIAL_PORT + 5) {
            return 0x60; // LSR: THR empty, transmitter empty: always ready
        }
        if (port >= SERIAL_PORT && port < SERIAL_PORT + 8) {
            return 0;
        }
        return size == 1 ? 0xFF : size == 2 ? 0xFFFF : -1; // nothing there: the bus floats high
    }

    /** An OUT of {@code value} ({@code size} bytes) to {@code port}; under {@link #lock}. */
    void portOut(int port, int size, int value) {
        if (PicMasks.isPicPort(port) && size == 1) {
            pic.write(port, value);
        } else if (port == PCI_CONFIG_ADDRESS && size == 4) {
            pciConfigAddress = value; // no PCI device exists: configuration data reads float high (all ones)
        } else if (port == FwCfg.PORT_SELECTOR && size == 2) {
            fwCfg.select(value);
        } else if (port == SERIAL_PORT) {
            serialByte((byte) value);
        } else if (port == DEBUG_EXIT_PORT) {
            long v = size == 4 ? Integer.toUnsignedLong(value) : value & (size == 2 ? 0xFFFF : 0xFF);
            int status = (int) ((v << 1) | 1);
            finish(new Result(Outcome.DEBUG_EXIT, status, "guest wrote 0x" + Long.toHexString(v) + " to the debug-exit port", null));
        }
        // Everything else (the serial port's other registers, PIC masks, POST codes) is accepted and ignored.
    }

    private void serialByte(byte b) {
        synchronized (serialRing) {
            serialRing[(int) (serialCount++ % LAST_SERIAL_BYTES)] = b;
            try {
                config.serialOut().write(b);
                if (b == '\n') {
                    config.serialOut().flush();
                }
            } catch (java.io.IOException e) {
                // stdout closed: the guest's output has nowhere to go, the run continues
            }
        }
    }

    /** The last (up to 4 KiB of) serial output. */
    public String lastSerial() {
        synchronized (serialRing) {
            try {
                config.serialOut().flush();
            } catch (java.io.IOException e) {
                // ignore, as above
            }
            int n = (int) Math.min(serialCount, LAST_SERIAL_BYTES);
            byte[] out = new byte[n];
            for (int i = 0; i < n; i++) {
                out[i] = serialRing[(int) ((serialCount - n + i) % LAST_SERIAL_BYTES)];
            }
            return new String(out, java.nio.charset.StandardCharsets.ISO_8859_1);
        }
    }

    // =====================================================================================================
    // What the vCPUs' APICs need from the VM
    // =====================================================================================================

    /** Turns on the AVIC accounting ({@code --system avic-on}); before {@link #run}. */
    public AvicAccounting enableAvicAccounting() {
        avic = new AvicAccounting(vcpus.length);
        return avic;
    }

    /** Turns on {@code --trace}: ftrace text to {@code out} (closed by {@link #close}); before {@link #run}. */
    public void enableTrace(java.io.Writer out) {
        trace = new KvmTrace(out, createdNs);
    }

    /** The trace, or null. */
    KvmTrace trace() {
        return trace;
    }

    /** The AVIC accounting, or null when it is off. */
    public AvicAccounting avicAccounting() {
        return avic;
    }

    /**
     * This VM's vCPUs as AVIC's tables would show them now (under {@link #lock}): physical entry = the APIC ID
     * of a vCPU, running unless its thread is blocked in HLT (KVM clears IsRunning in avic_vcpu_put when a
     * vCPU blocks); logical entry = the vCPU whose LDR names it in its DFR's model.
     */
    dev.javic.hw.AvicRegisterPolicy.IpiTables avicTables() {
        return new dev.javic.hw.AvicRegisterPolicy.IpiTables() {
            @Override
            public int maxIndex() {
                int max = 0;
                for (LocalApic a : apics) {
                    max = Math.max(max, a.apicId());
                }
                return max;
            }

            @Override
            public int physical(int index) {
                for (int i = 0; i < apics.length; i++) {
                    if (apics[i].apicId() == index) {
                        return vcpus[i].isHalted() ? dev.javic.hw.AvicRegisterPolicy.ENTRY_NOT_RUNNING
                                : dev.javic.hw.AvicRegisterPolicy.ENTRY_RUNNING;
                    }
                }
                return dev.javic.hw.AvicRegisterPolicy.ENTRY_INVALID;
            }

            @Override
            public int logical(int index) {
                for (LocalApic a : apics) {
                    boolean flat = (a.dfr() >>> 28) == 0xF;
                    int ldrId = a.ldr() >>> 24;
                    if (ldrId != 0 && dev.javic.hw.AvicTables.logicalIndex(ldrId, flat) == index) {
                        return a.apicId();
                    }
                }
                return -1;
            }
        };
    }

    /** The I/O APIC's register file (MMIO in its page; under {@link #lock}). */
    IoApic ioApic() {
        return ioApic;
    }

    /** kvm_irq_delivery_to_apic over this VM's APICs; called under {@link #lock}. */
    void deliverIpi(LocalApic source, ApicIrq irq) {
        IrqDelivery.irqDeliveryToApic(source, irq, apics);
    }

    static final int MSR_IA32_TSC = 0x10;
    static final int MSR_IA32_APICBASE = 0x1B;
    static final int MSR_IA32_TSC_DEADLINE = 0x6E0;

    /**
     * KVM_CAP_X86_USER_SPACE_MSR for filtered MSRs, and a filter (default allow) that denies KVM the reads and
     * writes of IA32_APIC_BASE and IA32_TSC_DEADLINE: with no in-kernel local APIC, KVM would otherwise keep
     * the APIC base to itself (so relocation and disable would never reach javic's APIC) and has no timer to
     * arm for a TSC deadline. A denied access exits with KVM_EXIT_X86_RDMSR / WRMSR (Documentation/virt/kvm/
     * api.rst, KVM_X86_SET_MSR_FILTER: a clear bitmap bit denies).
     */
    private void installMsrFilter() {
        MemorySegment cap = arena.allocate(KvmStructs.KVM_ENABLE_CAP);
        cap.set(ValueLayout.JAVA_INT, KvmStructs.offset(KvmStructs.KVM_ENABLE_CAP, "cap"), KVM_CAP_X86_USER_SPACE_MSR);
        cap.set(ValueLayout.JAVA_LONG, KvmStructs.offset(KvmStructs.KVM_ENABLE_CAP, "args"), KVM_MSR_EXIT_REASON_FILTER);
        ioctl(vmFd, KVM_ENABLE_CAP, cap);
        MemorySegment filter = arena.allocate(KvmStructs.KVM_MSR_FILTER);
        filter.set(ValueLayout.JAVA_INT, KvmStructs.offset(KvmStructs.KVM_MSR_FILTER, "flags"), KVM_MSR_FILTER_DEFAULT_ALLOW);
        int[] denied = {MSR_IA32_APICBASE, MSR_IA32_TSC_DEADLINE};
        long ranges = KvmStructs.offset(KvmStructs.KVM_MSR_FILTER, "ranges");
        for (int i = 0; i < denied.length; i++) {
            long r = ranges + i * KvmStructs.KVM_MSR_FILTER_RANGE.byteSize();
            MemorySegment bitmap = arena.allocate(8, 8); // one MSR, its bit clear: denied
            filter.set(ValueLayout.JAVA_INT, r + KvmStructs.offset(KvmStructs.KVM_MSR_FILTER_RANGE, "flags"),
                    KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE);
            filter.set(ValueLayout.JAVA_INT, r + KvmStructs.offset(KvmStructs.KVM_MSR_FILTER_RANGE, "nmsrs"), 1);
            filter.set(ValueLayout.JAVA_INT, r + KvmStructs.offset(KvmStructs.KVM_MSR_FILTER_RANGE, "base"), denied[i]);
            filter.set(ValueLayout.ADDRESS, r + KvmStructs.offset(KvmStructs.KVM_MSR_FILTER_RANGE, "bitmap"), bitmap);
        }
        ioctl(vmFd, KVM_X86_SET_MSR_FILTER, filter);
    }

    /**
     * The guest's TSC now, as RDTSC in the guest reads it (to within the sampling error of a few microseconds):
     * the APIC timer and the TSC deadline run on it.
     */
    long guestTsc() {
        long ns = System.nanoTime() - tscSampleNs;
        return tscSample + (ns / 1_000_000L) * tscKhz + (ns % 1_000_000L) * tscKhz / 1_000_000L;
    }

    /** Guest TSC ticks per nanosecond times 1000 (LapicHost#tscKhzPerMhz): the TSC frequency in MHz x 1000 / 1000. */
    long tscKhzPerMhz() {
        return tscKhz / 1000;
    }

    /** Nanoseconds for {@code ticks} guest TSC ticks (non-negative). */
    long tscToNs(long ticks) {
        return (ticks / tscKhz) * 1_000_000L + (ticks % tscKhz) * 1_000_000L / tscKhz;
    }

    ScheduledExecutorService timerThread() {
        return timerThread;
    }

    @Override
    public void close() {
        timerThread.shutdownNow();
        if (trace != null) {
            trace.close();
        }
        for (KvmVcpu v : vcpus) {
            if (v != null) {
                v.close();
            }
        }
        KvmApi.munmap(ram);
        KvmApi.close(vmFd);
        KvmApi.close(kvmFd);
        arena.close();
    }
}
