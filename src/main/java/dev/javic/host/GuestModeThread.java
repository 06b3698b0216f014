package dev.javic.host;

/** A host thread that runs guests with VMRUN (a vCPU thread): it is told when its core exits. */
public abstract class GuestModeThread extends HostThread {
    protected GuestModeThread(String comm, int pid, int affinity) {
        super(comm, pid, affinity);
    }

    /** The core this thread executed VMRUN on completed a #VMEXIT. */
    protected abstract void vmexit();
}
