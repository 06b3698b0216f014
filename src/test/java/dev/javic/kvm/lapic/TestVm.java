package dev.javic.kvm.lapic;

import dev.javic.hw.ApicRegs;

import dev.javic.hw.PhysicalMemory;

/** A few APICs in one physical memory, each with its own fake host, wired for IPIs. */
final class TestVm {
    static final long FIRST_PAGE_PA = 0x10000;

    final PhysicalMemory mem = new PhysicalMemory(1 << 20);
    final LocalApic[] apics;
    final FakeLapicHost[] hosts;

    TestVm(int vcpus) {
        apics = new LocalApic[vcpus];
        hosts = new FakeLapicHost[vcpus];
        for (int i = 0; i < vcpus; i++) {
            hosts[i] = new FakeLapicHost();
            apics[i] = new LocalApic(mem, FIRST_PAGE_PA + (long) i * PhysicalMemory.PAGE_SIZE, i, hosts[i]);
            hosts[i].vm = apics;
        }
    }

    /** A single software-enabled APIC (vCPU 0). */
    static TestVm enabled(int vcpus) {
        TestVm vm = new TestVm(vcpus);
        for (LocalApic apic : vm.apics) {
            apic.regWrite(ApicRegs.SPIV, ApicRegs.SPIV_APIC_ENABLED | 0xFF);
        }
        vm.resetCounters();
        return vm;
    }

    LocalApic apic(int i) {
        return apics[i];
    }

    FakeLapicHost host(int i) {
        return hosts[i];
    }

    long page(int i) {
        return apics[i].regsPagePa();
    }

    void resetCounters() {
        for (FakeLapicHost h : hosts) {
            h.kicks = 0;
            h.mapChanges = 0;
            h.armCount = 0;
            h.cancelCount = 0;
        }
    }

    /** Reads ESR the way software must: write it (latching the errors), then read. */
    static int latchAndReadEsr(LocalApic apic) {
        apic.regWrite(ApicRegs.ESR, 0);
        return apic.regRead(ApicRegs.ESR);
    }

    static ApicIrq fixed(int vector) {
        return new ApicIrq().set(vector, ApicRegs.DM_FIXED, false, true, false, 0, 0);
    }
}
