/*
 * ipi-dest: IPI destinations between vCPUs (fixed, edge), targets halted in HLT between tests.
 * - logical flat (DFR 0xFFFFFFFF, LDR = 1 << (24 + ID)): one IPI to the mask of every AP reaches each AP once;
 *   one to mask 1 reaches the BSP (itself).
 * - logical cluster (DFR 0x0FFFFFFF, LDR = cluster ID in 31:28 = APIC ID, member bit 0 in 27:24): an IPI to
 *   cluster n member bit 0 reaches vCPU n; one to cluster n member bit 1 (VECTOR_WRONG) reaches nobody, nor
 *   does one to physical ID N, which no APIC has.
 * - lowest priority (logical, every AP): exactly one AP takes it.
 * - shorthands: all including self, all excluding self; physical destination 0xFF (broadcast).
 * Between steps the BSP moves the APs on with an IPI by physical ID (VECTOR_STEP) that wakes them from HLT.
 * Serial: "ipi-dest: N vCPUs ...", then PASS or FAIL: why.
 */
        .include "lib.inc"
        .include "smp.inc"
        .set VECTOR, 0x70
        .set VECTOR_STEP, 0x71
        .set VECTOR_WRONG, 0x72
        .set VECTOR_LOWEST, 0x73
        .set LOWEST_PRIORITY, 1 << 8
        .set LOGICAL, 1 << 11
        .set ALL_INCLUDING_SELF, 2 << 18
        .set ALL_EXCLUDING_SELF, 3 << 18
        .set WAIT, 50000000

        .text
test_main:
        mov $msg_hello, %esi
        call puts
        call cpu_count
        mov %eax, ncpus
        call putdec
        mov $msg_vcpus, %esi
        call puts
        cmpl $8, ncpus                       /* flat logical IDs are 8 bits */
        ja too_many
        mov $VECTOR, %ecx
        mov $handler, %eax
        call set_gate
        mov $VECTOR_STEP, %ecx
        mov $step_handler, %eax
        call set_gate
        mov $VECTOR_WRONG, %ecx
        mov $wrong_handler, %eax
        call set_gate
        mov $VECTOR_LOWEST, %ecx
        mov $lowest_handler, %eax
        call set_gate
        movl $0x1FF, APIC_SPIV
        xor %eax, %eax
        call set_flat
        mov ncpus, %ecx
        dec %ecx
        jz 1f
        call start_aps
        mov $1, %eax
        call wait_acks

        /* ---- logical flat ---- */
1:      mov ncpus, %ecx
        mov $1, %eax
        shl %cl, %eax
        sub $2, %eax                        /* every AP: bits 1..N-1 */
        jz 2f
        shl $24, %eax
        mov %eax, APIC_ICR2
        movl $(VECTOR | LOGICAL), APIC_ICR
2:      movl $(1 << 24), APIC_ICR2          /* the BSP itself */
        movl $(VECTOR | LOGICAL), APIC_ICR
        mov $1, %eax
        mov $1, %edx
        call wait_counts
        mov $msg_flat, %esi
        call puts

        /* ---- lowest priority to every AP: exactly one takes it ---- */
        mov ncpus, %ecx
        mov $1, %eax
        shl %cl, %eax
        sub $2, %eax
        jz 2f
        shl $24, %eax
        mov %eax, APIC_ICR2
        movl $(VECTOR_LOWEST | LOWEST_PRIORITY | LOGICAL), APIC_ICR
        mov $WAIT, %ecx
1:      cmpl $1, lowest
        je 3f
        pause
        loop 1b
        mov $msg_lowest_none, %esi
        jmp fail_with
3:      mov $200000, %ecx
4:      pause
        loop 4b
        cmpl $1, lowest
        jne lowest_many
        mov $msg_lowest, %esi
        call puts
2:

        /* ---- logical cluster ---- */
        mov $2, %eax
        call next_step
        xor %eax, %eax
        call set_cluster
        xor %ebx, %ebx
3:      mov %ebx, %eax                      /* cluster EBX, member bit 1: nobody */
        shl $4, %eax
        or $2, %eax
        shl $24, %eax
        mov %eax, APIC_ICR2
        movl $(VECTOR_WRONG | LOGICAL), APIC_ICR
        mov %ebx, %eax                      /* cluster EBX, member bit 0: vCPU EBX */
        shl $4, %eax
        or $1, %eax
        shl $24, %eax
        mov %eax, APIC_ICR2
        movl $(VECTOR | LOGICAL), APIC_ICR
        inc %ebx
        cmp ncpus, %ebx
        jne 3b
        mov ncpus, %eax                     /* physical ID N: no such APIC, nobody takes it */
        shl $24, %eax
        mov %eax, APIC_ICR2
        movl $VECTOR_WRONG, APIC_ICR
        mov $2, %eax
        mov $2, %edx
        call wait_counts
        mov $msg_cluster, %esi
        call puts

        /* ---- broadcast ---- */
        movl $0, APIC_ICR2
        movl $(VECTOR | ALL_INCLUDING_SELF), APIC_ICR
        mov $3, %eax
        mov $3, %edx
        call wait_counts
        movl $(VECTOR | ALL_EXCLUDING_SELF), APIC_ICR
        mov $3, %eax
        mov $4, %edx
        call wait_counts
        movl $(0xFF << 24), APIC_ICR2
        movl $VECTOR, APIC_ICR
        mov $4, %eax
        mov $5, %edx
        call wait_counts
        mov $msg_broadcast, %esi
        call puts
        mov $99, %eax
        call next_step                      /* let the APs finish */
        ret

/* set_flat: EAX = APIC ID; flat model, LDR bit ID. */
set_flat:
        movl $0xFFFFFFFF, APIC_DFR
        mov %eax, %ecx
        mov $1, %eax
        shl %cl, %eax
        shl $24, %eax
        mov %eax, APIC_LDR
        ret

/* set_cluster: EAX = APIC ID; cluster model, cluster = ID, member bit 0. */
set_cluster:
        movl $0x0FFFFFFF, APIC_DFR
        shl $28, %eax
        or $(1 << 24), %eax
        mov %eax, APIC_LDR
        ret

/* next_step: EAX = step; tells every AP (IPI VECTOR_STEP by physical ID) and waits for their acks. */
next_step:
        mov %eax, step
        mov $1, %ebx
1:      cmp ncpus, %ebx
        jae 2f
        mov %ebx, %ecx
        shl $24, %ecx
        mov %ecx, APIC_ICR2
        movl $VECTOR_STEP, APIC_ICR
        inc %ebx
        jmp 1b
2:      cmp $99, %eax
        je 3f
        call wait_acks
3:      ret

/* wait_acks: EAX = step; waits (IF set, bounded) until every AP acked it. */
wait_acks:
        mov $1, %ebx
1:      cmp ncpus, %ebx
        jae 3f
        mov $WAIT, %ecx
2:      cmp ack(,%ebx,4), %eax
        je 4f
        pause
        loop 2b
        mov $msg_ack, %esi
        jmp fail_with
4:      inc %ebx
        jmp 1b
3:      ret

/* wait_counts: waits (IF set, bounded) until count[0] == EAX and count[AP] == EDX for every AP. */
wait_counts:
        mov $WAIT, %ecx
        sti
1:      cmp count, %eax
        jne 3f
        mov $1, %ebx
2:      cmp ncpus, %ebx
        jae 4f
        cmp count(,%ebx,4), %edx
        jne 3f
        inc %ebx
        jmp 2b
3:      pause
        loop 1b
        cli
        mov $msg_count, %esi
        jmp fail_with
4:      cli
        /* a little longer: nothing more may arrive */
        mov $200000, %ecx
        sti
5:      pause
        loop 5b
        cli
        cmp count, %eax
        jne 6f
        mov $1, %ebx
7:      cmp ncpus, %ebx
        jae 8f
        cmp count(,%ebx,4), %edx
        jne 6f
        inc %ebx
        jmp 7b
8:      ret
6:      mov $msg_extra, %esi
        jmp fail_with

/* AP: flat LDR, ack step 1, then sleep in HLT; on each new step reconfigure and ack. */
ap_main:
        mov %eax, %ebx
        movl $0x1FF, APIC_SPIV
        call set_flat
        mov %ebx, %eax
        movl $1, %edi                       /* EDI = step done */
        movl $1, ack(,%ebx,4)
1:      sti
        hlt
        cli
        cmp step, %edi
        je 1b
        mov step, %edi
        cmp $99, %edi
        je 2f
        cmp $2, %edi
        jne 3f
        mov %ebx, %eax
        call set_cluster
3:      mov %edi, ack(,%ebx,4)
        jmp 1b
2:      ret

handler:
        push %eax
        mov APIC_ID, %eax
        shr $24, %eax
        lock incl count(,%eax,4)
        movl $0, APIC_EOI
        pop %eax
        intr_return

lowest_handler:
        lock incl lowest
        movl $0, APIC_EOI
        intr_return

step_handler:
        movl $0, APIC_EOI
        intr_return

wrong_handler:
        mov $msg_wrong, %esi
        jmp fail_with

too_many:       mov $msg_too_many, %esi
                jmp fail_with
lowest_many:    mov $msg_lowest_many, %esi
                jmp fail_with

        .section .rodata
msg_hello:      .asciz "ipi-dest: "
msg_vcpus:      .asciz " vCPUs\n"
msg_flat:       .asciz "logical flat: each AP once by mask, the BSP by its own bit\n"
msg_cluster:    .asciz "logical cluster: each vCPU by cluster/member, a wrong member or an absent ID reaches nobody\n"
msg_broadcast:  .asciz "broadcast: all including self, all excluding self, physical 0xFF\n"
msg_lowest:     .asciz "lowest priority to every AP: taken by exactly one\n"
msg_lowest_none: .asciz "a lowest-priority IPI was taken by no AP"
msg_lowest_many: .asciz "a lowest-priority IPI was taken by more than one AP"
msg_ack:        .asciz "an AP did not take the next step"
msg_count:      .asciz "an IPI did not reach every destination"
msg_extra:      .asciz "an IPI reached a CPU it was not addressed to"
msg_wrong:      .asciz "an IPI reached a CPU it does not address (cluster member or absent physical ID)"
msg_too_many:   .asciz "more than 8 CPUs (flat logical IDs are 8 bits)"

        .data
ncpus:          .long 0
step:           .long 1
lowest:         .long 0
ack:            .fill MAX_CPUS, 4, 0
count:          .fill MAX_CPUS, 4, 0
