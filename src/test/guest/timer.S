/*
 * timer: the local APIC timer against the ACPI PM timer (port 0x608, the FADT's PM_TMR_BLK, 3.579545 MHz; the
 * acpi image checks the FADT says so). KVM's APIC bus runs at 1 GHz (1 ns per count at divide 1).
 * - one-shot: TMICT = 10 ms; TMCCT counts down from it; exactly one interrupt, no earlier than 10 ms of PM
 *   time after the write; TMCCT reads 0 after it.
 * - periodic: TMICT = 2 ms; five interrupts take at least 10 ms; TMICT = 0 stops it.
 * - TSC-deadline (CPUID.1:ECX[24]): the TSC is calibrated against the PM timer, IA32_TSC_DEADLINE is armed
 *   5 ms ahead and reads back; the interrupt comes no earlier than the deadline (less 100 us: javic's VMM
 *   follows the guest TSC with the host clock from one sample), and the MSR reads 0 after it.
 * Serial: "timer: N vCPUs ...", then PASS or FAIL: why.
 */
        .include "lib.inc"
        .set VECTOR, 0x50
        .set PM_TMR, 0x608
        .set PM_10MS, 35795                 /* 10 ms of PM timer ticks */
        .set PM_1S, 3579545
        .set LVT_PERIODIC, 1 << 17
        .set LVT_TSC_DEADLINE, 2 << 17
        .set LVT_MASKED, 1 << 16
        .set MSR_TSC_DEADLINE, 0x6E0

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
        movl $0x1FF, APIC_SPIV
        movl $0xB, APIC_TDCR                /* divide by 1 */

        /* ---- one-shot ---- */
        movl $VECTOR, APIC_LVTT
        call pm_now
        mov %eax, t0
        movl $10000000, APIC_TMICT
        mov APIC_TMCCT, %ebx
        cmp $10000000, %ebx
        ja tmcct_bad
        test %ebx, %ebx                     /* 0 only once 10 ms have passed (a loaded host may be slow) */
        jnz 1f
        call pm_now
        sub t0, %eax
        and $0xFFFFFF, %eax
        cmp $PM_10MS - 4, %eax
        jb tmcct_zero
1:
        mov $1, %eax
        call wait_ticks
        mov fired_pm, %eax
        sub t0, %eax
        and $0xFFFFFF, %eax
        cmp $PM_10MS - 4, %eax
        jb early
        cmpl $0, APIC_TMCCT
        jne tmcct_bad
        mov $PM_10MS, %eax                  /* no second interrupt in the next 10 ms */
        call sti_wait_pm
        cmpl $1, ticks
        jne extra
        mov $msg_oneshot, %esi
        call puts

        /* ---- periodic ---- */
        movl $0, ticks
        movl $(VECTOR | LVT_PERIODIC), APIC_LVTT
        call pm_now
        mov %eax, t0
        movl $2000000, APIC_TMICT
        mov $5, %eax
        call wait_ticks
        mov fired_pm, %eax
        sub t0, %eax
        and $0xFFFFFF, %eax
        cmp $PM_10MS - 4, %eax
        jb early
        movl $0, APIC_TMICT                 /* stop */
        mov $PM_10MS / 2, %eax              /* let an expiry already pending in IRR in */
        call sti_wait_pm
        mov ticks, %ebx
        mov $PM_10MS, %eax
        call sti_wait_pm
        cmp ticks, %ebx
        jne not_stopped
        mov $msg_periodic, %esi
        call puts

        /* ---- TSC deadline ---- */
        mov $1, %eax
        cpuid
        test $(1 << 24), %ecx
        jz no_tscdl
        call pm_now                         /* calibrate: TSC ticks in 10 ms of PM time */
        mov %eax, t0
        rdtsc
        mov %eax, %edi
1:      call pm_now
        sub t0, %eax
        and $0xFFFFFF, %eax
        cmp $PM_10MS, %eax
        jb 1b
        rdtsc
        sub %edi, %eax
        mov %eax, tsc_10ms
        movl $0, ticks
        movl $(VECTOR | LVT_TSC_DEADLINE), APIC_LVTT
        rdtsc
        mov tsc_10ms, %ecx
        shr $1, %ecx                        /* 5 ms */
        add %ecx, %eax
        adc $0, %edx
        mov %eax, deadline
        mov %edx, deadline + 4
        /* deadline_min = deadline - tsc_10ms / 100 (100 us) */
        push %eax
        push %edx
        mov tsc_10ms, %eax
        xor %edx, %edx
        mov $100, %ecx
        div %ecx
        mov %eax, %ecx
        pop %edx
        pop %eax
        sub %ecx, %eax
        sbb $0, %edx
        mov %eax, deadline_min
        mov %edx, deadline_min + 4
        mov deadline, %eax
        mov deadline + 4, %edx
        mov $MSR_TSC_DEADLINE, %ecx
        wrmsr
        rdmsr
        cmp deadline, %eax
        jne 1f
        cmp deadline + 4, %edx
        je 3f
1:      or %edx, %eax                       /* 0 is right only if the deadline has passed (a slow host) */
        jnz msr_bad
        rdtsc
        call before_deadline
        jb msr_bad
3:      mov $1, %eax
        call wait_ticks
        mov fired_tsc, %eax
        mov fired_tsc + 4, %edx
        call before_deadline
        jb early
        mov $MSR_TSC_DEADLINE, %ecx
        rdmsr
        or %edx, %eax
        jnz msr_bad
        mov $msg_tscdl, %esi
        call puts
        ret
no_tscdl:
        mov $msg_no_tscdl, %esi
        call puts
        ret

/* before_deadline: CF set if EDX:EAX < deadline_min. */
before_deadline:
        cmp deadline_min + 4, %edx
        jne 1f
        cmp deadline_min, %eax
1:      ret

/* pm_now: EAX = the PM timer (24 bits). Clobbers EDX. */
pm_now:
        mov $PM_TMR, %dx
        inl %dx, %eax
        and $0xFFFFFF, %eax
        ret

/* wait_ticks: with IF set, waits until `ticks` reaches EAX, at most 1 s of PM time; then IF is clear. */
wait_ticks:
        push %ebx
        push %esi
        mov %eax, %ebx
        call pm_now
        mov %eax, %esi
        sti
1:      cmp ticks, %ebx
        jbe 2f
        call pm_now
        sub %esi, %eax
        and $0xFFFFFF, %eax
        cmp $PM_1S, %eax
        jb 1b
        cli
        mov $msg_not_taken, %esi
        jmp fail_with
2:      cli
        pop %esi
        pop %ebx
        ret

/* sti_wait_pm: IF set for EAX PM ticks, then clear. Clobbers EAX, ECX, EDX. */
sti_wait_pm:
        mov %eax, %ecx
        call pm_now
        push %eax
        sti
1:      call pm_now
        sub (%esp), %eax
        and $0xFFFFFF, %eax
        cmp %ecx, %eax
        jb 1b
        cli
        add $4, %esp
        ret

handler:
        push %eax
        push %edx
        rdtsc
        mov %eax, fired_tsc
        mov %edx, fired_tsc + 4
        call pm_now
        mov %eax, fired_pm
        incl ticks
        movl $0, APIC_EOI
        pop %edx
        pop %eax
        intr_return

tmcct_zero:     mov $msg_tmcct0, %esi
                jmp fail_with
tmcct_bad:      mov $msg_tmcct, %esi
                jmp fail_with
early:          mov $msg_early, %esi
                jmp fail_with
extra:          mov $msg_extra, %esi
                jmp fail_with
not_stopped:    mov $msg_not_stopped, %esi
                jmp fail_with
msr_bad:        mov $msg_msr, %esi
                jmp fail_with

        .section .rodata
msg_hello:      .asciz "timer: "
msg_vcpus:      .asciz " vCPUs\n"
msg_oneshot:    .asciz "one-shot: one interrupt after 10 ms, TMCCT counted down to 0\n"
msg_periodic:   .asciz "periodic: five interrupts in no less than 10 ms, stopped by TMICT = 0\n"
msg_tscdl:      .asciz "TSC-deadline: interrupt at the deadline, MSR reads back then 0\n"
msg_no_tscdl:   .asciz "TSC-deadline: not offered in CPUID (no MSR exits on this host), not tested\n"
msg_tmcct:      .asciz "TMCCT above TMICT, or not 0 after a one-shot expiry"
msg_tmcct0:     .asciz "TMCCT read 0 less than 10 ms after TMICT was written"
msg_early:      .asciz "timer interrupt came early"
msg_extra:      .asciz "a one-shot timer fired twice"
msg_not_stopped: .asciz "the periodic timer did not stop at TMICT = 0"
msg_msr:        .asciz "IA32_TSC_DEADLINE reads back wrong"
msg_not_taken:  .asciz "timer interrupt not taken within 1 s"

        .data
        .align 8
fired_tsc:      .quad 0
deadline:       .quad 0
deadline_min:   .quad 0
t0:             .long 0
fired_pm:       .long 0
ticks:          .long 0
tsc_10ms:       .long 0
