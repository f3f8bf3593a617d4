"""LibreOffice in headless mode: the real client we convert with and test against."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tonghop.errors import OfficeError

__all__ = ["convert", "find_soffice"]

_CANDIDATES = (
    "soffice",
    "libreoffice",
    "/usr/bin/soffice",
    "/usr/lib/libreoffice/program/soffice",
    "/opt/libreoffice/program/soffice",
    "/Applications/LibreOffice.app/Contents/MacOS/soffice",
    r"C:\Program Files\LibreOffice\program\soffice.exe",
)


def find_soffice() -> str | None:
    """Path of the soffice binary, or None when LibreOffice is not installed."""
    override = os.environ.get("TONGHOP_SOFFICE")
    if override:
        return override if Path(override).exists() or shutil.which(override) else None
    for candidate in _CANDIDATES:
        found = shutil.which(candidate) or (candidate if Path(candidate).is_file() else None)
        if found:
            return found
    return None


def convert(source: Path, target_format: str, out_dir: Path, *, timeout: float = 180) -> Path:
    """Convert ``source`` with LibreOffice into ``out_dir``; returns the new file's path.

    ``target_format`` is what ``soffice --convert-to`` takes: ``pdf``, ``xlsx``,
    ``xlsx:Calc MS Excel 2007 XML``, ``docx``. A private user profile is used so that a
    LibreOffice the user has open does not block the conversion.
    """
    soffice = find_soffice()
    if soffice is None:
        raise OfficeError("Không tìm thấy LibreOffice (soffice) trên máy này.")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tonghop-lo-") as profile:
        command = [
            soffice,
            f"-env:UserInstallation={Path(profile).as_uri()}",
            "--headless",
            "--norestore",
            "--nolockcheck",
            "--convert-to",
            target_format,
            "--outdir",
            str(out_dir),
            str(source),
        ]
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise OfficeError(f"LibreOffice không chuyển đổi xong «{source.name}».") from exc
    extension = target_format.split(":", 1)[0]
    produced = out_dir / f"{source.stem}.{extension}"
    if result.returncode != 0 or not produced.exists():
        detail = (result.stderr or result.stdout or "").strip().splitlines()[-1:]
        raise OfficeError(
            f"LibreOffice không chuyển đổi được «{source.name}» sang {extension}. "
            + (detail[0] if detail else "")
        )
    return produced
