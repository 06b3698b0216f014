package dev.javic.kvm.lapic;

import java.util.ArrayList;
import java.util.List;

/** A LapicHost that records every call, with a hand-driven guest TSC (the fake clock). */
final class FakeLapicHost implements LapicHost {
    /** 2 GHz guest TSC: two ticks per nanosecond, so ns-to-TSC rounding is visible but exact. */
    long tscKhzPerMhz = 2000;
    long tsc = 1_000_000;

    long armedDeadline = -1;
    int armCount;
    int cancelCount;
    int kicks;
    int mapChanges;
    boolean postInterrupts;
    final List<Integer> posted = new ArrayList<>();
    /** Copies of the IPIs sent (the APIC reuses one ApicIrq). */
    final List<ApicIrq> ipis = new ArrayList<>();
    ApicIrq lastIpiInstance;
    /** When set, sendIpi delivers through IrqDelivery to these APICs. */
    LocalApic[] vm;
    int lastDeliveryResult;

    @Override
    public long guestTsc() {
        return tsc;
    }

    @Override
    public long tscKhzPerMhz() {
        return tscKhzPerMhz;
    }

    @Override
    public void armTimer(long deadlineTsc) {
        armedDeadline = deadlineTsc;
        armCount++;
    }

    @Override
    public void cancelTimer() {
        armedDeadline = -1;
        cancelCount++;
    }

    @Override
    public boolean deliverPostedInterrupt(int vector) {
        if (postInterrupts) {
            posted.add(vector);
        }
        return postInterrupts;
    }

    @Override
    public void requestEventAndKick() {
        kicks++;
    }

    @Override
    public void sendIpi(LocalApic source, ApicIrq irq) {
        lastIpiInstance = irq;
        ipis.add(new ApicIrq().set(irq.vector, irq.deliveryMode, irq.logicalDestination, irq.levelAssert,
                irq.levelTriggered, irq.shorthand, irq.destId));
        if (vm != null) {
            lastDeliveryResult = IrqDelivery.irqDeliveryToApic(source, irq, vm);
        }
    }

    @Override
    public void apicMapChanged(LocalApic apic) {
        mapChanges++;
    }

    void advanceNs(long ns) {
        tsc += ns * tscKhzPerMhz / 1000;
    }

    /** Moves the clock to the armed deadline and fires it, as the host's hrtimer would. */
    void fire(LocalApic apic) {
        if (armedDeadline < 0) {
            throw new AssertionError("no timer armed");
        }
        tsc = Math.max(tsc, armedDeadline);
        armedDeadline = -1;
        apic.timerExpired();
    }
}
