"""The fake machine's state, with no I/O and no QMP: handlers drive it."""
