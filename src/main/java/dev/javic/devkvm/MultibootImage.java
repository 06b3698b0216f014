package dev.javic.devkvm;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A Multiboot (version 0.6.96, "Multiboot v1") kernel in a 32-bit ELF file: the Multiboot header found in
 * the first 8192 bytes, the PT_LOAD program headers and the entry point. {@link #parse} checks everything a
 * boot loader must check and throws {@link BadImageException} with one line saying what is wrong; {@link #load}
 * copies the segments into guest RAM and builds the Multiboot information structure.
 */
public final class MultibootImage {
    /** Multiboot header magic (spec §3.1.2). */
    public static final int HEADER_MAGIC = 0x1BADB002;
    /** What EAX holds when the kernel is entered (spec §3.2). */
    public static final int BOOTLOADER_MAGIC = 0x2BADB002;
    /** The header must lie entirely within the first 8192 bytes, 32-bit aligned. */
    public static final int HEADER_SEARCH = 8192;
    /** Header flags bits 0..15 that javic satisfies: 0 (page-align modules; there are none) and 1 (memory info). */
    static final int SUPPORTED_REQUIRED_FLAGS = 0x3;

    // ELF32 (System V ABI, i386 supplement).
    private static final int EI_CLASS = 4;
    private static final int EI_DATA = 5;
    private static final int ELFCLASS32 = 1;
    private static final int ELFDATA2LSB = 1;
    private static final int ET_EXEC = 2;
    private static final int EM_386 = 3;
    private static final int PT_LOAD = 1;
    private static final int ELF32_PHDR_SIZE = 32;

    /** A PT_LOAD segment: {@code fileSize} bytes from {@code fileOffset} to {@code paddr}, zero-filled to {@code memSize}. */
    public record Segment(long paddr, long fileOffset, long fileSize, long memSize) {
    }

    /** One line that says why an image cannot be booted (exit status 2). */
    public static final class BadImageException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public BadImageException(String message) {
            super(message);
        }
    }

    private final String name;
    private final byte[] bytes;
    private final int headerFlags;
    private final long entry;
    private final List<Segment> segments;

    private MultibootImage(String name, byte[] bytes, int headerFlags, long entry, List<Segment> segments) {
        this.name = name;
        this.bytes = bytes;
        this.headerFlags = headerFlags;
        this.entry = entry;
        this.segments = segments;
    }

    public long entry() {
        return entry;
    }

    public int headerFlags() {
        return headerFlags;
    }

    public List<Segment> segments() {
        return segments;
    }

    /** Parses and checks {@code bytes} (named {@code name} in messages) for a guest with {@code ramBytes} of RAM. */
    public static MultibootImage parse(String name, byte[] bytes, long ramBytes) {
        if (bytes.length < 52 || bytes[0] != 0x7F || bytes[1] != 'E' || bytes[2] != 'L' || bytes[3] != 'F') {
            throw new BadImageException(name + " is not an ELF file (javic boots Multiboot v1 ELF images)");
        }
        if (bytes[EI_CLASS] != ELFCLASS32 || bytes[EI_DATA] != ELFDATA2LSB) {
            throw new BadImageException(name + " is not a 32-bit little-endian ELF file (Multiboot v1 needs ELF32 for i386)");
        }
        if (bytes.length > ramBytes) {
            throw new BadImageException(name + " (" + bytes.length + " bytes) is larger than guest memory ("
                    + ramBytes + " bytes); raise --memory");
        }
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        int headerAt = findHeader(b);
        if (headerAt < 0) {
            throw new BadImageException(name + " has no Multiboot header (magic 0x1BADB002 with a valid checksum, "
                    + "32-bit aligned in the first 8192 bytes)");
        }
        int flags = b.getInt(headerAt + 4);
        int unsupported = flags & 0xFFFF & ~SUPPORTED_REQUIRED_FLAGS;
        if (unsupported != 0) {
            throw new BadImageException(name + "'s Multiboot header requires features javic does not provide (flags 0x"
                    + Integer.toHexString(unsupported) + "; bit 2 is a video mode)");
        }
        int type = Short.toUnsignedInt(b.getShort(16));
        int machine = Short.toUnsignedInt(b.getShort(18));
        if (type != ET_EXEC || machine != EM_386) {
            throw new BadImageException(name + " is not an i386 executable (ELF type " + type + ", machine " + machine + ")");
        }
        long entry = Integer.toUnsignedLong(b.getInt(24));
        long phoff = Integer.toUnsignedLong(b.getInt(28));
        int phentsize = Short.toUnsignedInt(b.getShort(42));
        int phnum = Short.toUnsignedInt(b.getShort(44));
        if (phentsize < ELF32_PHDR_SIZE || phnum == 0 || phoff + (long) phentsize * phnum > bytes.length) {
            throw new BadImageException(name + " has no valid program headers");
        }
        List<Segment> segments = new ArrayList<>();
        for (int i = 0; i < phnum; i++) {
            int ph = (int) (phoff + (long) i * phentsize);
            if (b.getInt(ph) != PT_LOAD) {
                continue;
            }
            long offset = Integer.toUnsignedLong(b.getInt(ph + 4));
            long paddr = Integer.toUnsignedLong(b.getInt(ph + 12));
            long filesz = Integer.toUnsignedLong(b.getInt(ph + 16));
            long memsz = Integer.toUnsignedLong(b.getInt(ph + 20));
            if (memsz == 0) {
                continue;
            }
            if (filesz > memsz || offset + filesz > bytes.length) {
                throw new BadImageException(name + ": segment " + i + " has more file bytes than fit in the file or in memory");
            }
            if (paddr + memsz > ramBytes) {
                throw new BadImageException(String.format(
                        "%s: segment %d at 0x%x-0x%x lies outside guest RAM (0-0x%x); raise --memory or relink the image",
                        name, i, paddr, paddr + memsz - 1, ramBytes - 1));
            }
            segments.add(new Segment(paddr, offset, filesz, memsz));
        }
        if (segments.isEmpty()) {
            throw new BadImageException(name + " has no loadable segment");
        }
        boolean entryInside = segments.stream().anyMatch(s -> entry >= s.paddr() && entry < s.paddr() + s.memSize());
        if (!entryInside) {
            throw new BadImageException(String.format("%s: entry point 0x%x is in no loaded segment", name, entry));
        }
        return new MultibootImage(name, bytes, flags, entry, List.copyOf(segments));
    }

    private static int findHeader(ByteBuffer b) {
        int limit = Math.min(b.capacity(), HEADER_SEARCH) - 12;
        for (int at = 0; at <= limit; at += 4) {
            int magic = b.getInt(at);
            if (magic == HEADER_MAGIC && magic + b.getInt(at + 4) + b.getInt(at + 8) == 0) {
                return at;
            }
        }
        return -1;
    }

    /** End of the highest loaded byte. */
    public long end() {
        return segments.stream().mapToLong(s -> s.paddr() + s.memSize()).max().orElse(0);
    }

    /** Guest physical memory as the loader sees it: bytes written at guest physical addresses. */
    public interface GuestRam {
        long size();

        void write(long gpa, byte[] src, int srcOffset, int length);

        void fill(long gpa, long length, byte value);

        void write32(long gpa, int value);
    }

    // Multiboot information structure (spec §3.3): offsets of the fields javic fills.
    static final int MBI_FLAGS = 0;
    static final int MBI_MEM_LOWER = 4;
    static final int MBI_MEM_UPPER = 8;
    static final int MBI_CMDLINE = 16;
    static final int MBI_MMAP_LENGTH = 44;
    static final int MBI_MMAP_ADDR = 48;
    static final int MBI_BOOT_LOADER_NAME = 64;
    static final int MBI_SIZE = 88;
    static final int MBI_FLAG_MEM = 1;
    static final int MBI_FLAG_CMDLINE = 1 << 2;
    static final int MBI_FLAG_MMAP = 1 << 6;
    static final int MBI_FLAG_LOADER_NAME = 1 << 9;
    /** The conventional 640 KiB of lower memory. */
    static final long LOWER_MEMORY_END = 0xA0000;
    static final long HIGH_MEMORY_START = 0x100000;

    /**
     * Copies the segments into {@code ram}, zero-fills their BSS, and writes the Multiboot information (mem_lower
     * / mem_upper, a memory map, the command line {@code cmdline} as a NUL-terminated string, the boot loader
     * name) on the first page after the image. Returns the information structure's address (the kernel's EBX).
     */
    public long load(GuestRam ram, String cmdline) {
        for (Segment s : segments) {
            ram.write(s.paddr(), bytes, (int) s.fileOffset(), (int) s.fileSize());
            if (s.memSize() > s.fileSize()) {
                ram.fill(s.paddr() + s.fileSize(), s.memSize() - s.fileSize(), (byte) 0);
            }
        }
        byte[] cmd = (name + (cmdline == null || cmdline.isEmpty() ? "" : " " + cmdline)).getBytes(StandardCharsets.UTF_8);
        byte[] loader = "javic".getBytes(StandardCharsets.US_ASCII);
        long mbi = (end() + 0xFFF) & ~0xFFFL;
        long mmap = mbi + MBI_SIZE;
        int mmapEntries = ram.size() > HIGH_MEMORY_START ? 2 : 1;
        long mmapLength = 24L * mmapEntries;
        long cmdAt = mmap + mmapLength;
        long loaderAt = cmdAt + cmd.length + 1;
        long infoEnd = loaderAt + loader.length + 1;
        if (infoEnd > ram.size()) {
            throw new BadImageException(name + ": no room after the image for the Multiboot information; raise --memory");
        }
        ram.fill(mbi, infoEnd - mbi, (byte) 0);
        ram.write32(mbi + MBI_FLAGS, MBI_FLAG_MEM | MBI_FLAG_CMDLINE | MBI_FLAG_MMAP | MBI_FLAG_LOADER_NAME);
        ram.write32(mbi + MBI_MEM_LOWER, (int) (Math.min(ram.size(), LOWER_MEMORY_END) / 1024));
        ram.write32(mbi + MBI_MEM_UPPER, (int) (Math.max(0, ram.size() - HIGH_MEMORY_START) / 1024));
        ram.write32(mbi + MBI_CMDLINE, (int) cmdAt);
        ram.write32(mbi + MBI_MMAP_LENGTH, (int) mmapLength);
        ram.write32(mbi + MBI_MMAP_ADDR, (int) mmap);
        ram.write32(mbi + MBI_BOOT_LOADER_NAME, (int) loaderAt);
        // Memory map entries: u32 size (20, not counting itself), u64 base, u64 length, u32 type (1 = RAM).
        writeMmapEntry(ram, mmap, 0, Math.min(ram.size(), LOWER_MEMORY_END));
        if (mmapEntries == 2) {
            writeMmapEntry(ram, mmap + 24, HIGH_MEMORY_START, ram.size() - HIGH_MEMORY_START);
        }
        ram.write(cmdAt, cmd, 0, cmd.length);
        ram.write(loaderAt, loader, 0, loader.length);
        return mbi;
    }

    private static void writeMmapEntry(GuestRam ram, long at, long base, long length) {
        ram.write32(at, 20);
        ram.write32(at + 4, (int) base);
        ram.write32(at + 8, (int) (base >>> 32));
        ram.write32(at + 12, (int) length);
        ram.write32(at + 16, (int) (length >>> 32));
        ram.write32(at + 20, 1);
    }
}
