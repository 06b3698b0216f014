package dev.javic.experiment;

import dev.javic.kvm.KvmParams;
import dev.javic.kvm.KvmVariant;

import java.util.Arrays;
import java.util.stream.Collectors;

/** The three systems the series compares. */
public enum SystemKind {
    /** KVM before the AVIC series. */
    VANILLA("vanilla", KvmVariant.VANILLA, false),
    /** KVM with the series, kvm_amd.avic=0. */
    AVIC_OFF("avic-off", KvmVariant.AVIC_SERIES, false),
    /** KVM with the series, kvm_amd.avic=1. */
    AVIC_ON("avic-on", KvmVariant.AVIC_SERIES, true);

    private final String label;
    private final KvmVariant variant;
    private final boolean avicParam;

    SystemKind(String label, KvmVariant variant, boolean avicParam) {
        this.label = label;
        this.variant = variant;
        this.avicParam = avicParam;
    }

    public String label() {
        return label;
    }

    public KvmVariant variant() {
        return variant;
    }

    public KvmParams params() {
        return KvmParams.defaults().withAvic(avicParam);
    }

    public static SystemKind parse(String s) {
        for (SystemKind k : values()) {
            if (k.label.equalsIgnoreCase(s) || k.name().equalsIgnoreCase(s)) {
                return k;
            }
        }
        throw new IllegalArgumentException("unknown system '" + s + "' (choose one of: " + labels() + ")");
    }

    public static String labels() {
        return Arrays.stream(values()).map(SystemKind::label).collect(Collectors.joining(", "));
    }

    @Override
    public String toString() {
        return label;
    }
}
