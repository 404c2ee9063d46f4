/*
 * Exception entry stubs. Each pushes a dummy error code where the CPU pushes none, then the
 * vector, so that every trap reaches trap_common with the same frame (TrapFrame in traps.rs).
 */
    .pushsection .text.traps, "ax"
    .code64

.macro TRAP_NOERR vec
    .balign 16
trap_stub_\vec:
    pushq $0
    pushq $\vec
    jmp trap_common
.endm

.macro TRAP_ERR vec
    .balign 16
trap_stub_\vec:
    pushq $\vec
    jmp trap_common
.endm

    TRAP_NOERR 0
    TRAP_NOERR 1
    TRAP_NOERR 2
    TRAP_NOERR 3
    TRAP_NOERR 4
    TRAP_NOERR 5
    TRAP_NOERR 6
    TRAP_NOERR 7
    TRAP_ERR   8
    TRAP_NOERR 9
    TRAP_ERR   10
    TRAP_ERR   11
    TRAP_ERR   12
    TRAP_ERR   13
    TRAP_ERR   14
    TRAP_NOERR 15
    TRAP_NOERR 16
    TRAP_ERR   17
    TRAP_NOERR 18
    TRAP_NOERR 19
    TRAP_NOERR 20
    TRAP_ERR   21
    TRAP_NOERR 22
    TRAP_NOERR 23
    TRAP_NOERR 24
    TRAP_NOERR 25
    TRAP_NOERR 26
    TRAP_NOERR 27
    TRAP_NOERR 28
    TRAP_ERR   29
    TRAP_ERR   30
    TRAP_NOERR 31

trap_common:
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, %rdi                 /* &TrapFrame; 16-byte aligned: 5 + 2 + 15 quadwords */
    call {trap_handler}
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    addq $16, %rsp                  /* vector and error code */
    iretq
    .popsection

    .pushsection .rodata.trap_stubs, "a"
    .balign 8
    .global trap_stubs
trap_stubs:
    .irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad trap_stub_\vec
    .endr
    .popsection

/*
 * Xen's event upcall (HVM_PARAM_CALLBACK_IRQ, vector type): saves the registers a C call
 * may clobber and calls the event handler, which only records and wakes.
 */
    .pushsection .text.traps, "ax"
    .balign 16
    .global upcall_stub
upcall_stub:
    pushq %rax
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    cld
    call {upcall_handler}           /* 16-byte aligned: 5 + 9 quadwords */
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rax
    iretq
    .popsection
