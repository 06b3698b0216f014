/*
 * smp-ipi: every vCPU the machine has (fw_cfg FW_CFG_NB_CPUS) comes up and gets IPIs.
 * - The BSP starts the APs with INIT + SIPI (smp.inc); each CPU checks that CPUID leaf 1 EBX[31:24] and leaf
 *   0xB EDX (when present) equal its xAPIC ID register, and that the IDs are 0..N-1, each once.
 * - For each AP in turn, the BSP sends a fixed IPI (physical destination) while the AP spins with IF set (it
 *   is inside KVM_RUN: the VMM must kick it out to inject), then a second one once the AP has gone to sleep in
 *   HLT (the VMM must wake it). The handler counts per APIC ID, EOIs and returns with intr_return.
 * Serial: "smp-ipi: N vCPUs", then "PASS" or "FAIL: why"; exit status 1 on pass, 3 on fail.
 */
        .include "lib.inc"
        .include "smp.inc"
        .set VECTOR, 0x41
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
        cmpl $MAX_CPUS, ncpus
        ja too_many
        mov $VECTOR, %ecx
        mov $handler, %eax
        call set_gate
        mov APIC_ID, %eax
        shr $24, %eax
        test %eax, %eax
        jnz bsp_not_0
        call check_identity
        movl $0x1FF, APIC_SPIV

        mov ncpus, %ecx
        dec %ecx
        jz all_done
        call start_aps

        mov $1, %ebx                        /* EBX = the AP under test (APIC ID) */
next_ap:
        mov $1, %eax
        call wait_state
        call send_ipi
        mov $1, %eax
        call wait_count
        mov $2, %eax
        call wait_state
        mov $100000, %ecx                   /* give it time to reach HLT (the verdict does not depend on it) */
1:      pause
        loop 1b
        call send_ipi
        mov $2, %eax
        call wait_count
        mov $3, %eax
        call wait_state
        inc %ebx
        cmp ncpus, %ebx
        jne next_ap

all_done:
        /* every APIC ID 0..N-1 seen once: seen == (1 << N) - 1 */
        mov ncpus, %ecx
        mov $1, %eax
        shl %cl, %eax
        dec %eax
        cmp seen, %eax
        jne ids_wrong
        mov $msg_ok, %esi
        call puts
        ret

/* send_ipi: fixed IPI VECTOR to physical APIC ID EBX. */
send_ipi:
        mov %ebx, %eax
        shl $24, %eax
        mov %eax, APIC_ICR2
        movl $VECTOR, APIC_ICR
        ret

/* wait_state: waits (bounded) until state[EBX] == EAX. */
wait_state:
        mov $WAIT, %ecx
1:      cmp state(,%ebx,4), %eax
        je 2f
        pause
        loop 1b
        mov $msg_state, %esi
        jmp fail_with
2:      ret

/* wait_count: waits (bounded) until count[EBX] == EAX. */
wait_count:
        mov $WAIT, %ecx
1:      cmp count(,%ebx,4), %eax
        je 2f
        pause
        loop 1b
        mov $msg_not_taken, %esi
        jmp fail_with
2:      ret

/* check_identity: EAX = this CPU's xAPIC ID; fails unless CPUID agrees; records the ID in `seen`. */
check_identity:
        push %ebx
        mov %eax, %edi
        lock bts %edi, seen
        jc 9f
        mov $1, %eax
        cpuid
        shr $24, %ebx
        cmp %edi, %ebx
        jne 8f
        xor %eax, %eax
        cpuid
        cmp $0xB, %eax
        jb 1f
        mov $0xB, %eax
        xor %ecx, %ecx
        cpuid
        cmp %edi, %edx
        jne 8f
1:      pop %ebx
        ret
8:      mov $msg_cpuid, %esi
        jmp fail_with
9:      mov $msg_twice, %esi
        jmp fail_with

/* Each AP: identity, APIC on, then wait for the first IPI spinning with IF set, the second one in HLT. */
ap_main:
        mov %eax, %ebx
        call check_identity
        movl $0x1FF, APIC_SPIV
        movl $1, state(,%ebx,4)
        sti
1:      cmpl $1, count(,%ebx,4)
        jne 1b
        cli
        movl $2, state(,%ebx,4)
2:      sti
        hlt
        cli
        cmpl $2, count(,%ebx,4)
        jne 2b
        movl $3, state(,%ebx,4)
        ret

handler:
        push %eax
        mov APIC_ID, %eax
        shr $24, %eax
        lock incl count(,%eax,4)
        movl $0, APIC_EOI
        pop %eax
        intr_return

too_many:       mov $msg_too_many, %esi
                jmp fail_with
bsp_not_0:      mov $msg_bsp, %esi
                jmp fail_with
ids_wrong:      mov $msg_ids, %esi
                jmp fail_with

        .section .rodata
msg_hello:      .asciz "smp-ipi: "
msg_vcpus:      .asciz " vCPUs\n"
msg_ok:         .asciz "every vCPU started by INIT/SIPI with its CPUID APIC ID; IPIs to spinning and halted vCPUs taken\n"
msg_too_many:   .asciz "more CPUs than the image supports"
msg_bsp:        .asciz "the BSP's APIC ID is not 0"
msg_ids:        .asciz "the APIC IDs are not 0..N-1"
msg_state:      .asciz "an AP did not reach the next step"
msg_not_taken:  .asciz "an IPI was not taken by its target"
msg_cpuid:      .asciz "CPUID APIC ID (leaf 1 EBX[31:24] or leaf 0xB EDX) differs from the APIC ID register"
msg_twice:      .asciz "two CPUs have the same APIC ID"

        .data
ncpus:          .long 0
seen:           .long 0
state:          .fill MAX_CPUS, 4, 0
count:          .fill MAX_CPUS, 4, 0
