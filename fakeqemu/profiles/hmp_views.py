"""HMP ``info migrate_parameters`` per release, as data: which lines, in which order, how.

Observed on each binary (``tests/data/recordings/<v>/migration-commands.jsonl``).
A line is printed when ``query-migrate-parameters`` has its member.
"""

from __future__ import annotations

# How a value is printed (the style): "plain" (a number or enum), "ms", "bytes",
# "bytes/second", "MB/s" (a number and that unit), "bool" (on/off), "quoted" ('text'),
# "mapping" (the block-bitmap-mapping tree), "words" (a list after the colon).

_ANNOUNCE = (
    ("announce-initial", "ms"),
    ("announce-max", "ms"),
    ("announce-rounds", "plain"),
    ("announce-step", "ms"),
)
_THROTTLE = (
    ("throttle-trigger-threshold", "plain"),
    ("cpu-throttle-initial", "plain"),
    ("cpu-throttle-increment", "plain"),
    ("cpu-throttle-tailslow", "bool"),
    ("max-cpu-throttle", "plain"),
)

#: From 10.0, in the same order in 10.0 and 11.1.
_STREAM_10 = (
    ("downtime-limit", "ms"),
    ("x-checkpoint-delay", "ms"),
    ("multifd-channels", "plain"),
    ("multifd-compression", "plain"),
    ("zero-page-detection", "plain"),
    ("xbzrle-cache-size", "bytes"),
)
_DIRTY_LIMIT_10 = (
    ("x-vcpu-dirty-limit-period", "ms"),
    ("vcpu-dirty-limit", "MB/s"),
    ("mode", "plain"),
    ("direct-io", "bool"),
)

PARAMETER_LINES_7_2: tuple[tuple[str, str], ...] = (
    *_ANNOUNCE,
    ("compress-level", "plain"),
    ("compress-threads", "plain"),
    ("compress-wait-thread", "bool"),
    ("decompress-threads", "plain"),
    *_THROTTLE,
    ("tls-creds", "quoted"),
    ("tls-hostname", "quoted"),
    ("max-bandwidth", "bytes/second"),
    ("downtime-limit", "ms"),
    ("x-checkpoint-delay", "ms"),
    ("block-incremental", "bool"),
    ("multifd-channels", "plain"),
    ("multifd-compression", "plain"),
    ("xbzrle-cache-size", "bytes"),
    ("max-postcopy-bandwidth", "plain"),
    ("tls-authz", "quoted"),
    ("block-bitmap-mapping", "mapping"),
)

PARAMETER_LINES_10_0: tuple[tuple[str, str], ...] = (
    *_ANNOUNCE,
    *_THROTTLE,
    ("tls-creds", "quoted"),
    ("tls-hostname", "quoted"),
    ("max-bandwidth", "bytes/second"),
    ("avail-switchover-bandwidth", "bytes/second"),
    *_STREAM_10,
    ("max-postcopy-bandwidth", "plain"),
    ("tls-authz", "quoted"),
    ("block-bitmap-mapping", "mapping"),
    *_DIRTY_LIMIT_10,
)

PARAMETER_LINES_11_1: tuple[tuple[str, str], ...] = (
    *_ANNOUNCE,
    *_THROTTLE,
    ("tls-creds", "quoted"),
    ("tls-hostname", "quoted"),
    ("tls-authz", "quoted"),
    ("max-bandwidth", "bytes/second"),
    ("avail-switchover-bandwidth", "bytes/second"),
    ("max-postcopy-bandwidth", "bytes/second"),
    *_STREAM_10,
    ("block-bitmap-mapping", "mapping"),
    *_DIRTY_LIMIT_10,
    ("x-rdma-chunk-size", "bytes"),
    ("cpr-exec-command", "words"),
)
