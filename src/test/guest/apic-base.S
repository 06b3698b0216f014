/*
 * apic-base: the IA32_APIC_BASE MSR (0x1B), which javic's VMM takes from KVM with an MSR filter.
 * - It reads 0xFEE00900 on the BSP: base 0xFEE00000, global enable (bit 11), BSP (bit 8).
 * - Relocation to 0xFED00000: the registers answer there (ID 0; a self IPI through the new ICR is taken and
 *   EOIed there), the old page is empty (reads all ones); then back.
 * - Disable (bit 11 clear): the page reads all ones; re-enable: ID 0 again and a self IPI works.
 * - Setting the x2APIC bit (10), which CPUID does not offer, is a #GP and changes nothing.
 * Serial: "apic-base: N vCPUs ...", then PASS or FAIL: why.
 */
        .include "lib.inc"
        .set VECTOR, 0x60
        .set MSR_APIC_BASE, 0x1B
        .set NEW_BASE, 0xFED00000
        .set WAIT, 20000000

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
        mov $13, %ecx
        mov $gp_handler, %eax
        call set_gate
        movl $0x1FF, APIC_SPIV

        mov $MSR_APIC_BASE, %ecx
        rdmsr
        cmp $0xFEE00900, %eax
        jne bad_initial
        test %edx, %edx
        jnz bad_initial

        /* relocate */
        mov $(NEW_BASE | 0x900), %eax
        xor %edx, %edx
        mov $MSR_APIC_BASE, %ecx
        wrmsr
        movl $NEW_BASE, base
        rdmsr
        cmp $(NEW_BASE | 0x900), %eax
        jne bad_readback
        cmpl $0, NEW_BASE + 0x20
        jne bad_moved
        cmpl $0xFFFFFFFF, APIC_ID
        jne bad_old
        mov $NEW_BASE, %edi
        call self_ipi
        mov $0xFEE00900, %eax
        xor %edx, %edx
        mov $MSR_APIC_BASE, %ecx
        wrmsr
        movl $APIC, base
        mov $msg_moved, %esi
        call puts

        /* disable, re-enable */
        mov $0xFEE00100, %eax
        xor %edx, %edx
        mov $MSR_APIC_BASE, %ecx
        wrmsr
        rdmsr
        cmp $0xFEE00100, %eax
        jne bad_readback
        cmpl $0xFFFFFFFF, APIC_ID
        jne bad_disabled
        mov $0xFEE00900, %eax
        xor %edx, %edx
        wrmsr
        cmpl $0, APIC_ID
        jne bad_reenabled
        movl $0x1FF, APIC_SPIV
        mov $APIC, %edi
        call self_ipi
        mov $msg_disabled, %esi
        call puts

        /* x2APIC bit without x2APIC in CPUID: #GP, no change */
        mov $0xFEE00D00, %eax
        xor %edx, %edx
        mov $MSR_APIC_BASE, %ecx
        wrmsr
        cmpl $1, gp_count
        jne no_gp
        rdmsr
        cmp $0xFEE00900, %eax
        jne bad_readback
        mov $msg_gp, %esi
        call puts
        ret

/* self_ipi: EDI = APIC page; a fixed self IPI must be taken (IF set for a bounded wait). */
self_ipi:
        movl $0, taken
        movl $0, 0x310(%edi)
        movl $(VECTOR | (1 << 18)), 0x300(%edi)
        mov $WAIT, %ecx
        sti
1:      cmpl $1, taken
        je 2f
        pause
        loop 1b
        cli
        mov $msg_not_taken, %esi
        jmp fail_with
2:      cli
        ret

handler:
        push %eax
        incl taken
        mov base, %eax
        movl $0, 0xB0(%eax)
        pop %eax
        intr_return

/* #GP: count, drop the error code, skip the 2-byte WRMSR. */
gp_handler:
        incl gp_count
        add $4, %esp
        addl $2, (%esp)
        intr_return

bad_initial:    mov $msg_initial, %esi
                jmp fail_with
bad_readback:   mov $msg_readback, %esi
                jmp fail_with
bad_moved:      mov $msg_bad_moved, %esi
                jmp fail_with
bad_old:        mov $msg_old, %esi
                jmp fail_with
bad_disabled:   mov $msg_bad_disabled, %esi
                jmp fail_with
bad_reenabled:  mov $msg_reenabled, %esi
                jmp fail_with
no_gp:          mov $msg_no_gp, %esi
                jmp fail_with

        .section .rodata
msg_hello:      .asciz "apic-base: "
msg_vcpus:      .asciz " vCPUs\n"
msg_moved:      .asciz "relocated to 0xFED00000: registers and a self IPI there, old page empty\n"
msg_disabled:   .asciz "disabled: page gone; re-enabled: ID 0 and a self IPI\n"
msg_gp:         .asciz "x2APIC bit without x2APIC in CPUID: #GP, base unchanged\n"
msg_initial:    .asciz "IA32_APIC_BASE does not read 0xFEE00900 on the BSP"
msg_readback:   .asciz "IA32_APIC_BASE does not read back what was written"
msg_bad_moved:  .asciz "no APIC ID 0 at the relocated base"
msg_old:        .asciz "the old APIC page still answers after relocation"
msg_bad_disabled: .asciz "the APIC page still answers with the APIC disabled"
msg_reenabled:  .asciz "APIC ID is not 0 after re-enabling"
msg_no_gp:      .asciz "setting the x2APIC bit did not #GP"
msg_not_taken:  .asciz "self IPI not taken"

        .data
base:           .long APIC
taken:          .long 0
gp_count:       .long 0
