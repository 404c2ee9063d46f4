/*
 * rig-triple-fault-crash DOMID: makes a triple fault of HVM/PVH domain DOMID end it as
 * crashed (HVM_PARAM_TRIPLE_FAULT_REASON = SHUTDOWN_crash) instead of Xen's default,
 * reboot, which xl turns into a silent restart. The guest cannot set this itself
 * (hvm_allow_set_param refuses it), so dom0 does, while the domain is still paused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <xenctrl.h>
#include <xen/hvm/params.h>
#include <xen/sched.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DOMID\n", argv[0]);
        return 2;
    }
    uint32_t dom = strtoul(argv[1], NULL, 10);
    xc_interface *xch = xc_interface_open(NULL, NULL, 0);
    if (!xch) {
        perror("xc_interface_open");
        return 1;
    }
    uint64_t v = 0;
    if (xc_hvm_param_set(xch, dom, HVM_PARAM_TRIPLE_FAULT_REASON, SHUTDOWN_crash) ||
        xc_hvm_param_get(xch, dom, HVM_PARAM_TRIPLE_FAULT_REASON, &v) || v != SHUTDOWN_crash) {
        perror("HVM_PARAM_TRIPLE_FAULT_REASON");
        return 1;
    }
    xc_interface_close(xch);
    return 0;
}
