package dev.javic.hw;

/** Host software running on a core: where the core goes after a #VMEXIT and on a host-mode interrupt. */
public interface HostHandler {
    /** The core completed a #VMEXIT (the VMCB holds exit_code and EXITINFO) and is back in host mode. */
    void vmexit(SvmCore core);

    /** A physical interrupt was taken in host mode with interrupts enabled. */
    void interrupt(SvmCore core, int vector);
}
