"""The QEMU command line front end: libvirt (or anything that runs QEMU) runs a fake."""
