/* hang: prints a line, then halts with interrupts disabled forever (for --timeout). */
        .include "lib.inc"
        .text
test_main:
        mov $msg, %esi
        call puts
        jmp halt_forever
        .section .rodata
msg:    .asciz "hanging on purpose\n"
