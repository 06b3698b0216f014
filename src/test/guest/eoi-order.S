/*
 * eoi-order: interrupt priority, nesting and EOI order on the local APIC (the BSP; other vCPUs stay idle).
 * A. A higher-class interrupt nests: inside the 0x40 handler, with IF set, a self IPI 0x80 is taken at once;
 *    inside it ISR holds 0x80 and 0x40 and PPR is 0x80; its EOI retires 0x80 (the highest), leaving 0x40.
 * B. A lower-class interrupt waits: inside the 0x90 handler, with IF set, a self IPI 0x50 stays in IRR
 *    (PPR 0x90 masks class 5); the 0x90 EOI lets it in, nested in the 0x90 handler.
 * C. Pending vectors are taken highest first: 0x61, 0x6F and 0x45 sent with IF clear arrive as 0x6F, 0x61,
 *    0x45 once IF is set.
 * Handlers return with intr_return (lib.inc). Serial: "eoi-order: N vCPUs ...", then PASS or FAIL: why.
 */
        .include "lib.inc"
        .set WAIT, 20000000

        .macro isr_test v
        testl $(1 << (\v % 32)), APIC_ISR + (\v / 32) * 0x10
        .endm
        .macro irr_test v
        testl $(1 << (\v % 32)), APIC_IRR + (\v / 32) * 0x10
        .endm
        .macro self_ipi v
        movl $(\v | (1 << 18)), APIC_ICR
        .endm
        .macro gate v, h
        mov $\v, %ecx
        mov $\h, %eax
        call set_gate
        .endm
        /* wait_for VAR: bounded spin until VAR != 0; jumps to `timeout` after WAIT rounds. Clobbers ECX. */
        .macro wait_for var
        mov $WAIT, %ecx
1:      cmpl $0, \var
        jne 2f
        pause
        loop 1b
        jmp timeout
2:
        .endm
        .macro log v
        push %eax
        mov nlog, %eax
        movl $\v, log_(,%eax,4)
        incl nlog
        pop %eax
        .endm

        .text
test_main:
        mov $msg_hello, %esi
        call puts
        call cpu_count
        call putdec
        mov $msg_vcpus, %esi
        call puts
        gate 0x40, h40
        gate 0x80, h80
        gate 0x90, h90
        gate 0x50, h50
        gate 0x61, h61
        gate 0x6F, h6f
        gate 0x45, h45
        movl $0x1FF, APIC_SPIV
        movl $0, APIC_ICR2

        /* A */
        sti
        self_ipi 0x40
        wait_for doneA
        cli
        mov $msg_a, %esi
        call puts

        /* B */
        sti
        self_ipi 0x90
        wait_for doneB
        cli
        mov $msg_b, %esi
        call puts

        /* C */
        movl $0, nlog
        self_ipi 0x61
        self_ipi 0x6F
        self_ipi 0x45
        sti
        mov $WAIT, %ecx
1:      cmpl $3, nlog
        je 2f
        pause
        loop 1b
        jmp timeout
2:      cli
        cmpl $0x6F, log_
        jne bad_order
        cmpl $0x61, log_ + 4
        jne bad_order
        cmpl $0x45, log_ + 8
        jne bad_order
        mov $msg_c, %esi
        call puts
        ret

h40:
        isr_test 0x40
        jz not_in_service
        sti
        self_ipi 0x80
        wait_for highTaken
        cli
        isr_test 0x40
        jz wrong_isr
        isr_test 0x80
        jnz wrong_isr
        movl $0, APIC_EOI
        isr_test 0x40
        jnz wrong_isr
        movl $1, doneA
        intr_return

h80:
        isr_test 0x80
        jz not_in_service
        isr_test 0x40
        jz wrong_isr
        cmpl $0x80, APIC_PPR
        jne wrong_ppr
        movl $0, APIC_EOI
        isr_test 0x80
        jnz wrong_isr
        isr_test 0x40
        jz wrong_isr
        cmpl $0x40, APIC_PPR
        jne wrong_ppr
        movl $1, highTaken
        intr_return

h90:
        sti
        self_ipi 0x50
        mov $200000, %ecx
1:      pause
        loop 1b
        cmpl $0, lowTaken
        jne preempted
        irr_test 0x50
        jz not_pending
        movl $0, APIC_EOI
        wait_for lowTaken
        cli
        movl $1, doneB
        intr_return

h50:
        isr_test 0x50
        jz not_in_service
        isr_test 0x90
        jnz wrong_isr
        movl $1, lowTaken
        movl $0, APIC_EOI
        intr_return

h61:    log 0x61
        movl $0, APIC_EOI
        intr_return
h6f:    log 0x6F
        movl $0, APIC_EOI
        intr_return
h45:    log 0x45
        movl $0, APIC_EOI
        intr_return

timeout:        cli
                mov $msg_timeout, %esi
                jmp fail_with
not_in_service: mov $msg_not_in_service, %esi
                jmp fail_with
wrong_isr:      mov $msg_isr, %esi
                jmp fail_with
wrong_ppr:      mov $msg_ppr, %esi
                jmp fail_with
preempted:      mov $msg_preempted, %esi
                jmp fail_with
not_pending:    mov $msg_not_pending, %esi
                jmp fail_with
bad_order:      mov $msg_order, %esi
                jmp fail_with

        .section .rodata
msg_hello:      .asciz "eoi-order: "
msg_vcpus:      .asciz " vCPUs\n"
msg_a:          .asciz "A: 0x80 nested in 0x40, EOI retired 0x80 first, PPR followed\n"
msg_b:          .asciz "B: 0x50 held in IRR under 0x90, taken after its EOI\n"
msg_c:          .asciz "C: pending 0x61, 0x6F, 0x45 taken as 0x6F, 0x61, 0x45\n"
msg_timeout:    .asciz "an expected interrupt was not taken"
msg_not_in_service: .asciz "a handler ran without its vector in ISR"
msg_isr:        .asciz "ISR does not show the expected vectors in service"
msg_ppr:        .asciz "PPR is not the highest in-service class"
msg_preempted:  .asciz "0x50 preempted the 0x90 handler"
msg_not_pending: .asciz "0x50 not pending in IRR under 0x90"
msg_order:      .asciz "pending vectors not taken highest first"

        .data
doneA:          .long 0
doneB:          .long 0
highTaken:      .long 0
lowTaken:       .long 0
nlog:           .long 0
log_:           .fill 8, 4, 0
