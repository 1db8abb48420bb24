"""Writing a file so that a power cut leaves the old one or the new one, never half.

Both sides keep promises on disk (a gateway's config and enrollment, its status file,
the fleet's spilled telemetry), so the one way to do it lives here: write a temporary
file in the same folder, fsync it, rename it over the target, fsync the folder (the
rename itself is only durable once the folder's entry is on disk).
"""

import os
from pathlib import Path


def write_atomically(path: Path, data: bytes, *, mode: int = 0o600, sync: bool = True) -> None:
    """Replace ``path`` with ``data``; raise OSError if that cannot be done.

    ``sync=False`` keeps the rename (a reader never sees half a file) but skips the
    fsyncs, for files rewritten every few seconds that are worthless after a power cut
    (an SD card is spared the writes).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # O_CREAT's mode does not apply to a file that existed
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if sync:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    os.replace(tmp, path)
    if not sync:
        return
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
