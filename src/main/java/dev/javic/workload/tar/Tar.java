package dev.javic.workload.tar;

import dev.javic.guest.kernel.Action;
import dev.javic.guest.kernel.Kernel;
import dev.javic.guest.kernel.TaskProgram;

import java.util.SplittableRandom;

/**
 * {@code tar xf linux-4.3.3.tar.xz} in a guest (docs/tar.md): GNU tar forks {@code xz -d}, which decompresses
 * (CPU-bound, at costs.md's xz rate) and writes the tar stream to a pipe in 8 KiB writes (xz's IO_BUFFER_SIZE,
 * src/xz/file_io.h); tar reads it in 10 KiB records (the default blocking factor, 20 x 512 bytes) and, per
 * member, parses the header, then mkdir, or open(O_CREAT) + one write per stretch of the file's data in the
 * current record + close and utime. The page cache's dirty data goes to a virtio-blk disk through the
 * writeback flusher (background writeback once the dirty data passes dirty_background_ratio = 10 % of RAM,
 * 4 MiB at a time) and jbd2 commits the metadata every 5 s. Timed: tar's start to tar's exit, after it has
 * reaped xz ({@code time tar xf}).
 *
 * <p>The tree is modelled by its file count, directory count and bytes of file data (mean size per file,
 * the remainder spread one byte each over the first files; directories evenly among the files, the top one
 * first). Nothing is random but the start's phase against the tick and which CPUs the threads start on.
 */
public final class Tar {
    public static final int NOTE_START = 1;
    public static final int NOTE_END = 2;
    /** xz's IO_BUFFER_SIZE: the size of each write to the pipe. */
    public static final int XZ_WRITE = 8192;
    /** tar's record: the default blocking factor 20 x 512-byte blocks. */
    public static final int RECORD = 10240;
    public static final int BLOCK = 512;
    /** virtio-blk's request queue vector: the first MSI-X vector the 4.5 allocator hands out. */
    public static final int VIRTIO_BLK_VECTOR = 0x41;
    /** Legacy virtio-pci: the disk's I/O BAR at 0xC000 (QEMU's first), VIRTIO_PCI_QUEUE_NOTIFY at +16. */
    public static final int NOTIFY_PORT = 0xC000 + 16;
    /** QEMU 2.x virtio-blk: one virtqueue of 128 entries, seg_max = 128 - 2 segments per request. */
    public static final int QUEUE_SIZE = 128;
    public static final long MAX_REQUEST_BYTES = 126L * 4096;
    /** fs/fs-writeback.c MIN_WRITEBACK_PAGES: 4 MiB written per writeback chunk. */
    public static final long WRITEBACK_CHUNK = 4L << 20;
    /**
     * Journal bytes per created inode (estimate): a 256-byte ext4 inode's share of its 4 KiB inode-table block,
     * its directory entry's share of a directory block (~32 of 4096 bytes) and bitmap / group descriptor shares:
     * about 320 bytes.
     */
    public static final long JOURNAL_BYTES_PER_INODE = 320;
    /** jbd2's commit interval (JBD2_DEFAULT_MAX_COMMIT_AGE, ext4's commit=5). */
    public static final long COMMIT_INTERVAL_NS = 5_000_000_000L;
    /** Longest seeded start delay: one tick period at HZ=250. */
    private static final long MAX_START_DELAY_NS = 4_000_000;

    /**
     * The tarball and the guest.
     *
     * @param files          regular files in the tree
     * @param dirs           directories
     * @param fileBytes      bytes of file data
     * @param guestRamBytes  the guest's memory (sets the writeback thresholds)
     * @param fraction       the fraction of the full tarball these counts are (1 for the real one)
     */
    public record Params(long files, long dirs, long fileBytes, long guestRamBytes, double fraction) {
        public Params {
            if (files < 1 || dirs < 1 || fileBytes < 0 || guestRamBytes < 1 || !(fraction > 0) || fraction > 1) {
                throw new IllegalArgumentException("files, dirs and RAM must be positive, bytes not negative, fraction in (0, 1]");
            }
        }

        /**
         * linux-4.3.3.tar.xz, all three counts *estimates* (docs/tar.md): 51,600 files (57,202 files in the
         * 4.10-rc1 tree, Dec 2016, shrunk by the tree's 2016 growth rate of 9.4 %/year over the 13.8 months back
         * to 4.3), 3,400 directories (one per ~15 files), 610 MB of data (~20.6 M lines of ~29.5 bytes).
         * RAM: 4 GiB (estimate; the series does not say), enough that tar is never throttled (dirty_ratio 20 %).
         */
        public static final Params LINUX_4_3_3 = new Params(51_600, 3_400, 610_000_000L, 4L << 30, 1.0);

        /** The same tree scaled to {@code f} of its files, directories and bytes, in a guest with {@code f} of the RAM. */
        public Params scaled(double f) {
            if (!(f > 0) || f > 1) {
                throw new IllegalArgumentException("the fraction must be in (0, 1]: " + f);
            }
            return new Params(Math.max(1, Math.round(files * f)), Math.max(1, Math.round(dirs * f)),
                    Math.round(fileBytes * f), Math.max(1, Math.round(guestRamBytes * f)), fraction * f);
        }

        long fileSize(long i) {
            return fileBytes / files + (i < fileBytes % files ? 1 : 0);
        }

        /** The tar stream xz writes: a header per member, data padded to blocks, two zero blocks, padded to a record. */
        public long archiveBytes() {
            long base = fileBytes / files;
            long rem = fileBytes % files;
            long data = (files - rem) * padded(base) + rem * padded(base + 1);
            long raw = (files + dirs) * BLOCK + data + 2L * BLOCK;
            return (raw + RECORD - 1) / RECORD * RECORD;
        }

        /** dirty_background_ratio (10 %) of the guest's memory, taken as all dirtyable. */
        public long backgroundThreshold() {
            return guestRamBytes / 10;
        }

        static long padded(long size) {
            return (size + BLOCK - 1) / BLOCK * BLOCK;
        }
    }

    private final Params params;
    private long start = -1;
    private long end = -1;
    private Runnable onEnd = () -> { };
    private int tarTask = -1;
    private int xzTask = -1;

    public Tar(Params params) {
        this.params = params;
    }

    public Params params() {
        return params;
    }

    public void onEnd(Runnable r) {
        this.onEnd = r;
    }

    /** Creates the pipe, tar, xz, the flusher and jbd2 in {@code k}, which has a block device attached. */
    public void install(Kernel k, long xzCyclesPerKib, long tarUserPerMember, long tscHz, SplittableRandom rng) {
        int cpus = k.cpuCount();
        if (k.blockLayer() == null) {
            throw new IllegalStateException("tar needs the virtio-blk disk attached");
        }
        long delay = 1 + rng.nextLong(MAX_START_DELAY_NS * (tscHz / 1_000_000) / 1000);
        int pipe = k.createStreamPipe();
        int xzCpu = cpus == 1 ? 0 : 1 + rng.nextInt(cpus - 1);
        int flusherCpu = rng.nextInt(cpus);
        int jbd2Cpu = rng.nextInt(cpus);
        k.setListener(new Kernel.Listener() {
            @Override
            public void note(int id, long time) {
                if (id == NOTE_START) {
                    start = time;
                } else if (id == NOTE_END) {
                    end = time;
                }
            }

            @Override
            public void exited(int task, long time) {
                if (task == tarTask) {
                    onEnd.run();
                }
            }
        });
        int firstTask = k.taskCount();
        tarTask = k.createRunnableTask("tar", new TarProgram(params, pipe, firstTask + 1, delay, tarUserPerMember), 0, -1);
        xzTask = k.createRunnableTask("xz", new XzProgram(params.archiveBytes(), pipe, delay, xzCyclesPerKib), xzCpu, tarTask);
        k.setReader(pipe, tarTask);
        int perChunk = (int) ((WRITEBACK_CHUNK + MAX_REQUEST_BYTES - 1) / MAX_REQUEST_BYTES);
        // 4.5 runs writeback as work items of the unbound bdi_wq on a kworker (older kernels' flush-MAJ:MIN thread).
        k.createRunnableTask("kworker/u8:1", new FlusherProgram(params.backgroundThreshold() + WRITEBACK_CHUNK,
                WRITEBACK_CHUNK, QUEUE_SIZE - perChunk), flusherCpu, -1);
        k.createRunnableTask("jbd2/vda1-8", new Jbd2Program(COMMIT_INTERVAL_NS * (tscHz / 1_000_000) / 1000), jbd2Cpu, -1);
    }

    public boolean finished() {
        return end >= 0;
    }

    /** tar's run time in cycles (start to its exit after reaping xz), or -1. */
    public long elapsedCycles() {
        return finished() ? end - start : -1;
    }

    public int tarTask() {
        return tarTask;
    }

    public int xzTask() {
        return xzTask;
    }

    // ---- the programs ---------------------------------------------------------------------------------------

    /** xz -d: decompress 8 KiB, write it to the pipe (one write(2), a page at a time), until the stream is out. */
    static final class XzProgram implements TaskProgram {
        private static final int UNITS_PER_WRITE = XZ_WRITE / Kernel.STREAM_UNIT;
        private final long units;
        private final int pipe;
        private final long delay;
        private final long cyclesPerKib;
        private long unit;
        /** Units of the current write: its size, and how many are still to go. */
        private int writeUnits;
        private int left;
        private boolean started;

        XzProgram(long archiveBytes, int pipe, long delay, long cyclesPerKib) {
            this.units = archiveBytes / Kernel.STREAM_UNIT;
            this.pipe = pipe;
            this.delay = delay;
            this.cyclesPerKib = cyclesPerKib;
        }

        @Override
        public long nextAction() {
            if (!started) {
                started = true;
                return Action.compute(delay);
            }
            if (left > 0) {
                boolean first = left == writeUnits;
                left--;
                unit++;
                return first ? Action.write(pipe) : Action.writeMore(pipe);
            }
            if (unit >= units) {
                return Action.exit();
            }
            writeUnits = (int) Math.min(UNITS_PER_WRITE, units - unit);
            left = writeUnits;
            return Action.compute((long) writeUnits * Kernel.STREAM_UNIT / 1024 * cyclesPerKib);
        }
    }

    /**
     * GNU tar extracting: per member a header block, then mkdir, or open + a write per stretch of the data in
     * the current record + close/utime; a 10 KiB record is read (one read(2), a page at a time) whenever the
     * record buffer runs out; at the end, the two zero blocks, waitpid for xz, the end time, exit.
     */
    static final class TarProgram implements TaskProgram {
        private static final int UNITS_PER_RECORD = RECORD / Kernel.STREAM_UNIT;
        private final Params p;
        private final int pipe;
        private final int xz;
        private final long delay;
        private final long userPerMember;
        private final long[] queue = new long[8];
        private int qHead;
        private int qCount;
        private int step;
        private long file;
        private long dir;
        /** Bytes left in the record buffer. */
        private long avail;
        /** Of the current file: data bytes still to write, padded bytes still to consume. */
        private long dataLeft;
        private long paddedLeft;
        private int endBlocks;

        TarProgram(Params p, int pipe, int xz, long delay, long userPerMember) {
            this.p = p;
            this.pipe = pipe;
            this.xz = xz;
            this.delay = delay;
            this.userPerMember = userPerMember;
        }

        private void push(long a) {
            queue[(qHead + qCount++) & 7] = a;
        }

        private long pop() {
            long a = queue[qHead];
            qHead = (qHead + 1) & 7;
            qCount--;
            return a;
        }

        /** A read(2) of one record: the first unit enters the system call, the others continue it. */
        private void readRecord() {
            push(Action.read(pipe));
            for (int i = 1; i < UNITS_PER_RECORD; i++) {
                push(Action.readMore(pipe));
            }
            avail += RECORD;
        }

        /** Consumes one 512-byte block, reading a record first when the buffer is empty. */
        private void block() {
            if (avail == 0) {
                readRecord();
            }
            avail -= BLOCK;
        }

        private static final int S_DELAY = 0;
        private static final int S_START = 1;
        private static final int S_MEMBER = 2;
        private static final int S_DATA = 3;
        private static final int S_END = 4;
        private static final int S_WAIT = 5;
        private static final int S_NOTE = 6;
        private static final int S_EXIT = 7;

        @Override
        public long nextAction() {
            while (qCount == 0) {
                fill();
            }
            return pop();
        }

        private void fill() {
            switch (step) {
                case S_DELAY -> {
                    push(Action.compute(delay));
                    step = S_START;
                }
                case S_START -> {
                    push(Action.note(NOTE_START));
                    step = S_MEMBER;
                }
                case S_MEMBER -> {
                    boolean moreFiles = file < p.files();
                    boolean moreDirs = dir < p.dirs();
                    if (!moreFiles && !moreDirs) {
                        step = S_END;
                        return;
                    }
                    block(); // the header
                    push(Action.compute(userPerMember));
                    if (moreDirs && (!moreFiles || dir * p.files() <= file * p.dirs())) {
                        dir++;
                        push(Action.fs(Action.FS_MKDIR, 0));
                        return;
                    }
                    long size = p.fileSize(file++);
                    push(Action.fs(Action.FS_CREATE, 0));
                    dataLeft = size;
                    paddedLeft = Params.padded(size);
                    step = S_DATA;
                }
                case S_DATA -> {
                    if (paddedLeft == 0) {
                        push(Action.fs(Action.FS_CLOSE, 0));
                        step = S_MEMBER;
                        return;
                    }
                    if (avail == 0) {
                        readRecord();
                    }
                    long take = Math.min(avail, paddedLeft);
                    long w = Math.min(take, dataLeft);
                    avail -= take;
                    paddedLeft -= take;
                    dataLeft -= w;
                    if (w > 0) {
                        push(Action.fs(Action.FS_WRITE, w));
                    }
                }
                case S_END -> {
                    block();
                    if (++endBlocks == 2) {
                        step = S_WAIT;
                    }
                }
                case S_WAIT -> {
                    push(Action.waitChild(xz));
                    step = S_NOTE;
                }
                case S_NOTE -> {
                    push(Action.note(NOTE_END));
                    step = S_EXIT;
                }
                default -> push(Action.exit());
            }
        }
    }

    /** The writeback flusher: wait for dirty data past the background threshold, write a chunk, respect the queue depth. */
    static final class FlusherProgram implements TaskProgram {
        private final long wakeAt;
        private final long chunk;
        private final int maxInFlight;
        private int step;

        FlusherProgram(long wakeAt, long chunk, int maxInFlight) {
            this.wakeAt = wakeAt;
            this.chunk = chunk;
            this.maxInFlight = maxInFlight;
        }

        @Override
        public long nextAction() {
            int s = step;
            step = (step + 1) % 3;
            return switch (s) {
                case 0 -> Action.waitDirty(wakeAt);
                case 1 -> Action.submitIo(chunk);
                default -> Action.waitIo(maxInFlight);
            };
        }
    }

    /** jbd2: every commit interval, write the journal's dirty metadata and wait for it. */
    static final class Jbd2Program implements TaskProgram {
        private final long interval;
        private int step;

        Jbd2Program(long interval) {
            this.interval = interval;
        }

        @Override
        public long nextAction() {
            int s = step;
            step = (step + 1) % 3;
            return switch (s) {
                case 0 -> Action.sleep(interval);
                case 1 -> Action.submitIo(0);
                default -> Action.waitIo(0);
            };
        }
    }
}
