"""Recording a real QEMU as libvirt meets it (``fakeqemu capture libvirt``): its command
line, libvirt's capability probe and libvirt's start, for ``fakeqemu-system-x86_64``."""
