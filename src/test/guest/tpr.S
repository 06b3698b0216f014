/*
 * tpr: TPR masking of IPIs from another vCPU (2 or more vCPUs).
 * Each AP raises its TPR to 0x80 and sleeps in HLT with IF set. The BSP sends it vector 0x70 (class 7, masked:
 * it must stay in the AP's IRR and must not wake it to take it), then vector 0x90 (class 9, above the TPR: it
 * wakes the AP, whose handler sees 0x70 still pending in IRR). The AP then lowers its TPR to 0 and takes 0x70.
 * Order per AP: 0x90, then 0x70. Serial: "tpr: N vCPUs ...", then PASS or FAIL: why.
 */
        .include "lib.inc"
        .include "smp.inc"
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
        cmpl $2, ncpus
        jb one_cpu
        mov $0x70, %ecx
        mov $h70, %eax
        call set_gate
        mov $0x90, %ecx
        mov $h90, %eax
        call set_gate
        movl $0x1FF, APIC_SPIV
        mov ncpus, %ecx
        dec %ecx
        call start_aps
        mov $1, %ebx
next_ap:
        mov $WAIT, %ecx
1:      cmpl $1, ready(,%ebx,4)
        je 2f
        pause
        loop 1b
        jmp timeout
2:      mov $100000, %ecx                   /* let it reach HLT */
3:      pause
        loop 3b
        mov %ebx, %eax
        shl $24, %eax
        mov %eax, APIC_ICR2
        movl $0x70, APIC_ICR
        mov $200000, %ecx                   /* masked: nothing may happen */
4:      pause
        loop 4b
        cmpl $0, order(,%ebx,4)
        jne masked_taken
        movl $0x90, APIC_ICR
        mov $WAIT, %ecx
5:      cmpl $0x9070, order(,%ebx,4)        /* 0x90 first (high byte), then 0x70 */
        je 6f
        cmpl $0, bad(,%ebx,4)
        jne not_pending
        pause
        loop 5b
        jmp timeout
6:      inc %ebx
        cmp ncpus, %ebx
        jne next_ap
        mov $msg_ok, %esi
        call puts
        ret
one_cpu:
        mov $msg_one, %esi
        call puts
        ret

ap_main:
        mov %eax, %ebx
        movl $0x1FF, APIC_SPIV
        movl $0x80, APIC_TPR
        movl $1, ready(,%ebx,4)
1:      sti
        hlt
        cli
        cmpl $0, order(,%ebx,4)             /* woken by 0x90 only */
        je 1b
        movl $0, APIC_TPR                   /* 0x70 may come in now */
        sti
2:      cmpl $0x9070, order(,%ebx,4)
        jne 2b
        cli
        ret

/* order[id] = order[id] << 8 | vector */
h90:
        push %eax
        push %ebx
        mov APIC_ID, %ebx
        shr $24, %ebx
        testl $(1 << (0x70 % 32)), APIC_IRR + (0x70 / 32) * 0x10
        jnz 1f
        movl $1, bad(,%ebx,4)
1:      shll $8, order(,%ebx,4)
        orl $0x90, order(,%ebx,4)
        movl $0, APIC_EOI
        pop %ebx
        pop %eax
        intr_return

h70:
        push %ebx
        mov APIC_ID, %ebx
        shr $24, %ebx
        shll $8, order(,%ebx,4)
        orl $0x70, order(,%ebx,4)
        movl $0, APIC_EOI
        pop %ebx
        intr_return

too_many:       mov $msg_too_many, %esi
                jmp fail_with
timeout:        mov $msg_timeout, %esi
                jmp fail_with
masked_taken:   mov $msg_masked, %esi
                jmp fail_with
not_pending:    mov $msg_not_pending, %esi
                jmp fail_with

        .section .rodata
msg_hello:      .asciz "tpr: "
msg_vcpus:      .asciz " vCPUs\n"
msg_ok:         .asciz "each AP with TPR 0x80 held 0x70 in IRR, took 0x90, then 0x70 once TPR was 0\n"
msg_one:        .asciz "one vCPU: no other vCPU to send from (self-ipi tests TPR on one vCPU)\n"
msg_too_many:   .asciz "more CPUs than the image supports"
msg_timeout:    .asciz "an AP did not take its interrupts in the expected order"
msg_masked:     .asciz "an AP took vector 0x70 although its TPR was 0x80"
msg_not_pending: .asciz "0x70 was not pending in the AP's IRR while its TPR masked it"

        .data
ncpus:          .long 0
ready:          .fill MAX_CPUS, 4, 0
order:          .fill MAX_CPUS, 4, 0
bad:            .fill MAX_CPUS, 4, 0
