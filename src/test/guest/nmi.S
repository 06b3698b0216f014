/*
 * nmi: NMIs through the ICR (delivery mode NMI), taken with IF clear.
 * - The BSP sends itself an NMI with IF clear (shorthand self): it must be taken at once (an NMI ignores IF).
 * - Each AP waits with IF clear, odd APIC IDs spinning (inside KVM_RUN: the VMM must kick them out and inject
 *   with KVM_NMI), even ones halted in HLT (the VMM must wake them); the BSP sends each an NMI by physical ID.
 * Every CPU takes exactly one NMI: the handler returns without IRET (intr_return, see lib.inc), so the CPU
 * stays NMI-blocked afterwards, as it would inside an NMI handler.
 * Serial: "nmi: N vCPUs ...", then PASS or FAIL: why.
 */
        .include "lib.inc"
        .include "smp.inc"
        .set ICR_NMI, 0x400
        .set WAIT, 50000000

        .text
test_main:
        mov $msg_hello, %esi
        call puts
        call cpu_count
        mov %eax, ncpus
        cmpl $MAX_CPUS, ncpus
        ja too_many
        mov $2, %ecx
        mov $nmi_handler, %eax
        call set_gate
        movl $0x1FF, APIC_SPIV

        /* self NMI with IF clear */
        movl $0, APIC_ICR2
        movl $(ICR_NMI | (1 << 18)), APIC_ICR
        mov $WAIT, %ecx
1:      cmpl $1, nmis
        je 2f
        pause
        loop 1b
        mov $msg_self, %esi
        jmp fail_with
2:      mov ncpus, %ecx
        dec %ecx
        jz done
        call start_aps
        mov $1, %ebx
next_ap:
        mov $WAIT, %ecx
1:      cmpl $1, ready(,%ebx,4)
        je 2f
        pause
        loop 1b
        mov $msg_ready, %esi
        jmp fail_with
2:      mov $100000, %ecx                   /* let a halting AP reach HLT */
3:      pause
        loop 3b
        mov %ebx, %eax
        shl $24, %eax
        mov %eax, APIC_ICR2
        movl $ICR_NMI, APIC_ICR
        mov $WAIT, %ecx
4:      cmpl $1, taken(,%ebx,4)
        je 5f
        pause
        loop 4b
        mov $msg_ap, %esi
        jmp fail_with
5:      inc %ebx
        cmp ncpus, %ebx
        jne next_ap
done:
        mov ncpus, %eax
        cmp nmis, %eax
        jne extra
        mov ncpus, %eax
        call putdec
        mov $msg_ok, %esi
        call puts
        ret

ap_main:
        mov %eax, %ebx
        movl $0x1FF, APIC_SPIV
        movl $1, ready(,%ebx,4)
        test $1, %ebx
        jz 2f
1:      cmpl $1, taken(,%ebx,4)             /* spin, IF clear */
        jne 1b
        ret
2:      hlt                                 /* halt, IF clear: only the NMI wakes it */
        cmpl $1, taken(,%ebx,4)
        jne 2b
        ret

nmi_handler:
        push %eax
        mov APIC_ID, %eax
        shr $24, %eax
        lock incl taken(,%eax,4)
        lock incl nmis
        pop %eax
        intr_return

too_many:       mov $msg_too_many, %esi
                jmp fail_with
extra:          mov $msg_extra, %esi
                jmp fail_with

        .section .rodata
msg_hello:      .asciz "nmi: "
msg_ok:         .asciz " vCPUs each took one NMI with IF clear (self, spinning and halted targets)\n"
msg_self:       .asciz "self NMI not taken with IF clear"
msg_ready:      .asciz "an AP did not get ready"
msg_ap:         .asciz "an AP did not take its NMI"
msg_extra:      .asciz "NMI count differs from the number of CPUs"
msg_too_many:   .asciz "more CPUs than the image supports"

        .data
ncpus:          .long 0
nmis:           .long 0
ready:          .fill MAX_CPUS, 4, 0
taken:          .fill MAX_CPUS, 4, 0
