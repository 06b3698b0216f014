package dev.javic.guest.kernel;

import dev.javic.sim.Cost;
import dev.javic.sim.CostModel;

/**
 * Path lengths of the guest kernel's file, page-cache and block paths that tar exercises, in cycles, read once
 * from the cost model (each entry's source is in the preset).
 */
record FsCosts(long pipeCopyUnit, long create, long mkdir, long writeBase, long writePerPage, long closeUtime,
               long writebackPerPage, long submitRequest, long journalCommit, long blkIrq, long completeRequest,
               long endPage) {

    static FsCosts from(CostModel m) {
        return new FsCosts(m.get(Cost.GUEST_PIPE_COPY_UNIT), m.get(Cost.GUEST_FS_CREATE), m.get(Cost.GUEST_FS_MKDIR),
                m.get(Cost.GUEST_FS_WRITE), m.get(Cost.GUEST_FS_WRITE_PER_PAGE), m.get(Cost.GUEST_FS_CLOSE_UTIME),
                m.get(Cost.GUEST_WRITEBACK_PER_PAGE), m.get(Cost.GUEST_BLK_SUBMIT_REQUEST), m.get(Cost.GUEST_JBD2_COMMIT),
                m.get(Cost.GUEST_BLK_IRQ), m.get(Cost.GUEST_BLK_COMPLETE_REQUEST), m.get(Cost.GUEST_BLK_END_PAGE));
    }

    /** The kernel part of one {@link Action#FS} call. */
    long fs(long action) {
        return switch (Action.fsOp(action)) {
            case Action.FS_CREATE -> create;
            case Action.FS_MKDIR -> mkdir;
            case Action.FS_WRITE -> writeBase + pages(Action.fsBytes(action)) * writePerPage;
            case Action.FS_CLOSE -> closeUtime;
            default -> throw new IllegalArgumentException("unknown fs operation " + Action.fsOp(action));
        };
    }

    /** Writeback of {@code bytes} (0 = a journal commit): walking the dirty pages and building the requests. */
    long submit(long bytes, long maxRequest) {
        if (bytes == 0) {
            return journalCommit;
        }
        long requests = (bytes + maxRequest - 1) / maxRequest;
        return pages(bytes) * writebackPerPage + requests * submitRequest;
    }

    static long pages(long bytes) {
        return (bytes + Pipe.PAGE_SIZE - 1) / Pipe.PAGE_SIZE;
    }
}
