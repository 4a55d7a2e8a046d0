"""Differential testing against real QEMU: generated probe sequences and the runners that send them.

``stages.generate(profile)`` builds the migration-command sequence of one release
from its introspection; ``runner`` sends a sequence to any pair of QMP monitors
(real QEMU or fakes) and records what comes back; ``migrations`` runs the same live
migration, capability by capability, on a pair and records it.
"""
