/*
 * dom0's helper for triple faults of test guests.
 *
 * rig-triple-fault-crash DOMID: makes a triple fault of HVM/PVH domain DOMID end it as
 * crashed (HVM_PARAM_TRIPLE_FAULT_REASON = SHUTDOWN_crash) instead of Xen's default,
 * reboot, which xl turns into a silent restart. The guest cannot set this itself
 * (hvm_allow_set_param refuses it), so dom0 does, while the domain is still paused.
 *
 * rig-triple-fault-crash --dump-ram DOMID FILE: writes the domain's RAM below its memory
 * size to FILE, file offset = guest physical address (a page that cannot be mapped is
 * zeros). `xl dump-core` walks every frame up to the special pages under 4 GiB, which takes
 * many minutes under the emulation; this is the part a post-mortem reads.
 */
#define XC_WANT_COMPAT_MAP_FOREIGN_API
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <xenctrl.h>
#include <xen/hvm/params.h>
#include <xen/sched.h>

static int dump_ram(xc_interface *xch, uint32_t dom, const char *path)
{
    xc_dominfo_t info;
    if (xc_domain_getinfo(xch, dom, 1, &info) != 1 || info.domid != dom) {
        perror("xc_domain_getinfo");
        return 1;
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        return 1;
    }
    static const char zeros[4096];
    unsigned long pages = info.max_memkb / 4, mapped = 0;
    for (unsigned long pfn = 0; pfn < pages; pfn++) {
        void *p = xc_map_foreign_range(xch, dom, 4096, PROT_READ, pfn);
        fwrite(p ? p : zeros, 4096, 1, f);
        if (p) {
            munmap(p, 4096);
            mapped++;
        }
    }
    fclose(f);
    printf("%lu of %lu pages\n", mapped, pages);
    return 0;
}

int main(int argc, char **argv)
{
    int dump = argc == 4 && strcmp(argv[1], "--dump-ram") == 0;
    if (argc != 2 && !dump) {
        fprintf(stderr, "usage: %s DOMID | --dump-ram DOMID FILE\n", argv[0]);
        return 2;
    }
    uint32_t dom = strtoul(argv[dump ? 2 : 1], NULL, 10);
    xc_interface *xch = xc_interface_open(NULL, NULL, 0);
    if (!xch) {
        perror("xc_interface_open");
        return 1;
    }
    if (dump)
        return dump_ram(xch, dom, argv[3]);
    uint64_t v = 0;
    if (xc_hvm_param_set(xch, dom, HVM_PARAM_TRIPLE_FAULT_REASON, SHUTDOWN_crash) ||
        xc_hvm_param_get(xch, dom, HVM_PARAM_TRIPLE_FAULT_REASON, &v) || v != SHUTDOWN_crash) {
        perror("HVM_PARAM_TRIPLE_FAULT_REASON");
        return 1;
    }
    xc_interface_close(xch);
    return 0;
}
