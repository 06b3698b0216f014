/*
 * acpi: the platform as firmware would describe it.
 * - Finds the RSDP on a 16-byte boundary in 0xE0000-0xFFFFF, checks its checksum, then the RSDT's and every
 *   table's it lists.
 * - MADT: counts the enabled Processor Local APIC entries (must equal fw_cfg's FW_CFG_NB_CPUS and have APIC IDs
 *   0..N-1), checks the local APIC address (0xFEE00000) and finds the I/O APIC, whose version register must
 *   read version 0x11 with 24 entries and whose redirection entry 0 must read back masked, then as written.
 * - FADT: the PM timer block must be set and the 24-bit PM timer (3.579545 MHz) must count: it is read around
 *   a busy loop until 3580 ticks (1 ms) have passed, bounded.
 * - PIC: masks written to 0x21 / 0xA1 read back; PCI configuration: bus 0 device 0 function 0's vendor ID
 *   reads 0xFFFF (no device).
 * Serial: "acpi: N vCPUs ...", then PASS or FAIL: why.
 */
        .include "lib.inc"

        .text
test_main:
        mov $msg_hello, %esi
        call puts
        call cpu_count
        mov %eax, ncpus

        /* RSDP: "RSD PTR " on a 16-byte boundary, first 20 bytes sum to 0 */
        mov $0xE0000, %esi
1:      cmpl $0x20445352, (%esi)            /* "RSD " */
        jne 2f
        cmpl $0x20525450, 4(%esi)           /* "PTR " */
        jne 2f
        mov $20, %ecx
        call checksum
        jz found_rsdp
2:      add $16, %esi
        cmp $0x100000, %esi
        jb 1b
        mov $msg_no_rsdp, %esi
        jmp fail_with
found_rsdp:
        mov 16(%esi), %esi                  /* RsdtAddress */
        cmpl $0x54445352, (%esi)            /* "RSDT" */
        jne bad_rsdt
        mov 4(%esi), %ecx
        call checksum
        jnz bad_sum
        mov 4(%esi), %ecx
        sub $36, %ecx
        shr $2, %ecx                        /* entries */
        lea 36(%esi), %edi
next_table:
        test %ecx, %ecx
        jz tables_done
        push %ecx
        mov (%edi), %esi
        mov 4(%esi), %ecx
        call checksum
        jnz bad_sum
        cmpl $0x43495041, (%esi)            /* "APIC" */
        jne 1f
        call check_madt
1:      cmpl $0x50434146, (%esi)            /* "FACP" */
        jne 2f
        call check_fadt
2:      pop %ecx
        add $4, %edi
        dec %ecx
        jmp next_table
tables_done:
        cmpl $0, madt_seen
        je no_madt
        cmpl $0, fadt_seen
        je no_fadt

        /* PIC masks read back */
        mov $0xFB, %al
        outb %al, $0x21
        mov $0xFF, %al
        outb %al, $0xA1
        inb $0x21, %al
        cmp $0xFB, %al
        jne bad_pic
        inb $0xA1, %al
        cmp $0xFF, %al
        jne bad_pic
        /* PCI config: 00:00.0 vendor ID: no device */
        mov $0xCF8, %dx
        mov $0x80000000, %eax
        outl %eax, %dx
        mov $0xCFC, %dx
        inl %dx, %eax
        cmp $0xFFFFFFFF, %eax
        jne bad_pci

        mov ncpus, %eax
        call putdec
        mov $msg_ok, %esi
        call puts
        ret

/* check_madt: ESI = MADT. */
check_madt:
        push %esi
        push %edi
        movl $1, madt_seen
        cmpl $0xFEE00000, 36(%esi)
        jne bad_lapic_addr
        mov 4(%esi), %edx
        add %esi, %edx                      /* EDX = end */
        lea 44(%esi), %esi                  /* first structure */
1:      cmp %edx, %esi
        jae 4f
        movzbl (%esi), %eax                 /* type */
        cmp $0, %eax
        jne 2f
        testl $1, 4(%esi)                   /* enabled */
        jz 3f
        movzbl 3(%esi), %eax                /* APIC ID */
        cmp $31, %eax
        ja bad_ids
        bts %eax, madt_ids
        jc bad_ids
        incl madt_cpus
        jmp 3f
2:      cmp $1, %eax
        jne 3f
        mov 4(%esi), %eax                   /* I/O APIC address */
        mov %eax, ioapic
3:      movzbl 1(%esi), %eax
        test %eax, %eax
        jz bad_madt
        add %eax, %esi
        jmp 1b
4:      mov madt_cpus, %eax
        cmp ncpus, %eax
        jne bad_count
        mov %eax, %ecx
        mov $1, %eax
        shl %cl, %eax
        dec %eax
        cmp madt_ids, %eax
        jne bad_ids
        /* I/O APIC: version 0x11, 24 entries; redirection entry 0 masked after reset, then as written */
        mov ioapic, %edi
        test %edi, %edi
        jz no_ioapic
        movl $1, (%edi)
        mov 0x10(%edi), %eax
        cmp $0x00170011, %eax
        jne bad_ioapic
        movl $0x10, (%edi)
        mov 0x10(%edi), %eax
        test $0x10000, %eax
        jz bad_ioapic
        movl $0x00010030, 0x10(%edi)        /* masked, vector 0x30 */
        mov 0x10(%edi), %eax
        cmp $0x00010030, %eax
        jne bad_ioapic
        pop %edi
        pop %esi
        ret

/* check_fadt: ESI = FADT. PM timer at PM_TMR_BLK (offset 76), 4 bytes long (offset 91). */
check_fadt:
        push %esi
        movl $1, fadt_seen
        mov 76(%esi), %edx
        test %edx, %edx
        jz no_pmtmr
        cmpb $4, 91(%esi)
        jne no_pmtmr
        inl %dx, %eax
        and $0xFFFFFF, %eax
        mov %eax, %esi                      /* start */
        mov $20000000, %ecx
1:      inl %dx, %eax
        sub %esi, %eax
        and $0xFFFFFF, %eax                 /* elapsed ticks, modulo 2^24 */
        cmp $3580, %eax
        jae 2f
        loop 1b
        jmp pmtmr_stuck
2:      pop %esi
        ret

/* checksum: ZF set if the ECX bytes at ESI sum to 0 (mod 256). Clobbers EAX, ECX. */
checksum:
        push %esi
        xor %eax, %eax
1:      add (%esi), %al
        inc %esi
        loop 1b
        pop %esi
        test %al, %al
        ret

bad_rsdt:       mov $msg_bad_rsdt, %esi
                jmp fail_with
bad_sum:        mov $msg_bad_sum, %esi
                jmp fail_with
no_madt:        mov $msg_no_madt, %esi
                jmp fail_with
no_fadt:        mov $msg_no_fadt, %esi
                jmp fail_with
bad_lapic_addr: mov $msg_lapic_addr, %esi
                jmp fail_with
bad_madt:       mov $msg_bad_madt, %esi
                jmp fail_with
bad_ids:        mov $msg_ids, %esi
                jmp fail_with
bad_count:      mov $msg_count, %esi
                jmp fail_with
no_ioapic:      mov $msg_no_ioapic, %esi
                jmp fail_with
bad_ioapic:     mov $msg_ioapic, %esi
                jmp fail_with
no_pmtmr:       mov $msg_no_pmtmr, %esi
                jmp fail_with
pmtmr_stuck:    mov $msg_pmtmr, %esi
                jmp fail_with
bad_pic:        mov $msg_pic, %esi
                jmp fail_with
bad_pci:        mov $msg_pci, %esi
                jmp fail_with

        .section .rodata
msg_hello:      .asciz "acpi: "
msg_ok:         .asciz " vCPUs in the MADT as fw_cfg says, I/O APIC registers, PM timer counting, PIC masks, PCI: no device\n"
msg_no_rsdp:    .asciz "no RSDP in 0xE0000-0xFFFFF"
msg_bad_rsdt:   .asciz "the RSDP does not point to an RSDT"
msg_bad_sum:    .asciz "an ACPI table's checksum is wrong"
msg_no_madt:    .asciz "the RSDT lists no MADT"
msg_no_fadt:    .asciz "the RSDT lists no FADT"
msg_lapic_addr: .asciz "the MADT's local APIC address is not 0xFEE00000"
msg_bad_madt:   .asciz "a MADT structure has length 0"
msg_ids:        .asciz "the MADT's APIC IDs are not 0..N-1 once each"
msg_count:      .asciz "the MADT's CPU count differs from fw_cfg's"
msg_no_ioapic:  .asciz "the MADT lists no I/O APIC"
msg_ioapic:     .asciz "the I/O APIC's registers do not behave"
msg_no_pmtmr:   .asciz "the FADT has no 4-byte PM timer block"
msg_pmtmr:      .asciz "the PM timer does not count"
msg_pic:        .asciz "PIC masks do not read back"
msg_pci:        .asciz "PCI config read of 00:00.0 is not all ones"

        .data
ncpus:          .long 0
madt_seen:      .long 0
fadt_seen:      .long 0
madt_cpus:      .long 0
madt_ids:       .long 0
ioapic:         .long 0
