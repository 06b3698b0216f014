/*
 * self-ipi: a fixed self IPI through the xAPIC ICR (0xFEE00300, shorthand "self"), taken by an IDT handler
 * that checks ISR and EOIs; then TPR masking: with TPR = 0x50 the pending vector 0x40 (class 4) must not be
 * delivered although IF is set, and lowering TPR to 0 must deliver it.
 * Serial: "hello from self-ipi (N vCPUs)", then "PASS" or "FAIL: why"; debug-exit 0 (status 1) on pass, 1 (status 3) on fail.
 *
 * The handler does not IRET: it resumes the test at `resume` on the stack saved in `saved_esp`. On this
 * machine /dev/kvm is kvm-pvm, which runs 32-bit protected-mode code through KVM's instruction emulator, and
 * that emulator implements IRET (and INT n) in real mode only (docs/devkvm.md). Waiting for the interrupt is a
 * bounded spin with IF set rather than `sti; nop`, because the emulator opens the interrupt window late.
 */
        .include "lib.inc"
        .set VECTOR, 0x40
        .set SPIN, 1000000

        .text
test_main:
        mov $msg_hello, %esi
        call puts
        call cpu_count
        call putdec
        mov $msg_vcpus, %esi
        call puts
        mov $VECTOR, %ecx
        mov $handler, %eax
        call set_gate
        mov %esp, saved_esp

        /* Software-enable the APIC (SPIV bit 8, spurious vector 0xFF), TPR 0. */
        movl $0x1FF, APIC_SPIV
        movl $0, APIC_TPR

        /* 1. Self IPI with IF clear: it must stay pending in IRR until STI, then be taken once. */
        movl $resume1, resume
        movl $0, APIC_ICR2
        movl $(VECTOR | (1 << 18)), APIC_ICR       /* fixed, edge, shorthand self */
        testl $1, APIC_IRR + 0x20                  /* IRR bit 0x40 = word 2 (0x220), bit 0 */
        jz no_irr
        cmpl $0, taken
        jne early
        sti
        mov $SPIN, %ecx
1:      pause
        loop 1b
        cli
        jmp not_taken
resume1:
        cmpl $1, taken
        jne not_taken
        testl $1, APIC_ISR + 0x20
        jnz isr_left
        testl $1, APIC_IRR + 0x20
        jnz irr_left

        /* 2. TPR 0x50 masks vector 0x40 (class 4 <= 5); TPR 0 lets it in. */
        movl $masked_taken, resume
        movl $0x50, APIC_TPR
        movl $(VECTOR | (1 << 18)), APIC_ICR
        sti
        mov $(SPIN / 10), %ecx
1:      pause
        loop 1b
        cli
        testl $1, APIC_IRR + 0x20
        jz no_irr
        movl $resume2, resume
        movl $0, APIC_TPR
        sti
        mov $SPIN, %ecx
1:      pause
        loop 1b
        cli
        jmp not_taken
resume2:
        cmpl $2, taken
        jne not_taken
        mov $msg_ok, %esi
        call puts
        ret

no_irr:         mov $msg_no_irr, %esi
                jmp fail_with
early:          mov $msg_early, %esi
                jmp fail_with
not_taken:      mov $msg_not_taken, %esi
                jmp fail_with
isr_left:       mov $msg_isr_left, %esi
                jmp fail_with
irr_left:       mov $msg_irr_left, %esi
                jmp fail_with
masked_taken:   mov $msg_masked, %esi
                jmp fail_with

/* Vector 0x40: ISR must show it in service; count it, EOI, resume the test (IF stays clear). */
handler:
        testl $1, APIC_ISR + 0x20
        jz 1f
        incl taken
        movl $0, APIC_EOI
        mov saved_esp, %esp
        jmp *resume
1:      mov $msg_no_isr, %esi
        jmp fail_with

        .section .rodata
msg_hello:      .asciz "hello from self-ipi ("
msg_vcpus:      .asciz " vCPUs)\n"
msg_ok:         .asciz "self IPI taken, ISR/EOI and TPR masking as expected\n"
msg_no_irr:     .asciz "self IPI did not set IRR"
msg_early:      .asciz "interrupt taken with IF clear"
msg_not_taken:  .asciz "self IPI not taken after STI"
msg_isr_left:   .asciz "ISR still set after EOI"
msg_irr_left:   .asciz "IRR still set after the interrupt was taken"
msg_masked:     .asciz "vector 0x40 taken although TPR was 0x50"
msg_no_isr:     .asciz "handler entered without ISR bit 0x40 set"

        .data
taken:          .long 0
resume:         .long 0
saved_esp:      .long 0
