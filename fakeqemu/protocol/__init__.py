"""QEMU's wire protocol, sans-IO: no trio below this package."""
