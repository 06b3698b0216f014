package dev.javic.kvm;

/**
 * Module parameters of kvm / kvm_amd, as {@code modprobe kvm_amd avic=1} would set them.
 *
 * @param avic         kvm_amd.avic: use AVIC when the CPU has it (default off, as in the series)
 * @param npt          kvm_amd.npt: nested paging (AVIC requires it)
 * @param pauseFilterCount kvm_amd.pause_filter_count: PAUSEs before a PAUSE exit (svm.c: 3000)
 */
public record KvmParams(boolean avic, boolean npt, int pauseFilterCount) {
    public static KvmParams defaults() {
        return new KvmParams(false, true, 3000);
    }

    public KvmParams withAvic(boolean on) {
        return new KvmParams(on, npt, pauseFilterCount);
    }
}
