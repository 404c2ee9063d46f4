/*
 * PVH entry. Xen (or QEMU, which honours the same ELF note) starts us at _start32 in 32-bit
 * protected mode with paging off and %ebx = physical address of struct hvm_start_info
 * (arch-x86/hvm/start_info.h). We identity-map the first 4 GiB with 2 MiB pages, enter
 * long mode and call the Rust entry with the start_info address. mm::paging replaces these
 * tables with precise ones (W^X, NX, guard pages) as soon as it knows the memory map.
 */

    /* XEN_ELFNOTE_PHYS32_ENTRY (elfnote.h): the 32-bit physical entry point. */
    .pushsection .note.Xen, "a", @note
    .balign 4
    .long 4                         /* namesz: "Xen\0" */
    .long 4                         /* descsz */
    .long {phys32_entry}            /* type */
    .asciz "Xen"
    .balign 4
    .long _start32
    .balign 4
    .popsection

    .pushsection .text.boot, "ax"
    .code32
    .global _start32
_start32:
    cli
    cld
    rdtsc                           /* first instruction's timestamp, for the boot budget */
    movl %eax, {boot_tsc}
    movl %edx, {boot_tsc} + 4
    movl %ebx, %esi                 /* keep the start_info address */
    movl $__boot_stack_top, %esp

    /* PD entries 0..2047: P | RW | PS, physical = index * 2 MiB. */
    movl $0x83, %eax
    xorl %ecx, %ecx
.Lfill_pd:
    movl %eax, boot_pd(, %ecx, 8)
    addl $0x200000, %eax
    incl %ecx
    cmpl $2048, %ecx
    jb .Lfill_pd
    movl $(boot_pd + 0x0003), boot_pdpt
    movl $(boot_pd + 0x1003), boot_pdpt + 8
    movl $(boot_pd + 0x2003), boot_pdpt + 16
    movl $(boot_pd + 0x3003), boot_pdpt + 24
    movl $(boot_pdpt + 0x003), boot_pml4

    movl %cr4, %eax
    orl $0x20, %eax                 /* CR4.PAE */
    movl %eax, %cr4
    movl $boot_pml4, %eax
    movl %eax, %cr3
    movl $0xc0000080, %ecx          /* EFER */
    rdmsr
    orl $0x900, %eax                /* LME | NXE */
    wrmsr
    movl %cr0, %eax
    orl $0x80010001, %eax           /* PG | WP | PE */
    movl %eax, %cr0
    lgdt boot_gdt_ptr
    ljmp $0x08, $.Lstart64

    .code64
.Lstart64:
    movl $0x10, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    xorl %eax, %eax
    movl %eax, %fs
    movl %eax, %gs
    movl %esi, %edi                 /* zero-extends: start_info address as first argument */
    xorl %ebp, %ebp                 /* ends frame-pointer backtraces */
    call {rust_entry}
    ud2
    .popsection

    .pushsection .rodata.boot_gdt, "a"
    .balign 8
boot_gdt:
    .quad 0
    .quad 0x00af9b000000ffff        /* 0x08: 64-bit code, accessed bit preset */
    .quad 0x00cf93000000ffff        /* 0x10: data */
boot_gdt_end:
boot_gdt_ptr:
    .word boot_gdt_end - boot_gdt - 1
    .long boot_gdt
    .popsection

    .pushsection .bss.boot_tables, "aw", @nobits
    .balign 4096
boot_pml4:
    .skip 4096
boot_pdpt:
    .skip 4096
boot_pd:
    .skip 4 * 4096
    .popsection
