/*
 * nmi-nested: NMI blocking, in 64-bit long mode so that the handler returns with IRETQ (long.inc).
 * The BSP sends itself an NMI; inside the handler it sends itself a second one, which must not be taken
 * while the first is in service (NMIs are blocked until IRET), and must be taken right after the IRETQ.
 * Then a third NMI with IF clear is taken as well (unblocked again). The other vCPUs stay in wait-for-SIPI.
 * Serial: "nmi-nested: N vCPUs ...", then PASS or FAIL: why.
 */
        .include "lib.inc"
        .include "long.inc"
        .set ICR_NMI_SELF, 0x400 | (1 << 18)
        .set WAIT, 20000000

        .text
        .code32
test_main:
        mov $msg_hello, %esi
        call puts
        call cpu_count
        call putdec
        mov $msg_vcpus, %esi
        call puts
        call enter_long_mode

        .code64
long_main:
        mov $2, %edi
        lea nmi_handler(%rip), %rax
        call set_gate64
        mov $APIC, %ebx
        movl $0x1FF, 0xF0(%rbx)
        movl $0, 0x310(%rbx)
        movl $ICR_NMI_SELF, 0x300(%rbx)
        mov $WAIT, %ecx
1:      cmpl $2, taken(%rip)
        je 2f
        pause
        loop 1b
        lea msg_second(%rip), %rsi
        jmp fail_with
2:      cmpl $1, held(%rip)
        je 3f
        lea msg_not_held(%rip), %rsi
        jmp fail_with
3:      movl $ICR_NMI_SELF, 0x300(%rbx)     /* IF is clear: an NMI still comes in */
        mov $WAIT, %ecx
4:      cmpl $3, taken(%rip)
        je 5f
        pause
        loop 4b
        lea msg_third(%rip), %rsi
        jmp fail_with
5:      lea msg_ok(%rip), %rsi
        call puts
        jmp pass

nmi_handler:
        push %rax
        push %rcx
        incl taken(%rip)
        cmpl $1, taken(%rip)
        jne 2f
        mov $APIC, %eax
        movl $ICR_NMI_SELF, 0x300(%rax)     /* a second NMI while this one is in service */
        mov $200000, %ecx
1:      pause
        loop 1b
        cmpl $1, taken(%rip)                /* still blocked */
        jne 2f
        movl $1, held(%rip)
2:      pop %rcx
        pop %rax
        iretq
        .code32

        .section .rodata
msg_hello:      .asciz "nmi-nested: "
msg_vcpus:      .asciz " vCPUs\n"
msg_ok:         .asciz "long mode: a second NMI held while the first was in service, taken after IRETQ; a third one taken\n"
msg_second:     .asciz "the second NMI was not taken after IRETQ"
msg_not_held:   .asciz "the second NMI was taken inside the first NMI's handler"
msg_third:      .asciz "an NMI after the nested pair was not taken"

        .data
taken:          .long 0
held:           .long 0
